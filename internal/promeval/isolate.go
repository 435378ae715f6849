package promeval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"
)

// The helper process is this very binary, started again with workerEnv
// set: main (and the TestMain of test binaries that evaluate isolated)
// calls RunWorkerIfAsked first thing, so the worker always runs exactly
// the server's code.
const (
	workerEnv   = "OPSDOJO_PROMEVAL_WORKER"
	workerMagic = "v1"
	// replyFD is the pipe the worker answers on (stdout and stderr stay
	// free for anything the program's packages print when they start).
	replyFD = 3
	// maxReply bounds what the parent reads back.
	maxReply = 8 << 20
	// grace is how long the parent waits past the evaluation timeout before
	// it kills the worker; the worker's own watchdog answers before that.
	grace = 3 * time.Second
)

// RunWorkerIfAsked turns this process into an evaluation worker, and
// never returns, when it was started as one by EvaluateIsolated; otherwise
// it returns at once.
func RunWorkerIfAsked() {
	if os.Getenv(workerEnv) == workerMagic {
		os.Exit(workerMain())
	}
}

// Workers bounds how many helper processes evaluate at once: each may use
// a CPU and Limits.MaxMemory of heap, so a class pressing Check together
// queues instead of exhausting the host. The zero value is not usable; use
// NewWorkers.
type Workers struct {
	slots chan struct{}
}

// NewWorkers allows n evaluations at once (at least one; n <= 0 means one
// per CPU).
func NewWorkers(n int) *Workers {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Workers{slots: make(chan struct{}, max(1, n))}
}

// Evaluate is EvaluateIsolated once a worker slot is free; waiting ends
// with ctx.
func (w *Workers) Evaluate(ctx context.Context, req Request) (*Result, error) {
	select {
	case w.slots <- struct{}{}:
		defer func() { <-w.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free rule evaluator: %w", ctx.Err())
	}
	return EvaluateIsolated(ctx, req)
}

// ErrBadTests is wrapped by errors about the unit test file (the lab
// author's), as opposed to the rule file (the learner's).
var ErrBadTests = errBadTests

type workerReply struct {
	Result   *Result `json:"result,omitempty"`
	Error    string  `json:"error,omitempty"`
	BadTests bool    `json:"bad_tests,omitempty"`
}

// EvaluateIsolated is Evaluate in a helper process: the process is killed
// when the evaluation overruns its Timeout by a grace period, and its heap
// is capped at Limits.MaxMemory (a watchdog) with an address-space limit
// behind it. When the rules themselves blow a limit (a template that loops,
// an expression that takes too long or too much memory), the result says so
// in Stopped; an error means the grader could not do its job. It does not
// bound concurrency itself: servers go through Workers.
func EvaluateIsolated(ctx context.Context, req Request) (*Result, error) {
	lim := req.Limits.withDefaults()
	req.Limits = lim
	if err := req.Compare.Valid(); err != nil {
		return nil, err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	exe, err := selfExecutable()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout+grace)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Args = []string{"opsdojo-promeval"}
	cmd.Env = []string{workerEnv + "=" + workerMagic, "GOMAXPROCS=2", "PATH=/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(in)
	var stderr limitedBuffer
	stderr.limit = 16 << 10
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("starting the rule evaluator: %w", err)
	}
	pw.Close()
	var reply []byte
	var readErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		reply, readErr = io.ReadAll(io.LimitReader(pr, maxReply+1))
		// Drain the rest so the worker never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, pr)
	}()
	waitErr := cmd.Wait()
	// The worker is gone, and with it the pipe's only writer: the reader
	// sees EOF once it has everything.
	<-done
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) && time.Since(start) >= lim.Timeout {
			return nil, fmt.Errorf("the rule evaluator did not answer within %s and was killed", lim.Timeout+grace)
		}
		return nil, ctx.Err()
	}
	if readErr != nil {
		return nil, fmt.Errorf("reading the rule evaluator's answer: %w", readErr)
	}
	if len(reply) > maxReply {
		return nil, errors.New("the rule evaluator's answer is too large")
	}
	if waitErr != nil || len(reply) == 0 {
		tail := strings.TrimSpace(stderr.String())
		if strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory") {
			return &Result{Findings: []Finding{}, Rules: []RuleInfo{}, Tests: []TestResult{},
				Stopped: fmt.Sprintf("the rules needed more than %d MiB of memory to evaluate; the grader stops there", lim.MaxMemory>>20)}, nil
		}
		return nil, fmt.Errorf("the rule evaluator failed (%v): %s", waitErr, lastLines(tail, 5))
	}
	var r workerReply
	if err := json.Unmarshal(reply, &r); err != nil {
		return nil, fmt.Errorf("the rule evaluator's answer is garbled: %w", err)
	}
	if r.Error != "" {
		if r.BadTests {
			return nil, fmt.Errorf("%w: %s", errBadTests, strings.TrimPrefix(r.Error, errBadTests.Error()+": "))
		}
		return nil, errors.New(r.Error)
	}
	if r.Result == nil {
		return nil, errors.New("the rule evaluator answered nothing")
	}
	return r.Result, nil
}

func selfExecutable() (string, error) {
	// /proc/self/exe names the running program even when its file has been
	// replaced on disk by an upgrade.
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find this program to start the rule evaluator: %w", err)
	}
	return exe, nil
}

// workerMain runs in the helper process.
func workerMain() int {
	out := os.NewFile(replyFD, "reply")
	if out == nil {
		fmt.Fprintln(os.Stderr, "promeval worker: no reply pipe")
		return 2
	}
	var once sync.Once
	answer := func(r workerReply) {
		once.Do(func() {
			b, err := json.Marshal(r)
			if err != nil {
				b, _ = json.Marshal(workerReply{Error: "encoding the answer: " + err.Error()})
			}
			_, _ = out.Write(b)
			out.Close()
		})
	}
	raw, err := io.ReadAll(io.LimitReader(os.Stdin, 4*MaxFileBytes+1<<20))
	if err != nil {
		answer(workerReply{Error: "reading the request: " + err.Error()})
		return 0
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		answer(workerReply{Error: "decoding the request: " + err.Error()})
		return 0
	}
	raw = nil
	lim := req.Limits.withDefaults()
	debug.SetMemoryLimit(2 * lim.MaxMemory)
	setResourceLimits(lim)

	prog := &progress{}
	stopped := func(why string) {
		res := &Result{Findings: []Finding{}, Rules: []RuleInfo{}, Tests: []TestResult{}, Stopped: why}
		if r := prog.rules.Load(); r != nil {
			res.Rules = *r
		}
		answer(workerReply{Result: res})
		os.Exit(0)
	}
	// Watchdogs: the deadline (a template loop does not look at contexts)
	// and the heap. Both answer for the learner, then end the process.
	go func() {
		time.Sleep(lim.Timeout + 250*time.Millisecond)
		stopped(fmt.Sprintf("%s did not finish within %s: make the rules cheaper", orSomething(prog.get()), lim.Timeout))
	}()
	go func() {
		// The heap is over the limit, and still is right after a full
		// collection: that is live data, not garbage. The GC's soft limit
		// sits at twice the cap so that the collector does not thrash (and
		// starve this goroutine) while the heap climbs past it; with the
		// soft limit at the cap itself, stopping a runaway template took
		// up to 10x longer.
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		over := func() bool {
			metrics.Read(sample)
			return sample[0].Value.Kind() == metrics.KindUint64 && int64(sample[0].Value.Uint64()) > lim.MaxMemory
		}
		for {
			time.Sleep(10 * time.Millisecond)
			if over() {
				runtime.GC()
				if over() {
					stopped(fmt.Sprintf("%s needed more than %d MiB of memory; the grader stops there", orSomething(prog.get()), lim.MaxMemory>>20))
				}
			}
		}
	}()
	res, err := evaluate(context.Background(), req, prog)
	if err != nil {
		answer(workerReply{Error: err.Error(), BadTests: errors.Is(err, errBadTests)})
		return 0
	}
	answer(workerReply{Result: res})
	return 0
}

func orSomething(s string) string {
	if s == "" {
		return "evaluating the rules"
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// limitedBuffer keeps the first limit bytes written to it.
type limitedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
