// greeter is a tiny HTTP service: it says hello and answers health probes.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

// version is overwritten at build time: go build -ldflags "-X main.version=v0.1.0"
var version = "dev"

func main() {
	addr := os.Getenv("GREETER_ADDR")
	if addr == "" {
		addr = ":8080"
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "world"
		}
		fmt.Fprintf(w, "hello, %s\n", name)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version)
	})

	log.Printf("greeter %s listening on %s", version, addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}
