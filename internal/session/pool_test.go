package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// tagImages is an Images whose tag the test can change (a lab's image
// rebuilt with new content).
type tagImages struct {
	mu  sync.Mutex
	tag string
}

func (f *tagImages) Tag(ctx context.Context, lab *labs.Lab) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "opsdojo/lab-" + lab.ID + ":" + f.tag, nil
}

func (f *tagImages) set(tag string) {
	f.mu.Lock()
	f.tag = tag
	f.mu.Unlock()
}

func newPoolEnv(t *testing.T, sizes map[string]int, adm AdmissionConfig) (*env, *tagImages) {
	t.Helper()
	e := newEnv(t, Config{TTL: time.Hour, MaxPerUser: 100})
	img := &tagImages{tag: "v1"}
	e.m.images = img
	e.m.SetPool(e.st, PoolConfig{Sizes: sizes}, adm)
	return e, img
}

func (e *env) users(t *testing.T, n int) []opsdojo.User {
	t.Helper()
	out := make([]opsdojo.User, n)
	for i := range out {
		u, err := e.st.CreateUser(context.Background(), fmt.Sprintf("learner%d", i), "x", false)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = u
	}
	return out
}

func (e *env) poolBoxes(t *testing.T) []opsdojo.PoolBox {
	t.Helper()
	b, err := e.st.PoolBoxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *env) fillPool(t *testing.T) {
	t.Helper()
	e.clock.advance(time.Minute) // past the quiet time after starts
	if err := e.m.poolPass(context.Background()); err != nil {
		t.Fatalf("poolPass: %v", err)
	}
}

// A start with a ready box claims it instead of creating a container, and
// the box was made from exactly the spec a fresh start of that learner
// would have used, under the id that becomes the session's.
func TestPoolStartClaimsABoxMadeLikeAFreshOne(t *testing.T) {
	e, _ := newPoolEnv(t, map[string]int{"git": 2}, AdmissionConfig{})
	e.fillPool(t)
	boxes := e.poolBoxes(t)
	if len(boxes) != 2 || e.m.PoolReady("git") != 2 {
		t.Fatalf("pool after a pass: %+v (ready %d)", boxes, e.m.PoolReady("git"))
	}
	creates := e.box.createCount()
	s := e.start(t, e.alice, "git")
	if e.box.createCount() != creates {
		t.Fatal("a start with a ready box created a container")
	}
	if s.ID != boxes[0].ID || s.ContainerID != containerID(s.ID) || s.NetworkID != networkID(s.ID) || s.State != opsdojo.SessionRunning || s.UserID != e.alice.ID {
		t.Fatalf("claimed session %+v, want the oldest box %+v", s, boxes[0])
	}
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning || got.ContainerID != s.ContainerID {
		t.Fatalf("stored %+v", got)
	}
	var boxSpec sandbox.Spec
	for _, sp := range e.box.creates {
		if sp.SessionID == s.ID {
			boxSpec = sp
		}
	}
	lab, _ := e.m.labs.Get("git")
	fresh := e.m.spec(s.ID, e.alice.ID, lab, "opsdojo/lab-git:v1")
	fresh.UserID = 0 // the one field not put on the container (ownership is in the database)
	if fmt.Sprint(boxSpec) != fmt.Sprint(fresh) {
		t.Fatalf("pool box spec %+v\nfresh spec    %+v", boxSpec, fresh)
	}
	if left := e.poolBoxes(t); len(left) != 1 || left[0].ID == s.ID {
		t.Fatalf("pool after the claim: %+v", left)
	}
	// Same learner again: the same session, no second claim.
	if again := e.start(t, e.alice, "git"); again.ID != s.ID || len(e.poolBoxes(t)) != 1 {
		t.Fatalf("second start %+v, pool %+v", again, e.poolBoxes(t))
	}
	// The pool refills what was claimed.
	e.fillPool(t)
	if n := len(e.poolBoxes(t)); n != 2 || e.box.createCount() != creates+1 {
		t.Fatalf("after refill: %d boxes, %d creates", n, e.box.createCount())
	}
	// Ending the session removes the claimed container: it never goes back.
	if _, err := e.m.End(context.Background(), e.alice, s.ID); err != nil {
		t.Fatal(err)
	}
	for _, b := range e.poolBoxes(t) {
		if b.ID == s.ID {
			t.Fatal("an ended session's box is back in the pool")
		}
	}
	if !e.box.wasRemoved(s.ContainerID, s.NetworkID) {
		t.Fatal("ended session's container not removed")
	}
}

// A class arrives at once with fewer boxes than learners: every learner
// gets a session, no container serves two of them, the boxes go first.
func TestPoolConcurrentStartsNeverShareABox(t *testing.T) {
	e, _ := newPoolEnv(t, map[string]int{"git": 5}, AdmissionConfig{MaxCreates: 3, Wait: hang})
	e.fillPool(t)
	us := e.users(t, 12)
	var wg sync.WaitGroup
	got := make([]opsdojo.LabSession, len(us))
	errs := make([]error, len(us))
	for i, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = e.m.Start(context.Background(), u, "git")
		}()
	}
	wg.Wait()
	containers := map[string]int64{}
	for i := range us {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if prev, dup := containers[got[i].ContainerID]; dup {
			t.Fatalf("container %s given to users %d and %d", got[i].ContainerID, prev, us[i].ID)
		}
		containers[got[i].ContainerID] = us[i].ID
	}
	if n := len(e.poolBoxes(t)); n != 0 {
		t.Fatalf("%d boxes left while learners created containers", n)
	}
	if e.box.createCount() != 5+7 {
		t.Fatalf("%d creates, want 5 boxes + 7 fresh", e.box.createCount())
	}
}

// A new image for a lab (its content hash changed) drains the old boxes;
// a start never gets a box of the old image.
func TestPoolDrainsOnImageChange(t *testing.T) {
	e, img := newPoolEnv(t, map[string]int{"git": 2, "ci": 1}, AdmissionConfig{})
	e.fillPool(t)
	old := e.poolBoxes(t)
	img.set("v2")
	s := e.start(t, e.alice, "git")
	for _, b := range old {
		if b.ID == s.ID {
			t.Fatal("a start claimed a box of the lab's old image")
		}
	}
	e.fillPool(t)
	boxes := e.poolBoxes(t)
	if len(boxes) != 3 {
		t.Fatalf("after the pass: %+v", boxes)
	}
	for _, b := range boxes {
		if b.Image != "opsdojo/lab-"+b.LabID+":v2" {
			t.Fatalf("box of an old image kept: %+v", b)
		}
	}
	for _, b := range old {
		if !e.box.wasRemoved(b.ContainerID, b.NetworkID) {
			t.Fatalf("old box %s not removed", b.ID)
		}
	}
	// A size lowered to zero drains the lab.
	e.m.pool.cfg.Targets = func(context.Context) map[string]int { return map[string]int{"git": 2} }
	e.fillPool(t)
	for _, b := range e.poolBoxes(t) {
		if b.LabID == "ci" {
			t.Fatalf("unpooled lab's box kept: %+v", b)
		}
	}
}

// A box whose container died while it waited is not handed out: that
// claim ends and the learner gets a fresh container.
func TestPoolDeadBoxFallsBackToCreate(t *testing.T) {
	e, _ := newPoolEnv(t, map[string]int{"git": 1}, AdmissionConfig{})
	e.fillPool(t)
	dead := e.poolBoxes(t)[0]
	e.box.ensureErr[dead.ContainerID] = fmt.Errorf("%w: exited", sandbox.ErrWontRun)
	s := e.start(t, e.alice, "git")
	if s.ID == dead.ID || s.ContainerID == dead.ContainerID {
		t.Fatalf("learner got the dead box: %+v", s)
	}
	if got := e.stored(t, dead.ID); got.State != opsdojo.SessionEnded {
		t.Fatalf("dead box's session %+v, want ended", got)
	}
	if !e.box.wasRemoved(dead.ContainerID, dead.NetworkID) {
		t.Fatal("dead box not removed")
	}
}

// After a restart: ready boxes whose containers exist are adopted (not
// swept as orphans), boxes whose containers vanished are forgotten, a box
// a crash left half-made is removed with its container, and a box claimed
// just before the crash is the learner's session, not the pool's.
func TestPoolReconcileAfterRestart(t *testing.T) {
	e, _ := newPoolEnv(t, map[string]int{"git": 3}, AdmissionConfig{})
	e.fillPool(t)
	boxes := e.poolBoxes(t)
	claimed := e.start(t, e.alice, "git") // boxes[0]
	gone := boxes[1]
	e.box.dropContainer(gone.ContainerID)
	kept := boxes[2]
	// A crash mid-fill: the row says creating, the engine has a container.
	ctx := context.Background()
	half := opsdojo.PoolBox{ID: "halfmade", LabID: "git", Image: "opsdojo/lab-git:v1", State: opsdojo.PoolCreating, CreatedAt: e.clock.now()}
	if err := e.st.AddPoolBox(ctx, half); err != nil {
		t.Fatal(err)
	}
	lab, _ := e.m.labs.Get("git")
	if _, err := e.box.Create(ctx, e.m.spec(half.ID, 0, lab, half.Image)); err != nil {
		t.Fatal(err)
	}

	// A new server on the same database and engine.
	restarted := New(e.st, e.box, e.m.images, testCatalog(), e.grader, Config{TTL: time.Hour}, slog.New(slog.DiscardHandler))
	restarted.now = e.clock.now
	restarted.SetPool(e.st, PoolConfig{Sizes: map[string]int{"git": 3}}, AdmissionConfig{})
	if err := restarted.Reconcile(ctx); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	left := e.poolBoxes(t)
	if len(left) != 1 || left[0].ID != kept.ID {
		t.Fatalf("pool after reconcile: %+v, want only %s", left, kept.ID)
	}
	if e.box.wasRemoved(kept.ContainerID, kept.NetworkID) {
		t.Fatal("an adopted box's container or network was removed")
	}
	if !e.box.wasRemoved(containerID(half.ID), networkID(half.ID)) {
		t.Fatal("half-made box's container not removed")
	}
	if got := e.stored(t, claimed.ID); got.State != opsdojo.SessionRunning || e.box.wasRemoved(claimed.ContainerID, "") {
		t.Fatalf("claimed box after restart: %+v", got)
	}
	if err := restarted.poolPass(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(e.poolBoxes(t)); n != 3 {
		t.Fatalf("pool refilled to %d, want 3", n)
	}
}

// With one create slot busy, the next learners are told their place in
// line rather than left waiting; they keep it by asking again and are
// admitted in order once the slot frees.
func TestAdmissionQueuePosition(t *testing.T) {
	e, _ := newPoolEnv(t, nil, AdmissionConfig{MaxCreates: 1, Wait: 20 * time.Millisecond})
	us := e.users(t, 2)
	gate, enter := make(chan struct{}), make(chan struct{}, 1)
	e.box.mu.Lock()
	e.box.createGate, e.box.createEnter = gate, enter
	e.box.mu.Unlock()
	first := make(chan error, 1)
	go func() { _, err := e.m.Start(context.Background(), e.alice, "git"); first <- err }()
	<-enter
	for i, u := range us {
		_, err := e.m.Start(context.Background(), u, "git")
		var q *opsdojo.QueuedError
		if !errors.As(err, &q) || q.Position != i+1 {
			t.Fatalf("learner %d: %v, want queued at %d", i, err, i+1)
		}
	}
	// Asking again keeps the place.
	_, err := e.m.Start(context.Background(), us[1], "git")
	var q *opsdojo.QueuedError
	if !errors.As(err, &q) || q.Position != 2 || e.m.QueueLength() != 2 {
		t.Fatalf("second learner asking again: %v (queue %d)", err, e.m.QueueLength())
	}
	close(gate)
	e.box.mu.Lock()
	e.box.createEnter = nil
	e.box.mu.Unlock()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Then both are admitted in turn.
	for _, u := range us {
		if _, err := e.m.Start(context.Background(), u, "git"); err != nil {
			t.Fatalf("start after the slot freed: %v", err)
		}
	}
	if e.m.QueueLength() != 0 {
		t.Fatalf("queue %d after everyone started", e.m.QueueLength())
	}
}

// At the global cap a learner is queued with the cap as the reason, and
// goes in once a session ends. A learner who stops asking loses the place.
func TestAdmissionLiveCap(t *testing.T) {
	e, _ := newPoolEnv(t, nil, AdmissionConfig{MaxLive: 1, Wait: 20 * time.Millisecond, TicketTTL: time.Minute})
	s := e.start(t, e.alice, "git")
	us := e.users(t, 2)
	_, err := e.m.Start(context.Background(), us[0], "git")
	var q *opsdojo.QueuedError
	if !errors.As(err, &q) || q.Position != 1 || q.Reason != "the server runs its maximum of 1 lab sessions" {
		t.Fatalf("at the cap: %v", err)
	}
	// Alice's own session is not held up by the queue.
	if again := e.start(t, e.alice, "git"); again.ID != s.ID {
		t.Fatalf("alice's second start %+v", again)
	}
	// us[0] stops asking; after the ticket's lifetime us[1] is first.
	e.clock.advance(2 * time.Minute)
	if _, err := e.m.Start(context.Background(), us[1], "git"); !errors.As(err, &q) || q.Position != 1 {
		t.Fatalf("after the first in line left: %v", err)
	}
	if _, err := e.m.End(context.Background(), e.alice, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Start(context.Background(), us[1], "git"); err != nil {
		t.Fatalf("after a session ended: %v", err)
	}
}

// A refill never keeps a learner from a create slot: a learner who needs
// the slot cancels the refill, and no refill starts while anyone waits.
func TestAdmissionLiveStartsBeforeRefills(t *testing.T) {
	c := &clock{t: time.Now()}
	a := newAdmission(AdmissionConfig{MaxCreates: 1, Wait: hang, RefillQuiet: time.Minute}, nil, func(string) int { return 0 }, c.now)
	rctx, done, ok := a.startRefill(context.Background())
	if !ok {
		t.Fatal("refill refused with a free slot")
	}
	got := make(chan error, 1)
	go func() {
		g, err := a.acquire(context.Background(), "u1/git", "git")
		if err == nil && !g.create {
			err = errors.New("admitted without a create slot")
		}
		if g != nil {
			defer g.release()
		}
		// While this learner holds the slot, no refill may start.
		if _, _, ok := a.startRefill(context.Background()); ok && err == nil {
			err = errors.New("a refill started while the learner held the only slot")
		}
		got <- err
	}()
	select {
	case <-rctx.Done():
	case <-time.After(hang):
		t.Fatal("the refill was not cancelled for a waiting learner")
	}
	done()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// Refills wait a quiet minute after the last start (the learners'
	// terminals open then).
	if _, _, ok := a.startRefill(context.Background()); ok {
		t.Fatal("refill started right after a learner's start")
	}
	c.advance(2 * time.Minute)
	if _, _, ok := a.startRefill(context.Background()); !ok {
		t.Fatal("refill refused once the learner was done and things were quiet")
	}
}

// gatedEnsure holds EnsureRunning of one container until released, so a
// test can act while a claim is half done.
type gatedEnsure struct {
	*fakeSandbox
	id      string
	entered chan struct{}
	release chan struct{}
}

func (g *gatedEnsure) EnsureRunning(ctx context.Context, id string) error {
	if id == g.id {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.fakeSandbox.EnsureRunning(ctx, id)
}

// While one learner's claim is still being finished, the next learner
// still sees the boxes that are left: a box is not counted out twice
// (out of the pool and still reserved), which in a burst sent learners to
// slow creates while ready boxes waited.
func TestPoolClaimInFlightLeavesOtherBoxesClaimable(t *testing.T) {
	e, _ := newPoolEnv(t, map[string]int{"git": 2}, AdmissionConfig{Wait: 20 * time.Millisecond})
	e.fillPool(t)
	first := e.poolBoxes(t)[0]
	g := &gatedEnsure{fakeSandbox: e.box, id: first.ContainerID, entered: make(chan struct{}), release: make(chan struct{})}
	e.m.box = g
	done := make(chan error, 1)
	go func() { _, err := e.m.Start(context.Background(), e.alice, "git"); done <- err }()
	select {
	case <-g.entered:
	case err := <-done:
		t.Fatalf("the first start ended before its claim reached the engine: %v", err)
	}
	creates := e.box.createCount()
	s := e.start(t, e.bob, "git")
	if e.box.createCount() != creates || s.ID == first.ID {
		t.Fatalf("second learner got %s with %d new creates while a box was ready", s.ID, e.box.createCount()-creates)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A claimed box's first terminal is the login shell the pool started with
// the box (same request as any terminal), not a new exec; another tab
// opens its own; a drained box's unused shell is closed.
func TestPoolBoxShellGoesToTheFirstTerminal(t *testing.T) {
	e, img := newPoolEnv(t, map[string]int{"git": 2}, AdmissionConfig{})
	e.fillPool(t)
	e.box.mu.Lock()
	warm := len(e.box.ttys)
	e.box.mu.Unlock()
	if warm != 2 {
		t.Fatalf("%d shells started for 2 boxes", warm)
	}
	for _, c := range e.box.ttys {
		if !slices.Equal(c.req.Cmd, shellRequest(1, 1).Cmd) || c.req.User != sandbox.LearnerUser {
			t.Fatalf("warm shell request %+v", c.req)
		}
	}
	s := e.start(t, e.alice, "git")
	ctx := context.Background()
	if _, _, err := e.m.OpenTerminal(ctx, e.alice, s.ID, TerminalRequest{Tab: "main", Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	e.box.mu.Lock()
	after := len(e.box.ttys)
	e.box.mu.Unlock()
	if after != warm {
		t.Fatalf("the first terminal opened a new exec (%d → %d)", warm, after)
	}
	if _, _, err := e.m.OpenTerminal(ctx, e.alice, s.ID, TerminalRequest{Tab: "second", Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	e.box.mu.Lock()
	after = len(e.box.ttys)
	e.box.mu.Unlock()
	if after != warm+1 {
		t.Fatalf("a second tab did not open its own shell (%d)", after)
	}
	// The other box is drained (new image): its shell goes with it.
	img.set("v2")
	e.fillPool(t)
	e.m.pool.mu.Lock()
	defer e.m.pool.mu.Unlock()
	for id := range e.m.pool.shells {
		found := false
		for _, b := range e.poolBoxes(t) {
			found = found || b.ID == id
		}
		if !found {
			t.Fatalf("shell of box %s kept after the box was drained or claimed", id)
		}
	}
}
