package main

// `opsdojo bench start`: measures lab starts (issue 9) through the public
// HTTP API of real servers. Each scenario runs this binary's `serve` as a
// child process on 127.0.0.1 with a temporary data dir (so its CPU and
// memory are its own), signs learners up, and times click-to-prompt: the
// start request (asked again while queued) until the terminal shows the
// shell's prompt. Only loopback and the bench's own containers are
// touched; every loop is bounded in count and time; each server's
// containers are removed by its instance label at the end.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/store"
)

type startBenchOptions struct {
	labsDir    string
	lab        string
	burst      int
	idle       int
	maxCreates int
	idleWindow time.Duration
	reapEvery  time.Duration
	jsonOut    string
	serverLogs string
	skip       map[string]bool
}

type startBenchResult struct {
	When    time.Time `json:"when"`
	Machine string    `json:"machine"`
	Docker  string    `json:"docker"`
	Lab     string    `json:"lab"`

	ColdNoPool  float64 `json:"cold_no_pool_ms"`
	ColdPool    float64 `json:"cold_pool_ms"`
	BurstPool   latency `json:"burst_pool_ms"`
	PoolHits    int     `json:"burst_pool_hits"`
	PoolFill    float64 `json:"pool_fill_s"`
	BurstNoPool latency `json:"burst_no_pool_ms"`
	// Learners of a burst whose shell did not reach a prompt, and why.
	PoolFailed   []string `json:"burst_pool_failed,omitempty"`
	NoPoolFailed []string `json:"burst_no_pool_failed,omitempty"`
	MaxQueued    int      `json:"burst_no_pool_max_queue_position"`

	Idle *idleResult `json:"idle,omitempty"`
	// Scenarios that did not finish, and why.
	Errors []string `json:"errors,omitempty"`
}

type idleResult struct {
	Sessions int `json:"sessions"`
	// Starts that failed (and why); Sessions counts the ones measured.
	Failed []string `json:"failed,omitempty"`
	// Sum of the containers' memory cgroups (usage minus page cache), per
	// session, and the server's RSS.
	ContainerBytes int64 `json:"container_bytes_each"`
	CacheBytes     int64 `json:"container_cache_bytes_each"`
	ServerRSS      int64 `json:"server_rss_bytes"`
	// MemAvailable dropped by this much (the whole host, other users
	// included) from before the first start to after the last.
	HostDrop int64 `json:"host_mem_available_drop_bytes"`
	// CPU over the window while every session idles (the reaper, the quota
	// sweep and the disk watch are all that run), in % of one core.
	WindowS      float64 `json:"window_s"`
	ServerCPU    float64 `json:"server_cpu_percent"`
	DockerdCPU   float64 `json:"dockerd_cpu_percent"`
	ReapInterval string  `json:"reap_interval"`
}

func cmdBenchStart(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	o := startBenchOptions{skip: map[string]bool{}}
	fs := flag.NewFlagSet("bench start", flag.ContinueOnError)
	fs.StringVar(&o.labsDir, "labs-dir", env("OPSDOJO_LABS_DIR", "./labs"), "folder of lab folders (the lab's image must be built)")
	fs.StringVar(&o.lab, "lab", "git-basics", "lab to start")
	fs.IntVar(&o.burst, "burst", 30, "learners who start at once (and the pool size of the pooled burst)")
	fs.IntVar(&o.idle, "idle", 100, "idle sessions for the memory and reaper measurement (500 is the target; it takes long on 2 cores)")
	fs.IntVar(&o.maxCreates, "max-creates", 0, "the servers' --max-creates (0: serve's default)")
	fs.DurationVar(&o.idleWindow, "idle-window", time.Minute, "how long CPU is measured while the sessions idle")
	fs.DurationVar(&o.reapEvery, "reap-interval", 10*time.Second, "the idle server's --reap-interval (shorter than the 1m default: more reaper work in the window)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	fs.StringVar(&o.serverLogs, "server-logs", "", "keep the servers' logs in this folder")
	skip := fs.String("skip", "", "comma-separated scenarios to skip: cold, pool, nopool, idle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(*skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if s != "cold" && s != "pool" && s != "nopool" && s != "idle" {
				return fmt.Errorf("--skip: unknown scenario %q", s)
			}
			o.skip[s] = true
		}
	}
	if o.burst < 1 || o.burst > 200 || o.idle < 1 || o.idle > 1000 {
		return errors.New("--burst must be 1 to 200 and --idle 1 to 1000")
	}
	if o.idleWindow < 10*time.Second || o.idleWindow > 30*time.Minute {
		return errors.New("--idle-window must be 10s to 30m")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// The whole bench is bounded in time.
	ctx, cancel := context.WithTimeout(ctx, 90*time.Minute)
	defer cancel()
	engine, err := sandbox.New(sandbox.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer engine.Close()
	if err := engine.Ping(ctx); err != nil {
		return fmt.Errorf("the Docker engine does not answer: %w", err)
	}
	res := &startBenchResult{When: time.Now().UTC(), Machine: machine(), Lab: o.lab}
	if v, err := engine.Client().ServerVersion(ctx); err == nil {
		res.Docker = fmt.Sprintf("Docker Engine %s (API %s)", v.Version, v.APIVersion)
	}
	step := func(s string) { fmt.Fprintf(stdout, "… %s\n", s) }
	hash, err := auth.HashPassword(benchPassword)
	if err != nil {
		return err
	}
	// A scenario that fails is reported with the others, not in place of
	// them (the engine is shared; another user's cleanup can hit us).
	run := func(name string, flags []string, users []string, f func(*childServer) error) error {
		srv, err := startChild(ctx, self, o, name, flags, engine, users, hash)
		if err == nil {
			err = f(srv)
			srv.close()
		}
		if err != nil {
			res.Errors = append(res.Errors, name+": "+err.Error())
			fmt.Fprintf(stdout, "… %s failed: %v\n", name, err)
		}
		return ctx.Err()
	}

	if !o.skip["cold"] {
		step("cold click-to-prompt, no pool")
		if err := run("cold", nil, []string{"cold-1"}, func(s *childServer) error {
			u, err := s.learner("cold-1")
			if err != nil {
				return err
			}
			d, _, err := u.clickToPrompt(ctx, o.lab)
			res.ColdNoPool = ms(d)
			return err
		}); err != nil {
			return err
		}
		step("cold click-to-prompt, pool of 1")
		if err := run("cold-pool", []string{"--pool", o.lab + "=1"}, []string{"cold-2"}, func(s *childServer) error {
			if _, err := s.waitPool(ctx, 1); err != nil {
				return err
			}
			u, err := s.learner("cold-2")
			if err != nil {
				return err
			}
			d, _, err := u.clickToPrompt(ctx, o.lab)
			res.ColdPool = ms(d)
			return err
		}); err != nil {
			return err
		}
	}
	if !o.skip["pool"] {
		step(fmt.Sprintf("burst of %d with a pool of %d (filling the pool first)", o.burst, o.burst))
		if err := run("burst-pool", []string{"--pool", fmt.Sprintf("%s=%d", o.lab, o.burst)}, names("burst", o.burst), func(s *childServer) error {
			fill, err := s.waitPool(ctx, o.burst)
			if err != nil {
				return err
			}
			res.PoolFill = fill.Seconds()
			boxes, err := s.poolIDs(ctx)
			if err != nil {
				return err
			}
			times, ids, _, err := s.burst(ctx, o.lab, o.burst)
			if err != nil {
				return err
			}
			res.BurstPool, res.PoolFailed = summarize(times), s.failed
			for _, id := range ids {
				if boxes[id] {
					res.PoolHits++
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if !o.skip["nopool"] {
		step(fmt.Sprintf("burst of %d without a pool", o.burst))
		if err := run("burst-nopool", nil, names("burst", o.burst), func(s *childServer) error {
			times, _, queued, err := s.burst(ctx, o.lab, o.burst)
			res.BurstNoPool, res.MaxQueued, res.NoPoolFailed = summarize(times), queued, s.failed
			return err
		}); err != nil {
			return err
		}
	}
	if !o.skip["idle"] {
		step(fmt.Sprintf("%d idle sessions: memory, then CPU over %s", o.idle, o.idleWindow))
		flags := []string{"--reap-interval", o.reapEvery.String()}
		if err := run("idle", flags, names("idle", o.idle), func(s *childServer) error {
			r, err := s.idle(ctx, o, step)
			res.Idle = r
			return err
		}); err != nil {
			return err
		}
	}
	printStartBench(stdout, res, o)
	return writeJSONResult(stdout, o.jsonOut, res)
}

// childServer is `opsdojo serve` in a child process.
type childServer struct {
	b        *bench // for benchUser: base URL and address
	cmd      *exec.Cmd
	dataDir  string
	instance string
	engine   *sandbox.Engine
	exited   chan error
	failed   []string // learners whose click did not reach a prompt, and why
}

// names are the bench's learners of a scenario.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

// startChild makes the data dir and its learners (in the database: sign-up
// is rate-limited per address, and all of the bench's learners share
// 127.0.0.1), then runs `serve` on it.
func startChild(ctx context.Context, self string, o startBenchOptions, name string, flags []string, engine *sandbox.Engine, users []string, hash string) (*childServer, error) {
	dataDir, err := os.MkdirTemp("", "opsdojo-bench-start-")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, app.DBPath(dataDir))
	if err != nil {
		return nil, err
	}
	instance, err := st.InstanceID(ctx)
	for _, u := range users {
		if err != nil {
			break
		}
		_, err = st.CreateUser(ctx, u, hash, false)
	}
	st.Close()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--labs-dir", o.labsDir, "--skip-firewall"}
	if o.maxCreates > 0 {
		args = append(args, "--max-creates", strconv.Itoa(o.maxCreates))
	}
	cmd := exec.Command(self, append(args, flags...)...)
	cmd.Stdout = io.Discard
	cmd.Stderr = io.Discard
	if o.serverLogs != "" {
		if err := os.MkdirAll(o.serverLogs, 0o755); err != nil {
			return nil, err
		}
		f, err := os.Create(filepath.Join(o.serverLogs, name+".log"))
		if err != nil {
			return nil, err
		}
		cmd.Stderr = f // closed with the process
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &childServer{b: &bench{base: "http://" + addr, addr: addr, engine: engine}, cmd: cmd, dataDir: dataDir, instance: instance, engine: engine, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait() }()
	for i := 0; ; i++ {
		resp, err := http.Get(s.b.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			s.close()
			return nil, fmt.Errorf("the %s server exited at start: %v", name, err)
		case <-ctx.Done():
			s.close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if i > 600 {
			s.close()
			return nil, fmt.Errorf("the %s server did not answer within 30 s", name)
		}
	}
}

// close stops the server and removes every container and network of its
// instance (a stopped server leaves them running on purpose).
func (s *childServer) close() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	removeLabelled(ctx, s.engine.Client(), sandbox.LabelInstance+"="+s.instance)
	os.RemoveAll(s.dataDir)
}

func (s *childServer) learner(name string) (*benchUser, error) {
	return s.b.logIn(name)
}

// poolIDs reads the server's ready pool boxes from its database (the
// bench's own data dir; SQLite in WAL mode allows a second reader).
func (s *childServer) poolIDs(ctx context.Context) (map[string]bool, error) {
	st, err := store.Open(ctx, app.DBPath(s.dataDir))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	boxes, err := st.PoolBoxes(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, b := range boxes {
		if b.State == opsdojo.PoolReady {
			out[b.ID] = true
		}
	}
	return out, nil
}

// waitPool waits (bounded) until n boxes are ready and says how long.
func (s *childServer) waitPool(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(time.Duration(n)*30*time.Second + time.Minute)
	for {
		ids, err := s.poolIDs(ctx)
		if err != nil {
			return 0, err
		}
		if len(ids) >= n {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the pool holds %d of %d boxes after %s", len(ids), n, time.Since(start).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// clickToPrompt is what a learner waits for after opening the lab page:
// the start request, asked again while queued, then the terminal until
// the prompt. It returns the time, the session and the highest queue
// position seen.
func (u *benchUser) clickToPrompt(ctx context.Context, lab string) (time.Duration, int, error) {
	start := time.Now()
	maxPos := 0
	for i := 0; ; i++ {
		var s struct {
			ID       string `json:"id"`
			Queued   bool   `json:"queued"`
			Position int    `json:"position"`
		}
		if _, err := u.do("POST", "/api/v1/labs/"+lab+"/session", map[string]any{}, &s); err != nil {
			return 0, maxPos, fmt.Errorf("start %s: %w", lab, err)
		}
		if !s.Queued {
			u.session = s.ID
			break
		}
		maxPos = max(maxPos, s.Position)
		if i > 1000 || ctx.Err() != nil {
			return 0, maxPos, errors.New("still queued after 1000 asks")
		}
	}
	t, err := u.dial("tab=main&cols=120&rows=40", 0)
	if err != nil {
		return 0, maxPos, err
	}
	defer t.conn.Close()
	if err := t.waitFor("$ ", time.Minute); err != nil {
		tail := t.tail[max(0, len(t.tail)-300):]
		return 0, maxPos, fmt.Errorf("session %s: %w (output so far: %q)", u.session, err, tail)
	}
	return time.Since(start), maxPos, nil
}

// burst signs n learners up, then has them all click at once.
func (s *childServer) burst(ctx context.Context, lab string, n int) ([]float64, []string, int, error) {
	users := make([]*benchUser, n)
	for i := range users {
		u, err := s.learner(fmt.Sprintf("burst-%04d", i))
		if err != nil {
			return nil, nil, 0, err
		}
		users[i] = u
	}
	times := make([]float64, n)
	queued := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			d, q, err := u.clickToPrompt(ctx, lab)
			times[i], queued[i], errs[i] = ms(d), q, err
		}()
	}
	close(gate)
	wg.Wait()
	var ids []string
	var ok []float64
	maxQ := 0
	for i, u := range users {
		maxQ = max(maxQ, queued[i])
		if errs[i] != nil {
			s.failed = append(s.failed, fmt.Sprintf("learner %d: %v", i, errs[i]))
			continue
		}
		ids = append(ids, u.session)
		ok = append(ok, times[i])
	}
	if len(ok) == 0 {
		return nil, nil, maxQ, fmt.Errorf("every learner failed: %s", s.failed[0])
	}
	return ok, ids, maxQ, nil
}

// idle starts o.idle sessions, each with a shell that reached its prompt
// (the socket then closes; the shell lives on for the terminal grace, as
// when a learner walks away), then measures memory and CPU.
func (s *childServer) idle(ctx context.Context, o startBenchOptions, step func(string)) (*idleResult, error) {
	r := &idleResult{Sessions: o.idle, ReapInterval: o.reapEvery.String(), WindowS: o.idleWindow.Seconds()}
	before := memAvailable()
	users := make(chan *benchUser)
	errs := make(chan error, o.idle)
	var wg sync.WaitGroup
	for range 8 { // eight browsers at a time: the queue does the rest
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range users {
				_, _, err := u.clickToPrompt(ctx, o.lab)
				errs <- err
			}
		}()
	}
	for i := range o.idle {
		u, err := s.learner(fmt.Sprintf("idle-%04d", i))
		if err != nil {
			close(users)
			wg.Wait()
			return nil, err
		}
		users <- u
		if (i+1)%50 == 0 {
			step(fmt.Sprintf("%d sessions started", i+1))
		}
	}
	close(users)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			r.Failed = append(r.Failed, err.Error())
		}
	}
	if len(r.Failed) > o.idle/2 {
		return nil, fmt.Errorf("%d of %d idle sessions did not start: %s", len(r.Failed), o.idle, r.Failed[0])
	}
	time.Sleep(5 * time.Second) // let the shells settle
	r.HostDrop = before - memAvailable()
	list, err := s.engine.Client().ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", sandbox.LabelInstance+"="+s.instance))})
	if err != nil {
		return nil, err
	}
	var used, cache int64
	for _, c := range list {
		u, ca := cgroupMemory(c.ID)
		used += u
		cache += ca
	}
	if len(list) > 0 {
		r.ContainerBytes = (used - cache) / int64(len(list))
		r.CacheBytes = cache / int64(len(list))
	}
	r.Sessions = len(list)
	r.ServerRSS = rss(s.cmd.Process.Pid)
	step(fmt.Sprintf("measuring CPU for %s", o.idleWindow))
	dpid := pidOf("dockerd")
	s0, d0, t0 := cpuTicks(s.cmd.Process.Pid), cpuTicks(dpid), time.Now()
	select {
	case <-time.After(o.idleWindow):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s1, d1, el := cpuTicks(s.cmd.Process.Pid), cpuTicks(dpid), time.Since(t0).Seconds()
	const hz = 100 // USER_HZ on Linux
	r.ServerCPU = 100 * float64(s1-s0) / hz / el
	if dpid > 0 {
		r.DockerdCPU = 100 * float64(d1-d0) / hz / el
	}
	return r, nil
}

// cgroupMemory reads a container's memory cgroup (v1 with the cgroupfs
// driver, else v2): usage and page cache.
func cgroupMemory(id string) (used, cache int64) {
	for _, dir := range []string{"/sys/fs/cgroup/memory/docker/" + id, "/sys/fs/cgroup/system.slice/docker-" + id + ".scope", "/sys/fs/cgroup/docker/" + id} {
		if b, err := os.ReadFile(filepath.Join(dir, "memory.usage_in_bytes")); err == nil {
			used, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			cache = statField(filepath.Join(dir, "memory.stat"), "total_cache")
			return used, cache
		}
		if b, err := os.ReadFile(filepath.Join(dir, "memory.current")); err == nil {
			used, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			cache = statField(filepath.Join(dir, "memory.stat"), "file")
			return used, cache
		}
	}
	return 0, 0
}

func statField(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func memAvailable() int64 {
	return statFieldKB("/proc/meminfo", "MemAvailable:")
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// cpuTicks is a process's user+system time in clock ticks.
func cpuTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th fields of the line.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return u + sy
}

func pidOf(name string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(b)) == name {
			return pid
		}
	}
	return 0
}

func printStartBench(w io.Writer, r *startBenchResult, o startBenchOptions) {
	fmt.Fprintf(w, "\nopsdojo start benchmark (%s), %s\n%s\n%s\n\n", r.Lab, r.When.Format(time.RFC3339), r.Machine, r.Docker)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "what\tresult\ttarget\n")
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	lat := func(l latency) string {
		return fmt.Sprintf("p50 %.0f ms, p99 %.0f ms, max %.0f ms (n=%d)", l.P50, l.P99, l.Max, l.N)
	}
	if !o.skip["cold"] {
		fmt.Fprintf(tw, "one cold click-to-prompt, no pool\t%.0f ms\t≤ 1 s: %s\n", r.ColdNoPool, met(r.ColdNoPool <= 1000))
		fmt.Fprintf(tw, "one cold click-to-prompt, pool\t%.0f ms\t≤ 1 s: %s\n", r.ColdPool, met(r.ColdPool <= 1000))
	}
	if !o.skip["pool"] {
		fmt.Fprintf(tw, "burst of %d, pool of %d (filled in %.0f s; %d pool hits; %d failed)\t%s\tevery prompt ≤ 2 s: %s\n", o.burst, o.burst, r.PoolFill, r.PoolHits, len(r.PoolFailed), lat(r.BurstPool), met(r.BurstPool.Max <= 2000 && len(r.PoolFailed) == 0))
	}
	if !o.skip["nopool"] {
		fmt.Fprintf(tw, "burst of %d, no pool (highest queue place %d; %d failed)\t%s\tp50 ≤ 8 s, max ≤ 15 s: %s\n", o.burst, r.MaxQueued, len(r.NoPoolFailed), lat(r.BurstNoPool), met(r.BurstNoPool.P50 <= 8000 && r.BurstNoPool.Max <= 15000 && len(r.NoPoolFailed) == 0))
	}
	if i := r.Idle; i != nil && i.Sessions > 0 {
		mib := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
		fmt.Fprintf(tw, "%d idle sessions: memory per container (without page cache)\t%s (+ %s cache)\t\n", i.Sessions, mib(i.ContainerBytes), mib(i.CacheBytes))
		fmt.Fprintf(tw, "%d idle sessions: server RSS; host MemAvailable drop\t%s; %s\t\n", i.Sessions, mib(i.ServerRSS), mib(i.HostDrop))
		per := float64(i.HostDrop) / float64(i.Sessions)
		fmt.Fprintf(tw, "extrapolated to 500 sessions (host drop × 500/%d)\t%.1f GiB\tfits 24 GiB: %s\n", i.Sessions, per*500/(1<<30), met(per*500 < 24*(1<<30)))
		fmt.Fprintf(tw, "server CPU while idle (reaper every %s, quota sweep, disk watch), %.0f s\t%.2f%% of one core\treaper < 10%%: %s\n", i.ReapInterval, i.WindowS, i.ServerCPU, met(i.ServerCPU < 10))
		fmt.Fprintf(tw, "dockerd CPU in the same window (shared engine)\t%.2f%% of one core\t\n", i.DockerdCPU)
	}
	tw.Flush()
	for _, f := range append(r.PoolFailed, r.NoPoolFailed...) {
		fmt.Fprintf(w, "failed: %s\n", f)
	}
	if r.Idle != nil {
		for _, f := range r.Idle.Failed {
			fmt.Fprintf(w, "idle start failed: %s\n", f)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "scenario failed: %s\n", e)
	}
}

// statFieldKB reads a "Key:   123 kB" line of /proc/meminfo in bytes.
func statFieldKB(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}
