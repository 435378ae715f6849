// Package web holds the browser side of opsdojo: page templates, the
// hand-written stylesheet and the bundle that `make` builds from src/ into
// static/gen/ (git-ignored). The Go server embeds all of it.
package web

import (
	"embed"
	"io/fs"
)

//go:embed templates static
var files embed.FS

// Templates returns the page templates.
func Templates() fs.FS {
	sub, _ := fs.Sub(files, "templates")
	return sub
}

// Static returns the files served under /static/.
func Static() fs.FS {
	sub, _ := fs.Sub(files, "static")
	return sub
}

// BundleBuilt reports whether the JavaScript bundle was built before this
// binary was compiled.
func BundleBuilt() bool {
	_, err := fs.Stat(files, "static/gen/app.js")
	return err == nil
}
