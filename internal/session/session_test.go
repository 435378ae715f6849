package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/store"
)

// hang bounds waits that should end at once; it only detects deadlocks.
const hang = 10 * time.Second

// fakeSandbox is an in-memory container engine.
type fakeSandbox struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer // by container id
	networks   map[string]string         // network id → session id
	creates    []sandbox.Spec
	removed    []sandbox.Box
	ensured    []string
	execs      []execCall
	ttys       []ttyCall
	reads      []string
	files      map[string]string // learner files ReadFile serves, by name
	// imagesRemoved lists the sessions whose build images were removed.
	imagesRemoved []string

	// Knobs.
	createErr   error         // returned (once) by the next Create
	createGate  chan struct{} // when set, Create waits for it to close
	createEnter chan struct{} // when set, Create signals here on entry
	ensureErr   map[string]error
	execExit    func(req sandbox.ExecRequest) (int, string)
	diskUsage   map[string]int64 // by container id
	diskErr     error
	imageBytes  map[string]int64 // what each build image adds, by id
	onRemove    func()           // called after Remove, unlocked
	buildImages []string         // what Build reports it made
	// imageIDsRemoved lists the image ids RemoveImages was given.
	imageIDsRemoved []string
}

type fakeContainer struct {
	id, sessionID, networkID string
	running                  bool
}

type execCall struct {
	containerID string
	req         sandbox.ExecRequest
	stdin       string
}

func newFakeSandbox() *fakeSandbox {
	return &fakeSandbox{containers: map[string]*fakeContainer{}, networks: map[string]string{}, ensureErr: map[string]error{}}
}

func containerID(sessionID string) string { return "container-" + sessionID + "-0123456789abcdef" }
func networkID(sessionID string) string   { return "network-" + sessionID + "-0123456789abcdef" }

func (f *fakeSandbox) Create(ctx context.Context, spec sandbox.Spec) (sandbox.Box, error) {
	f.mu.Lock()
	enter, gate := f.createEnter, f.createGate
	f.creates = append(f.creates, spec)
	if err := f.createErr; err != nil {
		f.createErr = nil
		f.mu.Unlock()
		return sandbox.Box{}, err
	}
	f.mu.Unlock()
	if enter != nil {
		enter <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	box := sandbox.Box{ContainerID: containerID(spec.SessionID), NetworkID: networkID(spec.SessionID)}
	f.containers[box.ContainerID] = &fakeContainer{id: box.ContainerID, sessionID: spec.SessionID, networkID: box.NetworkID, running: true}
	f.networks[box.NetworkID] = spec.SessionID
	return box, nil
}

func (f *fakeSandbox) Remove(ctx context.Context, box sandbox.Box) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, box)
	delete(f.containers, box.ContainerID)
	delete(f.networks, box.NetworkID)
	if hook := f.onRemove; hook != nil {
		f.mu.Unlock()
		hook()
		f.mu.Lock()
	}
	return nil
}

func (f *fakeSandbox) DiskUsage(ctx context.Context, id string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.diskErr != nil {
		return 0, f.diskErr
	}
	if _, ok := f.containers[id]; !ok {
		return 0, opsdojo.Errorf(opsdojo.ENOTFOUND, "disk usage: not found")
	}
	return f.diskUsage[id], nil
}

func (f *fakeSandbox) ImagesUsage(ctx context.Context, sessionID string, ids []string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.diskErr != nil {
		return 0, f.diskErr
	}
	var n int64
	for _, id := range ids {
		n += f.imageBytes[id]
	}
	return n, nil
}

func (f *fakeSandbox) EnsureRunning(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensured = append(f.ensured, id)
	if err := f.ensureErr[id]; err != nil {
		return err
	}
	c, ok := f.containers[id]
	if !ok {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "ensure running: not found")
	}
	c.running = true
	return nil
}

func (f *fakeSandbox) Exec(ctx context.Context, id string, req sandbox.ExecRequest) (sandbox.ExecResult, error) {
	var stdin []byte
	if req.Stdin != nil {
		var err error
		if stdin, err = io.ReadAll(req.Stdin); err != nil {
			return sandbox.ExecResult{}, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, execCall{containerID: id, req: req, stdin: string(stdin)})
	if _, ok := f.containers[id]; !ok {
		return sandbox.ExecResult{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no container")
	}
	if f.execExit == nil {
		return sandbox.ExecResult{ExitCode: 0}, nil
	}
	code, out := f.execExit(req)
	return sandbox.ExecResult{ExitCode: code, Stdout: []byte(out)}, nil
}

func (f *fakeSandbox) OpenTTY(ctx context.Context, id string, req sandbox.TTYRequest) (sandbox.Terminal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[id]; !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no container")
	}
	f.ttys = append(f.ttys, ttyCall{containerID: id, req: req})
	return nopTerminal{}, nil
}

type ttyCall struct {
	containerID string
	req         sandbox.TTYRequest
}

type nopTerminal struct{}

func (nopTerminal) Read([]byte) (int, error)                 { return 0, io.EOF }
func (nopTerminal) Write(p []byte) (int, error)              { return len(p), nil }
func (nopTerminal) Close() error                             { return nil }
func (nopTerminal) Resize(context.Context, uint, uint) error { return nil }

func (f *fakeSandbox) Containers(ctx context.Context) ([]sandbox.Owned, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sandbox.Owned
	for _, c := range f.containers {
		out = append(out, sandbox.Owned{ID: c.id, SessionID: c.sessionID, Running: c.running})
	}
	return out, nil
}

func (f *fakeSandbox) Networks(ctx context.Context) ([]sandbox.Owned, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []sandbox.Owned
	for id, s := range f.networks {
		out = append(out, sandbox.Owned{ID: id, SessionID: s})
	}
	return out, nil
}

func (f *fakeSandbox) ReadFile(ctx context.Context, id, name string, limit int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, id+":"+name)
	if _, ok := f.containers[id]; !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no container")
	}
	body, ok := f.files[name]
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
	}
	return []byte(body), nil
}

func (f *fakeSandbox) Archive(ctx context.Context, id, dir string, w io.Writer, limit int64) error {
	return errors.New("not used in these tests")
}

func (f *fakeSandbox) RemoveSessionImages(ctx context.Context, sessionID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imagesRemoved = append(f.imagesRemoved, sessionID)
	return nil
}

func (f *fakeSandbox) Build(ctx context.Context, req grading.BuildRequest) (grading.BuildResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buildImages == nil {
		return grading.BuildResult{}, errors.New("not used in these tests")
	}
	return grading.BuildResult{ImageID: f.buildImages[len(f.buildImages)-1], Images: f.buildImages}, nil
}

func (f *fakeSandbox) Probe(ctx context.Context, req grading.ProbeRequest) (grading.ProbeResult, error) {
	return grading.ProbeResult{}, errors.New("not used in these tests")
}

func (f *fakeSandbox) RemoveImage(ctx context.Context, image string) error { return nil }
func (f *fakeSandbox) RemoveImages(ctx context.Context, ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imageIDsRemoved = append(f.imageIDsRemoved, ids...)
}

func (f *fakeSandbox) createCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.creates)
}

func (f *fakeSandbox) wasRemoved(containerID, networkID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.removed {
		if (containerID != "" && b.ContainerID == containerID) || (networkID != "" && b.NetworkID == networkID) {
			return true
		}
	}
	return false
}

func (f *fakeSandbox) dropContainer(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
}

// fakeImages tags every lab the same way; tag, when set, runs first.
type fakeImages struct {
	tag func(lab *labs.Lab) error
}

func (f *fakeImages) Tag(ctx context.Context, lab *labs.Lab) (string, error) {
	if f.tag != nil {
		if err := f.tag(lab); err != nil {
			return "", err
		}
	}
	return "opsdojo-lab-" + lab.ID + ":test", nil
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const checkScript = "test -f ~/done || { echo 'FAIL: not done'; exit 1; }\n"

func testCatalog() *labs.Catalog {
	mk := func(id string) *labs.Lab {
		return &labs.Lab{ID: id, Title: id, CapAdd: []string{"CHOWN"}, HomeDir: "/labs/" + id + "/home", Steps: []labs.Step{
			{ID: "init", Title: "Init", Checks: []labs.Check{{ID: "done", Title: "done", Kind: "exec", Points: 1, Hint: "touch ~/done", Timeout: 5 * time.Second, Script: checkScript}}},
			{ID: "branch", Title: "Branch", Checks: []labs.Check{{ID: "b", Title: "b", Kind: "exec", Points: 1, Timeout: 5 * time.Second, Script: "true\n"}}},
		}}
	}
	return labs.NewCatalog([]*labs.Lab{mk("git"), mk("docker"), mk("k8s"), mk("ci")})
}

type env struct {
	m      *Manager
	st     *store.Store
	box    *fakeSandbox
	images *fakeImages
	clock  *clock
	grader *grading.Runner
	alice  opsdojo.User
	bob    opsdojo.User
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "opsdojo.db"))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, box: newFakeSandbox(), images: &fakeImages{}, clock: &clock{t: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}}
	log := slog.New(slog.DiscardHandler)
	e.grader = grading.NewRunner(log)
	e.m = New(st, e.box, e.images, testCatalog(), e.grader, cfg, log)
	e.m.now = e.clock.now
	if e.alice, err = st.CreateUser(ctx, "alice", "x", false); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = st.CreateUser(ctx, "bob", "x", false); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) start(t *testing.T, u opsdojo.User, lab string) opsdojo.LabSession {
	t.Helper()
	s, err := e.m.Start(context.Background(), u, lab)
	if err != nil {
		t.Fatalf("Start(%s, %s): %v", u.Username, lab, err)
	}
	return s
}

func (e *env) stored(t *testing.T, id string) opsdojo.LabSession {
	t.Helper()
	s, err := e.st.LabSession(context.Background(), id)
	if err != nil {
		t.Fatalf("store.LabSession(%s): %v", id, err)
	}
	return s
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s", code)
	}
	if got := opsdojo.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %s, want %s", err, got, code)
	}
}

func TestStartCreatesSession(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour})
	s := e.start(t, e.alice, "git")
	if s.ID == "" || s.UserID != e.alice.ID || s.LabID != "git" || s.State != opsdojo.SessionRunning {
		t.Fatalf("Start = %+v", s)
	}
	if s.ContainerID != containerID(s.ID) || s.NetworkID != networkID(s.ID) {
		t.Fatalf("box ids = %q %q", s.ContainerID, s.NetworkID)
	}
	if !s.ExpiresAt.Equal(e.clock.now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v, want now+TTL", s.ExpiresAt)
	}
	if len(e.box.creates) != 1 {
		t.Fatalf("Create called %d times", len(e.box.creates))
	}
	spec := e.box.creates[0]
	if spec.SessionID != s.ID || spec.UserID != e.alice.ID || spec.LabID != "git" || spec.Image != "opsdojo-lab-git:test" ||
		!slices.Equal(spec.CapAdd, []string{"CHOWN"}) || spec.HomeDir != "/labs/git/home" {
		t.Fatalf("Create spec = %+v", spec)
	}
	got := e.stored(t, s.ID)
	if got.State != opsdojo.SessionRunning || got.ContainerID != s.ContainerID || got.NetworkID != s.NetworkID {
		t.Fatalf("stored session = %+v", got)
	}

	_, err := e.m.Start(context.Background(), e.alice, "no-such-lab")
	wantCode(t, err, opsdojo.ENOTFOUND)
}

func TestStartIdempotent(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour})
	first := e.start(t, e.alice, "git")
	e.clock.advance(10 * time.Minute)
	second := e.start(t, e.alice, "git")
	if second.ID != first.ID || second.ContainerID != first.ContainerID {
		t.Fatalf("second Start = %s/%s, want %s/%s", second.ID, second.ContainerID, first.ID, first.ContainerID)
	}
	if n := e.box.createCount(); n != 1 {
		t.Fatalf("Create called %d times, want 1", n)
	}
	if !slices.Contains(e.box.ensured, first.ContainerID) {
		t.Fatal("second Start did not make sure the container runs")
	}
	// The second start counts as activity.
	if want := e.clock.now().Add(time.Hour); !second.ExpiresAt.Equal(want) || !e.stored(t, first.ID).ExpiresAt.Equal(want) {
		t.Fatalf("expiry after second Start = %v (stored %v), want %v", second.ExpiresAt, e.stored(t, first.ID).ExpiresAt, want)
	}
	// Another user's start of the same lab is their own session.
	other := e.start(t, e.bob, "git")
	if other.ID == first.ID {
		t.Fatal("two users share a session")
	}
}

func TestStartConcurrentCreatesOneContainer(t *testing.T) {
	e := newEnv(t, Config{})
	const n = 10
	gate := make(chan struct{})
	e.box.createGate = gate
	e.box.createEnter = make(chan struct{}, n)
	var wg sync.WaitGroup
	results := make([]opsdojo.LabSession, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = e.m.Start(context.Background(), e.alice, "git")
		}(i)
	}
	// Hold the first Create open until it is reached, so every other Start
	// overlaps it.
	select {
	case <-e.box.createEnter:
	case <-time.After(hang):
		t.Fatal("no Start reached Create (hang)")
	}
	close(gate)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatal("concurrent Starts did not finish (deadlock)")
	}
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("Start #%d: %v", i, errs[i])
		}
		if results[i].ID != results[0].ID {
			t.Fatalf("Start #%d returned session %s, #0 returned %s", i, results[i].ID, results[0].ID)
		}
	}
	if c := e.box.createCount(); c != 1 {
		t.Fatalf("Create called %d times for concurrent starts, want 1", c)
	}
	if n, _ := e.st.CountLiveLabSessions(context.Background(), e.alice.ID); n != 1 {
		t.Fatalf("%d live sessions, want 1", n)
	}
}

func TestOtherUserCannotUseSession(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")

	_, err := e.m.Get(ctx, e.bob, s.ID)
	wantCode(t, err, opsdojo.ENOTFOUND)
	_, err = e.m.End(ctx, e.bob, s.ID)
	wantCode(t, err, opsdojo.ENOTFOUND)
	_, _, err = e.m.Check(ctx, e.bob, s.ID, "init")
	wantCode(t, err, opsdojo.ENOTFOUND)
	_, _, err = e.m.Terminal(ctx, e.bob, s.ID, 80, 24)
	wantCode(t, err, opsdojo.ENOTFOUND)

	// The same answer as for an id that does not exist, so ids cannot be probed.
	_, errMissing := e.m.Get(ctx, e.bob, "0000000000000000")
	_, errOther := e.m.Get(ctx, e.bob, s.ID)
	if opsdojo.ErrorMessage(errMissing) != opsdojo.ErrorMessage(errOther) {
		t.Fatalf("someone else's session (%q) is told apart from a missing one (%q)", opsdojo.ErrorMessage(errOther), opsdojo.ErrorMessage(errMissing))
	}

	if e.box.wasRemoved(s.ContainerID, "") || len(e.box.execs) != 0 {
		t.Fatal("another user's request touched the container")
	}
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("session state after the other user's End = %s", got.State)
	}
	if n, _ := e.st.AttemptCount(ctx, e.bob.ID, "git", "init"); n != 0 {
		t.Fatalf("the other user's Check recorded %d attempts", n)
	}
	// The owner still can.
	if got, err := e.m.Get(ctx, e.alice, s.ID); err != nil || got.ID != s.ID {
		t.Fatalf("owner Get = %+v, %v", got, err)
	}
}

func TestEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	ended, err := e.m.End(ctx, e.alice, s.ID)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	if ended.State != opsdojo.SessionEnded || e.stored(t, s.ID).State != opsdojo.SessionEnded {
		t.Fatalf("after End: returned %s, stored %s", ended.State, e.stored(t, s.ID).State)
	}
	if !e.box.wasRemoved(s.ContainerID, s.NetworkID) {
		t.Fatal("End did not remove the container")
	}
	if !slices.Contains(e.box.imagesRemoved, s.ID) {
		t.Fatal("End did not remove the session's build images")
	}
	removals := len(e.box.removed)
	// Ending again is a no-op.
	if again, err := e.m.End(ctx, e.alice, s.ID); err != nil || again.State != opsdojo.SessionEnded {
		t.Fatalf("second End = %+v, %v", again, err)
	}
	if len(e.box.removed) != removals {
		t.Fatal("second End removed again")
	}
	// A checked session that ended cannot be checked.
	_, _, err = e.m.Check(ctx, e.alice, s.ID, "init")
	wantCode(t, err, opsdojo.ECONFLICT)
	// A new start makes a new session.
	if next := e.start(t, e.alice, "git"); next.ID == s.ID {
		t.Fatal("Start after End returned the ended session")
	}
}

func TestMaxPerUser(t *testing.T) {
	e := newEnv(t, Config{MaxPerUser: 2})
	e.start(t, e.alice, "git")
	e.start(t, e.alice, "docker")
	_, err := e.m.Start(context.Background(), e.alice, "k8s")
	wantCode(t, err, opsdojo.ETOOMANY)
	if n := e.box.createCount(); n != 2 {
		t.Fatalf("Create called %d times, want 2", n)
	}
	// Re-starting a running lab is not a new one.
	e.start(t, e.alice, "git")
	// Others are not limited by alice's sessions.
	e.start(t, e.bob, "k8s")
	// Ending one frees a slot.
	live, _ := e.st.LiveLabSession(context.Background(), e.alice.ID, "docker")
	if _, err := e.m.End(context.Background(), e.alice, live.ID); err != nil {
		t.Fatal(err)
	}
	e.start(t, e.alice, "k8s")
}

// TestMaxPerUserConcurrentLabs starts two different labs at once for a
// learner allowed one: exactly one may succeed. Images.Tag, which Start calls
// after counting live sessions, waits until both starts have reached it (or
// a while has passed, when the manager correctly holds the second one back).
func TestMaxPerUserConcurrentLabs(t *testing.T) {
	e := newEnv(t, Config{MaxPerUser: 1})
	var mu sync.Mutex
	arrived := 0
	both := make(chan struct{})
	e.images.tag = func(lab *labs.Lab) error {
		mu.Lock()
		arrived++
		if arrived == 2 {
			close(both)
		}
		mu.Unlock()
		select {
		case <-both:
		case <-time.After(2 * time.Second):
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, lab := range []string{"git", "docker"} {
		wg.Add(1)
		go func(i int, lab string) {
			defer wg.Done()
			_, errs[i] = e.m.Start(context.Background(), e.alice, lab)
		}(i, lab)
	}
	wg.Wait()
	n, _ := e.st.CountLiveLabSessions(context.Background(), e.alice.ID)
	if n > 1 {
		t.Fatalf("MaxPerUser is 1 but concurrent starts of two labs left %d live sessions (errors: %v, %v)", n, errs[0], errs[1])
	}
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if opsdojo.ErrorCode(err) != opsdojo.ETOOMANY {
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d starts succeeded, want exactly 1 (errors: %v, %v)", ok, errs[0], errs[1])
	}
}

func TestStartCreateFails(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	boom := opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the Docker engine is not reachable")
	e.box.createErr = boom
	_, err := e.m.Start(ctx, e.alice, "git")
	if !errors.Is(err, boom) {
		t.Fatalf("Start error = %v, want it to wrap the Create error", err)
	}
	if code := opsdojo.ErrorCode(err); code != opsdojo.EUNAVAILABLE {
		t.Fatalf("code = %s, want the engine's %s", code, opsdojo.EUNAVAILABLE)
	}
	failedID := e.box.creates[0].SessionID
	if got := e.stored(t, failedID); got.State != opsdojo.SessionEnded {
		t.Fatalf("failed session left %s, want ended", got.State)
	}
	if _, err := e.st.LiveLabSession(ctx, e.alice.ID, "git"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("a live session remains after a failed start: %v", err)
	}
	// A later start works and is a new session.
	s := e.start(t, e.alice, "git")
	if s.ID == failedID || s.State != opsdojo.SessionRunning {
		t.Fatalf("Start after failure = %+v", s)
	}
}

func TestStartImageError(t *testing.T) {
	e := newEnv(t, Config{})
	e.images.tag = func(*labs.Lab) error { return opsdojo.Errorf(opsdojo.EUNAVAILABLE, "image not built") }
	_, err := e.m.Start(context.Background(), e.alice, "git")
	wantCode(t, err, opsdojo.EUNAVAILABLE)
	if e.box.createCount() != 0 {
		t.Fatal("Create called without an image")
	}
	if n, _ := e.st.CountLiveLabSessions(context.Background(), e.alice.ID); n != 0 {
		t.Fatalf("%d live sessions after an image failure", n)
	}
}

func TestStartReplacesVanishedContainer(t *testing.T) {
	e := newEnv(t, Config{})
	old := e.start(t, e.alice, "git")
	e.box.dropContainer(old.ContainerID) // someone ran docker rm
	s := e.start(t, e.alice, "git")
	if s.ID == old.ID || s.ContainerID == old.ContainerID {
		t.Fatalf("Start returned the session whose container is gone: %+v", s)
	}
	if s.State != opsdojo.SessionRunning {
		t.Fatalf("new session state %s", s.State)
	}
	if n := e.box.createCount(); n != 2 {
		t.Fatalf("Create called %d times, want 2", n)
	}
	if got := e.stored(t, old.ID); got.State != opsdojo.SessionLost {
		t.Fatalf("old session %s, want lost", got.State)
	}
	// Its network was cleaned up too.
	if !e.box.wasRemoved("", old.NetworkID) {
		t.Fatal("the lost session's network was not removed")
	}
}

func TestStartEngineDownKeepsSession(t *testing.T) {
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	e.box.ensureErr[s.ContainerID] = opsdojo.Errorf(opsdojo.EUNAVAILABLE, "engine down")
	_, err := e.m.Start(context.Background(), e.alice, "git")
	wantCode(t, err, opsdojo.EUNAVAILABLE)
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("an engine outage marked the session %s", got.State)
	}
	if e.box.createCount() != 1 {
		t.Fatal("an engine outage made a new container")
	}
}

func TestStartAfterStaleStarting(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	now := e.clock.now()
	stale := opsdojo.LabSession{ID: "stale0000000000a", UserID: e.alice.ID, LabID: "git", State: opsdojo.SessionStarting,
		CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateLabSession(ctx, stale); err != nil {
		t.Fatal(err)
	}
	s := e.start(t, e.alice, "git")
	if s.ID == stale.ID {
		t.Fatal("Start returned a session left starting by a dead server")
	}
	if got := e.stored(t, stale.ID); got.State != opsdojo.SessionEnded {
		t.Fatalf("stale session %s, want ended", got.State)
	}
}

func TestReap(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: 30 * time.Minute})
	idle := e.start(t, e.alice, "git")
	e.clock.advance(20 * time.Minute)
	busy := e.start(t, e.alice, "docker")
	e.clock.advance(5 * time.Minute)

	// Nothing has expired yet.
	if n, err := e.m.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("early Reap = %d, %v; want 0", n, err)
	}
	e.clock.advance(6 * time.Minute) // idle: 31 min old; busy: 11 min
	n, err := e.m.Reap(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1", n, err)
	}
	if got := e.stored(t, idle.ID); got.State != opsdojo.SessionExpired {
		t.Fatalf("idle session %s, want expired", got.State)
	}
	if !e.box.wasRemoved(idle.ContainerID, idle.NetworkID) {
		t.Fatal("Reap did not remove the expired container")
	}
	if !slices.Contains(e.box.imagesRemoved, idle.ID) || slices.Contains(e.box.imagesRemoved, busy.ID) {
		t.Fatalf("build images removed for %v, want only the reaped %s", e.box.imagesRemoved, idle.ID)
	}
	if got := e.stored(t, busy.ID); got.State != opsdojo.SessionRunning || e.box.wasRemoved(busy.ContainerID, "") {
		t.Fatalf("busy session reaped: %s", got.State)
	}

	// Activity pushes expiry out.
	e.m.Touch(ctx, busy)
	e.clock.advance(25 * time.Minute) // 36 min since start, 25 since touch
	if n, err := e.m.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("Reap after touch = %d, %v; want 0", n, err)
	}
	e.clock.advance(10 * time.Minute)
	if n, err := e.m.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("final Reap = %d, %v; want 1", n, err)
	}
	if n, _ := e.st.CountLiveLabSessions(ctx, e.alice.ID); n != 0 {
		t.Fatalf("%d live sessions after reaping everything", n)
	}
	// Reaping twice does nothing.
	if n, err := e.m.Reap(ctx); err != nil || n != 0 {
		t.Fatalf("Reap with nothing left = %d, %v", n, err)
	}
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{MaxPerUser: 10})
	adopted := e.start(t, e.alice, "git")
	stopped := e.start(t, e.alice, "docker")
	vanished := e.start(t, e.alice, "k8s")
	now := e.clock.now()
	starting := opsdojo.LabSession{ID: "starting00000000", UserID: e.bob.ID, LabID: "git", State: opsdojo.SessionStarting,
		CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateLabSession(ctx, starting); err != nil {
		t.Fatal(err)
	}
	ended := e.start(t, e.bob, "ci")
	if _, err := e.m.End(ctx, e.bob, ended.ID); err != nil {
		t.Fatal(err)
	}

	// The engine after a restart: one container stopped, one gone, orphans.
	e.box.mu.Lock()
	e.box.containers[stopped.ContainerID].running = false
	delete(e.box.containers, vanished.ContainerID)
	e.box.removed = nil
	orphan := "orphan-container-0123456789abcdef"
	e.box.containers[orphan] = &fakeContainer{id: orphan, sessionID: "unknown-session", running: true}
	ghostOfEnded := "ended-container-0123456789abcdef"
	e.box.containers[ghostOfEnded] = &fakeContainer{id: ghostOfEnded, sessionID: ended.ID, running: true}
	// A second container labelled with a live session but not the one the
	// database knows (say, from a start that died half way).
	stale := "stale-container-0123456789abcdef"
	e.box.containers[stale] = &fakeContainer{id: stale, sessionID: adopted.ID, running: true}
	e.box.networks["orphan-network-0123456789abcdef"] = "unknown-session"
	e.box.networks["ended-network-0123456789abcdef"] = ended.ID
	e.box.mu.Unlock()

	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}

	// Known, running: adopted untouched.
	if got := e.stored(t, adopted.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("adopted session %s", got.State)
	}
	if e.box.wasRemoved(adopted.ContainerID, adopted.NetworkID) {
		t.Fatal("Reconcile removed an adopted container or its network")
	}
	// Known, stopped: started again and kept.
	if got := e.stored(t, stopped.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("stopped session %s", got.State)
	}
	if !slices.Contains(e.box.ensured, stopped.ContainerID) {
		t.Fatal("Reconcile did not restart a stopped container")
	}
	if e.box.wasRemoved(stopped.ContainerID, stopped.NetworkID) {
		t.Fatal("Reconcile removed the stopped session's container")
	}
	// Known, container gone: lost, its network removed.
	if got := e.stored(t, vanished.ID); got.State != opsdojo.SessionLost || got.EndReason != "its container was removed outside opsdojo" {
		t.Fatalf("vanished session %s %q, want lost with a reason", got.State, got.EndReason)
	}
	if !e.box.wasRemoved("", vanished.NetworkID) {
		t.Fatal("the vanished session's network was kept")
	}
	// Left starting: ended.
	if got := e.stored(t, starting.ID); got.State != opsdojo.SessionEnded {
		t.Fatalf("starting session %s, want ended", got.State)
	}
	for _, id := range []string{vanished.ID, starting.ID} {
		if !slices.Contains(e.box.imagesRemoved, id) {
			t.Errorf("build images of finished session %s kept", id)
		}
	}
	for _, id := range []string{adopted.ID, stopped.ID} {
		if slices.Contains(e.box.imagesRemoved, id) {
			t.Errorf("build images of adopted session %s removed", id)
		}
	}
	// Orphans of every kind removed.
	for _, id := range []string{orphan, ghostOfEnded, stale} {
		if !e.box.wasRemoved(id, "") {
			t.Errorf("orphan container %s kept", id)
		}
	}
	for _, id := range []string{"orphan-network-0123456789abcdef", "ended-network-0123456789abcdef"} {
		if !e.box.wasRemoved("", id) {
			t.Errorf("orphan network %s kept", id)
		}
	}
	// The ended session stays ended.
	if got := e.stored(t, ended.ID); got.State != opsdojo.SessionEnded {
		t.Fatalf("ended session became %s", got.State)
	}

	// A second reconcile changes nothing more.
	e.box.mu.Lock()
	e.box.removed = nil
	e.box.mu.Unlock()
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatalf("second Reconcile: %v", err)
	}
	if len(e.box.removed) != 0 {
		t.Fatalf("second Reconcile removed %v", e.box.removed)
	}
	live, _ := e.st.LiveLabSessions(ctx)
	var ids []string
	for _, s := range live {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	want := []string{adopted.ID, stopped.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("live sessions after reconcile = %v, want %v", ids, want)
	}
	// Adopted sessions are usable: Start returns them without a new container.
	creates := e.box.createCount()
	if s := e.start(t, e.alice, "git"); s.ID != adopted.ID || e.box.createCount() != creates {
		t.Fatalf("Start after reconcile = %s (creates %d→%d), want adopted %s", s.ID, creates, e.box.createCount(), adopted.ID)
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour})
	done := false
	e.box.execExit = func(req sandbox.ExecRequest) (int, string) {
		if len(req.Cmd) < 2 || !slices.Contains(req.Cmd, "/usr/bin/timeout") || strings.Join(req.Cmd[len(req.Cmd)-2:], " ") != "--norc -s" {
			return 127, "unexpected command " + fmt.Sprint(req.Cmd)
		}
		if done {
			return 0, "ok\n"
		}
		return 1, "FAIL: ~/done is missing\nHINT: create it\n"
	}
	s := e.start(t, e.alice, "git")

	e.clock.advance(10 * time.Minute)
	res, p, err := e.m.Check(ctx, e.alice, s.ID, "init")
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if res.Status != opsdojo.StatusFail || res.StepID != "init" {
		t.Fatalf("result = %s %s, want init fail", res.StepID, res.Status)
	}
	if !slices.Equal(res.Messages(), []string{"~/done is missing"}) || !slices.Equal(res.Hints(), []string{"create it", "touch ~/done"}) {
		t.Fatalf("messages %q, hints %q", res.Messages(), res.Hints())
	}
	if p.Passed["init"] {
		t.Fatal("progress shows init passed after a fail")
	}
	// The exec ran in this session's container, as root, with the script on stdin.
	if len(e.box.execs) != 1 {
		t.Fatalf("%d execs, want 1", len(e.box.execs))
	}
	x := e.box.execs[0]
	if x.containerID != s.ContainerID || x.req.User != grading.GraderUser || !strings.HasSuffix(x.stdin, checkScript) {
		t.Fatalf("exec = container %s user %s stdin %q", x.containerID, x.req.User, x.stdin)
	}
	// Checking is activity.
	if got := e.stored(t, s.ID); !got.ExpiresAt.Equal(e.clock.now().Add(time.Hour)) {
		t.Fatalf("Check did not push the expiry out: %v", got.ExpiresAt)
	}

	done = true
	res, p, err = e.m.Check(ctx, e.alice, s.ID, "init")
	if err != nil || res.Status != opsdojo.StatusPass || res.Points != 1 {
		t.Fatalf("Check after fix = %s %v, %v", res.Status, res.Points, err)
	}
	if !p.Passed["init"] || p.Passed["branch"] {
		t.Fatalf("progress = %v, want init only", p.Passed)
	}
	if n, _ := e.st.AttemptCount(ctx, e.alice.ID, "git", "init"); n != 2 {
		t.Fatalf("attempts recorded = %d, want 2", n)
	}
	// Progress is per lab and per user, and survives through the manager.
	if mp, err := e.m.Progress(ctx, e.alice, "git"); err != nil || !mp.Passed["init"] {
		t.Fatalf("Manager.Progress = %v, %v", mp.Passed, err)
	}
	if bp, _ := e.m.Progress(ctx, e.bob, "git"); len(bp.Passed) != 0 {
		t.Fatalf("bob's progress = %v", bp.Passed)
	}
	// A later fail keeps the pass.
	done = false
	_, p, err = e.m.Check(ctx, e.alice, s.ID, "init")
	if err != nil || !p.Passed["init"] {
		t.Fatalf("a later fail lost the pass: %v, %v", p.Passed, err)
	}

	_, _, err = e.m.Check(ctx, e.alice, s.ID, "no-such-step")
	wantCode(t, err, opsdojo.ENOTFOUND)
}

func TestCheckGraderErrorNotCharged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	e.box.execExit = func(sandbox.ExecRequest) (int, string) { return 2, "syntax error\n" }
	s := e.start(t, e.alice, "git")
	res, p, err := e.m.Check(ctx, e.alice, s.ID, "init")
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if res.Status != opsdojo.StatusError || p.Passed["init"] {
		t.Fatalf("result %s, progress %v", res.Status, p.Passed)
	}
	// Kept for instructors, but not counted against the learner.
	if n, _ := e.st.AttemptCount(ctx, e.alice.ID, "git", "init"); n != 1 {
		t.Fatalf("attempt rows = %d, want 1", n)
	}
}

// A check in a session whose container is gone loses the session with a
// reason the learner sees, charges nothing, and the next start makes a
// new session with the progress kept.
func TestCheckVanishedContainerLosesSession(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	if _, _, err := e.m.Check(ctx, e.alice, s.ID, "init"); err != nil {
		t.Fatal(err)
	}
	e.box.dropContainer(s.ContainerID)
	_, _, err := e.m.Check(ctx, e.alice, s.ID, "init")
	wantCode(t, err, opsdojo.ECONFLICT)
	if msg := opsdojo.ErrorMessage(err); !strings.Contains(msg, "lost") || !strings.Contains(msg, "removed outside opsdojo") || !strings.Contains(msg, "progress is kept") {
		t.Fatalf("message %q", msg)
	}
	got := e.stored(t, s.ID)
	if got.State != opsdojo.SessionLost || got.EndReason != "its container was removed outside opsdojo" {
		t.Fatalf("session after the check: %s %q", got.State, got.EndReason)
	}
	if n, _ := e.st.AttemptCount(ctx, e.alice.ID, "git", "init"); n != 1 {
		t.Fatalf("attempt rows = %d, want 1 (the lost check is not charged)", n)
	}
	again := e.start(t, e.alice, "git")
	if again.ID == s.ID || again.State != opsdojo.SessionRunning {
		t.Fatalf("start after loss: %+v", again)
	}
	p, err := e.m.Progress(ctx, e.alice, "git")
	if err != nil || !p.Passed["init"] {
		t.Fatalf("progress after loss: %+v %v", p, err)
	}
}

// A stopped container is started again before a check runs in it: the
// learner's files live in it.
func TestCheckRestartsStoppedContainer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.containers[s.ContainerID].running = false
	e.box.ensured = nil
	e.box.mu.Unlock()
	res, _, err := e.m.Check(ctx, e.alice, s.ID, "init")
	if err != nil || res.Status != opsdojo.StatusPass {
		t.Fatalf("Check: %v %+v", err, res)
	}
	if !slices.Contains(e.box.ensured, s.ContainerID) || e.box.wasRemoved(s.ContainerID, "") {
		t.Fatalf("container not restarted in place: ensured %v", e.box.ensured)
	}
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("session %s", got.State)
	}
}

// A container that will not start again loses the session, with why; an
// engine outage does not.
func TestCheckContainerThatWontRunLosesSession(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.ensureErr[s.ContainerID] = opsdojo.WrapError(opsdojo.EUNAVAILABLE, errors.New("dial unix"), "the Docker engine is not reachable")
	e.box.mu.Unlock()
	_, _, err := e.m.Check(ctx, e.alice, s.ID, "init")
	wantCode(t, err, opsdojo.EUNAVAILABLE)
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("engine outage lost the session: %s", got.State)
	}
	e.box.mu.Lock()
	e.box.ensureErr[s.ContainerID] = fmt.Errorf("%w: %w", sandbox.ErrWontRun, opsdojo.Errorf(opsdojo.ENOTFOUND, "network opsdojo-x not found"))
	e.box.mu.Unlock()
	_, _, err = e.m.Check(ctx, e.alice, s.ID, "init")
	wantCode(t, err, opsdojo.ECONFLICT)
	got := e.stored(t, s.ID)
	if got.State != opsdojo.SessionLost || got.EndReason != "its container stopped and could not be started again" {
		t.Fatalf("session: %s %q", got.State, got.EndReason)
	}
	if !e.box.wasRemoved(s.ContainerID, s.NetworkID) {
		t.Fatal("the lost session's container was kept")
	}
}

func TestCheckCancelledNotRecorded(t *testing.T) {
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	ctx, cancel := context.WithCancel(context.Background())
	e.box.execExit = func(sandbox.ExecRequest) (int, string) {
		cancel() // the learner closed the tab mid-check
		return 1, "FAIL: interrupted\n"
	}
	_, _, err := e.m.Check(ctx, e.alice, s.ID, "init")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Check with a cancelled request = %v, want context.Canceled", err)
	}
	if n, _ := e.st.AttemptCount(context.Background(), e.alice.ID, "git", "init"); n != 0 {
		t.Fatalf("a cancelled check recorded %d attempts", n)
	}
}

func TestRunReconcilesThenStops(t *testing.T) {
	e := newEnv(t, Config{ReapInterval: time.Hour})
	e.box.mu.Lock()
	orphan := "orphan-container-0123456789abcdef"
	e.box.containers[orphan] = &fakeContainer{id: orphan, sessionID: "x", running: true}
	e.box.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() { e.m.Run(ctx); close(finished) }()
	deadline := time.After(hang)
	for !e.box.wasRemoved(orphan, "") {
		select {
		case <-deadline:
			t.Fatal("Run did not reconcile (hang)")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case <-finished:
	case <-time.After(hang):
		t.Fatal("Run did not stop when its context ended (hang)")
	}
}

func TestTerminal(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour})
	s := e.start(t, e.alice, "git")
	e.clock.advance(15 * time.Minute)
	got, term, err := e.m.Terminal(ctx, e.alice, s.ID, 120, 30)
	if err != nil {
		t.Fatalf("Terminal: %v", err)
	}
	if term == nil || got.ID != s.ID {
		t.Fatalf("Terminal = %+v, %v", got, term)
	}
	if len(e.box.ttys) != 1 {
		t.Fatalf("OpenTTY called %d times", len(e.box.ttys))
	}
	call := e.box.ttys[0]
	if call.containerID != s.ContainerID || call.req.User != sandbox.LearnerUser || call.req.WorkDir != sandbox.LearnerHome ||
		call.req.Cols != 120 || call.req.Rows != 30 || !slices.Contains(call.req.Env, "HOME="+sandbox.LearnerHome) {
		t.Fatalf("OpenTTY(%s, %+v)", call.containerID, call.req)
	}
	if call.req.User == "root" {
		t.Fatal("the learner's shell runs as root")
	}
	if !got.ExpiresAt.Equal(e.clock.now().Add(time.Hour)) {
		t.Fatalf("opening a terminal did not count as activity: %v", got.ExpiresAt)
	}
	// A stopped container is started first; a vanished one is an error.
	if !slices.Contains(e.box.ensured, s.ContainerID) {
		t.Fatal("Terminal did not ensure the container runs")
	}
	e.box.dropContainer(s.ContainerID)
	_, _, err = e.m.Terminal(ctx, e.alice, s.ID, 80, 24)
	wantCode(t, err, opsdojo.ECONFLICT)
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionLost || got.EndReason == "" {
		t.Fatalf("session with a vanished container: %s %q", got.State, got.EndReason)
	}
	// Ended sessions have no terminal.
	if _, err := e.m.End(ctx, e.alice, s.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.m.Terminal(ctx, e.alice, s.ID, 80, 24)
	wantCode(t, err, opsdojo.ECONFLICT)
}

// fileChecker is a file-based kind: it passes when the learner's file
// named by the check's title exists, and records what it was given.
type fileChecker struct {
	mu     sync.Mutex
	inputs []grading.Input
}

func (f *fileChecker) Check(ctx context.Context, in grading.Input) opsdojo.CheckResult {
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.mu.Unlock()
	if _, err := in.Files.ReadFile(ctx, in.Check.Title, 1<<20); err != nil {
		return opsdojo.CheckResult{Status: opsdojo.StatusFail, Messages: []string{opsdojo.ErrorMessage(err)}}
	}
	return opsdojo.CheckResult{Status: opsdojo.StatusPass}
}

func TestCheckTargetsSessionContainer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	fc := &fileChecker{}
	e.grader.Register("file", fc)
	lab, _ := e.m.Labs().Get("git")
	lab.Steps = append(lab.Steps, labs.Step{ID: "files", Title: "Files", Checks: []labs.Check{{ID: "readme", Title: "project/README.md", Kind: "file", Points: 1}}})
	s := e.start(t, e.alice, "git")
	other := e.start(t, e.bob, "git")

	res, p, err := e.m.Check(ctx, e.alice, s.ID, "files")
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if res.Status != opsdojo.StatusFail || p.Passed["files"] {
		t.Fatalf("missing file: %s, progress %v", res.Status, p.Passed)
	}
	e.box.mu.Lock()
	e.box.files = map[string]string{"project/README.md": "# hello\n"}
	e.box.mu.Unlock()
	res, p, err = e.m.Check(ctx, e.alice, s.ID, "files")
	if err != nil || res.Status != opsdojo.StatusPass || !p.Passed["files"] {
		t.Fatalf("present file: %s, %v, %v", res.Status, p.Passed, err)
	}
	for _, r := range e.box.reads {
		if !strings.HasPrefix(r, s.ContainerID+":") {
			t.Fatalf("read %q outside alice's container %s (bob's is %s)", r, s.ContainerID, other.ContainerID)
		}
	}
	in := fc.inputs[len(fc.inputs)-1]
	if in.Session != s.ID || in.Engine == nil || in.Container == nil || in.Lab.ID != "git" || in.Step.ID != "files" {
		t.Fatalf("checker input: session %q engine %v container %v lab %q step %q", in.Session, in.Engine != nil, in.Container != nil, in.Lab.ID, in.Step.ID)
	}
}

func TestRevealHint(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	lab, _ := e.m.Labs().Get("git")
	lab.Steps[0].Hints = []string{"first hint", "second hint"}

	for i, want := range []int{1, 2, 2, 2} {
		n, err := e.m.RevealHint(ctx, e.alice, "git", "init")
		if err != nil {
			t.Fatalf("RevealHint #%d: %v", i, err)
		}
		if n != want {
			t.Fatalf("RevealHint #%d = %d, want %d (never more than the step has)", i, n, want)
		}
	}
	p, err := e.m.Progress(ctx, e.alice, "git")
	if err != nil || p.HintsShown["init"] != 2 {
		t.Fatalf("HintsShown = %v, %v", p.HintsShown, err)
	}
	if p, _ := e.m.Progress(ctx, e.bob, "git"); p.HintsShown["init"] != 0 {
		t.Fatalf("bob's HintsShown = %v", p.HintsShown)
	}
	// A step without hints reveals nothing.
	if n, err := e.m.RevealHint(ctx, e.alice, "git", "branch"); err != nil || n != 0 {
		t.Fatalf("RevealHint on a step without hints = %d, %v", n, err)
	}
	_, err = e.m.RevealHint(ctx, e.alice, "git", "nope")
	wantCode(t, err, opsdojo.ENOTFOUND)
	_, err = e.m.RevealHint(ctx, e.alice, "nope", "init")
	wantCode(t, err, opsdojo.ENOTFOUND)
}

func TestMaxPoints(t *testing.T) {
	lab, _ := testCatalog().Get("git")
	if got := MaxPoints(lab); got != 2 {
		t.Fatalf("MaxPoints = %v, want 2", got)
	}
	if got := MaxPoints(&labs.Lab{}); got != 0 {
		t.Fatalf("MaxPoints(empty) = %v", got)
	}
}

// After a restart, a stopped container that will not start again loses
// its session with the reason; Reconcile does not fail on it every tick.
func TestReconcileLosesContainerThatWontRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.containers[s.ContainerID].running = false
	e.box.ensureErr[s.ContainerID] = fmt.Errorf("%w: %w", sandbox.ErrWontRun, errors.New("network not found"))
	e.box.mu.Unlock()
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	got := e.stored(t, s.ID)
	if got.State != opsdojo.SessionLost || got.EndReason != "its container stopped and could not be started again" {
		t.Fatalf("session: %s %q", got.State, got.EndReason)
	}
	if !e.box.wasRemoved(s.ContainerID, s.NetworkID) {
		t.Fatal("the lost session's container was kept")
	}
}

// A container an operator paused is adopted as it is, not retried as an
// error on every tick.
func TestReconcileAdoptsPausedContainer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	s := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.containers[s.ContainerID].running = false
	e.box.ensureErr[s.ContainerID] = opsdojo.Errorf(opsdojo.ECONFLICT, "the lab's container is paused")
	e.box.mu.Unlock()
	if err := e.m.Reconcile(ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning || e.box.wasRemoved(s.ContainerID, "") {
		t.Fatalf("paused session: %s, removed %v", got.State, e.box.wasRemoved(s.ContainerID, ""))
	}
}
