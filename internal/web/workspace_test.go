package web

import "testing"

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
