package grading_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const dfLabDir = "../../labs/dockerfile-go-service"

// TestDockerfileLab loads labs/dockerfile-go-service and walks it as a
// learner would: the starter home fails every step's dockerfile checks;
// after each step's solution (applied on top of the earlier ones) that
// step's dockerfile checks pass, and so do those of the earlier steps. The
// docker-build checks need an engine; they are only validated here.
func TestDockerfileLab(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is needed to run the solutions")
	}
	r := dfRunner()
	lab, problems := labs.Load(dfLabDir, r)
	if len(problems) > 0 {
		t.Fatalf("lab does not load:\n%v", problems)
	}
	if n := len(lab.Steps); n < 3 || n > 6 {
		t.Fatalf("%d steps, want 3 to 6", n)
	}
	// A step without static checks is one that uses the docker CLI (the
	// lab's Docker proxy): `opsdojo labs test` walks it in a real session.
	// Its solution must never run here, on the host's own engine.
	var walked []labs.Step
	for _, st := range lab.Steps {
		static := false
		for _, c := range st.Checks {
			static = static || c.Kind == "dockerfile"
		}
		if static {
			walked = append(walked, st)
		} else if !strings.Contains(st.Solution, "docker build") {
			t.Errorf("step %s has no dockerfile check and does not use the docker CLI", st.ID)
		}
	}
	for _, st := range walked {
		if len(st.Hints) == 0 {
			t.Errorf("step %s has no hints", st.ID)
		}
		static := map[string]bool{}
		for _, c := range st.Checks {
			if c.Hint == "" {
				t.Errorf("check %s/%s has no hint", st.ID, c.ID)
			}
			switch c.Kind {
			case "dockerfile":
				static[c.ID] = true
			case "docker-build":
				// A build only runs once the static rules pass.
				if len(c.DependsOn) == 0 || !static[c.DependsOn[0]] {
					t.Errorf("build check %s/%s should depend on a dockerfile check, depends on %v", st.ID, c.ID, c.DependsOn)
				}
			}
		}
		if len(static) == 0 {
			t.Errorf("step %s has no dockerfile check", st.ID)
		}
	}

	home := t.TempDir()
	if err := os.CopyFS(home, os.DirFS(lab.HomeDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, "app", "Dockerfile")); err == nil {
		t.Fatal("the starter home already has a Dockerfile")
	}
	files := grading.DirFiles{Root: home}
	grade := func(st labs.Step) []opsdojo.CheckResult {
		var out []opsdojo.CheckResult
		for _, c := range st.Checks {
			if c.Kind != "dockerfile" {
				continue
			}
			one := labs.Step{ID: st.ID, Title: st.Title, Checks: []labs.Check{c}}
			res := r.RunStep(context.Background(), lab, one, grading.Target{Files: files})
			out = append(out, res.Checks[0])
		}
		return out
	}

	for _, st := range walked {
		for _, cr := range grade(st) {
			if cr.Status != opsdojo.StatusFail {
				t.Errorf("starter home: %s/%s is %s, want fail\n%s", st.ID, cr.CheckID, cr.Status, dfDump(cr))
			}
		}
	}
	for i, st := range walked {
		// Until its solution runs, a step has work left (the last step's
		// static rules already hold: its build check enforces the size).
		if i < len(walked)-1 {
			for _, cr := range grade(st) {
				if cr.Status != opsdojo.StatusFail {
					t.Errorf("before solution %s: %s is %s, want fail", st.ID, cr.CheckID, cr.Status)
				}
			}
		}
		cmd := exec.Command("bash", "-s")
		cmd.Dir = home
		cmd.Env = append(os.Environ(), "HOME="+home)
		cmd.Stdin = strings.NewReader(st.Solution)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("solution of %s: %v\n%s", st.ID, err, out)
		}
		for _, done := range walked[:i+1] {
			for _, cr := range grade(done) {
				if cr.Status != opsdojo.StatusPass {
					t.Errorf("after solution %s: %s/%s is %s, want pass\n%s", st.ID, done.ID, cr.CheckID, cr.Status, dfDump(cr))
				}
			}
		}
	}
}
