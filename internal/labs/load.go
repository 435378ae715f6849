package labs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits that keep a broken or hostile lab folder from exhausting memory.
const (
	maxLabYAML   = 1 << 20
	maxTextFile  = 1 << 20
	maxChecks    = 64
	maxSteps     = 64
	defaultCheck = 20 * time.Second
	maxTimeout   = 10 * time.Minute
)

// KindValidator knows the check kinds a server can grade and checks the
// kind-specific arguments (the `with:` block) of a check. The grading
// package implements it; labs only asks.
type KindValidator interface {
	// ValidateCheck returns a learner-author-facing error when kind is
	// unknown or with (YAML, possibly empty) is wrong. labDir is the lab
	// folder, for arguments that name lab files.
	ValidateCheck(labDir, kind string, with []byte) error
}

// execOnly is the validator used when none is given.
type execOnly struct{}

func (execOnly) ValidateCheck(_, kind string, with []byte) error {
	if kind != "exec" {
		return fmt.Errorf("unknown check kind %q", kind)
	}
	if len(bytes.TrimSpace(with)) > 0 {
		return errors.New("exec checks take no with: block")
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

var difficulties = map[string]bool{"beginner": true, "intermediate": true, "advanced": true}

// The YAML shapes. Pointers distinguish "missing" from "zero".
type labFile struct {
	ID           string   `yaml:"id"`
	Title        string   `yaml:"title"`
	Summary      string   `yaml:"summary"`
	Difficulty   string   `yaml:"difficulty"`
	Minutes      int      `yaml:"minutes"`
	Image        string   `yaml:"image"`
	Home         string   `yaml:"home"`
	Capabilities []string `yaml:"capabilities"`
	CheckLib     string   `yaml:"check_lib"`
	// RecordTerminals: false keeps this lab's terminals out of recordings
	// (say, a lab where learners paste cloud credentials).
	RecordTerminals *bool      `yaml:"record_terminals"`
	Steps           []stepFile `yaml:"steps"`
	// DockerCLI: true gives the lab's sessions a docker CLI through their
	// own Docker API proxy (internal/dockerproxy).
	DockerCLI bool `yaml:"docker_cli"`
}

type stepFile struct {
	ID           string      `yaml:"id"`
	Title        string      `yaml:"title"`
	Instructions string      `yaml:"instructions"`
	Solution     string      `yaml:"solution"`
	Hints        []string    `yaml:"hints"`
	Checks       []checkFile `yaml:"checks"`
}

type checkFile struct {
	ID        string    `yaml:"id"`
	Title     string    `yaml:"title"`
	Kind      string    `yaml:"kind"`
	Points    *float64  `yaml:"points"`
	Hint      string    `yaml:"hint"`
	Timeout   string    `yaml:"timeout"`
	Script    string    `yaml:"script"`
	DependsOn []string  `yaml:"depends_on"`
	With      yaml.Node `yaml:"with"`
}

// Capabilities a lab may add back. Anything that lets a process leave its
// container (SYS_ADMIN, SYS_MODULE, SYS_PTRACE, NET_ADMIN, ...) is not here.
var allowedCaps = map[string]bool{
	"CHOWN": true, "DAC_OVERRIDE": true, "FOWNER": true, "FSETID": true, "KILL": true,
	"SETGID": true, "SETUID": true, "NET_BIND_SERVICE": true, "NET_RAW": true, "SETFCAP": true,
	"AUDIT_WRITE": true, "MKNOD": true, "SYS_CHROOT": true,
}

// LoadAll loads every lab folder under root (one level deep, folders holding
// a lab.yaml). It returns the valid labs sorted by id and every problem of
// the invalid ones. kinds may be nil: then only exec checks are known.
func LoadAll(root string, kinds KindValidator) ([]*Lab, Problems) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, Problems{{File: root, Message: fmt.Sprintf("cannot read labs folder: %v", err)}}
	}
	var out []*Lab
	var problems Problems
	seen := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "lab.yaml")); errors.Is(err, os.ErrNotExist) {
			continue
		}
		lab, ps := Load(dir, kinds)
		if len(ps) > 0 {
			problems = append(problems, ps...)
			continue
		}
		if prev, ok := seen[lab.ID]; ok {
			problems = append(problems, Problem{File: filepath.Join(dir, "lab.yaml"), Message: fmt.Sprintf("lab id %q is also used by %s", lab.ID, prev)})
			continue
		}
		seen[lab.ID] = dir
		out = append(out, lab)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, problems
}

// Load reads and validates one lab folder. When the returned Problems is
// non-empty the lab is nil. kinds may be nil: then only exec checks are known.
func Load(dir string, kinds KindValidator) (*Lab, Problems) {
	if kinds == nil {
		kinds = execOnly{}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, Problems{{File: dir, Message: err.Error()}}
	}
	// Problems name the file as the caller named the folder, so that
	// `opsdojo labs validate labs` prints paths relative to where it ran.
	l := &loader{dir: abs, file: filepath.Join(dir, "lab.yaml"), kinds: kinds}
	lab := l.load()
	if len(l.problems) > 0 {
		return nil, l.problems
	}
	return lab, nil
}

type loader struct {
	kinds    KindValidator
	dir      string
	file     string
	root     *yaml.Node
	problems Problems
	// libFuncs are the check_lib's wrapper functions, for the exec lint.
	libFuncs *execFuncs
}

// shown names a file of the lab the way problems name lab.yaml: relative
// to where the caller named the folder.
func (l *loader) shown(rel string) string {
	return filepath.Join(filepath.Dir(l.file), filepath.FromSlash(rel))
}

func (l *loader) errorf(line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Line: line, Message: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

func (l *loader) load() *Lab {
	raw, err := readLimited(l.file, maxLabYAML)
	if err != nil {
		l.errorf(0, "%v", err)
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		l.yamlError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		l.errorf(1, "lab.yaml is empty")
		return nil
	}
	l.root = doc.Content[0]
	var lf labFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&lf); err != nil {
		l.yamlError(err)
		return nil
	}
	lab := &Lab{ID: lf.ID, Title: lf.Title, Summary: strings.TrimSpace(lf.Summary), Difficulty: lf.Difficulty, Minutes: lf.Minutes, Dir: l.dir}
	if !idPattern.MatchString(lf.ID) {
		l.errorf(l.line("id"), "id %q must be lowercase letters, digits and dashes", lf.ID)
	}
	if strings.TrimSpace(lf.Title) == "" {
		l.errorf(l.line("title"), "title is required")
	}
	if lab.Summary == "" {
		l.errorf(l.line("summary"), "summary is required")
	}
	if !difficulties[lf.Difficulty] {
		l.errorf(l.line("difficulty"), "difficulty %q must be beginner, intermediate or advanced", lf.Difficulty)
	}
	if lf.Minutes <= 0 || lf.Minutes > 600 {
		l.errorf(l.line("minutes"), "minutes must be between 1 and 600")
	}
	image := lf.Image
	if image == "" {
		image = "image"
	}
	if p, ok := l.dirPath(l.line("image"), "image", image); ok {
		lab.ImageDir = p
		if _, err := os.Stat(filepath.Join(p, "Dockerfile")); err != nil {
			l.errorf(l.line("image"), "image folder %s has no Dockerfile", image)
		}
	}
	if lf.CheckLib != "" {
		lab.CheckLib = l.text(l.line("check_lib"), lf.CheckLib)
		if lab.CheckLib != "" {
			var ps Problems
			ps, l.libFuncs = lintExecScript(l.shown(lf.CheckLib), lab.CheckLib, nil)
			l.problems = append(l.problems, ps...)
		}
	}
	if lf.Home != "" {
		if p, ok := l.dirPath(l.line("home"), "home", lf.Home); ok {
			lab.HomeDir = p
		}
	}
	lab.NoRecording = lf.RecordTerminals != nil && !*lf.RecordTerminals
	lab.DockerCLI = lf.DockerCLI
	for i, c := range lf.Capabilities {
		c = strings.ToUpper(strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
		if !allowedCaps[c] {
			l.errorf(l.line("capabilities", i), "capability %q may not be added to a learner container", lf.Capabilities[i])
			continue
		}
		lab.CapAdd = append(lab.CapAdd, c)
	}
	if len(lf.Steps) == 0 {
		l.errorf(l.line("steps"), "a lab needs at least one step")
	}
	if len(lf.Steps) > maxSteps {
		l.errorf(l.line("steps"), "a lab has at most %d steps", maxSteps)
		return lab
	}
	steps := map[string]bool{}
	for i, sf := range lf.Steps {
		st := l.step(i, sf)
		if steps[st.ID] {
			l.errorf(l.line("steps", i, "id"), "step id %q is used twice", st.ID)
		}
		steps[st.ID] = true
		lab.Steps = append(lab.Steps, st)
	}
	return lab
}

func (l *loader) step(i int, sf stepFile) Step {
	st := Step{ID: sf.ID, Title: strings.TrimSpace(sf.Title)}
	if !idPattern.MatchString(sf.ID) {
		l.errorf(l.line("steps", i, "id"), "step id %q must be lowercase letters, digits and dashes", sf.ID)
	}
	if st.Title == "" {
		l.errorf(l.line("steps", i), "step %q needs a title", sf.ID)
	}
	if sf.Instructions == "" {
		l.errorf(l.line("steps", i), "step %q needs instructions (a markdown file)", sf.ID)
	} else {
		st.Instructions = l.text(l.line("steps", i, "instructions"), sf.Instructions)
	}
	if sf.Solution == "" {
		l.errorf(l.line("steps", i), "step %q needs a solution script", sf.ID)
	} else {
		st.Solution = l.text(l.line("steps", i, "solution"), sf.Solution)
	}
	for _, h := range sf.Hints {
		if strings.TrimSpace(h) != "" {
			st.Hints = append(st.Hints, strings.TrimSpace(h))
		}
	}
	if len(sf.Checks) == 0 {
		l.errorf(l.line("steps", i), "step %q needs at least one check", sf.ID)
	}
	if len(sf.Checks) > maxChecks {
		l.errorf(l.line("steps", i, "checks"), "a step has at most %d checks", maxChecks)
		return st
	}
	ids := map[string]bool{}
	for j, cf := range sf.Checks {
		c := l.check(i, j, cf)
		if ids[c.ID] {
			l.errorf(l.line("steps", i, "checks", j, "id"), "check id %q is used twice in step %q", c.ID, sf.ID)
		}
		// A check may only depend on checks listed before it: that keeps
		// the order of execution obvious and cycles impossible.
		for k, dep := range c.DependsOn {
			if !ids[dep] {
				l.errorf(l.line("steps", i, "checks", j, "depends_on", k), "check %q depends on %q, which is not an earlier check of step %q", c.ID, dep, sf.ID)
			}
		}
		ids[c.ID] = true
		st.Checks = append(st.Checks, c)
	}
	return st
}

func (l *loader) check(i, j int, cf checkFile) Check {
	at := func(keys ...any) int { return l.line(append([]any{"steps", i, "checks", j}, keys...)...) }
	c := Check{ID: cf.ID, Title: strings.TrimSpace(cf.Title), Kind: cf.Kind, Hint: strings.TrimSpace(cf.Hint), Points: 1, Timeout: defaultCheck}
	if !idPattern.MatchString(cf.ID) {
		l.errorf(at("id"), "check id %q must be lowercase letters, digits and dashes", cf.ID)
	}
	if c.Title == "" {
		l.errorf(at(), "check %q needs a title", cf.ID)
	}
	if cf.Points != nil {
		if *cf.Points < 0 || *cf.Points > 1000 {
			l.errorf(at("points"), "points must be between 0 and 1000")
		}
		c.Points = *cf.Points
	}
	if cf.Timeout != "" {
		d, err := time.ParseDuration(cf.Timeout)
		switch {
		case err != nil:
			l.errorf(at("timeout"), "timeout %q is not a duration such as 20s", cf.Timeout)
		case d <= 0 || d > maxTimeout:
			l.errorf(at("timeout"), "timeout must be between 1s and %s", maxTimeout)
		default:
			c.Timeout = d
		}
	}
	c.DependsOn = cf.DependsOn
	if cf.With.Kind != 0 {
		raw, err := yaml.Marshal(&cf.With)
		if err != nil {
			l.errorf(at("with"), "with: %v", err)
		}
		c.With = raw
	}
	if err := l.kinds.ValidateCheck(l.dir, cf.Kind, c.With); err != nil {
		line := at("with")
		if cf.Kind == "" || strings.HasPrefix(err.Error(), "unknown check kind") {
			line = at("kind")
		}
		l.errorf(line, "check %q: %v", cf.ID, err)
	}
	switch {
	case cf.Kind == "exec" && cf.Script == "":
		l.errorf(at(), "exec check %q needs a script", cf.ID)
	case cf.Kind == "exec":
		c.Script = l.text(at("script"), cf.Script)
		if c.Script != "" {
			// The check_lib's helpers (a git wrapper, say) are known here.
			ps, _ := lintExecScript(l.shown(cf.Script), c.Script, l.libFuncs)
			l.problems = append(l.problems, ps...)
		}
	case cf.Script != "":
		l.errorf(at("script"), "only exec checks take a script")
	}
	return c
}

// text reads a text file named relative to the lab folder.
func (l *loader) text(line int, rel string) string {
	p, ok := l.path(line, rel)
	if !ok {
		return ""
	}
	b, err := readLimited(p, maxTextFile)
	if err != nil {
		l.errorf(line, "%v", err)
		return ""
	}
	if !utf8.Valid(b) {
		l.errorf(line, "%s is not UTF-8 text", rel)
		return ""
	}
	return string(b)
}

// path resolves rel inside the lab folder, refusing escapes and symlinks out.
func (l *loader) path(line int, rel string) (string, bool) {
	if filepath.IsAbs(rel) {
		l.errorf(line, "%s: paths are relative to the lab folder", rel)
		return "", false
	}
	p := filepath.Join(l.dir, filepath.FromSlash(rel))
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			l.errorf(line, "%s does not exist", rel)
		} else {
			l.errorf(line, "%s: %v", rel, err)
		}
		return "", false
	}
	realDir, err := filepath.EvalSymlinks(l.dir)
	if err != nil {
		l.errorf(line, "%v", err)
		return "", false
	}
	if real != realDir && !strings.HasPrefix(real, realDir+string(filepath.Separator)) {
		l.errorf(line, "%s points outside the lab folder", rel)
		return "", false
	}
	return real, true
}

func (l *loader) dirPath(line int, field, rel string) (string, bool) {
	p, ok := l.path(line, rel)
	if !ok {
		return "", false
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		l.errorf(line, "%s %s is not a folder", field, rel)
		return "", false
	}
	return p, true
}

// line finds the line of a value in lab.yaml by a path of mapping keys and
// sequence indexes; it falls back to the nearest ancestor that exists.
func (l *loader) line(path ...any) int {
	n := l.root
	best := 1
	if n != nil {
		best = n.Line
	}
	for _, p := range path {
		if n == nil {
			break
		}
		switch k := p.(type) {
		case string:
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						best = n.Content[i].Line
						next = n.Content[i+1]
						break
					}
				}
			}
			n = next
		case int:
			var next *yaml.Node
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				best = next.Line
			}
			n = next
		}
	}
	return best
}

func (l *loader) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			l.errorf(n, "%s", friendlyYAML(sm[2]))
			continue
		}
		l.errorf(0, "%s", friendlyYAML(m))
	}
}

var fieldNotFound = regexp.MustCompile(`^field (\S+) not found in type labs\.(\w+)$`)

func friendlyYAML(m string) string {
	if sm := fieldNotFound.FindStringSubmatch(m); sm != nil {
		where := map[string]string{"labFile": "a lab", "stepFile": "a step", "checkFile": "a check"}[sm[2]]
		return fmt.Sprintf("unknown field %q in %s", sm[1], where)
	}
	return m
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist", filepath.Base(path))
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	return b, nil
}
