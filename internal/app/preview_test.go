package app

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/preview"
)

type noAccess struct{}

func (noAccess) Target(context.Context, string, string, uint16) (netip.AddrPort, error) {
	return netip.AddrPort{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no")
}

// Without a listener of its own, the preview answers its host names on
// opsdojo's listener and nothing else.
func TestWithPreviewHosts(t *testing.T) {
	u, _ := preview.ParseURL("https://*.preview.example.org")
	pv, err := preview.New(preview.Config{URL: u, Key: make([]byte, 32)}, noAccess{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h := withPreviewHosts(pv, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for host, want := range map[string]int{
		"abc-8080.preview.example.org": http.StatusForbidden, // the preview: no cookie
		"opsdojo.example.org":          http.StatusTeapot,
		"preview.example.org":          http.StatusTeapot,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("%s: %d, want %d", host, w.Code, want)
		}
	}
}

func TestSeparateOrigin(t *testing.T) {
	pv, _ := url.Parse("https://*.example.org")
	for public, ok := range map[string]bool{
		"https://example.org":           false,
		"https://opsdojo.example.org":   false,
		"https://opsdojo.example.net":   true,
		"https://notexample.org":        true,
		"http://127.0.0.1:8080":         true,
		"https://a.b.example.org:8443/": false,
	} {
		u, _ := url.Parse(public)
		if err := separateOrigin(pv, u); (err == nil) != ok {
			t.Errorf("public %s: err %v, want ok=%v", public, err, ok)
		}
	}
	if err := separateOrigin(pv, nil); err != nil {
		t.Errorf("no public URL: %v", err)
	}
}
