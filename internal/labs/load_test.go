package labs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// validYAML is a complete, valid lab.yaml. The line numbers in the comments
// are what the broken-lab table refers to.
var validYAML = []string{
	"id: demo",                          // 1
	"title: Demo lab",                   // 2
	"summary: A lab used by tests.",     // 3
	"difficulty: beginner",              // 4
	"minutes: 10",                       // 5
	"image: image",                      // 6
	"home: home",                        // 7
	"capabilities:",                     // 8
	"  - CHOWN",                         // 9
	"steps:",                            // 10
	"  - id: first",                     // 11
	"    title: First step",             // 12
	"    instructions: steps/first.md",  // 13
	"    solution: solutions/first.sh",  // 14
	"    hints:",                        // 15
	"      - \"  Try harder.  \"",       // 16
	"    checks:",                       // 17
	"      - id: c1",                    // 18
	"        title: Check one",          // 19
	"        kind: exec",                // 20
	"        script: checks/c1.sh",      // 21
	"        points: 2",                 // 22
	"        hint: \" A hint. \"",       // 23
	"        timeout: 5s",               // 24
	"  - id: second",                    // 25
	"    title: Second step",            // 26
	"    instructions: steps/second.md", // 27
	"    solution: solutions/second.sh", // 28
	"    checks:",                       // 29
	"      - id: c2",                    // 30
	"        title: Check two",          // 31
	"        kind: exec",                // 32
	"        script: checks/c2.sh",      // 33
}

var validFiles = map[string]string{
	"image/Dockerfile":    "FROM debian:stable-slim\n",
	"home/README.txt":     "hello\n",
	"steps/first.md":      "# First\n\nDo the first thing.\n",
	"steps/second.md":     "# Second\n",
	"solutions/first.sh":  "echo first\n",
	"solutions/second.sh": "echo second\n",
	"checks/c1.sh":        "test -f ~/done\n",
	"checks/c2.sh":        "true\n",
}

// writeLab creates a lab folder named name under parent from the valid
// template after applying edit to its lines, and returns the folder.
func writeLab(t *testing.T, parent, name string, lines []string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	for rel, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if lines != nil {
		if err := os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyLines() []string { return append([]string(nil), validYAML...) }

// replace returns the template with line n (1-based) replaced.
func replace(n int, text string) []string {
	l := copyLines()
	l[n-1] = text
	return l
}

// insert returns the template with text inserted so that it becomes line n.
func insert(n int, text string) []string {
	l := copyLines()
	l = append(l[:n-1], append([]string{text}, l[n-1:]...)...)
	return l
}

// edit returns the template with several lines (1-based) replaced.
func edit(lines map[int]string) []string {
	l := copyLines()
	for n, text := range lines {
		l[n-1] = text
	}
	return l
}

// remove returns the template without line n.
func remove(n int) []string {
	l := copyLines()
	return append(l[:n-1], l[n:]...)
}

func copyFiles() map[string]string {
	m := make(map[string]string, len(validFiles))
	for k, v := range validFiles {
		m[k] = v
	}
	return m
}

func TestLoadValid(t *testing.T) {
	dir := writeLab(t, t.TempDir(), "demo", copyLines(), validFiles)
	lab, problems := Load(dir, nil)
	if len(problems) > 0 {
		t.Fatalf("Load of a valid lab: %v", problems)
	}
	abs, _ := filepath.Abs(dir)
	realDir, _ := filepath.EvalSymlinks(abs)
	if lab.ID != "demo" || lab.Title != "Demo lab" || lab.Summary != "A lab used by tests." || lab.Difficulty != "beginner" || lab.Minutes != 10 {
		t.Fatalf("lab header = %+v", lab)
	}
	if lab.Dir != abs {
		t.Errorf("Dir = %q, want %q", lab.Dir, abs)
	}
	if lab.ImageDir != filepath.Join(realDir, "image") {
		t.Errorf("ImageDir = %q", lab.ImageDir)
	}
	if lab.HomeDir != filepath.Join(realDir, "home") {
		t.Errorf("HomeDir = %q", lab.HomeDir)
	}
	if len(lab.CapAdd) != 1 || lab.CapAdd[0] != "CHOWN" {
		t.Errorf("CapAdd = %v", lab.CapAdd)
	}
	if lab.NoRecording {
		t.Error("a lab without record_terminals is not recorded")
	}
	if got := strings.Join(lab.StepIDs(), ","); got != "first,second" {
		t.Fatalf("StepIDs = %s", got)
	}
	st, ok := lab.Step("first")
	if !ok {
		t.Fatal("Step(first) not found")
	}
	if st.Title != "First step" || st.Instructions != validFiles["steps/first.md"] || st.Solution != validFiles["solutions/first.sh"] {
		t.Errorf("step first = %+v", st)
	}
	if len(st.Hints) != 1 || st.Hints[0] != "Try harder." {
		t.Errorf("hints = %q, want trimmed [Try harder.]", st.Hints)
	}
	if len(st.Checks) != 1 {
		t.Fatalf("checks = %+v", st.Checks)
	}
	c := st.Checks[0]
	if c.ID != "c1" || c.Title != "Check one" || c.Kind != "exec" || c.Points != 2 || c.Hint != "A hint." ||
		c.Timeout != 5*time.Second || c.Script != validFiles["checks/c1.sh"] {
		t.Errorf("check c1 = %+v", c)
	}
	// Defaults: one point, 20 seconds.
	c2 := lab.Steps[1].Checks[0]
	if c2.Points != 1 || c2.Timeout != 20*time.Second || c2.Hint != "" {
		t.Errorf("check c2 defaults = %+v", c2)
	}
	if _, ok := lab.Step("nope"); ok {
		t.Error("Step(nope) found")
	}
}

func TestLoadOptionalFieldsAndNormalisation(t *testing.T) {
	// No image key (defaults to "image"), no home, capabilities spelled
	// with CAP_ and in lower case, points 0 allowed, a symlink that stays
	// inside the folder.
	lines := copyLines()
	lines[5] = "# image defaults to image"
	lines[6] = "record_terminals: false # and no home"
	lines[8] = "  - cap_net_bind_service"
	lines[21] = "        points: 0"
	lines[32] = "        script: checks/link.sh"
	dir := writeLab(t, t.TempDir(), "demo", lines, validFiles)
	if err := os.Symlink("c2.sh", filepath.Join(dir, "checks", "link.sh")); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	lab, problems := Load(dir, nil)
	if len(problems) > 0 {
		t.Fatalf("Load: %v", problems)
	}
	if lab.HomeDir != "" {
		t.Errorf("HomeDir = %q, want empty", lab.HomeDir)
	}
	if !lab.NoRecording {
		t.Error("record_terminals: false did not turn recording off")
	}
	if filepath.Base(lab.ImageDir) != "image" {
		t.Errorf("ImageDir = %q", lab.ImageDir)
	}
	if len(lab.CapAdd) != 1 || lab.CapAdd[0] != "NET_BIND_SERVICE" {
		t.Errorf("CapAdd = %v, want [NET_BIND_SERVICE]", lab.CapAdd)
	}
	if lab.Steps[0].Checks[0].Points != 0 {
		t.Errorf("points = %v, want 0", lab.Steps[0].Checks[0].Points)
	}
	if lab.Steps[1].Checks[0].Script != validFiles["checks/c2.sh"] {
		t.Errorf("script via in-folder symlink = %q", lab.Steps[1].Checks[0].Script)
	}
}

func TestLoadBroken(t *testing.T) {
	type tc struct {
		name  string
		lines []string
		// files overrides validFiles when set (a nil value deletes a file).
		files map[string]*string
		// setup runs after the folder is written; parent is its parent.
		setup func(t *testing.T, dir, parent string)
		// want is the expected Problem.String() with "FILE" standing for
		// the lab.yaml path.
		want string
		// only: the problem must be the only one reported.
		only bool
		// kinds is the validator passed to Load (nil: exec only).
		kinds KindValidator
	}
	str := func(s string) *string { return &s }
	cases := []tc{
		{name: "unknown top-level field", lines: insert(4, "author: someone"),
			want: `FILE:4: unknown field "author" in a lab`, only: true},
		{name: "record_terminals not a boolean", lines: insert(4, "record_terminals: sometimes"),
			want: "FILE:4: cannot unmarshal !!str `sometimes` into bool", only: true},
		{name: "unknown step field", lines: insert(15, "    colour: red"),
			want: `FILE:15: unknown field "colour" in a step`, only: true},
		{name: "unknown check field", lines: insert(22, "        command: ls"),
			want: `FILE:22: unknown field "command" in a check`, only: true},
		{name: "unknown field in second step", lines: insert(28, "    timeout: 5s"),
			want: `FILE:28: unknown field "timeout" in a step`, only: true},
		{name: "missing instructions file", lines: replace(13, "    instructions: steps/nope.md"),
			want: `FILE:13: steps/nope.md does not exist`, only: true},
		{name: "instructions field missing", lines: remove(27),
			want: `FILE:25: step "second" needs instructions (a markdown file)`, only: true},
		{name: "solution missing file", lines: replace(28, "    solution: solutions/nope.sh"),
			want: `FILE:28: solutions/nope.sh does not exist`, only: true},
		{name: "script escapes folder", lines: replace(21, "        script: ../x.sh"),
			setup: func(t *testing.T, dir, parent string) {
				if err := os.WriteFile(filepath.Join(parent, "x.sh"), []byte("true\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: `FILE:21: ../x.sh points outside the lab folder`, only: true},
		{name: "script escapes folder deeper", lines: replace(33, "        script: checks/../../x.sh"),
			setup: func(t *testing.T, dir, parent string) {
				if err := os.WriteFile(filepath.Join(parent, "x.sh"), []byte("true\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: `FILE:33: checks/../../x.sh points outside the lab folder`, only: true},
		{name: "absolute script path", lines: replace(21, "        script: /etc/passwd"),
			want: `FILE:21: /etc/passwd: paths are relative to the lab folder`, only: true},
		{name: "symlink to outside", files: map[string]*string{"checks/c1.sh": nil},
			setup: func(t *testing.T, dir, parent string) {
				secret := filepath.Join(parent, "secret.sh")
				if err := os.WriteFile(secret, []byte("cat /etc/shadow\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(secret, filepath.Join(dir, "checks", "c1.sh")); err != nil {
					t.Skipf("symlinks unsupported: %v", err)
				}
			},
			want: `FILE:21: checks/c1.sh points outside the lab folder`, only: true},
		{name: "relative symlink to outside", files: map[string]*string{"steps/first.md": nil},
			setup: func(t *testing.T, dir, parent string) {
				if err := os.WriteFile(filepath.Join(parent, "notes.md"), []byte("# x\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../../notes.md", filepath.Join(dir, "steps", "first.md")); err != nil {
					t.Skipf("symlinks unsupported: %v", err)
				}
			},
			want: `FILE:13: steps/first.md points outside the lab folder`, only: true},
		{name: "home symlinked outside", files: map[string]*string{"home/README.txt": nil},
			lines: replace(7, "home: outside-home"),
			setup: func(t *testing.T, dir, parent string) {
				if err := os.Mkdir(filepath.Join(parent, "realhome"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(parent, "realhome"), filepath.Join(dir, "outside-home")); err != nil {
					t.Skipf("symlinks unsupported: %v", err)
				}
			},
			want: `FILE:7: outside-home points outside the lab folder`, only: true},
		{name: "bad lab id", lines: replace(1, "id: Demo_Lab"),
			want: `FILE:1: id "Demo_Lab" must be lowercase letters, digits and dashes`, only: true},
		{name: "lab id starting with dash", lines: replace(1, "id: -demo"),
			want: `FILE:1: id "-demo" must be lowercase letters, digits and dashes`, only: true},
		{name: "missing lab id", lines: replace(1, "# no id"),
			want: `FILE:2: id "" must be lowercase letters, digits and dashes`},
		{name: "bad step id", lines: replace(25, "  - id: Second!"),
			want: `FILE:25: step id "Second!" must be lowercase letters, digits and dashes`, only: true},
		{name: "bad check id", lines: replace(30, "      - id: c 2"),
			want: `FILE:30: check id "c 2" must be lowercase letters, digits and dashes`, only: true},
		{name: "duplicate step id", lines: replace(25, "  - id: first"),
			want: `FILE:25: step id "first" is used twice`, only: true},
		{name: "duplicate check id", lines: insert(25, strings.Join([]string{
			"      - id: c1",
			"        title: Check one again",
			"        kind: exec",
			"        script: checks/c2.sh",
		}, "\n")),
			want: `FILE:25: check id "c1" is used twice in step "first"`, only: true},
		{name: "unknown check kind", lines: edit(map[int]string{20: "        kind: shell", 21: "        # no script"}),
			want: `FILE:20: check "c1": unknown check kind "shell"`, only: true},
		{name: "unknown check kind, validator's message", lines: edit(map[int]string{20: "        kind: shell", 21: "        # no script"}),
			kinds: testKinds{},
			want:  `FILE:20: check "c1": unknown check kind "shell" (known: exec, lint)`, only: true},
		{name: "missing check kind", lines: edit(map[int]string{32: "        # no kind", 33: "        # no script"}),
			want: `FILE:30: check "c2": unknown check kind ""`, only: true},
		{name: "script on a non-exec check", lines: edit(map[int]string{20: "        kind: lint"}), kinds: testKinds{},
			want: `FILE:21: only exec checks take a script`, only: true},
		{name: "with block on an exec check", lines: insert(25, "        with: {file: x}"),
			want: `FILE:25: check "c1": exec checks take no with: block`, only: true},
		{name: "with block rejected by the kind", kinds: testKinds{},
			lines: edit(map[int]string{32: "        kind: lint", 33: "        with:\n          file: nope.txt"}),
			want:  `FILE:33: check "c2": lint: file nope.txt does not exist`, only: true},
		{name: "depends on a later check", lines: insert(25, strings.Join([]string{
			"        depends_on: [c0]",
			"      - id: c0",
			"        title: Check zero",
			"        kind: exec",
			"        script: checks/c2.sh",
		}, "\n")),
			want: `FILE:25: check "c1" depends on "c0", which is not an earlier check of step "first"`, only: true},
		{name: "depends on an unknown check, second item", lines: insert(25, "        depends_on:\n          - c1\n          - ghost"),
			want: `FILE:27: check "c1" depends on "ghost", which is not an earlier check of step "first"`},
		{name: "depends on itself", lines: insert(25, "        depends_on: [c1]"),
			want: `FILE:25: check "c1" depends on "c1", which is not an earlier check of step "first"`, only: true},
		{name: "depends on a check of another step", lines: insert(34, "        depends_on: [c1]"),
			want: `FILE:34: check "c2" depends on "c1", which is not an earlier check of step "second"`, only: true},
		{name: "bad timeout", lines: replace(24, "        timeout: forever"),
			want: `FILE:24: timeout "forever" is not a duration such as 20s`, only: true},
		{name: "timeout too long", lines: replace(24, "        timeout: 11m"),
			want: `FILE:24: timeout must be between 1s and 10m0s`, only: true},
		{name: "timeout zero", lines: replace(24, "        timeout: 0s"),
			want: `FILE:24: timeout must be between 1s and 10m0s`, only: true},
		{name: "timeout negative", lines: replace(24, "        timeout: -5s"),
			want: `FILE:24: timeout must be between 1s and 10m0s`, only: true},
		{name: "negative points", lines: replace(22, "        points: -1"),
			want: `FILE:22: points must be between 0 and 1000`, only: true},
		{name: "missing Dockerfile", files: map[string]*string{"image/Dockerfile": nil, "image/README": str("no dockerfile here\n")},
			want: `FILE:6: image folder image has no Dockerfile`, only: true},
		{name: "image folder missing", lines: replace(6, "image: img"),
			want: `FILE:6: img does not exist`, only: true},
		{name: "image is a file", lines: replace(6, "image: image/Dockerfile"),
			want: `FILE:6: image image/Dockerfile is not a folder`, only: true},
		{name: "disallowed capability", lines: replace(9, "  - SYS_ADMIN"),
			want: `FILE:9: capability "SYS_ADMIN" may not be added to a learner container`, only: true},
		{name: "disallowed capability with prefix, second item", lines: insert(10, "  - cap_sys_admin"),
			want: `FILE:10: capability "cap_sys_admin" may not be added to a learner container`, only: true},
		{name: "disallowed NET_ADMIN", lines: replace(9, "  - NET_ADMIN"),
			want: `FILE:9: capability "NET_ADMIN" may not be added to a learner container`, only: true},
		{name: "bad difficulty", lines: replace(4, "difficulty: expert"),
			want: `FILE:4: difficulty "expert" must be beginner, intermediate or advanced`, only: true},
		{name: "minutes out of range", lines: replace(5, "minutes: 0"),
			want: `FILE:5: minutes must be between 1 and 600`, only: true},
		{name: "missing title", lines: replace(2, "title: \"  \""),
			want: `FILE:2: title is required`, only: true},
		{name: "step without title", lines: remove(26),
			want: `FILE:25: step "second" needs a title`, only: true},
		{name: "check without title", lines: remove(31),
			want: `FILE:30: check "c2" needs a title`, only: true},
		{name: "exec check without script", lines: remove(33),
			want: `FILE:30: exec check "c2" needs a script`, only: true},
		{name: "step without checks", lines: validYAML[:29],
			want: `FILE:25: step "second" needs at least one check`, only: true},
		{name: "no steps", lines: validYAML[:9],
			want: `FILE:1: a lab needs at least one step`, only: true},
		{name: "wrong type", lines: replace(5, "minutes: ten"),
			want: "FILE:5: cannot unmarshal !!str `ten` into int", only: true},
		{name: "malformed YAML", lines: replace(12, "    title: Step 1: init"),
			want: `FILE:12: mapping values are not allowed in this context`, only: true},
		{name: "non UTF-8 instructions", files: map[string]*string{"steps/second.md": str("caf\xe9\n")},
			want: `FILE:27: steps/second.md is not UTF-8 text`, only: true},
		{name: "empty lab.yaml", lines: []string{""},
			want: `FILE:1: lab.yaml is empty`, only: true},
		{name: "missing lab.yaml", lines: nil,
			want: `FILE: lab.yaml does not exist`, only: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			files := copyFiles()
			for k, v := range c.files {
				if v == nil {
					delete(files, k)
				} else {
					files[k] = *v
				}
			}
			lines := c.lines
			if lines == nil && c.name != "missing lab.yaml" {
				lines = copyLines()
			}
			dir := writeLab(t, parent, "demo", lines, files)
			if c.setup != nil {
				c.setup(t, dir, parent)
			}
			lab, problems := Load(dir, c.kinds)
			if lab != nil {
				t.Errorf("Load returned a lab along with problems %v", problems)
			}
			if len(problems) == 0 {
				t.Fatal("Load reported no problem")
			}
			want := strings.ReplaceAll(c.want, "FILE", filepath.Join(dir, "lab.yaml"))
			var got []string
			found := false
			for _, p := range problems {
				got = append(got, p.String())
				if p.String() == want {
					found = true
				}
			}
			if !found {
				t.Fatalf("problems:\n  %s\nwant one to be:\n  %s", strings.Join(got, "\n  "), want)
			}
			if c.only && len(problems) != 1 {
				t.Errorf("want exactly one problem, got:\n  %s", strings.Join(got, "\n  "))
			}
			// Problems is also an error listing them one per line.
			if problems.Error() != strings.Join(got, "\n") {
				t.Errorf("Problems.Error() = %q", problems.Error())
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	lines := copyLines()
	lines[0] = "id: BAD"
	lines[3] = "difficulty: hard"
	lines[8] = "  - SYS_MODULE"
	lines[19] = "        kind: shell"
	lines[20] = "        # no script"
	dir := writeLab(t, t.TempDir(), "demo", lines, validFiles)
	_, problems := Load(dir, nil)
	var lines2 []int
	for _, p := range problems {
		lines2 = append(lines2, p.Line)
	}
	want := []int{1, 4, 9, 20}
	if len(lines2) != len(want) {
		t.Fatalf("problems on lines %v, want %v: %v", lines2, want, problems)
	}
	for i := range want {
		if lines2[i] != want[i] {
			t.Fatalf("problems on lines %v, want %v: %v", lines2, want, problems)
		}
	}
}

func TestLoadRelativeDirNamesFileAsGiven(t *testing.T) {
	parent := t.TempDir()
	writeLab(t, parent, "demo", replace(1, "id: BAD"), validFiles)
	t.Chdir(parent)
	_, problems := Load("demo", nil)
	if len(problems) != 1 {
		t.Fatalf("problems = %v", problems)
	}
	if want := filepath.Join("demo", "lab.yaml") + `:1: id "BAD" must be lowercase letters, digits and dashes`; problems[0].String() != want {
		t.Fatalf("problem = %q, want %q", problems[0].String(), want)
	}
}

// TestLoadAliasBomb feeds a "billion laughs" document: Load must give up
// with a problem, not expand it. The deadline only detects a hang.
func TestLoadAliasBomb(t *testing.T) {
	bombs := map[string][]string{
		"unknown top-level field": append(copyLines(),
			`lol0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]`,
			`lol1: &a1 [*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0]`,
			`lol2: &a2 [*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1]`,
			`lol3: &a3 [*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2]`,
			`lol4: &a4 [*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3,*a3]`,
			`lol5: &a5 [*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4,*a4]`,
			`lol6: &a6 [*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5,*a5]`,
			`lol7: &a7 [*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6,*a6]`,
			`lol8: &a8 [*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7,*a7]`,
			`lol9: &a9 [*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8,*a8]`,
		),
		"in hints": func() []string {
			l := copyLines()
			return append(l[:15],
				`      - &h0 "lol"`,
				`      - &h1 [*h0,*h0,*h0,*h0,*h0,*h0,*h0,*h0,*h0,*h0]`,
				`      - &h2 [*h1,*h1,*h1,*h1,*h1,*h1,*h1,*h1,*h1,*h1]`,
				`      - &h3 [*h2,*h2,*h2,*h2,*h2,*h2,*h2,*h2,*h2,*h2]`,
				`      - &h4 [*h3,*h3,*h3,*h3,*h3,*h3,*h3,*h3,*h3,*h3]`,
				`      - &h5 [*h4,*h4,*h4,*h4,*h4,*h4,*h4,*h4,*h4,*h4]`,
				`      - &h6 [*h5,*h5,*h5,*h5,*h5,*h5,*h5,*h5,*h5,*h5]`,
				`      - &h7 [*h6,*h6,*h6,*h6,*h6,*h6,*h6,*h6,*h6,*h6]`,
				`      - &h8 [*h7,*h7,*h7,*h7,*h7,*h7,*h7,*h7,*h7,*h7]`,
				`      - &h9 [*h8,*h8,*h8,*h8,*h8,*h8,*h8,*h8,*h8,*h8]`,
				"    checks:",
				"      - id: c1",
				"        title: Check one",
				"        kind: exec",
				"        script: checks/c1.sh",
			)
		}(),
		"merge keys": func() []string {
			l := []string{
				`m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}`,
				`m1: &m1 [*m0,*m0,*m0,*m0,*m0,*m0,*m0,*m0,*m0,*m0]`,
				`m2: &m2 [*m1,*m1,*m1,*m1,*m1,*m1,*m1,*m1,*m1,*m1]`,
				`m3: &m3 [*m2,*m2,*m2,*m2,*m2,*m2,*m2,*m2,*m2,*m2]`,
				`m4: &m4 [*m3,*m3,*m3,*m3,*m3,*m3,*m3,*m3,*m3,*m3]`,
				`m5: &m5 [*m4,*m4,*m4,*m4,*m4,*m4,*m4,*m4,*m4,*m4]`,
				`m6: &m6 [*m5,*m5,*m5,*m5,*m5,*m5,*m5,*m5,*m5,*m5]`,
				`m7: &m7 [*m6,*m6,*m6,*m6,*m6,*m6,*m6,*m6,*m6,*m6]`,
				`m8: &m8 [*m7,*m7,*m7,*m7,*m7,*m7,*m7,*m7,*m7,*m7]`,
				`steps: *m8`,
			}
			return append(l, validYAML[:9]...)
		}(),
	}
	// In a with: block, which labs hands to the kind's validator as YAML;
	// this validator decodes it loosely, as a careless grader might.
	withBomb := edit(map[int]string{32: "        kind: lint", 33: strings.Join([]string{
		"        with:",
		`          l0: &w0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]`,
		`          l1: &w1 [*w0,*w0,*w0,*w0,*w0,*w0,*w0,*w0,*w0,*w0]`,
		`          l2: &w2 [*w1,*w1,*w1,*w1,*w1,*w1,*w1,*w1,*w1,*w1]`,
		`          l3: &w3 [*w2,*w2,*w2,*w2,*w2,*w2,*w2,*w2,*w2,*w2]`,
		`          l4: &w4 [*w3,*w3,*w3,*w3,*w3,*w3,*w3,*w3,*w3,*w3]`,
		`          l5: &w5 [*w4,*w4,*w4,*w4,*w4,*w4,*w4,*w4,*w4,*w4]`,
		`          l6: &w6 [*w5,*w5,*w5,*w5,*w5,*w5,*w5,*w5,*w5,*w5]`,
		`          l7: &w7 [*w6,*w6,*w6,*w6,*w6,*w6,*w6,*w6,*w6,*w6]`,
		`          l8: &w8 [*w7,*w7,*w7,*w7,*w7,*w7,*w7,*w7,*w7,*w7]`,
		`          l9: &w9 [*w8,*w8,*w8,*w8,*w8,*w8,*w8,*w8,*w8,*w8]`,
	}, "\n")})
	bombs["in a with: block"] = withBomb
	for name, lines := range bombs {
		t.Run(name, func(t *testing.T) {
			dir := writeLab(t, t.TempDir(), "demo", lines, validFiles)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			type res struct {
				lab      *Lab
				problems Problems
			}
			done := make(chan res, 1)
			go func() {
				lab, ps := Load(dir, looseKinds{})
				done <- res{lab, ps}
			}()
			select {
			case r := <-done:
				if r.lab != nil || len(r.problems) == 0 {
					t.Fatalf("alias bomb accepted: lab=%v problems=%v", r.lab, r.problems)
				}
				t.Logf("problems: %v", r.problems)
			case <-time.After(60 * time.Second):
				t.Fatal("Load did not return within 60s on an alias bomb (hang)")
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			// Expanded, the bomb is 10^9 strings: any expansion would
			// allocate far beyond this generous bound.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
				t.Fatalf("Load allocated %d MiB on an alias bomb", alloc>>20)
			}
		})
	}
}

func TestLoadOversizedLabYAML(t *testing.T) {
	lines := copyLines()
	lines = append(lines, "# "+strings.Repeat("x", maxLabYAML))
	dir := writeLab(t, t.TempDir(), "demo", lines, validFiles)
	_, problems := Load(dir, nil)
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "larger than") {
		t.Fatalf("problems = %v, want one 'larger than' problem", problems)
	}
}

func TestLoadAll(t *testing.T) {
	root := t.TempDir()
	writeLab(t, root, "zeta", replace(1, "id: zeta"), validFiles)
	writeLab(t, root, "alpha", replace(1, "id: alpha"), validFiles)
	broken := writeLab(t, root, "broken", replace(4, "difficulty: expert"), validFiles)
	// A second folder reusing a valid lab's id.
	dup := writeLab(t, root, "zz-dup", replace(1, "id: alpha"), validFiles)
	// Folders without lab.yaml and plain files are not labs.
	if err := os.MkdirAll(filepath.Join(root, "not-a-lab"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte("labs\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	list, problems := LoadAll(root, nil)
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
	}
	if strings.Join(ids, ",") != "alpha,zeta" {
		t.Fatalf("LoadAll labs = %v, want [alpha zeta]", ids)
	}
	if len(problems) != 2 {
		t.Fatalf("LoadAll problems = %v, want 2", problems)
	}
	if want := filepath.Join(broken, "lab.yaml") + `:4: difficulty "expert" must be beginner, intermediate or advanced`; problems[0].String() != want {
		t.Errorf("problem[0] = %q, want %q", problems[0].String(), want)
	}
	if problems[1].File != filepath.Join(dup, "lab.yaml") || !strings.Contains(problems[1].Message, `lab id "alpha" is also used by`) {
		t.Errorf("problem[1] = %q, want a duplicate id problem for %s", problems[1].String(), dup)
	}

	cat := NewCatalog(list)
	if l, ok := cat.Get("zeta"); !ok || l.ID != "zeta" {
		t.Errorf("Catalog.Get(zeta) = %v, %v", l, ok)
	}
	if _, ok := cat.Get("broken"); ok {
		t.Error("Catalog has the broken lab")
	}
	if len(cat.All()) != 2 || cat.All()[0].ID != "alpha" {
		t.Errorf("Catalog.All() = %v", cat.All())
	}
}

func TestLoadAllMissingRoot(t *testing.T) {
	list, problems := LoadAll(filepath.Join(t.TempDir(), "nope"), nil)
	if list != nil || len(problems) != 1 || !strings.Contains(problems[0].Message, "cannot read labs folder") {
		t.Fatalf("LoadAll(missing) = %v, %v", list, problems)
	}
}

func TestProblemString(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "labs/x/lab.yaml", Line: 7, Message: "bad"}, "labs/x/lab.yaml:7: bad"},
		{Problem{File: "labs/x/lab.yaml", Message: "bad"}, "labs/x/lab.yaml: bad"},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestLoadRealGitBasicsLab(t *testing.T) {
	dir := filepath.Join("..", "..", "labs", "git-basics")
	if _, err := os.Stat(filepath.Join(dir, "lab.yaml")); err != nil {
		t.Fatalf("the git-basics lab is missing: %v", err)
	}
	lab, problems := Load(dir, nil)
	if len(problems) > 0 {
		t.Fatalf("git-basics has problems:\n%v", problems)
	}
	if lab.ID != "git-basics" {
		t.Errorf("id = %q", lab.ID)
	}
	if lab.HomeDir == "" || lab.ImageDir == "" {
		t.Errorf("HomeDir %q, ImageDir %q", lab.HomeDir, lab.ImageDir)
	}
	if len(lab.Steps) == 0 {
		t.Fatal("no steps")
	}
	// Step 1 teaches .gitignore on the files it names: they must be there.
	// The lab's own .gitignore hides them from our repository too, so they
	// are force-added; a clone without them fails here.
	// The matcher itself sees what .dockerignore keeps out.
	if !ignoredByDockerignore(t, "bin/opsdojo") || !ignoredByDockerignore(t, "web/static/gen/app.js") || ignoredByDockerignore(t, "labs/git-basics/lab.yaml") {
		t.Fatal("ignoredByDockerignore disagrees with .dockerignore on known paths")
	}
	for name, want := range map[string]string{
		"project/.env":        "GREETER_DB_PASSWORD=",
		"project/app.log":     "listening on",
		"project/bin/greeter": "make build",
	} {
		b, err := os.ReadFile(filepath.Join(lab.HomeDir, name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("starter file %s: %v; want it to hold %q (git add -f it: the lab's .gitignore hides it)", name, err, want)
		}
		if ignoredByDockerignore(t, filepath.Join("labs", "git-basics", "home", name)) {
			t.Errorf("starter file %s is excluded by .dockerignore, so the opsdojo image would lack it", name)
		}
	}
	for _, st := range lab.Steps {
		if strings.TrimSpace(st.Instructions) == "" || strings.TrimSpace(st.Solution) == "" {
			t.Errorf("step %s has empty instructions or solution", st.ID)
		}
		if len(st.Checks) == 0 {
			t.Errorf("step %s has no checks", st.ID)
		}
		for _, c := range st.Checks {
			if c.Kind != "exec" || strings.TrimSpace(c.Script) == "" || c.Points <= 0 || c.Timeout <= 0 {
				t.Errorf("check %s/%s = %+v", st.ID, c.ID, c)
			}
		}
	}
}

// testKinds knows exec and "lint", whose with: block names a file of the lab
// that must exist.
type testKinds struct{}

func (testKinds) ValidateCheck(labDir, kind string, with []byte) error {
	switch kind {
	case "exec":
		if len(strings.TrimSpace(string(with))) > 0 {
			return fmt.Errorf("exec checks take no with: block")
		}
		return nil
	case "lint":
		var args struct {
			File string `yaml:"file"`
		}
		dec := yaml.NewDecoder(strings.NewReader(string(with)))
		dec.KnownFields(true)
		if err := dec.Decode(&args); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("lint: %v", err)
		}
		if args.File != "" {
			if _, err := os.Stat(filepath.Join(labDir, args.File)); err != nil {
				return fmt.Errorf("lint: file %s does not exist", args.File)
			}
		}
		return nil
	}
	return fmt.Errorf("unknown check kind %q (known: exec, lint)", kind)
}

// recordingKinds accepts everything and records what it was asked.
type recordingKinds struct {
	calls []string
}

func (r *recordingKinds) ValidateCheck(labDir, kind string, with []byte) error {
	r.calls = append(r.calls, fmt.Sprintf("%s|%s|%s", labDir, kind, strings.TrimSpace(string(with))))
	return nil
}

func TestLoadWithKindValidator(t *testing.T) {
	lines := edit(map[int]string{
		32: "        kind: lint",
		33: "        with:\n          file: steps/second.md\n          rules: [a, b]",
	})
	lines = append(lines[:24], append([]string{"        depends_on: []"}, lines[24:]...)...)
	lines = append(lines,
		"      - id: c3",
		"        title: Check three",
		"        kind: exec",
		"        script: checks/c2.sh",
		"        depends_on: [c2]",
	)
	dir := writeLab(t, t.TempDir(), "demo", lines, validFiles)
	rec := &recordingKinds{}
	lab, problems := Load(dir, rec)
	if len(problems) > 0 {
		t.Fatalf("Load: %v", problems)
	}
	abs, _ := filepath.Abs(dir)
	want := []string{
		abs + "|exec|",
		abs + "|lint|file: steps/second.md\nrules: [a, b]",
		abs + "|exec|",
	}
	if strings.Join(rec.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("validator calls:\n%s\nwant:\n%s", strings.Join(rec.calls, "\n"), strings.Join(want, "\n"))
	}
	c2 := lab.Steps[1].Checks[0]
	if c2.Kind != "lint" || c2.Script != "" {
		t.Fatalf("lint check = %+v", c2)
	}
	var args struct {
		File  string   `yaml:"file"`
		Rules []string `yaml:"rules"`
	}
	if err := yaml.Unmarshal(c2.With, &args); err != nil || args.File != "steps/second.md" || strings.Join(args.Rules, ",") != "a,b" {
		t.Fatalf("With = %q decodes to %+v, %v", c2.With, args, err)
	}
	if c3 := lab.Steps[1].Checks[1]; strings.Join(c3.DependsOn, ",") != "c2" {
		t.Fatalf("DependsOn = %q, want [c2]", c3.DependsOn)
	}
	if lab.Steps[0].Checks[0].With != nil {
		t.Fatalf("exec check without with: has With %q", lab.Steps[0].Checks[0].With)
	}

	// The same lab with the default validator: lint is unknown.
	_, problems = Load(dir, nil)
	if len(problems) == 0 || !strings.Contains(problems[0].String(), `:33: check "c2": unknown check kind "lint"`) {
		t.Fatalf("default validator problems = %v", problems)
	}
}

// looseKinds accepts exec and "lint", decoding lint's with: block into an
// untyped value.
type looseKinds struct{}

func (looseKinds) ValidateCheck(labDir, kind string, with []byte) error {
	switch kind {
	case "exec":
		return nil
	case "lint":
		var v any
		if err := yaml.Unmarshal(with, &v); err != nil {
			return fmt.Errorf("lint: %v", err)
		}
		return nil
	}
	return fmt.Errorf("unknown check kind %q", kind)
}

// ignoredByDockerignore reports whether the repository's .dockerignore
// keeps rel (slash-separated, from the repository root) out of a build
// context: a pattern excludes a path when it matches it or a parent folder,
// "**" spans folders, "!" re-includes, the last match wins.
func ignoredByDockerignore(t *testing.T, rel string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	rel = filepath.ToSlash(rel)
	ignored := false
	for _, line := range strings.Split(string(b), "\n") {
		pat := strings.TrimSpace(line)
		if pat == "" || strings.HasPrefix(pat, "#") {
			continue
		}
		neg := strings.HasPrefix(pat, "!")
		pat = strings.Trim(strings.TrimPrefix(pat, "!"), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(pat); i++ {
			switch {
			case strings.HasPrefix(pat[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(pat[i:], "**"):
				re.WriteString(".*")
				i++
			case pat[i] == '*':
				re.WriteString("[^/]*")
			case pat[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(pat[i : i+1]))
			}
		}
		re.WriteString("$")
		m := regexp.MustCompile(re.String())
		parts := strings.Split(rel, "/")
		for i := 1; i <= len(parts); i++ {
			if m.MatchString(strings.Join(parts[:i], "/")) {
				ignored = !neg
				break
			}
		}
	}
	return ignored
}
