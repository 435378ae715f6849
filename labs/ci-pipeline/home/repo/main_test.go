package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestShortenIsStable(t *testing.T) {
	s := NewStore()
	a, err := s.Shorten("https://example.com/docs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Shorten("https://example.com/docs")
	if a != b || len(a) != 7 {
		t.Fatalf("codes %q and %q: want the same 7-character code", a, b)
	}
}

func TestShortenRejectsNonHTTP(t *testing.T) {
	for _, raw := range []string{"", "example.com", "ftp://example.com/x", "javascript:alert(1)"} {
		if _, err := NewStore().Shorten(raw); err == nil {
			t.Errorf("Shorten(%q) succeeded, want an error", raw)
		}
	}
}

func TestRedirect(t *testing.T) {
	s := NewStore()
	code, _ := s.Shorten("https://example.com/")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+code, nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://example.com/" {
		t.Fatalf("GET /%s: %d to %q", code, rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /nope: %d, want 404", rec.Code)
	}
}
