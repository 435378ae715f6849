FROM opsdojo/base
RUN apt-get install golang-go
ADD . /src
WORKDIR /src
RUN go build -o /usr/local/bin/server .
CMD /usr/local/bin/server
