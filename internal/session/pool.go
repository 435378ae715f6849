package session

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// PoolStore is what the warm pool and admission keep in the database.
type PoolStore interface {
	AddPoolBox(ctx context.Context, b opsdojo.PoolBox) error
	ReadyPoolBox(ctx context.Context, id, containerID, networkID string) error
	DeletePoolBox(ctx context.Context, id string) error
	PoolBoxes(ctx context.Context) ([]opsdojo.PoolBox, error)
	ClaimPoolBox(ctx context.Context, labID, image string, s opsdojo.LabSession) (opsdojo.LabSession, error)
	CountAllLiveLabSessions(ctx context.Context) (int, error)
}

// PoolConfig sizes the warm pool.
type PoolConfig struct {
	// Sizes is how many ready boxes each lab keeps (`--pool`).
	Sizes map[string]int
	// Targets, when set, replaces Sizes as the source of each lab's size
	// and is asked on every pass: the hook for sizing the pool per cohort
	// before a class starts (a cohort's schedule raises its labs' sizes
	// ahead of time). Labs it leaves out keep no boxes.
	Targets func(ctx context.Context) map[string]int
	// Interval is how often the pool is checked against its targets and
	// the labs' images (zero: 2 s); a claim or a freed create slot wakes it
	// sooner.
	Interval time.Duration
}

// warmPool keeps pre-created, started, shell-verified containers per lab.
type warmPool struct {
	store PoolStore
	cfg   PoolConfig
	kick  chan struct{}

	mu    sync.Mutex
	ready map[string]int // lab → ready boxes of its current image
	image map[string]string
	// shells are login shells started in ready boxes (by box id, which
	// is the session id after a claim) until a terminal takes them. Lost
	// on a restart; an adopted box's terminal opens a shell then.
	shells map[string]sandbox.Terminal
}

// SetPool gives the manager its warm pool and admission queue. Without it
// (tests of other parts) every start creates a container at once.
func (m *Manager) SetPool(store PoolStore, pool PoolConfig, adm AdmissionConfig) {
	if pool.Interval <= 0 {
		pool.Interval = 2 * time.Second
	}
	if pool.Targets == nil {
		sizes := maps.Clone(pool.Sizes)
		pool.Targets = func(context.Context) map[string]int { return sizes }
	}
	p := &warmPool{store: store, cfg: pool, kick: make(chan struct{}, 1), ready: map[string]int{}, image: map[string]string{},
		shells: map[string]sandbox.Terminal{}}
	m.pool = p
	m.admit = newAdmission(adm, store.CountAllLiveLabSessions, p.readyCount, func() time.Time { return m.now() })
}

func (p *warmPool) readyCount(lab string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready[lab]
}

func (p *warmPool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// QueueLength is how many lab starts wait for admission now.
func (m *Manager) QueueLength() int {
	if m.admit == nil {
		return 0
	}
	return m.admit.queueLength()
}

// PoolReady is how many ready boxes a lab's pool holds now.
func (m *Manager) PoolReady(labID string) int {
	if m.pool == nil {
		return 0
	}
	return m.pool.readyCount(labID)
}

// spec is the container of a session: a fresh start and a pool box are
// made from the same spec, so a claimed box is what a fresh create would
// have made for the learner (the session id is the box's id).
func (m *Manager) spec(id string, userID int64, lab *labs.Lab, image string) sandbox.Spec {
	return sandbox.Spec{SessionID: id, UserID: userID, LabID: lab.ID, Image: image, CapAdd: lab.CapAdd, HomeDir: lab.HomeDir,
		StorageSize: m.cfg.StorageSize}
}

// admitStart waits for the start's turn (see AdmissionConfig). Without a
// pool it admits at once.
func (m *Manager) admitStart(ctx context.Context, userID int64, labID string) (*grant, error) {
	if m.admit == nil {
		return nil, nil
	}
	return m.admit.acquire(ctx, sessionKey(userID, labID), labID)
}

func sessionKey(userID int64, labID string) string {
	return labID + "/" + strconv.FormatInt(userID, 10)
}

// claimWarm hands the learner a ready box of the lab's current image, if
// the grant was for one. The claim and the running session are one
// transaction (store.ClaimPoolBox). A box that no longer runs (it died
// while it waited) ends that session and reports no claim; the grant then
// becomes a create.
func (m *Manager) claimWarm(ctx context.Context, g *grant, user opsdojo.User, lab *labs.Lab, image string, limit time.Duration) (opsdojo.LabSession, bool, error) {
	if g == nil || !g.pooled {
		return opsdojo.LabSession{}, false, nil
	}
	now := m.now()
	s := opsdojo.LabSession{UserID: user.ID, LabID: lab.ID, CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(m.cfg.TTL)}
	if limit > 0 { // a cohort's time limit holds for pooled starts too
		s.Deadline = now.Add(limit)
		s.ExpiresAt = capExpiry(s, s.ExpiresAt)
	}
	s, err := m.pool.store.ClaimPoolBox(ctx, lab.ID, image, s)
	switch {
	case err == nil:
		g.claimed(func() { m.pool.took(lab.ID) })
		m.pool.wake()
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		m.pool.emptied(lab.ID)
		// Drained or reconciled away meanwhile.
		return s, false, g.toCreate(ctx)
	default:
		return s, false, err
	}
	if err := m.box.EnsureRunning(ctx, s.ContainerID); err != nil {
		m.log.Warn("pooled container unusable; creating one", "box", s.ID, "lab", lab.ID, "err", err)
		s.EndReason = "its pooled container was not usable"
		m.finish(ctx, s, opsdojo.SessionEnded)
		return s, false, g.toCreate(ctx)
	}
	if err := m.openClaimedDocker(ctx, s); err != nil { // pooldocker.go
		m.log.Warn("pooled container's docker CLI could not be opened; creating one", "box", s.ID, "lab", lab.ID, "err", err)
		s.EndReason = "its pooled container's docker CLI could not be opened"
		m.finish(ctx, s, opsdojo.SessionEnded)
		return s, false, g.toCreate(ctx)
	}
	m.log.Info("lab session started from the warm pool", "session", s.ID, "user", user.ID, "lab", lab.ID, "took", m.now().Sub(now).Round(time.Millisecond))
	return s, true, nil
}

// took counts a claimed box out of the ready count (called under the
// admission lock, see grant.claimed).
func (p *warmPool) took(lab string) {
	p.mu.Lock()
	if p.ready[lab] > 0 {
		p.ready[lab]--
	}
	p.mu.Unlock()
}

// emptied: a claim found no box, so the count was stale (drained or
// reconciled meanwhile); the next pass recounts.
func (p *warmPool) emptied(lab string) {
	p.mu.Lock()
	p.ready[lab] = 0
	p.mu.Unlock()
	p.wake()
}

// runPool keeps every lab's pool at its target until ctx ends: it drains
// boxes of a lab's old image (its content hash changed) or of a lab no
// longer pooled, and creates missing boxes one at a time, only while no
// learner waits for a create slot (admission.startRefill).
func (m *Manager) runPool(ctx context.Context) {
	if m.pool == nil {
		return
	}
	wait := m.pool.cfg.Interval
	for {
		if err := m.poolPass(ctx); err != nil && ctx.Err() == nil {
			// An image not built yet or an engine outage: back off, so
			// the log is not flooded.
			wait = min(wait*2, time.Minute)
			m.log.Warn("warm pool pass; retrying", "in", wait, "err", err)
		} else {
			wait = m.pool.cfg.Interval
		}
		for lab := range m.pool.cfg.Targets(ctx) {
			m.observePool(lab)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-m.pool.kick:
			t.Stop()
		}
	}
}

// poolPass brings the pool to its targets once.
func (m *Manager) poolPass(ctx context.Context) error {
	p := m.pool
	targets := p.cfg.Targets(ctx)
	boxes, err := p.store.PoolBoxes(ctx)
	if err != nil {
		return err
	}
	byLab := map[string][]opsdojo.PoolBox{}
	for _, b := range boxes {
		byLab[b.LabID] = append(byLab[b.LabID], b)
	}
	want := map[string]int{}      // lab → boxes still to make
	images := map[string]string{} // lab → current image
	ids := slices.Sorted(maps.Keys(byLab))
	for id := range targets {
		if _, ok := byLab[id]; !ok {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		lab, ok := m.labs.Get(id)
		target := targets[id]
		if !ok {
			target = 0 // the lab is gone: drain it, make nothing
		}
		image := ""
		if target > 0 {
			if image, err = m.images.Tag(ctx, lab); err != nil {
				m.log.Warn("warm pool: no image for lab", "lab", id, "err", err)
				continue // keep what is there until the engine answers
			}
		}
		ready := 0
		for _, b := range byLab[id] {
			if b.State != opsdojo.PoolReady {
				// Only this loop makes boxes, and not now: a box still
				// "creating" was left by a crash; Reconcile removes it.
				continue
			}
			if b.Image == image && ready < target {
				ready++
				continue
			}
			m.drainBox(ctx, b, "drained: "+drainWhy(b, image, target))
		}
		p.mu.Lock()
		p.ready[id], p.image[id] = ready, image
		p.mu.Unlock()
		if ready < target {
			want[id], images[id] = target-ready, image
		}
	}
	if m.admit != nil {
		m.admit.notify()
	}
	// Fill round-robin across labs, so one big lab does not keep another
	// empty.
	for len(want) > 0 {
		for _, id := range slices.Sorted(maps.Keys(want)) {
			rctx, done, ok := m.admit.startRefill(ctx)
			if !ok {
				return nil // a learner needs the slot; the next pass goes on
			}
			lab, _ := m.labs.Get(id)
			err := m.fillBox(rctx, lab, images[id])
			// Read before done, which cancels rctx: after it every failed
			// create looked cancelled and was neither logged nor backed off.
			cancelled := rctx.Err() != nil
			done()
			if err != nil {
				if ctx.Err() != nil || cancelled {
					return nil // shutting down, or a live start took the slot
				}
				return err
			}
			if want[id]--; want[id] == 0 {
				delete(want, id)
			}
		}
	}
	return nil
}

func drainWhy(b opsdojo.PoolBox, image string, target int) string {
	switch {
	case image == "":
		return "lab no longer pooled"
	case b.Image != image:
		return "lab image changed"
	}
	return "pool above its size " + strconv.Itoa(target)
}

// fillBox makes one box: the row first (so a crash mid-create is found),
// then the container from the same spec as a fresh start.
func (m *Manager) fillBox(ctx context.Context, lab *labs.Lab, image string) error {
	id, err := newID()
	if err != nil {
		return err
	}
	b := opsdojo.PoolBox{ID: id, LabID: lab.ID, Image: image, State: opsdojo.PoolCreating, CreatedAt: m.now()}
	if err := m.pool.store.AddPoolBox(ctx, b); err != nil {
		return err
	}
	start := m.now()
	spec := m.spec(id, 0, lab, image)
	spec.DockerDir, err = m.prepareDocker(lab, id) // pooldocker.go
	if err == nil {
		var box sandbox.Box
		if box, err = m.box.Create(ctx, spec); err == nil {
			return m.readyBox(ctx, b, lab, box, start)
		}
	}
	m.forgetBoxDocker(context.WithoutCancel(ctx), lab.ID, id)
	if derr := m.pool.store.DeletePoolBox(context.WithoutCancel(ctx), id); derr != nil {
		m.log.Warn("forget failed pool box", "box", id, "err", derr)
	}
	return err
}

// readyBox marks a created box ready and starts its login shell.
func (m *Manager) readyBox(ctx context.Context, b opsdojo.PoolBox, lab *labs.Lab, box sandbox.Box, start time.Time) error {
	id := b.ID
	if err := m.pool.store.ReadyPoolBox(context.WithoutCancel(ctx), id, box.ContainerID, box.NetworkID); err != nil {
		b.ContainerID, b.NetworkID = box.ContainerID, box.NetworkID
		m.drainBox(ctx, b, "its row could not be marked ready")
		return err
	}
	// The learner's first shell, started now rather than when a whole
	// class opens its terminals at once (see Manager.shell). Without it
	// the box is still good: the terminal opens one.
	tty, err := m.box.OpenTTY(context.WithoutCancel(ctx), box.ContainerID, shellRequest(80, 24))
	if err != nil {
		m.log.Warn("warm pool: no shell started in the box", "box", id, "err", err)
	}
	m.pool.mu.Lock()
	m.pool.ready[lab.ID]++
	if tty != nil {
		m.pool.shells[id] = tty
	}
	m.pool.mu.Unlock()
	m.admit.notify()
	m.log.Debug("warm pool box ready", "box", id, "lab", lab.ID, "took", m.now().Sub(start).Round(time.Millisecond))
	return nil
}

// drainBox removes a box: the row first, so nobody can claim it while its
// container goes.
func (m *Manager) drainBox(ctx context.Context, b opsdojo.PoolBox, why string) {
	ctx = context.WithoutCancel(ctx)
	if err := m.pool.store.DeletePoolBox(ctx, b.ID); err != nil {
		m.log.Warn("drain pool box", "box", b.ID, "err", err)
		return
	}
	if t := m.pool.takeShell(b.ID); t != nil {
		_ = t.Close()
	}
	m.forgetBoxDocker(ctx, b.LabID, b.ID)
	if err := m.box.Remove(ctx, sandbox.Box{ContainerID: b.ContainerID, NetworkID: b.NetworkID}); err != nil {
		m.log.Warn("remove pool box", "box", b.ID, "err", err)
	}
	m.log.Info("warm pool box removed", "box", b.ID, "lab", b.LabID, "why", why)
}

// reconcilePool runs first in Reconcile, after a restart: ready boxes whose
// container still exists are adopted (started again if stopped; the
// refill loop drains them if the lab's image changed meanwhile); the rest,
// and boxes a crash left half-made, are forgotten, and their containers
// and networks fall to Reconcile's orphan sweep. It returns the ids of
// the adopted boxes, which Reconcile keeps.
func (m *Manager) reconcilePool(ctx context.Context, containers []sandbox.Owned) (map[string]bool, error) {
	keep := map[string]bool{}
	if m.pool == nil {
		return keep, nil
	}
	boxes, err := m.pool.store.PoolBoxes(ctx)
	if err != nil {
		return keep, err
	}
	byID := map[string]sandbox.Owned{}
	for _, c := range containers {
		byID[c.ID] = c
	}
	for _, b := range boxes {
		c, ok := byID[b.ContainerID]
		if ok && b.State == opsdojo.PoolReady && c.SessionID == b.ID {
			err := error(nil)
			if !c.Running {
				err = m.box.EnsureRunning(ctx, c.ID)
			}
			if err == nil {
				keep[b.ID] = true
				m.log.Info("adopted warm pool box", "box", b.ID, "lab", b.LabID)
				continue
			}
			if opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE {
				return keep, err
			}
		}
		if err := m.pool.store.DeletePoolBox(ctx, b.ID); err != nil {
			return keep, err
		}
		m.forgetBoxDocker(ctx, b.LabID, b.ID)
		m.log.Info("forgot warm pool box", "box", b.ID, "lab", b.LabID, "state", b.State)
	}
	return keep, nil
}

// sessionGone wakes queued starts (a live place may be free) and closes
// the session's unused warm shell, if any.
func (m *Manager) sessionGone(id string) {
	if m.admit != nil {
		m.admit.notify()
	}
	if m.pool != nil {
		if t := m.pool.takeShell(id); t != nil {
			_ = t.Close()
		}
	}
}

// shellRequest is the learner's login shell of a terminal.
func shellRequest(cols, rows uint) sandbox.TTYRequest {
	return sandbox.TTYRequest{
		Cmd:     []string{"bash", "-l"},
		User:    sandbox.LearnerUser,
		WorkDir: sandbox.LearnerHome,
		Env:     []string{"TERM=xterm-256color", "COLORTERM=truecolor", "HOME=" + sandbox.LearnerHome, "LANG=C.UTF-8"},
		Cols:    cols,
		Rows:    rows,
	}
}

// shell opens a terminal's shell. The first terminal of a session claimed
// from the pool takes the login shell the pool started with the box (the
// same request a terminal makes), so a class's thirty terminals do not
// wait on thirty execs at once; any other terminal opens one now.
func (m *Manager) shell(ctx context.Context, user opsdojo.User, id, tab string, cols, rows uint) (opsdojo.LabSession, sandbox.Terminal, error) {
	if m.pool == nil || tab != "main" {
		return m.Terminal(ctx, user, id, cols, rows)
	}
	t := m.pool.takeShell(id)
	if t == nil {
		return m.Terminal(ctx, user, id, cols, rows)
	}
	s, _, err := m.live(ctx, user, id)
	if err != nil {
		_ = t.Close()
		return s, nil, err
	}
	if err := t.Resize(ctx, cols, rows); err != nil {
		// The shell or its container is gone: a new exec says why.
		_ = t.Close()
		return m.Terminal(ctx, user, id, cols, rows)
	}
	return m.touch(ctx, s), t, nil
}

func (p *warmPool) takeShell(id string) sandbox.Terminal {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.shells[id]
	delete(p.shells, id)
	return t
}
