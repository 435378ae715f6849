// hello is a small HTTP service: the one this lab ships in a container.
//
//	GET /         greets the caller
//	GET /healthz  answers 200 "ok" while the service is up
//
// It listens on :8080 (override with -addr or $ADDR). With -healthcheck it
// does not serve: it asks a running instance for /healthz and exits 0 when
// that answers 200, 1 otherwise. That lets an image without curl or a shell
// declare HEALTHCHECK CMD ["/app/server", "-healthcheck"].
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", envOr("ADDR", ":8080"), "address to listen on")
	healthcheck := flag.Bool("healthcheck", false, "probe http://127.0.0.1:8080/healthz and exit 0 (healthy) or 1")
	flag.Parse()

	if *healthcheck {
		os.Exit(probe("http://127.0.0.1:8080/healthz"))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		host, _ := os.Hostname()
		fmt.Fprintf(w, "hello from %s (pid %d, uid %d)\n", host, os.Getpid(), os.Getuid())
	})

	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	// docker stop sends SIGTERM to PID 1: finish in-flight requests, then exit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Print("shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()

	log.Printf("listening on %s", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// probe returns the exit code of a health check against url.
func probe(url string) int {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "unhealthy: status", resp.Status)
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
