// shorty is a tiny URL shortener: POST /shorten?url=... returns a short
// code, GET /<code> redirects to the URL it stands for.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3"
var version = "dev"

// Store maps short codes to URLs. It is safe for concurrent use.
type Store struct {
	mu    sync.RWMutex
	codes map[string]string
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{codes: map[string]string{}} }

// Shorten returns the code for raw, which must be an absolute http(s) URL.
// The same URL always gets the same code.
func (s *Store) Shorten(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http or https URL", raw)
	}
	sum := sha256.Sum256([]byte(u.String()))
	code := base64.RawURLEncoding.EncodeToString(sum[:])[:7]
	s.mu.Lock()
	s.codes[code] = u.String()
	s.mu.Unlock()
	return code, nil
}

// Resolve returns the URL a code stands for.
func (s *Store) Resolve(code string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.codes[code]
	return u, ok
}

// Handler serves the API.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, version)
	})
	mux.HandleFunc("/shorten", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		code, err := s.Shorten(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "/%s\n", code)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		target, ok := s.Resolve(strings.TrimPrefix(r.URL.Path, "/"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	return mux
}

func main() {
	addr := os.Getenv("SHORTY_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	log.Printf("shorty %s listening on %s", version, addr)
	log.Fatal(http.ListenAndServe(addr, NewStore().Handler()))
}
