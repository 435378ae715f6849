package web

import (
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/markdown"
)

func TestPreviewLinks(t *testing.T) {
	for in, want := range map[string]string{
		"[open the app](preview:8080/healthz)":       "[open the app](/labs/lab-x/preview/8080/healthz)",
		"[app](preview:3000)":                        "[app](/labs/lab-x/preview/3000)",
		"[a](preview:8080/a?b=c) and [b](preview:1)": "[a](/labs/lab-x/preview/8080/a?b=c) and [b](/labs/lab-x/preview/1)",
		"[not a port](preview:abc)":                  "[not a port](preview:abc)",
		"`preview:8080` in code":                     "`preview:8080` in code",
		"[x](https://example.org)":                   "[x](https://example.org)",
	} {
		if got := previewLinks("lab-x", in); got != want {
			t.Errorf("previewLinks(%q) = %q, want %q", in, got, want)
		}
	}
}

// The rendered link survives the sanitizer as a link on opsdojo's origin.
func TestPreviewLinksRender(t *testing.T) {
	html, err := markdown.New().Render(previewLinks("lab-x", "[open the app](preview:8080/healthz)"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `href="/labs/lab-x/preview/8080/healthz"`) {
		t.Fatalf("rendered: %s", html)
	}
}
