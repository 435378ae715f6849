# escape=`
# Every instruction at least once, a backtick escape, ONBUILD, SHELL.
ARG REGISTRY=registry.example.com:5000
ARG BASE_TAG=1.4.2
FROM --platform=linux/amd64 ${REGISTRY}/base:${BASE_TAG} AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV APP_HOME=/opt/app `
    APP_USER=svc
ARG UID=10001
RUN groupadd --gid ${UID} ${APP_USER} `
 && useradd --uid ${UID} --gid ${UID} --home-dir ${APP_HOME} ${APP_USER}
WORKDIR ${APP_HOME}
ONBUILD COPY . ${APP_HOME}/src
STOPSIGNAL SIGINT
VOLUME ["/var/cache/app"]
ADD https://example.com/tool-1.2.3.tar.gz /tmp/tool.tgz
RUN tar -xzf /tmp/tool.tgz -C /usr/local/bin && rm /tmp/tool.tgz

FROM base
COPY --from=base /usr/local/bin/tool /usr/local/bin/tool
USER ${APP_USER}:${APP_USER}
EXPOSE 8080/tcp 9090/udp
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 `
  CMD ["tool", "health"]
ENTRYPOINT ["tool"]
CMD ["serve", "--port", "8080"]
