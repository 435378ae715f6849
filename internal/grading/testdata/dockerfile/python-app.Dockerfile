FROM python:3.12-slim
LABEL maintainer="ops@example.com"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y build-essential libpq-dev
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /srv
ADD pyproject.toml poetry.lock /srv/
RUN poetry install --no-root --only main
ADD . /srv
VOLUME /srv/data
EXPOSE 8000
CMD gunicorn -b 0.0.0.0:8000 app:wsgi
