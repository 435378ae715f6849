// Package markdown renders lab instructions to sanitized HTML on the server.
package markdown

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// Renderer turns markdown into HTML that is safe to embed in a page even if
// a lab author (or a contributed lab) wrote raw HTML into it.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// New returns a renderer with GitHub-flavoured tables, strikethrough and
// autolinks, and run blocks (a fence whose info string has the word "run").
func New() *Renderer {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("class").Matching(bluemonday.SpaceSeparatedTokens).OnElements("code", "pre", "span", "div")
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	md := goldmark.New(goldmark.WithExtensions(extension.GFM),
		// Above goldmark's own code block renderer (priority 1000).
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(codeBlockRenderer{}, 100))))
	return &Renderer{md: md, policy: p}
}

// Render converts src.
func (r *Renderer) Render(src string) (template.HTML, error) {
	var buf bytes.Buffer
	if err := r.md.Convert([]byte(src), &buf); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	// The policy strips scripts, event handlers and javascript: links.
	return template.HTML(r.policy.SanitizeBytes(buf.Bytes())), nil //nolint:gosec // sanitized above
}
