package main

// `opsdojo bench terminal`: measures the terminal (issue 4) end to end
// against the real Docker engine. It starts its own server in this process
// on 127.0.0.1:0 with a temporary data dir, signs up, starts git-basics and
// speaks the terminal protocol with a Go client. Only loopback and the
// bench's own containers are touched; every loop is bounded in count and
// time; the bench's containers are removed at the end.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/gorilla/websocket"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

type benchOptions struct {
	labsDir   string
	jsonOut   string
	bytes     int
	runs      int
	keys      int
	counts    []int
	skipMem   bool
	skipCLI   bool
	serverLog string
}

// benchResult is what `--json` writes.
type benchResult struct {
	When    time.Time `json:"when"`
	Machine string    `json:"machine"`
	Docker  string    `json:"docker"`

	OutputBytes       int       `json:"output_bytes"`
	ThroughputOpsdojo []float64 `json:"throughput_opsdojo_mbps"`
	ThroughputDocker  []float64 `json:"throughput_docker_cli_mbps"`
	ThroughputRatio   float64   `json:"throughput_ratio"`

	EchoOpsdojo latency `json:"echo_opsdojo_ms"`
	EchoRawTTY  latency `json:"echo_raw_exec_tty_ms"`
	ExecTrue    latency `json:"exec_true_ms"`

	CtrlC     latency `json:"ctrl_c_to_prompt_ms"`
	Reconnect latency `json:"reconnect_restored_ms"`
	Handshake latency `json:"reconnect_handshake_ms"`

	Memory []memRow `json:"memory"`
}

type latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type memRow struct {
	Terminals int `json:"terminals"`
	// Go heap plus goroutine stacks, ring buffers excluded: per idle
	// terminal (its exec, pump and recording, no socket), per idle driver
	// socket on it, per idle viewer socket.
	TerminalBytes int64 `json:"terminal_bytes"`
	DriverBytes   int64 `json:"driver_socket_bytes"`
	ViewerBytes   int64 `json:"viewer_socket_bytes"`
	// The same from live heap objects (HeapAlloc) instead of heap spans.
	TerminalObjects int64 `json:"terminal_object_bytes"`
	DriverObjects   int64 `json:"driver_socket_object_bytes"`
	ViewerObjects   int64 `json:"viewer_socket_object_bytes"`
	// The ring buffers' reserved bytes per terminal, reported apart.
	RingBytes int64 `json:"ring_bytes"`
}

func cmdBenchTerminal(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	o := benchOptions{}
	fs := flag.NewFlagSet("bench terminal", flag.ContinueOnError)
	fs.StringVar(&o.labsDir, "labs-dir", env("OPSDOJO_LABS_DIR", "./labs"), "folder of lab folders (git-basics is used; its image must be built)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	fs.IntVar(&o.bytes, "bytes", 50_000_000, "random bytes to base64 for the throughput run")
	fs.IntVar(&o.runs, "runs", 3, "throughput, Ctrl-C and reconnect runs")
	fs.IntVar(&o.keys, "keys", 500, "keystrokes for the echo latency")
	counts := fs.String("terminals", "1,50,200", "terminal counts for the memory measurement")
	fs.BoolVar(&o.skipMem, "skip-memory", false, "skip the memory measurement (it opens up to 200 shells)")
	fs.BoolVar(&o.skipCLI, "skip-docker-cli", false, "skip the docker CLI baseline")
	fs.StringVar(&o.serverLog, "server-log", "", "write the bench server's log to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, s := range strings.Split(*counts, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 || n > 250 {
			return fmt.Errorf("--terminals: %q is not a count from 1 to 250", s)
		}
		o.counts = append(o.counts, n)
	}
	sort.Ints(o.counts)
	o.runs = min(max(o.runs, 1), 10)
	o.keys = min(max(o.keys, 10), 5000)
	if os.Getenv("OPSDOJO_BENCH_PROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	// The whole bench is bounded in time.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	b, err := startBench(ctx, o, log)
	if err != nil {
		return err
	}
	defer b.close()
	res, err := b.run(ctx, stdout)
	if err != nil {
		return err
	}
	printBench(stdout, res, o)
	return writeJSONResult(stdout, o.jsonOut, res)
}

// writeJSONResult writes a benchmark's results as JSON to path ("-":
// stdout; "": nowhere).
func writeJSONResult(stdout io.Writer, path string, res any) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("results as JSON: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// bench is a server in this process and its learners.
type bench struct {
	o        benchOptions
	log      *slog.Logger
	base     string // http://127.0.0.1:port
	addr     string
	dataDir  string
	stop     context.CancelFunc
	done     chan error
	engine   *sandbox.Engine
	sessions []string
	main     *benchUser
}

type benchUser struct {
	b       *bench
	name    string
	http    *http.Client
	csrf    string
	session string
}

func startBench(ctx context.Context, o benchOptions, log *slog.Logger) (*bench, error) {
	dataDir, err := os.MkdirTemp("", "opsdojo-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, log: log, dataDir: dataDir, done: make(chan error, 1)}
	engine, err := sandbox.New(sandbox.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	b.engine = engine
	if err := engine.Ping(ctx); err != nil {
		return nil, fmt.Errorf("the Docker engine does not answer: %w", err)
	}
	// An admin for the viewers, made before the server opens the database.
	st, err := store.Open(ctx, app.DBPath(dataDir))
	if err != nil {
		return nil, err
	}
	hash, _ := auth.HashPassword(benchPassword)
	if _, err := st.CreateUser(ctx, "bench-admin", hash, true); err != nil {
		st.Close()
		return nil, err
	}
	st.Close()

	cfg := app.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.LabsDir = o.labsDir
	cfg.SkipFirewall = true
	cfg.TerminalMaxTabs = 64
	// The memory run's raw sockets do not answer pings: keep them.
	cfg.Terminal.PingInterval = 10 * time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.addr = ln.Addr().String()
	b.base = "http://" + b.addr
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b.stop = stop
	var logOut io.Writer = io.Discard
	if o.serverLog != "" {
		f, err := os.Create(o.serverLog)
		if err != nil {
			return nil, err
		}
		logOut = f // closed with the process
	}
	quiet := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { b.done <- app.ServeListener(sctx, cfg, ln, quiet) }()
	for i := 0; ; i++ {
		resp, err := http.Get(b.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			b.close()
			return nil, fmt.Errorf("the bench server did not start: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.main, err = b.signUp("bench-learner")
	if err != nil {
		b.close()
		return nil, err
	}
	if err := b.main.startLab(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

const benchPassword = "correct-horse-battery"

func (b *bench) close() {
	for _, id := range b.sessions {
		b.removeSession(id)
	}
	if b.stop != nil {
		b.stop()
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
		}
	}
	if b.engine != nil {
		b.engine.Close()
	}
	os.RemoveAll(b.dataDir)
}

// removeSession removes a bench session's container and network.
func (b *bench) removeSession(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	removeLabelled(ctx, b.engine.Client(), sandbox.LabelSession+"="+id)
}

func (b *bench) signUp(name string) (*benchUser, error) {
	u := &benchUser{b: b, name: name}
	jar, _ := cookiejar.New(nil)
	u.http = &http.Client{Jar: jar, Timeout: 2 * time.Minute}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if st, err := u.do("POST", "/api/v1/auth/register", map[string]string{"username": name, "password": benchPassword}, &out); err != nil || st != http.StatusCreated {
		return nil, fmt.Errorf("sign up %s: %d %v", name, st, err)
	}
	u.csrf = out.CSRFToken
	return u, nil
}

func (b *bench) logIn(name string) (*benchUser, error) {
	u := &benchUser{b: b, name: name}
	jar, _ := cookiejar.New(nil)
	u.http = &http.Client{Jar: jar, Timeout: 2 * time.Minute}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if st, err := u.do("POST", "/api/v1/auth/login", map[string]string{"username": name, "password": benchPassword}, &out); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("log in %s: %d %v", name, st, err)
	}
	u.csrf = out.CSRFToken
	return u, nil
}

func (u *benchUser) do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, u.b.base+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", u.csrf)
	resp, err := u.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, err
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s", method, path, bytes.TrimSpace(data))
	}
	return resp.StatusCode, nil
}

func (u *benchUser) startLab() error {
	var s struct {
		ID string `json:"id"`
	}
	if _, err := u.do("POST", "/api/v1/labs/git-basics/session", map[string]any{}, &s); err != nil {
		return fmt.Errorf("start git-basics (is its image built? `opsdojo images build git-basics`): %w", err)
	}
	u.session = s.ID
	u.b.sessions = append(u.b.sessions, s.ID)
	return nil
}

// wsTerm is a protocol client. A reader goroutine timestamps frames as
// they arrive and acks output at once; the bench takes them from a channel
// (gorilla's connections break for good on a read deadline, so timeouts
// live on the channel).
type wsTerm struct {
	conn   *websocket.Conn
	wmu    sync.Mutex
	frames chan wsFrame
	seq    uint64 // position after the last output byte taken by next
	hello  terminal.HelloReply
	tail   []byte // the last bytes of output, for markers split across frames
	mark   int    // tail[:mark] has been searched already
}

type wsFrame struct {
	op      byte
	payload []byte // for output frames, at most the last 1 KiB
	size    int    // the payload's real size
	at      time.Time
	err     error
}

func (u *benchUser) dial(query string, seq uint64) (*wsTerm, error) {
	d := websocket.Dialer{Jar: u.http.Jar, HandshakeTimeout: time.Minute, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	conn, resp, err := d.Dial("ws://"+u.b.addr+"/api/v1/sessions/"+u.session+"/terminal?"+query, http.Header{"Origin": {u.b.base}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("open terminal: %v (status %d)", err, status)
	}
	t := &wsTerm{conn: conn, frames: make(chan wsFrame, 8192)}
	if err := t.write(terminal.HelloFrame(seq)); err != nil {
		conn.Close()
		return nil, err
	}
	go t.read(seq)
	for {
		op, payload, err := t.next(30 * time.Second)
		if err != nil {
			conn.Close()
			return nil, err
		}
		if op == terminal.OpHelloReply {
			_ = json.Unmarshal(payload, &t.hello)
			t.seq = t.hello.Seq
			return t, nil
		}
	}
}

func (t *wsTerm) write(frame []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	_ = t.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	return t.conn.WriteMessage(websocket.BinaryMessage, frame)
}

func (t *wsTerm) read(seq uint64) {
	defer close(t.frames)
	buf := make([]byte, 64<<10)
	acked := seq
	for {
		_, r, err := t.conn.NextReader()
		at := time.Now()
		if err != nil {
			t.frames <- wsFrame{err: err, at: at}
			return
		}
		n := 0
		for {
			if n == len(buf) {
				buf = append(buf, make([]byte, len(buf))...)
			}
			m, err := r.Read(buf[n:])
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				t.frames <- wsFrame{err: err, at: at}
				return
			}
		}
		if n == 0 {
			continue
		}
		msg := buf[:n]
		f := wsFrame{op: msg[0], at: at, size: n - 1}
		switch msg[0] {
		case terminal.OpOutput:
			seq += uint64(n - 1)
			// Like the browser: ack every 64 KiB, and at once when output
			// is interactive.
			if seq-acked >= 64<<10 || n-1 < 4096 {
				_ = t.write(terminal.AckFrame(seq))
				acked = seq
			}
			// The bench looks for short markers: the end of a big frame is
			// enough.
			f.payload = append([]byte(nil), msg[max(1, n-1024):]...)
		case terminal.OpHelloReply:
			var h terminal.HelloReply
			_ = json.Unmarshal(msg[1:], &h)
			seq, acked = h.Seq, h.Seq
			f.payload = append([]byte(nil), msg[1:]...)
		default:
			f.payload = append([]byte(nil), msg[1:]...)
		}
		t.frames <- f
	}
}

// nextFrame takes the next frame.
func (t *wsTerm) nextFrame(within time.Duration) (wsFrame, error) {
	select {
	case f, ok := <-t.frames:
		if !ok {
			return f, errors.New("connection closed")
		}
		if f.err != nil {
			return f, f.err
		}
		if f.op == terminal.OpOutput {
			t.seq += uint64(f.size)
			if f.size > len(f.payload) {
				t.forget() // a gap: what was searched is no longer contiguous
			}
			t.tail = append(t.tail, f.payload...)
			if len(t.tail) > 64<<10 {
				drop := len(t.tail) - 4096
				t.tail = append(t.tail[:0], t.tail[drop:]...)
				t.mark = max(0, t.mark-drop)
			}
		}
		return f, nil
	case <-time.After(within):
		return wsFrame{}, errTimeout
	}
}

var errTimeout = errors.New("timed out")

func (t *wsTerm) next(within time.Duration) (byte, []byte, error) {
	f, err := t.nextFrame(within)
	return f.op, f.payload, err
}

func (t *wsTerm) send(p string) error {
	return t.write(append([]byte{terminal.OpInput}, p...))
}

// forget ignores the output so far in later searches.
func (t *wsTerm) forget() { t.mark = len(t.tail) }

// waitFor reads until the output after the last match contains marker.
func (t *wsTerm) waitFor(marker string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if i := bytes.Index(t.tail[t.mark:], []byte(marker)); i >= 0 {
			t.mark += i + len(marker)
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%q not seen within %s", marker, within)
		}
		if _, _, err := t.next(left); err != nil {
			return fmt.Errorf("waiting for %q: %w", marker, err)
		}
	}
}

// sync types a marker command and waits for its output: the shell is idle
// at a prompt afterwards.
func (t *wsTerm) sync(name string) error {
	t.forget()
	if err := t.send("echo " + name + "-$((6*7))-ok\r"); err != nil {
		return err
	}
	if err := t.waitFor(name+"-42-ok", 30*time.Second); err != nil {
		return err
	}
	return t.waitFor("$ ", 10*time.Second)
}

func (b *bench) run(ctx context.Context, progress io.Writer) (*benchResult, error) {
	res := &benchResult{When: time.Now().UTC(), Machine: machine(), Docker: dockerVersion(ctx, b)}
	u := b.main
	containerName := sandbox.Name(u.session)
	step := func(s string) { fmt.Fprintf(progress, "… %s\n", s) }

	t, err := u.dial("tab=bench&cols=120&rows=40", 0)
	if err != nil {
		return nil, err
	}
	defer t.conn.Close()
	if err := t.sync("start"); err != nil {
		return nil, err
	}

	// (a) Throughput, alternating with the docker CLI floor.
	cmd := fmt.Sprintf("head -c %d /dev/urandom | base64 -w0", b.o.bytes)
	res.OutputBytes = (b.o.bytes + 2) / 3 * 4
	for i := 0; i < b.o.runs; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		step(fmt.Sprintf("throughput run %d/%d", i+1, b.o.runs))
		mbps, err := throughputOpsdojo(t, cmd)
		if err != nil {
			return nil, err
		}
		res.ThroughputOpsdojo = append(res.ThroughputOpsdojo, mbps)
		if !b.o.skipCLI {
			mbps, err := throughputDockerCLI(ctx, containerName, cmd)
			if err != nil {
				return nil, err
			}
			res.ThroughputDocker = append(res.ThroughputDocker, mbps)
		}
	}
	if len(res.ThroughputDocker) > 0 {
		res.ThroughputRatio = median(res.ThroughputOpsdojo) / median(res.ThroughputDocker)
	}
	if err := t.sync("after-throughput"); err != nil {
		return nil, err
	}

	// (b) Keystroke echo through opsdojo, through a raw exec TTY, and the
	// engine's exec round trip.
	step("keystroke echo")
	if res.EchoOpsdojo, err = echoOpsdojo(t, b.o.keys); err != nil {
		return nil, err
	}
	info, err := b.engine.Client().ContainerInspect(ctx, containerName)
	if err != nil {
		return nil, err
	}
	if res.EchoRawTTY, err = echoRawTTY(ctx, b.engine, info.ID, b.o.keys); err != nil {
		return nil, err
	}
	if res.ExecTrue, err = execRoundTrip(ctx, b.engine, info.ID, 50); err != nil {
		return nil, err
	}

	// (c) Ctrl-C under yes.
	step("Ctrl-C under yes")
	var ctrlC []float64
	for i := 0; i < max(b.o.runs, 5); i++ {
		d, err := ctrlCUnderYes(t)
		if err != nil {
			return nil, err
		}
		ctrlC = append(ctrlC, ms(d))
	}
	res.CtrlC = summarize(ctrlC)

	// (e) Reconnect to the restored screen.
	step("reconnect")
	var restored, handshake []float64
	for i := 0; i < max(b.o.runs, 5); i++ {
		nt, hs, rs, err := reconnect(u, t)
		if err != nil {
			return nil, err
		}
		t = nt
		restored = append(restored, ms(rs))
		handshake = append(handshake, ms(hs))
	}
	res.Reconnect, res.Handshake = summarize(restored), summarize(handshake)
	t.conn.Close()

	// (d) Memory.
	if !b.o.skipMem {
		step("memory per idle terminal and viewer")
		if res.Memory, err = b.memory(ctx, progress); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func throughputOpsdojo(t *wsTerm, cmd string) (float64, error) {
	start := t.seq
	t.forget()
	began := time.Now()
	// The marker's echo shows $((...)), not its value.
	if err := t.send(cmd + "; echo; echo TPUT-$((40+2))-END\r"); err != nil {
		return 0, err
	}
	if err := t.waitFor("TPUT-42-END", 5*time.Minute); err != nil {
		return 0, err
	}
	took := time.Since(began)
	if err := t.waitFor("$ ", 10*time.Second); err != nil {
		return 0, err
	}
	return float64(t.seq-start) / 1e6 / took.Seconds(), nil
}

func throughputDockerCLI(ctx context.Context, containerName, cmd string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, "docker", "exec", "-t", "-u", sandbox.LearnerUser, containerName, "bash", "-c", cmd)
	out, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	began := time.Now()
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("docker CLI: %w", err)
	}
	n, _ := io.Copy(io.Discard, out)
	if err := c.Wait(); err != nil {
		return 0, fmt.Errorf("docker exec -t: %w", err)
	}
	return float64(n) / 1e6 / time.Since(began).Seconds(), nil
}

// echoOpsdojo types x and backspace in turn at the prompt and times each
// until its echo arrives.
func echoOpsdojo(t *wsTerm, keys int) (latency, error) {
	var samples []float64
	for i := 0; i < keys; i++ {
		key := "x"
		if i%2 == 1 {
			key = "\x7f"
		}
		began := time.Now()
		if err := t.send(key); err != nil {
			return latency{}, err
		}
		for {
			f, err := t.nextFrame(10 * time.Second)
			if err != nil {
				return latency{}, fmt.Errorf("keystroke %d: %w", i, err)
			}
			if f.op == terminal.OpOutput && len(f.payload) > 0 {
				samples = append(samples, ms(f.at.Sub(began)))
				break
			}
		}
		// Let a redraw that comes in two frames finish.
		drain(t, 2*time.Millisecond)
	}
	return summarize(samples), nil
}

// drain takes the frames that arrive for a moment.
func drain(t *wsTerm, d time.Duration) {
	for {
		if _, err := t.nextFrame(d); err != nil {
			return
		}
	}
}

// echoRawTTY does what echoOpsdojo does on a docker exec TTY of its own,
// without opsdojo in between: the engine's own share.
func echoRawTTY(ctx context.Context, eng *sandbox.Engine, containerID string, keys int) (latency, error) {
	tty, err := eng.OpenTTY(ctx, containerID, sandbox.TTYRequest{Cmd: []string{"bash", "-l"}, User: sandbox.LearnerUser,
		WorkDir: sandbox.LearnerHome, Env: []string{"TERM=xterm-256color", "HOME=" + sandbox.LearnerHome, "LANG=C.UTF-8"}, Cols: 120, Rows: 40})
	if err != nil {
		return latency{}, err
	}
	defer tty.Close()
	chunks := make(chan []byte, 64)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				chunks <- append([]byte(nil), buf[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	wait := func(within time.Duration) ([]byte, error) {
		select {
		case c, ok := <-chunks:
			if !ok {
				return nil, errors.New("the raw TTY closed")
			}
			return c, nil
		case <-time.After(within):
			return nil, errors.New("no output from the raw TTY")
		}
	}
	if _, err := tty.Write([]byte("echo raw-$((6*7))-ok\r")); err != nil {
		return latency{}, err
	}
	var seen []byte
	for !bytes.Contains(seen, []byte("raw-42-ok")) {
		c, err := wait(30 * time.Second)
		if err != nil {
			return latency{}, err
		}
		seen = append(seen, c...)
	}
	time.Sleep(100 * time.Millisecond)
	for len(chunks) > 0 {
		<-chunks
	}
	var samples []float64
	for i := 0; i < keys; i++ {
		key := []byte("x")
		if i%2 == 1 {
			key = []byte{0x7f}
		}
		began := time.Now()
		if _, err := tty.Write(key); err != nil {
			return latency{}, err
		}
		if _, err := wait(10 * time.Second); err != nil {
			return latency{}, err
		}
		samples = append(samples, ms(time.Since(began)))
		time.Sleep(2 * time.Millisecond)
		for len(chunks) > 0 {
			<-chunks
		}
	}
	return summarize(samples), nil
}

// execRoundTrip times a plain exec of `true`: create, attach, start, wait
// for it to be reported finished.
func execRoundTrip(ctx context.Context, eng *sandbox.Engine, containerID string, n int) (latency, error) {
	var samples []float64
	for i := 0; i < n; i++ {
		began := time.Now()
		res, err := eng.Exec(ctx, containerID, sandbox.ExecRequest{Cmd: []string{"true"}, User: sandbox.LearnerUser})
		if err != nil {
			return latency{}, err
		}
		if res.ExitCode != 0 {
			return latency{}, fmt.Errorf("true exited %d", res.ExitCode)
		}
		samples = append(samples, ms(time.Since(began)))
	}
	return summarize(samples), nil
}

// ctrlCUnderYes runs yes for a second, sends Ctrl-C and times until the
// prompt follows the ^C.
func ctrlCUnderYes(t *wsTerm) (time.Duration, error) {
	t.forget()
	if err := t.send("yes\r"); err != nil {
		return 0, err
	}
	if err := t.waitFor("y\r\ny\r\n", 10*time.Second); err != nil {
		return 0, err
	}
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		if _, _, err := t.next(10 * time.Second); err != nil {
			return 0, err
		}
	}
	began := time.Now()
	if err := t.send("\x03"); err != nil {
		return 0, err
	}
	t.forget()
	deadline := began.Add(30 * time.Second)
	for {
		if i := bytes.LastIndex(t.tail[t.mark:], []byte("^C")); i >= 0 && bytes.Contains(t.tail[t.mark+i:], []byte("$ ")) {
			t.forget()
			break
		}
		if time.Now().After(deadline) {
			return 0, errors.New("no prompt within 30 s of Ctrl-C")
		}
		if _, _, err := t.next(time.Until(deadline)); err != nil {
			return 0, err
		}
	}
	took := time.Since(began)
	return took, t.sync("after-yes")
}

// reconnect starts output, drops the socket, reconnects with hello seq and
// times the handshake (hello reply) and the missed output's arrival.
func reconnect(u *benchUser, t *wsTerm) (*wsTerm, time.Duration, time.Duration, error) {
	// About 190 KB that arrive while the socket is down.
	t.forget()
	if err := t.send("sleep 0.3; seq 1 30000; echo RECON-$((20+22))-END\r"); err != nil {
		return nil, 0, 0, err
	}
	if err := t.waitFor("RECON-", 10*time.Second); err != nil { // the command's echo
		return nil, 0, 0, err
	}
	seq := t.seq
	t.conn.Close()
	time.Sleep(1500 * time.Millisecond)
	began := time.Now()
	nt, err := u.dial("tab=bench", seq)
	if err != nil {
		return nil, 0, 0, err
	}
	hs := time.Since(began)
	if nt.hello.Reset || nt.hello.Seq != seq {
		return nil, 0, 0, fmt.Errorf("reconnect hello %+v, want seq %d", nt.hello, seq)
	}
	if err := nt.waitFor("RECON-42-END", 30*time.Second); err != nil {
		return nil, 0, 0, err
	}
	rs := time.Since(began)
	if err := nt.waitFor("$ ", 10*time.Second); err != nil {
		return nil, 0, 0, err
	}
	return nt, hs, rs, nil
}

// rawWS is a websocket client with no goroutine and no buffers: after its
// hello it only holds a socket, so the process's memory growth is the
// server's.
type rawWS struct{ conn net.Conn }

func rawDial(addr, path string, cookies []*http.Cookie, origin string) (*rawWS, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nOrigin: %s\r\n",
		path, addr, base64.StdEncoding.EncodeToString(key), origin)
	var cs []string
	for _, c := range cookies {
		cs = append(cs, c.Name+"="+c.Value)
	}
	fmt.Fprintf(&req, "Cookie: %s\r\n\r\n", strings.Join(cs, "; "))
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("upgrade: %s", resp.Status)
	}
	w := &rawWS{conn: conn}
	if err := w.write(terminal.HelloFrame(0)); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return w, nil
}

// write sends one masked binary frame (payload < 126 bytes).
func (w *rawWS) write(p []byte) error {
	if len(p) >= 126 {
		return errors.New("rawWS: frame too long")
	}
	frame := []byte{0x82, 0x80 | byte(len(p)), 0, 0, 0, 0}
	_, _ = rand.Read(frame[2:6])
	for i, c := range p {
		frame = append(frame, c^frame[2+i%4])
	}
	_, err := w.conn.Write(frame)
	return err
}

type memSnap struct{ heap, alloc, stack, ring int64 }

func snapMem(clients ...*http.Client) memSnap {
	// Idle keep-alive connections (and the server's goroutines and buffers
	// for them) come and go with the bench's own API calls: close them.
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	var m runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return memSnap{int64(m.HeapInuse), int64(m.HeapAlloc), int64(m.StackInuse), terminal.RingBytesReserved()}
}

// per is the growth from a to b per item, ring buffers excluded: heap
// spans in use (HeapInuse) plus goroutine stacks; with objects, live heap
// objects (HeapAlloc) plus stacks, which span fragmentation does not blur.
func per(a, b memSnap, n int, objects bool) int64 {
	d := b.heap - a.heap
	if objects {
		d = b.alloc - a.alloc
	}
	d += b.stack - a.stack - (b.ring - a.ring)
	return d / int64(n)
}

// memory measures, for each count n: n idle terminals with a driver socket
// each, then n viewer sockets more, then the terminals alone once the
// driver sockets have gone (the shells wait out their grace period). The
// sessions (50 tabs each) are fresh for every count.
func (b *bench) memory(ctx context.Context, progress io.Writer) ([]memRow, error) {
	const perSession = 50
	maxN := b.o.counts[len(b.o.counts)-1]
	var users []*benchUser
	for i := 0; i*perSession < maxN; i++ {
		u, err := b.signUp(fmt.Sprintf("bench-mem%d", i+1))
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	admin, err := b.logIn("bench-admin")
	if err != nil {
		return nil, err
	}
	baseURL, _ := url.Parse(b.base)
	open := func(hc *http.Client, session, query string) (*rawWS, error) {
		return rawDial(b.addr, "/api/v1/sessions/"+session+"/terminal?"+query, hc.Jar.Cookies(baseURL), b.base)
	}
	clients := []*http.Client{admin.http, b.main.http}
	for _, u := range users {
		clients = append(clients, u.http)
	}
	round := func(n int) (memRow, error) {
		active := users[:(n+perSession-1)/perSession]
		for _, u := range active {
			if err := u.startLab(); err != nil {
				return memRow{}, err
			}
		}
		// idle waits until the n terminals have printed their prompts and
		// gone quiet.
		idle := func(want int) error {
			deadline := time.Now().Add(2 * time.Minute)
			prev := map[string]uint64{}
			for stable := 0; stable < 3; {
				if time.Now().After(deadline) || ctx.Err() != nil {
					return errors.New("terminals did not go idle within 2 minutes")
				}
				time.Sleep(300 * time.Millisecond)
				cur := map[string]uint64{}
				quiet := true
				for _, u := range active {
					var list struct {
						Terminals []terminal.Info `json:"terminals"`
					}
					if _, err := u.do("GET", "/api/v1/sessions/"+u.session+"/terminals", nil, &list); err != nil {
						return err
					}
					for _, ti := range list.Terminals {
						k := u.session + "/" + ti.Tab
						cur[k] = ti.Seq
						if ti.Seq == 0 || prev[k] != ti.Seq {
							quiet = false
						}
					}
				}
				if quiet && len(cur) == want {
					stable++
				} else {
					stable = 0
				}
				prev = cur
			}
			return nil
		}
		if err := idle(0); err != nil {
			return memRow{}, err
		}
		base := snapMem(clients...)
		type tab struct{ session, name string }
		var tabs []tab
		var drivers, viewers []*rawWS
		closeAll := func(ws []*rawWS) {
			for _, w := range ws {
				w.conn.Close()
			}
		}
		for i := 0; i < n; i++ {
			if ctx.Err() != nil {
				closeAll(drivers)
				return memRow{}, ctx.Err()
			}
			u := active[i/perSession]
			name := fmt.Sprintf("m%d", i%perSession)
			ws, err := open(u.http, u.session, "tab="+name+"&cols=80&rows=24")
			if err != nil {
				closeAll(drivers)
				return memRow{}, fmt.Errorf("terminal %d: %w", i+1, err)
			}
			drivers = append(drivers, ws)
			tabs = append(tabs, tab{u.session, name})
		}
		if err := idle(n); err != nil {
			closeAll(drivers)
			return memRow{}, err
		}
		withDrivers := snapMem(clients...)
		b.profile(fmt.Sprintf("drivers-%d", n))
		for _, tb := range tabs {
			ws, err := open(admin.http, tb.session, "tab="+tb.name+"&watch=1")
			if err != nil {
				closeAll(drivers)
				closeAll(viewers)
				return memRow{}, fmt.Errorf("viewer: %w", err)
			}
			viewers = append(viewers, ws)
		}
		time.Sleep(time.Second)
		withViewers := snapMem(clients...)
		closeAll(viewers)
		closeAll(drivers)
		time.Sleep(2 * time.Second) // the sockets' goroutines end; the shells stay
		termsOnly := snapMem(clients...)
		b.profile(fmt.Sprintf("terminals-%d", n))
		row := memRow{Terminals: n,
			TerminalBytes:   per(base, termsOnly, n, false),
			DriverBytes:     per(termsOnly, withDrivers, n, false),
			ViewerBytes:     per(withDrivers, withViewers, n, false),
			TerminalObjects: per(base, termsOnly, n, true),
			DriverObjects:   per(termsOnly, withDrivers, n, true),
			ViewerObjects:   per(withDrivers, withViewers, n, true),
			RingBytes:       (termsOnly.ring - base.ring) / int64(n),
		}
		for _, u := range active {
			if _, err := u.do("DELETE", "/api/v1/sessions/"+u.session, nil, nil); err != nil {
				return memRow{}, err
			}
		}
		time.Sleep(time.Second)
		return row, nil
	}
	// A first round warms up what is allocated once (caches, pools,
	// connections to the engine); small counts are averaged over several
	// rounds, since the heap grows in 8 KiB pages.
	if _, err := round(1); err != nil {
		return nil, err
	}
	var rows []memRow
	for _, n := range b.o.counts {
		reps := (8 + n - 1) / n
		var sum memRow
		for r := 0; r < reps; r++ {
			row, err := round(n)
			if err != nil {
				return nil, err
			}
			sum.TerminalBytes += row.TerminalBytes
			sum.DriverBytes += row.DriverBytes
			sum.ViewerBytes += row.ViewerBytes
			sum.TerminalObjects += row.TerminalObjects
			sum.DriverObjects += row.DriverObjects
			sum.ViewerObjects += row.ViewerObjects
			sum.RingBytes += row.RingBytes
		}
		k := int64(reps)
		row := memRow{Terminals: n, TerminalBytes: sum.TerminalBytes / k, DriverBytes: sum.DriverBytes / k, ViewerBytes: sum.ViewerBytes / k,
			TerminalObjects: sum.TerminalObjects / k, DriverObjects: sum.DriverObjects / k, ViewerObjects: sum.ViewerObjects / k, RingBytes: sum.RingBytes / k}
		rows = append(rows, row)
		fmt.Fprintf(progress, "… %d terminals (%d rounds): %d B per terminal, %d B per driver socket, %d B per viewer, ring %d B\n",
			n, reps, row.TerminalBytes, row.DriverBytes, row.ViewerBytes, row.RingBytes)
	}
	return rows, nil
}

// profile writes heap and goroutine profiles when OPSDOJO_BENCH_PROFILE
// names a folder.
func (b *bench) profile(name string) {
	dir := os.Getenv("OPSDOJO_BENCH_PROFILE")
	if dir == "" {
		return
	}
	for _, p := range []string{"heap", "goroutine"} {
		if f, err := os.Create(filepath.Join(dir, p+"-"+name+".pb.gz")); err == nil {
			_ = pprof.Lookup(p).WriteTo(f, 0)
			f.Close()
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func summarize(xs []float64) latency {
	if len(xs) == 0 {
		return latency{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	p := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return latency{N: len(s), P50: p(0.5), P99: p(0.99), Max: s[len(s)-1]}
}

func machine() string {
	host, _ := os.Hostname()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
				break
			}
		}
	}
	var mem string
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf("%d GiB", (kb+(1<<19))>>20)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s: %d CPUs (%s), %s, Linux %s, %s %s/%s; load average at start %s", host, runtime.NumCPU(), cpu, mem,
		strings.TrimSpace(string(kernel)), runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
}

func dockerVersion(ctx context.Context, b *bench) string {
	v, err := b.engine.Client().ServerVersion(ctx)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("Docker Engine %s (API %s)", v.Version, v.APIVersion)
}

func printBench(w io.Writer, r *benchResult, o benchOptions) {
	fmt.Fprintf(w, "\nopsdojo terminal benchmark, %s\n%s\n%s\n\n", r.When.Format(time.RFC3339), r.Machine, r.Docker)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "what\tresult\n")
	fl := func(xs []float64) string {
		var s []string
		for _, x := range xs {
			s = append(s, fmt.Sprintf("%.1f", x))
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(tw, "output throughput, opsdojo (%.1f MB of base64)\t%.1f MB/s median (runs: %s)\n", float64(r.OutputBytes)/1e6, median(r.ThroughputOpsdojo), fl(r.ThroughputOpsdojo))
	if len(r.ThroughputDocker) > 0 {
		fmt.Fprintf(tw, "output throughput, docker exec -t (CLI)\t%.1f MB/s median (runs: %s)\n", median(r.ThroughputDocker), fl(r.ThroughputDocker))
		fmt.Fprintf(tw, "opsdojo / docker exec -t\t%.0f%%\n", 100*r.ThroughputRatio)
	}
	lat := func(l latency) string {
		return fmt.Sprintf("p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%d)", l.P50, l.P99, l.Max, l.N)
	}
	fmt.Fprintf(tw, "keystroke echo, opsdojo websocket\t%s\n", lat(r.EchoOpsdojo))
	fmt.Fprintf(tw, "keystroke echo, raw docker exec TTY\t%s\n", lat(r.EchoRawTTY))
	fmt.Fprintf(tw, "opsdojo's share (p50, p99)\t%.2f ms, %.2f ms\n", r.EchoOpsdojo.P50-r.EchoRawTTY.P50, r.EchoOpsdojo.P99-r.EchoRawTTY.P99)
	fmt.Fprintf(tw, "exec of `true` (create+start+inspect)\t%s\n", lat(r.ExecTrue))
	fmt.Fprintf(tw, "Ctrl-C to prompt under yes\tmedian %.1f ms, max %.1f ms (n=%d)\n", r.CtrlC.P50, r.CtrlC.Max, r.CtrlC.N)
	fmt.Fprintf(tw, "reconnect: hello reply\tmedian %.1f ms, max %.1f ms (n=%d)\n", r.Handshake.P50, r.Handshake.Max, r.Handshake.N)
	fmt.Fprintf(tw, "reconnect: ~190 KB of missed output restored\tmedian %.1f ms, max %.1f ms (n=%d)\n", r.Reconnect.P50, r.Reconnect.Max, r.Reconnect.N)
	for _, m := range r.Memory {
		kib := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1024) }
		fmt.Fprintf(tw, "memory at %d idle terminals, KiB each\tterminal %s (objects %s), driver socket %s (%s), viewer socket %s (%s); ring buffer %s\n",
			m.Terminals, kib(m.TerminalBytes), kib(m.TerminalObjects), kib(m.DriverBytes), kib(m.DriverObjects),
			kib(m.ViewerBytes), kib(m.ViewerObjects), kib(m.RingBytes))
	}
	tw.Flush()
}

// removeLabelled removes, best effort, the containers and networks that
// carry label ("key=value"): what a benchmark made.
func removeLabelled(ctx context.Context, cli *client.Client, label string) {
	f := filters.NewArgs(filters.Arg("label", label))
	if list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
		for _, c := range list {
			_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
		}
	}
	if nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: f}); err == nil {
		for _, n := range nets {
			_ = cli.NetworkRemove(ctx, n.ID)
		}
	}
}
