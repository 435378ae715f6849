package markdown

import (
	"bytes"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// RunClass marks a code block the learner can run with one click: the page
// (web/src/codeblocks.js) adds a Run button that types the block's text into
// the learner's active terminal. Every code block also gets a Copy button.
const RunClass = "code-run"

// runWord is the word of a fence's info string that asks for a Run button:
// "```bash run". A fence whose only word is "run" is a run block without a
// language.
const runWord = "run"

// fenceInfo splits a fenced code block's info string into its language
// (the first word, as CommonMark has it) and whether it is a run block.
func fenceInfo(info []byte) (lang []byte, run bool) {
	words := bytes.Fields(info)
	for i, w := range words {
		if string(w) == runWord {
			run = true
		} else if i == 0 {
			lang = w
		}
	}
	return lang, run
}

// codeBlockRenderer renders fenced code blocks like goldmark does, plus the
// run marker. It escapes every byte of the block itself, so nothing in a
// block reaches the page as markup (bluemonday then checks the whole page).
type codeBlockRenderer struct{}

func (codeBlockRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, renderFencedCodeBlock)
}

func renderFencedCodeBlock(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		_, _ = w.WriteString("</code></pre>\n")
		return ast.WalkContinue, nil
	}
	n := node.(*ast.FencedCodeBlock)
	var lang []byte
	run := false
	if n.Info != nil {
		lang, run = fenceInfo(n.Info.Segment.Value(source))
	}
	if run {
		_, _ = w.WriteString(`<pre class="` + RunClass + `">`)
	} else {
		_, _ = w.WriteString("<pre>")
	}
	_, _ = w.WriteString("<code")
	if len(lang) > 0 {
		_, _ = w.WriteString(` class="language-`)
		_, _ = w.Write(util.EscapeHTML(lang))
		_ = w.WriteByte('"')
	}
	_ = w.WriteByte('>')
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		_, _ = w.Write(util.EscapeHTML(seg.Value(source)))
	}
	return ast.WalkContinue, nil
}
