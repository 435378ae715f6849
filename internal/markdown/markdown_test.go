package markdown

import (
	"regexp"
	"strings"
	"testing"
)

func render(t *testing.T, src string) string {
	t.Helper()
	out, err := New().Render(src)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return string(out)
}

func TestRenderMarkdown(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"headings", "# Title\n\n## Sub\n\n### Third\n", []string{"<h1", ">Title</h1>", "<h2", ">Sub</h2>", "<h3", ">Third</h3>"}},
		{"paragraph and emphasis", "Some *em* and **strong** and `code`.\n", []string{"<p>Some <em>em</em> and <strong>strong</strong> and <code>code</code>.</p>"}},
		{"fenced code keeps language class and escapes", "```bash\ngit commit -m \"<msg>\" && echo $HOME\n```\n",
			[]string{`<pre><code class="language-bash">`, "git commit -m &#34;&lt;msg&gt;&#34; &amp;&amp; echo $HOME", "</code></pre>"}},
		{"indented code", "    make build\n", []string{"<pre><code>make build", "</code></pre>"}},
		{"table", "| Command | Does |\n|---|:---:|\n| `git add` | stages |\n| `git commit` | records |\n",
			[]string{"<table>", "<thead>", "<th>Command</th>", "<tbody>", "<td><code>git add</code></td>", "<td", ">records</td>", "</table>"}},
		{"lists", "- one\n- two\n\n1. first\n2. second\n", []string{"<ul>", "<li>one</li>", "<ol>", "<li>second</li>"}},
		{"strikethrough", "~~old~~ new\n", []string{"<del>old</del> new"}},
		{"relative link kept", "[docs](docs/x.md)\n", []string{`href="docs/x.md"`, `rel="nofollow"`}},
		{"external link opens in new tab", "[git](https://git-scm.com/)\n", []string{`href="https://git-scm.com/"`, `target="_blank"`, "nofollow"}},
		{"autolink", "See https://example.com/x now\n", []string{`<a href="https://example.com/x"`}},
		{"blockquote", "> careful\n", []string{"<blockquote>", "careful"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c.src)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}

var (
	scriptTag = regexp.MustCompile(`(?i)<\s*script`)
	eventAttr = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	jsURL     = regexp.MustCompile(`(?i)(href|src|action|formaction)\s*=\s*["']?\s*(javascript|vbscript|data):`)
)

func TestRenderSanitizes(t *testing.T) {
	cases := []struct {
		name string
		src  string
		// keep is text that must survive sanitising, if any.
		keep string
	}{
		{"script block", "Hello\n\n<script>alert(document.cookie)</script>\n\nBye\n", "Bye"},
		{"inline script", "Hi <script>alert(1)</script> there\n", "there"},
		{"script uppercase", "<SCRIPT SRC=//evil.example/x.js></SCRIPT>\n", ""},
		{"onerror image", `<img src="x.png" onerror="alert(1)">` + "\n", ""},
		{"onerror markdown image title", "![a](x.png \"t\" onerror=alert(1))\n", ""},
		{"onclick div", `<div onclick="steal()">click me</div>` + "\n", ""},
		{"onmouseover in link", `<a href="/x" onmouseover="alert(1)">x</a>` + "\n", ""},
		{"svg onload", `<svg onload="alert(1)"><circle r="1"/></svg>` + "\n", ""},
		{"javascript markdown link", "[click](javascript:alert(1))\n", "click"},
		{"javascript mixed case", "[click](JaVaScRiPt:alert(1))\n", "click"},
		{"javascript entity encoded", `<a href="&#106;avascript:alert(1)">x</a>` + "\n", ""},
		{"javascript html link", `<a href="javascript:alert(1)">x</a>` + "\n", ""},
		{"javascript with whitespace", "[x]( javascript:alert(1) )\n", ""},
		{"vbscript link", "[x](vbscript:msgbox(1))\n", ""},
		{"data html link", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)\n", ""},
		{"iframe", `<iframe src="https://evil.example"></iframe>` + "\n", ""},
		{"style tag", "<style>body{display:none}</style>\n\ntext\n", "text"},
		{"form", `<form action="javascript:alert(1)"><input type="submit"></form>` + "\n", ""},
		{"object", `<object data="evil.swf"></object>` + "\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c.src)
			if scriptTag.MatchString(got) {
				t.Errorf("script tag survived:\n%s", got)
			}
			if eventAttr.MatchString(got) {
				t.Errorf("event handler attribute survived:\n%s", got)
			}
			if jsURL.MatchString(got) {
				t.Errorf("script URL survived:\n%s", got)
			}
			for _, tag := range []string{"<iframe", "<style", "<form", "<object", "<svg"} {
				if strings.Contains(strings.ToLower(got), tag) {
					t.Errorf("%s survived:\n%s", tag, got)
				}
			}
			if c.keep != "" && !strings.Contains(got, c.keep) {
				t.Errorf("harmless text %q was lost:\n%s", c.keep, got)
			}
		})
	}
}

func TestRenderCodeShowsHTMLAsText(t *testing.T) {
	// A lab teaching web security may show a script in a code block: it must
	// be displayed, escaped, not executed or dropped.
	got := render(t, "```html\n<script>alert(1)</script>\n```\n")
	if scriptTag.MatchString(got) {
		t.Fatalf("script in a code block became a tag:\n%s", got)
	}
	if !strings.Contains(got, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("script in a code block not shown as text:\n%s", got)
	}
}

func TestRenderEmpty(t *testing.T) {
	if got := render(t, ""); strings.TrimSpace(got) != "" {
		t.Fatalf("Render(\"\") = %q", got)
	}
}

func TestRenderRunBlocks(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
		notWant   []string
	}{
		{"run block keeps language", "```bash run\ngit status\n```\n",
			[]string{`<pre class="code-run"><code class="language-bash">git status`}, nil},
		{"run alone", "```run\nls -la\n```\n", []string{`<pre class="code-run"><code>ls -la`}, []string{"language-run"}},
		{"plain block is no run block", "```bash\ngit status\n```\n",
			[]string{`<pre><code class="language-bash">git status`}, []string{"code-run"}},
		{"other words are ignored", "```bash title=x\necho hi\n```\n",
			[]string{`<pre><code class="language-bash">echo hi`}, []string{"code-run"}},
		{"running is not run", "```bash running\necho hi\n```\n", nil, []string{"code-run"}},
		{"run block escapes its text", "```bash run\necho \"<img src=x onerror=alert(1)>\" && rm -i '</code></pre><script>x</script>'\n```\n",
			[]string{`<pre class="code-run">`, "&lt;img src=x onerror=alert(1)&gt;", "&amp;&amp;", "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;"}, []string{"<script", "<img"}},
		{"language cannot break out of its attribute", "```bash\"onclick=\"alert(1) run\nx\n```\n",
			[]string{`<pre class="code-run">`}, []string{"onclick="}},
		{"indented code is never a run block", "    run\n", []string{"<pre><code>run"}, []string{"code-run"}},
		{"multi-line run block", "```sh run\nmkdir -p ~/x\ncd ~/x\n```\n", []string{"mkdir -p ~/x\ncd ~/x\n</code></pre>"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c.src)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(got, w) {
					t.Errorf("output has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestRenderRunClassSurvivesOnlyOnPre(t *testing.T) {
	// The class is a plain token the policy already allows on pre and code;
	// an author's raw HTML with it stays inert (no attributes beyond class).
	got := render(t, `<pre class="code-run" onclick="x()" data-cmd="rm -rf /"><code>ls</code></pre>`+"\n")
	if eventAttr.MatchString(got) || strings.Contains(got, "data-cmd") {
		t.Fatalf("extra attributes survived:\n%s", got)
	}
}
