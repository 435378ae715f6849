package web

import (
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/markdown"
)

func TestPreviewContainerLinks(t *testing.T) {
	for in, want := range map[string]string{
		"[open it](preview:web:8080/healthz)":  "[open it](/labs/lab-x/docker-preview/web/8080/healthz)",
		"[api](preview:my_api.1:3000)":         "[api](/labs/lab-x/docker-preview/my_api.1/3000)",
		"[a](preview:web:80/a?b=c)":            "[a](/labs/lab-x/docker-preview/web/80/a?b=c)",
		"[own](preview:8080/x)":                "[own](preview:8080/x)", // the session's own container: previewLinks
		"[bad](preview:-web:8080)":             "[bad](preview:-web:8080)",
		"[bad](preview:web/../x:8080)":         "[bad](preview:web/../x:8080)",
		"[no port](preview:web:)":              "[no port](preview:web:)",
		"`preview:web:8080` in code":           "`preview:web:8080` in code",
		"[x](https://example.org/preview:a:1)": "[x](https://example.org/preview:a:1)",
	} {
		if got := previewContainerLinks("lab-x", in); got != want {
			t.Errorf("previewContainerLinks(%q) = %q, want %q", in, got, want)
		}
	}
	// Both kinds in one text, as renderLabs chains them.
	got := previewContainerLinks("lab-x", previewLinks("lab-x", "[a](preview:8080) [b](preview:web:8080)"))
	if got != "[a](/labs/lab-x/preview/8080) [b](/labs/lab-x/docker-preview/web/8080)" {
		t.Errorf("both kinds: %q", got)
	}
	html, err := markdown.New().Render(previewContainerLinks("lab-x", "[open it](preview:web:8080/healthz)"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), `href="/labs/lab-x/docker-preview/web/8080/healthz"`) {
		t.Fatalf("rendered: %s", html)
	}
}
