package grading_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// fakeContainer records what it was asked to run and answers with out/err.
type fakeContainer struct {
	out grading.Output
	err error

	mu          sync.Mutex
	calls       []grading.Command
	stdin       []string
	hadDeadline bool
}

func (f *fakeContainer) Run(ctx context.Context, cmd grading.Command) (grading.Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, cmd)
	if cmd.Stdin != nil {
		b, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return grading.Output{}, err
		}
		f.stdin = append(f.stdin, string(b))
	}
	_, f.hadDeadline = ctx.Deadline()
	return f.out, f.err
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

var testLab = &labs.Lab{ID: "git-basics"}

func execCheck(points float64, hint string, timeout time.Duration) labs.Check {
	return labs.Check{ID: "readme", Title: "README committed", Kind: "exec", Points: points, Hint: hint, Timeout: timeout,
		Script: "#!/bin/bash\ncd \"$OPSDOJO_HOME/project\" && git log -- README.md | grep -q . || { echo 'FAIL: no commit'; exit 1; }\n"}
}

// runOne grades a one-check step through the Runner, as the server does.
func runOne(t *testing.T, chk labs.Check, c grading.Container) opsdojo.CheckResult {
	t.Helper()
	step := labs.Step{ID: "init", Title: "Init", Checks: []labs.Check{chk}}
	res := grading.NewRunner(discard()).RunStep(context.Background(), testLab, step, grading.Target{Container: c})
	if len(res.Checks) != 1 {
		t.Fatalf("RunStep returned %d check results, want 1", len(res.Checks))
	}
	if res.StepID != "init" {
		t.Fatalf("StepID = %q", res.StepID)
	}
	cr := res.Checks[0]
	if cr.CheckID != chk.ID || cr.Title != chk.Title || cr.Kind != chk.Kind || cr.Max != chk.Points {
		t.Fatalf("check identity = %q %q %q max %v; want %q %q %q max %v", cr.CheckID, cr.Title, cr.Kind, cr.Max, chk.ID, chk.Title, chk.Kind, chk.Points)
	}
	if cr.Messages == nil || cr.Hints == nil || cr.Findings == nil {
		t.Fatalf("nil Messages or Hints: %+v", cr)
	}
	if res.Status != cr.Status || res.Points != cr.Points || res.Max != cr.Max {
		t.Fatalf("one-check step roll-up %s %v/%v differs from its check %s %v/%v", res.Status, res.Points, res.Max, cr.Status, cr.Points, cr.Max)
	}
	return cr
}

func TestExecPass(t *testing.T) {
	fc := &fakeContainer{out: grading.Output{ExitCode: 0, Stdout: []byte("checking...\nall good\n")}}
	cr := runOne(t, execCheck(3, "commit it", 5*time.Second), fc)
	if cr.Status != opsdojo.StatusPass {
		t.Fatalf("status = %s, want pass", cr.Status)
	}
	if cr.Points != 3 {
		t.Fatalf("points = %v, want full 3", cr.Points)
	}
	if len(cr.Messages) != 0 || len(cr.Hints) != 0 {
		t.Fatalf("a pass carries messages %q / hints %q", cr.Messages, cr.Hints)
	}
	if cr.Log != "checking...\nall good\n" {
		t.Fatalf("log = %q", cr.Log)
	}
}

func TestExecFail(t *testing.T) {
	stdout := strings.Join([]string{
		"+ git log",
		"FAIL: README.md is not committed",
		"debug: HEAD is empty",
		"HINT: run git add README.md",
		"FAIL:   .env is tracked   \r",
		"HINT: git rm --cached .env",
		"FAILED: not a marker",
		"",
	}, "\n")
	fc := &fakeContainer{out: grading.Output{ExitCode: 1, Stdout: []byte(stdout), Stderr: []byte("fatal: not a git repository\n")}}
	cr := runOne(t, execCheck(2, "Commit README.md.", 5*time.Second), fc)
	if cr.Status != opsdojo.StatusFail {
		t.Fatalf("status = %s, want fail", cr.Status)
	}
	if cr.Points != 0 {
		t.Fatalf("points = %v, want 0", cr.Points)
	}
	if want := []string{"README.md is not committed", ".env is tracked"}; !slices.Equal(cr.Messages, want) {
		t.Fatalf("messages = %q, want %q", cr.Messages, want)
	}
	if want := []string{"run git add README.md", "git rm --cached .env", "Commit README.md."}; !slices.Equal(cr.Hints, want) {
		t.Fatalf("hints = %q, want %q", cr.Hints, want)
	}
	for _, kept := range []string{"+ git log", "debug: HEAD is empty", "FAILED: not a marker", "fatal: not a git repository"} {
		if !strings.Contains(cr.Log, kept) {
			t.Errorf("log %q lacks %q", cr.Log, kept)
		}
		for _, m := range append(cr.Messages, cr.Hints...) {
			if strings.Contains(m, kept) {
				t.Errorf("instructor-only line %q reached the learner in %q", kept, m)
			}
		}
	}
	for _, marker := range []string{"FAIL: README", "HINT: run"} {
		if strings.Contains(cr.Log, marker) {
			t.Errorf("log %q keeps learner line %q", cr.Log, marker)
		}
	}
}

func TestExecFailWithoutMessage(t *testing.T) {
	fc := &fakeContainer{out: grading.Output{ExitCode: 1}}
	cr := runOne(t, execCheck(1, "", 5*time.Second), fc)
	if cr.Status != opsdojo.StatusFail || len(cr.Messages) != 1 || cr.Messages[0] == "" {
		t.Fatalf("silent failure = %s %q; want fail with a generic message", cr.Status, cr.Messages)
	}
	if len(cr.Hints) != 0 {
		t.Fatalf("hints = %q, want none (the check has no hint)", cr.Hints)
	}
}

func TestExecScore(t *testing.T) {
	cases := []struct {
		name   string
		exit   int
		stdout string
		status opsdojo.CheckStatus
		points float64
	}{
		{"fail half", 1, "SCORE: 1/2\nFAIL: one of two\n", opsdojo.StatusFail, 2},
		{"fail quarter", 1, "SCORE: 1/4\n", opsdojo.StatusFail, 1},
		{"fail zero", 1, "SCORE: 0/3\n", opsdojo.StatusFail, 0},
		{"pass half", 0, "SCORE: 1/2\n", opsdojo.StatusPass, 2},
		{"pass full", 0, "SCORE: 2/2\n", opsdojo.StatusPass, 4},
		{"malformed score ignored on fail", 1, "SCORE: lots\n", opsdojo.StatusFail, 0},
		{"score above max ignored", 1, "SCORE: 3/2\n", opsdojo.StatusFail, 0},
		{"negative score ignored", 1, "SCORE: -1/2\n", opsdojo.StatusFail, 0},
		{"zero max ignored on pass", 0, "SCORE: 0/0\n", opsdojo.StatusPass, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeContainer{out: grading.Output{ExitCode: c.exit, Stdout: []byte(c.stdout)}}
			cr := runOne(t, execCheck(4, "", 5*time.Second), fc)
			if cr.Status != c.status || cr.Points != c.points {
				t.Fatalf("%s %v, want %s %v", cr.Status, cr.Points, c.status, c.points)
			}
			if cr.Max != 4 {
				t.Fatalf("max = %v, want 4", cr.Max)
			}
			if strings.Contains(cr.Log, "SCORE: 1/") {
				t.Fatalf("a valid score line was kept in the log: %q", cr.Log)
			}
		})
	}
}

func TestExecGraderErrors(t *testing.T) {
	cases := []struct {
		name     string
		out      grading.Output
		err      error
		timeout  time.Duration
		mention  string
		inLog    string
		notInMsg string
	}{
		{name: "exit 2", out: grading.Output{ExitCode: 2, Stdout: []byte("FAIL: ignored\nsyntax error\n"), Stderr: []byte("bash: line 3: unexpected token\n")},
			mention: "exit 2", inLog: "unexpected token"},
		{name: "exit 127", out: grading.Output{ExitCode: 127, Stderr: []byte("git: command not found\n")},
			mention: "exit 127", inLog: "command not found"},
		{name: "timeout(1) expired", out: grading.Output{ExitCode: 124, Stdout: []byte("still waiting\n")}, timeout: 7 * time.Second,
			mention: "7s", inLog: "still waiting"},
		{name: "timeout(1) killed", out: grading.Output{ExitCode: 137}, timeout: 90 * time.Second,
			mention: "1m30s"},
		{name: "deadline exceeded", err: context.DeadlineExceeded, timeout: 3 * time.Second,
			mention: "3s"},
		{name: "wrapped deadline exceeded", err: fmt.Errorf("exec: %w", context.DeadlineExceeded), timeout: 3 * time.Second,
			mention: "3s"},
		{name: "default time limit", out: grading.Output{ExitCode: 124},
			mention: "20s"},
		{name: "engine unavailable", err: opsdojo.WrapError(opsdojo.EUNAVAILABLE, errors.New("dial unix /var/run/docker.sock: connect: connection refused"), "the Docker engine is not reachable"),
			mention: "Docker engine", inLog: "connection refused", notInMsg: "docker.sock"},
		{name: "wrapped engine unavailable", err: fmt.Errorf("create exec: %w", opsdojo.Errorf(opsdojo.EUNAVAILABLE, "down")),
			mention: "Docker engine"},
		{name: "other error", err: errors.New("exec create: no such container abc123"),
			mention: "could not run", inLog: "abc123", notInMsg: "abc123"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeContainer{out: c.out, err: c.err}
			cr := runOne(t, execCheck(5, "own hint", c.timeout), fc)
			if cr.Status != opsdojo.StatusError {
				t.Fatalf("status = %s, want error", cr.Status)
			}
			if cr.Points != 0 {
				t.Fatalf("points = %v for a grader error", cr.Points)
			}
			if len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], c.mention) {
				t.Fatalf("messages = %q, want one mentioning %q", cr.Messages, c.mention)
			}
			if c.notInMsg != "" && strings.Contains(cr.Messages[0], c.notInMsg) {
				t.Fatalf("message %q leaks %q", cr.Messages[0], c.notInMsg)
			}
			if slices.Contains(cr.Messages, "ignored") {
				t.Fatalf("FAIL: line of a broken script shown: %q", cr.Messages)
			}
			if c.inLog != "" && !strings.Contains(cr.Log, c.inLog) {
				t.Fatalf("log %q lacks %q", cr.Log, c.inLog)
			}
		})
	}
}

func TestExecCommand(t *testing.T) {
	chk := execCheck(1, "", 7500*time.Millisecond)
	fc := &fakeContainer{out: grading.Output{ExitCode: 0}}
	step := labs.Step{ID: "init", Checks: []labs.Check{chk}}
	lab := &labs.Lab{ID: "git-basics", CheckLib: "fail() { echo \"FAIL: $*\"; exit 1; }"}
	grading.NewRunner(discard()).RunStep(context.Background(), lab, step, grading.Target{Container: fc})
	if len(fc.calls) != 1 {
		t.Fatalf("Run called %d times, want 1", len(fc.calls))
	}
	cmd := fc.calls[0]
	// Absolute paths only: nothing is looked up in a PATH, and env -i
	// drops the image's environment before anything else runs.
	if len(cmd.Argv) < 3 || !slices.Equal(cmd.Argv[:2], []string{"/usr/bin/env", "-i"}) {
		t.Fatalf("argv = %q, want it to start with /usr/bin/env -i", cmd.Argv)
	}
	if !slices.Equal(cmd.Argv[len(cmd.Argv)-4:], []string{"/bin/bash", "--noprofile", "--norc", "-s"}) {
		t.Fatalf("argv = %q, want it to end with /bin/bash --noprofile --norc -s (script on stdin)", cmd.Argv)
	}
	ti := slices.Index(cmd.Argv, "/usr/bin/timeout")
	if ti < 0 || !slices.Equal(cmd.Argv[ti:ti+3], []string{"/usr/bin/timeout", "--kill-after=2", "7.500"}) {
		t.Fatalf("argv = %q, want /usr/bin/timeout --kill-after=2 7.500", cmd.Argv)
	}
	for _, a := range cmd.Argv {
		if strings.Contains(a, "git log") {
			t.Fatalf("the script leaked into argv: %q", cmd.Argv)
		}
	}
	if cmd.User != grading.GraderUser || cmd.User == "root" || strings.HasPrefix(cmd.User, "0") || strings.HasPrefix(cmd.User, "1000") {
		t.Fatalf("user = %q, want the grader's own uid, neither root nor the learner", cmd.User)
	}
	if len(cmd.Env) != 0 {
		t.Fatalf("docker-level env %q: the environment must be given to env -i, after the image's is dropped", cmd.Env)
	}
	env := cmd.Argv[2:ti]
	for _, want := range []string{"OPSDOJO_HOME=/home/learner", "OPSDOJO_LAB=git-basics", "OPSDOJO_STEP=init", "OPSDOJO_CHECK=readme",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_NO_REPLACE_OBJECTS=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("env %q lacks %q", env, want)
		}
	}
	for _, e := range env {
		if !strings.Contains(e, "=") {
			t.Errorf("env argument %q is not NAME=VALUE: env would run it as the command", e)
		}
	}
	// The lab's check library runs first, then the check's own script.
	if want := "cd / || exit 2\n" + lab.CheckLib + "\n" + chk.Script; len(fc.stdin) != 1 || fc.stdin[0] != want {
		t.Fatalf("stdin = %q, want the library and the script %q", fc.stdin, want)
	}
	if !fc.hadDeadline {
		t.Fatal("Run's context has no deadline: a hung engine would hang the check")
	}
}

func TestExecDefaultTimeoutArg(t *testing.T) {
	fc := &fakeContainer{out: grading.Output{ExitCode: 0}}
	step := labs.Step{ID: "init", Checks: []labs.Check{execCheck(1, "", 0)}}
	grading.NewRunner(discard()).RunStep(context.Background(), testLab, step, grading.Target{Container: fc})
	if len(fc.calls) != 1 || !slices.Contains(fc.calls[0].Argv, "20.000") {
		t.Fatalf("calls = %+v, want a 20s default limit", fc.calls)
	}
}

// fixedChecker answers with a fixed result and counts its calls.
type fixedChecker struct {
	res   opsdojo.CheckResult
	calls int
}

func (f *fixedChecker) Check(ctx context.Context, in grading.Input) opsdojo.CheckResult {
	f.calls++
	return f.res
}

type panicChecker struct{}

func (panicChecker) Check(ctx context.Context, in grading.Input) opsdojo.CheckResult {
	var m map[string]int
	//lint:ignore SA5000 a nil map write is the real runtime panic this checker exists to cause
	m["boom"]++
	return opsdojo.CheckResult{Status: opsdojo.StatusPass}
}

func newTestRunner() (*grading.Runner, map[string]*fixedChecker) {
	r := grading.NewRunner(discard())
	fakes := map[string]*fixedChecker{
		"pass":    {res: opsdojo.CheckResult{Status: opsdojo.StatusPass}},
		"fail":    {res: opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{"nope"}}},
		"error":   {res: opsdojo.CheckResult{Status: opsdojo.StatusError, Messages: []string{"grader broke"}}},
		"partial": {res: opsdojo.CheckResult{Status: opsdojo.StatusFail, Points: 0.5}},
		"greedy":  {res: opsdojo.CheckResult{Status: opsdojo.StatusFail, Points: 7}},
	}
	for k, c := range fakes {
		r.Register(k, c)
	}
	r.Register("panic", panicChecker{})
	return r, fakes
}

func stepOf(kinds ...string) labs.Step {
	st := labs.Step{ID: "s"}
	for i, k := range kinds {
		st.Checks = append(st.Checks, labs.Check{ID: fmt.Sprintf("c%d", i), Title: k, Kind: k, Points: 1, Hint: "hint " + k})
	}
	return st
}

func TestRunStepRollUp(t *testing.T) {
	cases := []struct {
		kinds  []string
		status opsdojo.CheckStatus
		points float64
	}{
		{[]string{"pass"}, opsdojo.StatusPass, 1},
		{[]string{"pass", "pass", "pass"}, opsdojo.StatusPass, 3},
		{[]string{"fail"}, opsdojo.StatusFail, 0},
		{[]string{"pass", "fail"}, opsdojo.StatusFail, 1},
		{[]string{"error", "fail"}, opsdojo.StatusFail, 0},
		{[]string{"fail", "error"}, opsdojo.StatusFail, 0},
		{[]string{"pass", "error"}, opsdojo.StatusError, 1},
		{[]string{"error", "pass"}, opsdojo.StatusError, 1},
		{[]string{"pass", "partial", "error"}, opsdojo.StatusFail, 1.5},
		// A check that does not pass never earns more than its points.
		{[]string{"greedy"}, opsdojo.StatusFail, 1},
		{[]string{"pass", "no-such-kind"}, opsdojo.StatusError, 1},
		{[]string{"pass", "panic"}, opsdojo.StatusError, 1},
		{[]string{"panic", "fail"}, opsdojo.StatusFail, 0},
		{nil, opsdojo.StatusError, 0},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.kinds, "+"), func(t *testing.T) {
			r, fakes := newTestRunner()
			st := stepOf(c.kinds...)
			res := r.RunStep(context.Background(), testLab, st, grading.Target{Container: &fakeContainer{}})
			if res.Status != c.status {
				t.Fatalf("status = %s, want %s", res.Status, c.status)
			}
			if res.Points != c.points || res.Max != float64(len(c.kinds)) {
				t.Fatalf("points %v/%v, want %v/%d", res.Points, res.Max, c.points, len(c.kinds))
			}
			if res.StepID != "s" || len(res.Checks) != len(c.kinds) {
				t.Fatalf("step %q with %d results", res.StepID, len(res.Checks))
			}
			// Every check runs, in order, even after a failure.
			for i, cr := range res.Checks {
				if cr.CheckID != fmt.Sprintf("c%d", i) {
					t.Fatalf("result %d is %q", i, cr.CheckID)
				}
			}
			for k, f := range fakes {
				if want := strings.Count(strings.Join(c.kinds, " ")+" ", k+" "); f.calls != want {
					t.Fatalf("checker %s called %d times, want %d", k, f.calls, want)
				}
			}
		})
	}
}

func TestRunStepHintsOnlyWhenNotPassed(t *testing.T) {
	r, _ := newTestRunner()
	res := r.RunStep(context.Background(), testLab, stepOf("pass", "fail", "error"), grading.Target{Container: &fakeContainer{}})
	if len(res.Checks[0].Hints) != 0 {
		t.Fatalf("passing check got hints %q", res.Checks[0].Hints)
	}
	if !slices.Equal(res.Checks[1].Hints, []string{"hint fail"}) {
		t.Fatalf("failing check hints = %q", res.Checks[1].Hints)
	}
	if !slices.Equal(res.Checks[2].Hints, []string{"hint error"}) {
		t.Fatalf("erroring check hints = %q", res.Checks[2].Hints)
	}
	if !slices.Equal(res.Hints(), []string{"hint fail", "hint error"}) {
		t.Fatalf("step hints = %q", res.Hints())
	}
	if !slices.Equal(res.Messages(), []string{"nope", "grader broke"}) {
		t.Fatalf("step messages = %q", res.Messages())
	}
}

func TestRunStepUnknownKind(t *testing.T) {
	r := grading.NewRunner(discard())
	res := r.RunStep(context.Background(), testLab, stepOf("dockerfile-lint"), grading.Target{Container: &fakeContainer{}})
	cr := res.Checks[0]
	if cr.Status != opsdojo.StatusError || res.Status != opsdojo.StatusError {
		t.Fatalf("unknown kind: check %s, step %s; want error", cr.Status, res.Status)
	}
	if len(cr.Messages) != 1 || !strings.Contains(cr.Messages[0], "dockerfile-lint") {
		t.Fatalf("messages = %q, want one naming the kind", cr.Messages)
	}
}

func TestRunStepPanickingChecker(t *testing.T) {
	r, _ := newTestRunner()
	var res opsdojo.StepResult
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("RunStep let a checker panic escape: %v", p)
			}
		}()
		res = r.RunStep(context.Background(), testLab, stepOf("panic", "pass"), grading.Target{Container: &fakeContainer{}})
	}()
	cr := res.Checks[0]
	if cr.Status != opsdojo.StatusError {
		t.Fatalf("panicking check status = %s, want error", cr.Status)
	}
	if cr.CheckID != "c0" || cr.Max != 1 || cr.Points != 0 {
		t.Fatalf("panicking check result = %+v", cr)
	}
	if len(cr.Messages) != 1 || strings.Contains(cr.Messages[0], "nil map") {
		t.Fatalf("messages = %q: want one generic message, no panic text", cr.Messages)
	}
	if !strings.Contains(cr.Log, "nil map") {
		t.Fatalf("log = %q, want the panic value for instructors", cr.Log)
	}
	if res.Checks[1].Status != opsdojo.StatusPass {
		t.Fatal("the check after the panicking one did not run")
	}
	if res.Status != opsdojo.StatusError {
		t.Fatalf("step status = %s, want error", res.Status)
	}
}

func TestRegisterReplaces(t *testing.T) {
	r := grading.NewRunner(discard())
	r.Register("exec", &fixedChecker{res: opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{"replaced"}}})
	fc := &fakeContainer{out: grading.Output{ExitCode: 0}}
	res := r.RunStep(context.Background(), testLab, stepOf("exec"), grading.Target{Container: fc})
	if res.Status != opsdojo.StatusFail || len(fc.calls) != 0 {
		t.Fatalf("Register did not replace exec: %s, %d container calls", res.Status, len(fc.calls))
	}
}

// TestExecLongOutputLine: a script that prints a long line (a dumped file,
// say) before its verdict must still have its FAIL:, HINT: and SCORE: lines
// read, and the rest of its output kept for instructors.
func TestExecLongOutputLine(t *testing.T) {
	long := strings.Repeat("x", 100<<10) // one 100 KiB line
	stdout := "debug start\n" + long + "\nFAIL: the real reason\nHINT: the real hint\nSCORE: 1/2\nafter the long line\n"
	fc := &fakeContainer{out: grading.Output{ExitCode: 1, Stdout: []byte(stdout)}}
	cr := runOne(t, execCheck(2, "", 5*time.Second), fc)
	if cr.Status != opsdojo.StatusFail {
		t.Fatalf("status = %s, want fail", cr.Status)
	}
	if !slices.Equal(cr.Messages, []string{"the real reason"}) {
		t.Errorf("messages = %q, want [the real reason]: lines after a long line were dropped", cr.Messages)
	}
	if !slices.Equal(cr.Hints, []string{"the real hint"}) {
		t.Errorf("hints = %q, want [the real hint]", cr.Hints)
	}
	if cr.Points != 1 {
		t.Errorf("points = %v, want 1 (SCORE: 1/2 of 2)", cr.Points)
	}
	if !strings.Contains(cr.Log, "after the long line") {
		t.Errorf("log lost the output after the long line (log is %d bytes)", len(cr.Log))
	}
}

func TestRunStepDependsOn(t *testing.T) {
	cases := []struct {
		name   string
		first  string // kind of c0
		status opsdojo.CheckStatus
		ran    bool // whether c1 ran
	}{
		{"dependency passed", "pass", opsdojo.StatusPass, true},
		{"dependency failed", "fail", opsdojo.StatusFail, false},
		{"dependency errored", "error", opsdojo.StatusError, false},
		{"dependency of unknown kind", "no-such-kind", opsdojo.StatusError, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, fakes := newTestRunner()
			st := labs.Step{ID: "s", Checks: []labs.Check{
				{ID: "c0", Title: "first", Kind: c.first, Points: 1},
				{ID: "c1", Title: "second", Kind: "pass", Points: 2, Hint: "h", DependsOn: []string{"c0"}},
				{ID: "c2", Title: "third", Kind: "pass", Points: 4, DependsOn: []string{"c1"}},
			}}
			res := r.RunStep(context.Background(), testLab, st, grading.Target{Container: &fakeContainer{}})
			if res.Status != c.status {
				t.Fatalf("step status = %s, want %s", res.Status, c.status)
			}
			if res.Max != 7 {
				t.Fatalf("max = %v, want 7 (skipped checks still count)", res.Max)
			}
			wantRuns := 0
			if c.first == "pass" {
				wantRuns++
			}
			if c.ran {
				wantRuns += 2
			}
			if fakes["pass"].calls != wantRuns {
				t.Fatalf("pass checker ran %d times, want %d", fakes["pass"].calls, wantRuns)
			}
			for _, cr := range res.Checks[1:] {
				if c.ran {
					if cr.Status != opsdojo.StatusPass {
						t.Fatalf("%s = %s, want pass", cr.CheckID, cr.Status)
					}
					continue
				}
				if cr.Status != opsdojo.StatusSkipped || cr.Points != 0 {
					t.Fatalf("%s = %s %v points, want skipped with 0", cr.CheckID, cr.Status, cr.Points)
				}
				if len(cr.Messages) != 1 || cr.Hints == nil || cr.Findings == nil || cr.Kind != "pass" {
					t.Fatalf("skipped result = %+v", cr)
				}
			}
			// Learners see the blocking check's title, never its internal id.
			if !c.ran && !strings.Contains(res.Checks[1].Messages[0], `"first"`) {
				t.Fatalf("skip message %q does not name the blocking check by its title", res.Checks[1].Messages[0])
			}
			if !c.ran && strings.Contains(res.Checks[1].Messages[0], "c0") {
				t.Fatalf("skip message %q leaks the check id", res.Checks[1].Messages[0])
			}
		})
	}
}

func TestValidateCheck(t *testing.T) {
	r, _ := newTestRunner()
	if err := r.ValidateCheck("/labs/x", "exec", nil); err != nil {
		t.Fatalf("exec without with: = %v", err)
	}
	if err := r.ValidateCheck("/labs/x", "exec", []byte("  \n")); err != nil {
		t.Fatalf("exec with a blank with: = %v", err)
	}
	if err := r.ValidateCheck("/labs/x", "exec", []byte("file: x\n")); err == nil {
		t.Fatal("exec with arguments accepted")
	}
	err := r.ValidateCheck("/labs/x", "nope", nil)
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "exec") {
		t.Fatalf("unknown kind error = %v, want it to name the kind and the known ones", err)
	}
	// It is what labs uses to know kinds.
	var _ labs.KindValidator = r
}

func TestExecWithoutContainer(t *testing.T) {
	// `opsdojo grade` grades a local folder: there is no container, and exec
	// checks are skipped rather than run or crashed.
	r := grading.NewRunner(discard())
	var res opsdojo.StepResult
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("RunStep panicked without a container: %v", p)
			}
		}()
		res = r.RunStep(context.Background(), testLab, labs.Step{ID: "init", Checks: []labs.Check{execCheck(1, "", time.Second)}}, grading.Target{})
	}()
	cr := res.Checks[0]
	if cr.Status != opsdojo.StatusSkipped || cr.Points != 0 || len(cr.Messages) != 1 {
		t.Fatalf("exec check without a container = %s %v %q, want skipped", cr.Status, cr.Points, cr.Messages)
	}
}

// TestExecScoreInjection: checks may echo what the learner wrote (a commit
// subject, say); a SCORE line smuggled in that way must never earn points.
// More than one SCORE line is ambiguous, so it is a grader error.
func TestExecScoreInjection(t *testing.T) {
	cases := []struct {
		name   string
		exit   int
		stdout string
	}{
		{"learner line before the real score", 1, "FAIL: commit says:\nSCORE: 3/3\nSCORE: 0/3\n"},
		{"learner line after the real score", 0, "SCORE: 1/3\nPASS: subject\nSCORE: 3/3\n"},
		{"same value twice", 0, "SCORE: 3/3\nSCORE: 3/3\n"},
		{"malformed second line", 1, "SCORE: 2/3\nSCORE: lots\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fc := &fakeContainer{out: grading.Output{ExitCode: c.exit, Stdout: []byte(c.stdout)}}
			cr := runOne(t, execCheck(3, "", 5*time.Second), fc)
			if cr.Status != opsdojo.StatusError || cr.Points != 0 {
				t.Fatalf("%s %v points, want a grader error with no points", cr.Status, cr.Points)
			}
			if !strings.Contains(strings.Join(cr.Messages, " "), "SCORE") {
				t.Fatalf("messages %q do not say what was wrong", cr.Messages)
			}
		})
	}
}

// TestCheckEnvGitOverrides: every git setting that runs a program is
// overridden in the command scope, in order, with a value that runs
// nothing the learner wrote.
func TestCheckEnvGitOverrides(t *testing.T) {
	env := grading.CheckEnv(grading.Input{Lab: testLab, Step: labs.Step{ID: "s"}, Check: labs.Check{ID: "c"}})
	vars := map[string]string{}
	for _, e := range env {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			t.Fatalf("%q is not NAME=VALUE", e)
		}
		if _, dup := vars[k]; dup {
			t.Fatalf("%s set twice", k)
		}
		vars[k] = v
	}
	n, err := strconv.Atoi(vars["GIT_CONFIG_COUNT"])
	if err != nil || n == 0 {
		t.Fatalf("GIT_CONFIG_COUNT = %q", vars["GIT_CONFIG_COUNT"])
	}
	cfg := map[string]string{}
	for i := 0; i < n; i++ {
		k, ok := vars[fmt.Sprintf("GIT_CONFIG_KEY_%d", i)]
		v, ok2 := vars[fmt.Sprintf("GIT_CONFIG_VALUE_%d", i)]
		if !ok || !ok2 {
			t.Fatalf("GIT_CONFIG_KEY/VALUE_%d missing", i)
		}
		cfg[k] = v
	}
	if len(vars) != len(env) || vars[fmt.Sprintf("GIT_CONFIG_KEY_%d", n)] != "" {
		t.Fatalf("config entries past GIT_CONFIG_COUNT")
	}
	safe := map[string]bool{"/bin/false": true, "/dev/null": true, "cat": true, "false": true, "": true}
	for _, k := range []string{"core.fsmonitor", "core.hooksPath", "core.pager", "core.editor", "sequence.editor", "core.sshCommand",
		"core.askPass", "credential.helper", "gpg.program", "gpg.openpgp.program", "gpg.x509.program", "gpg.ssh.program",
		"gpg.ssh.defaultKeyCommand", "log.showSignature", "diff.external", "core.attributesFile", "core.commitGraph"} {
		v, ok := cfg[k]
		if !ok {
			t.Errorf("%s is not overridden", k)
			continue
		}
		if !safe[v] {
			t.Errorf("%s = %q, want a value that runs nothing", k, v)
		}
	}
	if cfg["safe.directory"] != "*" {
		t.Errorf("safe.directory = %q: git refuses a repository another user owns", cfg["safe.directory"])
	}
	for k, want := range map[string]string{"PATH": grading.CheckPath, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
		"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": "/dev/null", "GIT_SHALLOW_FILE": "", "GIT_OPTIONAL_LOCKS": "0", "OPSDOJO_CHECK": "c"} {
		if got, ok := vars[k]; !ok || got != want {
			t.Errorf("%s = %q (set: %v), want %q", k, got, ok, want)
		}
	}
	for _, dir := range strings.Split(vars["PATH"], ":") {
		if !strings.HasPrefix(dir, "/") || strings.Contains(dir, "local") || strings.Contains(dir, "home") {
			t.Errorf("PATH entry %q is not a system folder", dir)
		}
	}
}
