package grading_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const ciLabDir = "../../labs/ci-pipeline"

// TestWorkflowLabCIPipeline proves labs/ci-pipeline valid and solvable, the
// way `opsdojo labs test` does in a container but on a local copy of its
// starter files: every check of a step fails (or is skipped) before the
// step's solution, and the step passes after it; solutions only write the
// workflow file.
func TestWorkflowLabCIPipeline(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is needed to run the solutions")
	}
	r := wfRunner()
	lab, problems := labs.Load(ciLabDir, r)
	if len(problems) > 0 {
		t.Fatalf("lab problems:\n%s", problems.Error())
	}
	if lab.ID != "ci-pipeline" || len(lab.Steps) < 3 || len(lab.Steps) > 6 {
		t.Fatalf("lab %q with %d steps", lab.ID, len(lab.Steps))
	}
	for _, st := range lab.Steps {
		for _, c := range st.Checks {
			if c.Kind != "workflow" || c.Hint == "" {
				t.Errorf("step %s check %s: kind %q, hint %q; want workflow checks with hints", st.ID, c.ID, c.Kind, c.Hint)
			}
		}
		if len(st.Hints) == 0 {
			t.Errorf("step %s has no hints", st.ID)
		}
	}

	home := filepath.Join(t.TempDir(), "learner")
	copyTree(t, lab.HomeDir, home)
	if _, err := os.Stat(filepath.Join(home, "repo", ".github")); !os.IsNotExist(err) {
		t.Fatal("the starter repo already has .github")
	}
	target := grading.Target{Files: grading.DirFiles{Root: home}}
	ctx := context.Background()
	for i, st := range lab.Steps {
		before := r.RunStep(ctx, lab, st, target)
		for _, c := range before.Checks {
			if c.Status == opsdojo.StatusPass || c.Status == opsdojo.StatusError {
				t.Errorf("step %s: check %s is %s before its solution: %q", st.ID, c.CheckID, c.Status, c.Messages)
			}
		}
		if before.Status != opsdojo.StatusFail {
			t.Errorf("step %s: %s before its solution", st.ID, before.Status)
		}

		// The checks of every later step must fail now too (each one
		// grades something this step does not add yet).
		for _, later := range lab.Steps[i+1:] {
			if res := r.RunStep(ctx, lab, later, target); res.Status != opsdojo.StatusFail {
				t.Errorf("step %s passes (%s) before step %s is solved", later.ID, res.Status, st.ID)
			}
		}

		snapshot := treeSnapshot(t, home)
		cmd := exec.Command("bash", "-s")
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
		cmd.Stdin = strings.NewReader(st.Solution)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("step %s: solution failed: %v\n%s", st.ID, err, out)
		}
		changed := treeDiff(snapshot, treeSnapshot(t, home))
		if !slices.Equal(changed, []string{"repo/.github/workflows/ci.yml"}) {
			t.Errorf("step %s: the solution changed %q; want only the workflow file", st.ID, changed)
		}

		after := r.RunStep(ctx, lab, st, target)
		if after.Status != opsdojo.StatusPass {
			for _, c := range after.Checks {
				t.Logf("  %s %s %q%s", c.CheckID, c.Status, c.Messages, findingsString(c.Findings))
			}
			t.Fatalf("step %s: %s after its solution", st.ID, after.Status)
		}
		// Earlier steps keep passing.
		for _, prev := range lab.Steps[:i] {
			if res := r.RunStep(ctx, lab, prev, target); res.Status != opsdojo.StatusPass {
				t.Errorf("step %s no longer passes after step %s's solution", prev.ID, st.ID)
			}
		}
	}
	// A second run of every solution changes nothing that matters.
	for _, st := range lab.Steps {
		cmd := exec.Command("bash", "-s")
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
		cmd.Stdin = strings.NewReader(st.Solution)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("step %s: second run of the solution failed: %v\n%s", st.ID, err, out)
		}
	}
	last := lab.Steps[len(lab.Steps)-1]
	if res := r.RunStep(ctx, lab, last, target); res.Status != opsdojo.StatusPass {
		t.Fatalf("after running every solution again: %s", res.Status)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeSnapshot maps every regular file under root to its content.
func treeSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// treeDiff lists the files added, removed or changed, sorted.
func treeDiff(a, b map[string]string) []string {
	var out []string
	for k, v := range b {
		if old, ok := a[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
