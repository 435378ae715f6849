package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// errChecksFailed makes the command exit 1 without another message.
var errChecksFailed = errors.New("checks failed")

// cmdGrade grades a local folder with a lab's checks: static kinds need no
// container, build kinds use the local engine, exec checks are skipped.
func cmdGrade(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	labID := fs.String("lab", "", "the lab whose checks to run (required)")
	stepID := fs.String("step", "", "grade one step only")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	labsDir := fs.String("labs-dir", env("OPSDOJO_LABS_DIR", "./labs"), "folder of lab folders")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *labID == "" || fs.NArg() != 1 {
		return errors.New("usage: opsdojo grade --lab LAB [--step STEP] [--json] DIR")
	}
	dir := fs.Arg(0)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	runner := grading.NewRunner(log)
	list, problems := labs.LoadAll(*labsDir, runner)
	lab := labs.NewCatalog(list)
	l, ok := lab.Get(*labID)
	if !ok {
		if len(problems) > 0 {
			return fmt.Errorf("no valid lab %q:\n%s", *labID, problems.Error())
		}
		return fmt.Errorf("no lab %q in %s", *labID, *labsDir)
	}
	steps := l.Steps
	if *stepID != "" {
		st, ok := l.Step(*stepID)
		if !ok {
			return fmt.Errorf("lab %s has no step %q (steps: %s)", l.ID, *stepID, strings.Join(l.StepIDs(), ", "))
		}
		steps = []labs.Step{st}
	}
	target := grading.Target{Files: grading.DirFiles{Root: dir}}
	if needsEngine(steps) {
		cfg := sandbox.DefaultConfig()
		cfg.InstanceID = "grade"
		eng, err := sandbox.New(cfg, log)
		if err != nil {
			return err
		}
		defer eng.Close()
		if err := eng.Ping(ctx); err == nil {
			target.Engine = eng
		} else {
			log.Warn("no Docker engine: build checks will report an error", "err", err)
		}
	}
	results := gradeSteps(ctx, runner, l, steps, target)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		printResults(stdout, l, results)
	}
	graded, passed := 0, 0
	for _, r := range results {
		for _, c := range r.Checks {
			if c.Status == opsdojo.StatusSkipped && c.Kind == "exec" {
				continue
			}
			graded++
			if c.Status == opsdojo.StatusPass {
				passed++
			}
		}
	}
	if graded == 0 || passed != graded {
		return errChecksFailed
	}
	return nil
}

// gradeSteps runs the steps' checks in order. The images build checks make
// stay until the last check is done: the dockerfile lab's builds share
// their first steps, so each build after the first reuses their layers
// instead of starting cold.
func gradeSteps(ctx context.Context, runner *grading.Runner, l *labs.Lab, steps []labs.Step, target grading.Target) []opsdojo.StepResult {
	if target.Engine != nil {
		run := &runImages{BuildEngine: target.Engine}
		defer run.removeAll(context.WithoutCancel(ctx))
		target.Engine = run
	}
	var results []opsdojo.StepResult
	for _, st := range steps {
		results = append(results, runner.RunStep(ctx, l, st, target))
	}
	return results
}

// runImages defers the removal of a grade run's build images to its end.
type runImages struct {
	grading.BuildEngine
	mu   sync.Mutex
	tags []string
	ids  []string
}

func (r *runImages) RemoveImage(_ context.Context, ref string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tags = append(r.tags, ref)
	return nil
}

func (r *runImages) RemoveImages(_ context.Context, ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, ids...)
}

// removeAll removes the run's images, newest first.
func (r *runImages) removeAll(ctx context.Context) {
	r.mu.Lock()
	tags, ids := r.tags, r.ids
	r.tags, r.ids = nil, nil
	r.mu.Unlock()
	for i := len(tags) - 1; i >= 0; i-- {
		_ = r.BuildEngine.RemoveImage(ctx, tags[i])
	}
	if len(ids) > 0 {
		r.BuildEngine.RemoveImages(ctx, ids)
	}
}

func needsEngine(steps []labs.Step) bool {
	for _, st := range steps {
		for _, c := range st.Checks {
			if c.Kind == "docker-build" {
				return true
			}
		}
	}
	return false
}

var statusMark = map[opsdojo.CheckStatus]string{
	opsdojo.StatusPass: "PASS", opsdojo.StatusFail: "FAIL", opsdojo.StatusError: "ERROR", opsdojo.StatusSkipped: "SKIP",
}

func printResults(w io.Writer, l *labs.Lab, results []opsdojo.StepResult) {
	for _, r := range results {
		fmt.Fprintf(w, "%s / %s: %s (%.4g/%.4g points)\n", l.ID, r.StepID, strings.ToUpper(string(r.Status)), r.Points, r.Max)
		for _, c := range r.Checks {
			fmt.Fprintf(w, "  %-5s %s (%s)\n", statusMark[c.Status], c.Title, c.CheckID)
			for _, m := range c.Messages {
				fmt.Fprintf(w, "        %s\n", m)
			}
			for _, f := range c.Findings {
				loc := f.File
				if f.Line > 0 {
					loc = fmt.Sprintf("%s:%d", loc, f.Line)
					if f.Column > 0 {
						loc = fmt.Sprintf("%s:%d", loc, f.Column)
					}
				}
				fmt.Fprintf(w, "        %s: [%s] %s\n", loc, f.Rule, f.Message)
			}
			for _, t := range c.Tests {
				mark := "ok  "
				if !t.Pass {
					mark = "FAIL"
				}
				fmt.Fprintf(w, "        %s %s: expected %s; got %s\n", mark, t.Name, t.Expected, t.Actual)
			}
			if c.Status != opsdojo.StatusPass {
				for _, h := range c.Hints {
					fmt.Fprintf(w, "        hint: %s\n", h)
				}
			}
		}
	}
}

// cmdLabsTest proves each lab solvable and not trivially passed: in a real
// container, no check passes on the starter files, and after the solutions
// of steps 1..N are applied in order, step N's checks pass.
func cmdLabsTest(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("labs test", flag.ContinueOnError)
	labsDir := fs.String("labs-dir", env("OPSDOJO_LABS_DIR", "./labs"), "folder of lab folders")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runner := grading.NewRunner(log)
	list, problems := labs.LoadAll(*labsDir, runner)
	if len(problems) > 0 {
		return fmt.Errorf("invalid labs:\n%s", problems.Error())
	}
	want := map[string]bool{}
	for _, id := range fs.Args() {
		want[id] = true
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg := sandbox.DefaultConfig()
	cfg.InstanceID = "labstest-" + hex.EncodeToString(b)
	eng, err := sandbox.New(cfg, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	if err := eng.Ping(ctx); err != nil {
		return errors.New(opsdojo.ErrorMessage(err))
	}
	if err := sandbox.EnsureHostIsolation(ctx); err != nil {
		log.Warn("host firewall rule not installed", "err", err)
	}
	builder := images.New(eng.Client(), log)
	failures := 0
	// Found labs leave want (what is left is unknown), so decide whether
	// to filter once, before the loop empties it.
	filtered := len(want) > 0
	for _, l := range list {
		if filtered && !want[l.ID] {
			continue
		}
		delete(want, l.ID)
		n, err := testLab(ctx, stdout, eng, builder, runner, l)
		if err != nil {
			fmt.Fprintf(stdout, "%s: ERROR %v\n", l.ID, err)
			failures++
		}
		failures += n
	}
	for id := range want {
		return fmt.Errorf("no lab %q in %s", id, *labsDir)
	}
	if failures > 0 {
		fmt.Fprintf(stdout, "labs test: %d problem(s)\n", failures)
		return errChecksFailed
	}
	fmt.Fprintln(stdout, "labs test: no check passes on the starter files, and every step passes after its solution")
	return nil
}

func testLab(ctx context.Context, w io.Writer, eng *sandbox.Engine, builder *images.Builder, runner *grading.Runner, l *labs.Lab) (int, error) {
	tag, _, err := builder.BuildLab(ctx, l, io.Discard)
	if err != nil {
		return 0, err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	sid := hex.EncodeToString(b)
	box, err := eng.Create(ctx, sandbox.Spec{SessionID: sid, UserID: 0, LabID: l.ID, Image: tag, CapAdd: l.CapAdd, HomeDir: l.HomeDir})
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = eng.Remove(cctx, box)
		_ = eng.RemoveSessionImages(cctx, sid)
	}()
	target := grading.Target{
		Container: engineRunner{eng: eng, id: box.ContainerID},
		Files:     engineFiles{eng: eng, id: box.ContainerID},
		Engine:    eng,
		Session:   sid,
	}
	failures := 0
	// On the starter files no check of any step may pass.
	for _, st := range l.Steps {
		res := runner.RunStep(ctx, l, st, target)
		for _, c := range res.Checks {
			switch c.Status {
			case opsdojo.StatusPass:
				fmt.Fprintf(w, "%s / %s: FAIL check %s passes on the starter files (trivially passed)\n", l.ID, st.ID, c.CheckID)
				failures++
			case opsdojo.StatusError:
				fmt.Fprintf(w, "%s / %s: FAIL check %s is a grader error on the starter files: %s\n", l.ID, st.ID, c.CheckID, strings.Join(c.Messages, "; "))
				failures++
			}
		}
	}
	for _, st := range l.Steps {
		start := time.Now()
		// Just before its own solution a check should still fail; when an
		// earlier step's solution already did its work, say so (a lab
		// design smell, not an error).
		before := runner.RunStep(ctx, l, st, target)
		for _, c := range before.Checks {
			if c.Status == opsdojo.StatusPass {
				fmt.Fprintf(w, "%s / %s: note: check %s already passes before this step's solution\n", l.ID, st.ID, c.CheckID)
			}
		}
		out, err := eng.Exec(ctx, box.ContainerID, sandbox.ExecRequest{
			Cmd: []string{"bash", "-s"}, User: sandbox.LearnerUser, WorkDir: sandbox.LearnerHome,
			Env: []string{"HOME=" + sandbox.LearnerHome}, Stdin: strings.NewReader(st.Solution),
		})
		if err != nil {
			return failures, fmt.Errorf("step %s: run solution: %w", st.ID, err)
		}
		if out.ExitCode != 0 {
			fmt.Fprintf(w, "%s / %s: FAIL solution exited %d:\n%s%s\n", l.ID, st.ID, out.ExitCode, out.Stdout, out.Stderr)
			failures++
			continue
		}
		after := runner.RunStep(ctx, l, st, target)
		if after.Status != opsdojo.StatusPass {
			fmt.Fprintf(w, "%s / %s: FAIL checks do not pass after the solution:\n", l.ID, st.ID)
			printResults(w, l, []opsdojo.StepResult{after})
			failures++
			continue
		}
		fmt.Fprintf(w, "%s / %s: ok (%d checks pass after the solution; %s)\n", l.ID, st.ID, len(st.Checks), time.Since(start).Round(100*time.Millisecond))
	}
	return failures, nil
}

type engineRunner struct {
	eng *sandbox.Engine
	id  string
}

func (r engineRunner) Run(ctx context.Context, cmd grading.Command) (grading.Output, error) {
	out, err := r.eng.Exec(ctx, r.id, sandbox.ExecRequest{Cmd: cmd.Argv, User: cmd.User, Env: cmd.Env, Stdin: cmd.Stdin})
	return grading.Output{ExitCode: out.ExitCode, Stdout: out.Stdout, Stderr: out.Stderr}, err
}

type engineFiles struct {
	eng *sandbox.Engine
	id  string
}

func (f engineFiles) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	return f.eng.ReadFile(ctx, f.id, name, limit)
}

func (f engineFiles) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	return f.eng.Archive(ctx, f.id, dir, w, limit)
}
