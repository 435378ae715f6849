// Package session runs the life of a lab session: start (idempotent per
// learner and lab), open terminals, run checks and record them, end, expire,
// and reconcile with the Docker engine after a restart.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/metrics"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// Store is the persistence the manager needs.
type Store interface {
	CreateLabSession(ctx context.Context, s opsdojo.LabSession) error
	UpdateLabSession(ctx context.Context, s opsdojo.LabSession) error
	TouchLabSession(ctx context.Context, id string, now, expires time.Time) error
	LabSession(ctx context.Context, id string) (opsdojo.LabSession, error)
	LiveLabSession(ctx context.Context, userID int64, labID string) (opsdojo.LabSession, error)
	LiveLabSessions(ctx context.Context) ([]opsdojo.LabSession, error)
	ExpiredLabSessions(ctx context.Context, now time.Time) ([]opsdojo.LabSession, error)
	CountLiveLabSessions(ctx context.Context, userID int64) (int, error)
	RecordAttempt(ctx context.Context, a opsdojo.Attempt) error
	RevealHint(ctx context.Context, userID int64, labID, stepID string, index int, at time.Time) error
	RevealCheckHint(ctx context.Context, userID int64, labID, stepID string, pos int, at time.Time) error
	LastCheckHints(ctx context.Context, userID int64, labID, stepID, checkID string) ([]string, error)
	Progress(ctx context.Context, userID int64, labID string) (opsdojo.Progress, error)
	AddSessionImages(ctx context.Context, sessionID string, ids []string) error
	SessionImages(ctx context.Context, sessionID string) ([]string, error)
	ForgetSessionImages(ctx context.Context, sessionID string) error
}

// Sandbox is the container engine the manager needs.
type Sandbox interface {
	Create(ctx context.Context, spec sandbox.Spec) (sandbox.Box, error)
	Remove(ctx context.Context, box sandbox.Box) error
	EnsureRunning(ctx context.Context, containerID string) error
	Exec(ctx context.Context, containerID string, req sandbox.ExecRequest) (sandbox.ExecResult, error)
	OpenTTY(ctx context.Context, containerID string, req sandbox.TTYRequest) (sandbox.Terminal, error)
	Containers(ctx context.Context) ([]sandbox.Owned, error)
	Networks(ctx context.Context) ([]sandbox.Owned, error)
	ReadFile(ctx context.Context, containerID, name string, limit int64) ([]byte, error)
	Archive(ctx context.Context, containerID, dir string, w io.Writer, limit int64) error
	RemoveSessionImages(ctx context.Context, sessionID string) error
	DiskUsage(ctx context.Context, containerID string) (int64, error)
	ImagesUsage(ctx context.Context, sessionID string, ids []string) (int64, error)
	grading.BuildEngine
}

// Images names the image of a lab.
type Images interface {
	Tag(ctx context.Context, lab *labs.Lab) (string, error)
}

// Config tunes the manager.
type Config struct {
	// TTL is how long a session lives after its last activity.
	TTL time.Duration
	// ReapInterval is how often expired sessions are removed.
	ReapInterval time.Duration
	// MaxPerUser caps a learner's live sessions across labs.
	MaxPerUser int
	// DiskQuota ends a session that uses more than this many bytes of
	// disk: its container's writable layer, the images its builds made and
	// its terminal recordings (checked every ReapInterval, and at once when
	// the disk watch sees a jump); zero: no quota.
	DiskQuota int64
	// DiskWatchPaths are directories whose filesystems the disk watch
	// polls (the engine's data root, the data dir); empty: no watch.
	DiskWatchPaths []string
	// DiskWatchInterval is how often the watch polls (default 1 s: a
	// statfs costs microseconds; negative: no watch).
	DiskWatchInterval time.Duration
	// DiskWatchThreshold is the growth of used space since the last quota
	// sweep that starts another one at once (default half the quota, at
	// most 256 MiB).
	DiskWatchThreshold int64
	// StorageSize, when above zero, also caps each container's writable
	// layer in the engine (`--storage-opt size`, where supported).
	StorageSize int64
}

// Manager owns lab sessions.
type Manager struct {
	store  Store
	box    Sandbox
	images Images
	labs   *labs.Catalog
	grader *grading.Runner
	cfg    Config
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	locks    map[string]*sync.Mutex // per user: serialises starts
	liveLogs map[string]*liveLog    // session/step → output of a running check
	// diskWarned: when each session was last warned near its disk quota.
	diskWarned map[string]time.Time
	quota      quotaState // quota.go

	terminals terminalState // the sessions' shells: terminals.go
	policy    StartPolicy   // cohort windows and time limits: policy.go

	homes  *homeState               // saved homes and expiry warnings: homes.go
	mx     *metrics.Metrics         // metrics.go
	events func(opsdojo.CheckEvent) // staff.go: SetEvents

	pool   *warmPool     // pool.go; nil: no pool, no admission queue
	admit  *admission    // admission.go
	docker DockerProxies // learners' docker CLI: docker.go
}

// New returns a manager.
func New(store Store, box Sandbox, images Images, catalog *labs.Catalog, grader *grading.Runner, cfg Config, log *slog.Logger) *Manager {
	if cfg.TTL <= 0 {
		cfg.TTL = 2 * time.Hour
	}
	if cfg.ReapInterval <= 0 {
		cfg.ReapInterval = time.Minute
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 3
	}
	cfg.quotaDefaults()
	return &Manager{store: store, box: box, images: images, labs: catalog, grader: grader, cfg: cfg, log: log,
		now: func() time.Time { return time.Now().UTC() }, locks: map[string]*sync.Mutex{}, mx: metrics.New(metrics.Version{})}
}

// Labs returns the catalog.
func (m *Manager) Labs() *labs.Catalog { return m.labs }

func (m *Manager) lock(key string) func() {
	m.mu.Lock()
	l, ok := m.locks[key]
	if !ok {
		l = &sync.Mutex{}
		m.locks[key] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func newID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Start returns the learner's live session for a lab, creating its
// container if there is none. Concurrent calls get the same session.
func (m *Manager) Start(ctx context.Context, user opsdojo.User, labID string) (_ opsdojo.LabSession, err error) {
	began, created, source := m.now(), false, "cold"
	defer func() { m.observeStart(labID, began, created, source, err) }()
	lab, ok := m.labs.Get(labID)
	if !ok {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no lab %q", labID)
	}
	// Per user, not per lab: the cap on live sessions counts across labs.
	defer m.lock(strconv.FormatInt(user.ID, 10))()

	existing, err := m.store.LiveLabSession(ctx, user.ID, labID)
	switch {
	case err == nil && existing.State == opsdojo.SessionRunning:
		err := m.box.EnsureRunning(ctx, existing.ContainerID)
		if err == nil {
			return m.touch(ctx, existing), nil
		}
		reason := lostReason(err)
		if reason == "" {
			return opsdojo.LabSession{}, err
		}
		m.log.Warn("session container lost; starting a new one", "session", existing.ID, "reason", reason, "err", err)
		existing.EndReason = reason
		m.finish(ctx, existing, opsdojo.SessionLost)
	case err == nil:
		// Left "starting" by a server that died mid-start.
		m.finish(ctx, existing, opsdojo.SessionEnded)
	case opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND:
		return opsdojo.LabSession{}, err
	}

	limit, err := m.startLimit(ctx, user, labID, m.now())
	if err != nil {
		return opsdojo.LabSession{}, err
	}
	n, err := m.store.CountLiveLabSessions(ctx, user.ID)
	if err != nil {
		return opsdojo.LabSession{}, err
	}
	if n >= m.cfg.MaxPerUser {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ETOOMANY, "you have %d labs running; end one before starting another", n)
	}
	image, err := m.images.Tag(ctx, lab)
	if err != nil {
		return opsdojo.LabSession{}, err
	}
	g, err := m.admitStart(ctx, user.ID, labID)
	if err != nil {
		return opsdojo.LabSession{}, err
	}
	if g != nil {
		defer g.release()
	}
	if s, ok, err := m.claimWarm(ctx, g, user, lab, image, limit); ok || err != nil {
		if ok {
			m.restoreHome(ctx, s) // homes.go: the saved home over the starter files
			created, source = true, "pool"
			m.emit(user.ID, labID, "", "session")
		}
		return s, err
	}
	id, err := newID()
	if err != nil {
		return opsdojo.LabSession{}, err
	}
	now := m.now()
	s := opsdojo.LabSession{ID: id, UserID: user.ID, LabID: labID, State: opsdojo.SessionStarting,
		CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(m.cfg.TTL)}
	if limit > 0 {
		s.Deadline = now.Add(limit)
		s.ExpiresAt = capExpiry(s, s.ExpiresAt)
	}
	if err := m.store.CreateLabSession(ctx, s); err != nil {
		if opsdojo.ErrorCode(err) == opsdojo.ECONFLICT {
			return m.store.LiveLabSession(ctx, user.ID, labID)
		}
		return opsdojo.LabSession{}, err
	}
	dockerDir, err := m.openDocker(ctx, s)
	if err != nil {
		m.finish(ctx, s, opsdojo.SessionEnded)
		return opsdojo.LabSession{}, fmt.Errorf("start lab %s: %w", labID, err)
	}
	spec := m.spec(id, user.ID, lab, image)
	spec.DockerDir = dockerDir
	box, err := m.box.Create(ctx, spec)
	if err != nil {
		m.finish(ctx, s, opsdojo.SessionEnded)
		return opsdojo.LabSession{}, fmt.Errorf("start lab %s: %w", labID, err)
	}
	s.ContainerID, s.NetworkID = box.ContainerID, box.NetworkID
	m.restoreHome(ctx, s) // homes.go: the saved home over the starter files
	s.State = opsdojo.SessionRunning
	if err := m.store.UpdateLabSession(ctx, s); err != nil {
		m.closeDocker(context.WithoutCancel(ctx), id)
		_ = m.box.Remove(context.WithoutCancel(ctx), box)
		return opsdojo.LabSession{}, err
	}
	created = true
	m.log.Info("lab session started", "session", id, "user", user.ID, "lab", labID, "took", m.now().Sub(now).Round(time.Millisecond))
	m.emit(user.ID, labID, "", "session")
	return s, nil
}

// Get returns a session of the user's. Someone else's is ENOTFOUND, so ids
// cannot be probed.
func (m *Manager) Get(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, error) {
	s, err := m.store.LabSession(ctx, id)
	if err != nil {
		return s, err
	}
	if s.UserID != user.ID {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such session")
	}
	return s, nil
}

// live returns a running session of the user's.
func (m *Manager) live(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, *labs.Lab, error) {
	s, err := m.Get(ctx, user, id)
	if err != nil {
		return s, nil, err
	}
	if s.State != opsdojo.SessionRunning {
		what := "has " + string(s.State)
		if s.State == opsdojo.SessionLost {
			what = "was lost"
		}
		if s.EndReason != "" {
			what += ": " + s.EndReason
		}
		return s, nil, opsdojo.Errorf(opsdojo.ECONFLICT, "this lab session %s. Start the lab again; your progress is kept", what)
	}
	lab, ok := m.labs.Get(s.LabID)
	if !ok {
		return s, nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "the lab %q is no longer offered", s.LabID)
	}
	return s, lab, nil
}

// lostReason says why a session whose container failed EnsureRunning is
// lost, in words for the learner, or "" when the error may pass (the
// engine is down, the request was cancelled, the container is paused).
func lostReason(err error) string {
	switch {
	case errors.Is(err, sandbox.ErrWontRun):
		return "its container stopped and could not be started again"
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		return "its container was removed outside opsdojo"
	}
	return ""
}

// ensureRunning makes sure a running session's container can serve the
// learner before a terminal or a check uses it. A container that stopped
// (the engine restarted, an operator stopped it, it died) is started
// again, which keeps the learner's files; one that is gone or does not
// come back marks the session lost with the reason, which the lab page
// and the terminal show, and the learner starts the lab again with their
// progress kept. Without this a stopped container left the session
// "running" but unusable: every check failed against it.
func (m *Manager) ensureRunning(ctx context.Context, s opsdojo.LabSession) error {
	err := m.box.EnsureRunning(ctx, s.ContainerID)
	if err == nil {
		return nil
	}
	reason := lostReason(err)
	if reason == "" {
		return err
	}
	m.log.Warn("session container lost", "session", s.ID, "user", s.UserID, "lab", s.LabID, "reason", reason, "err", err)
	// Under the learner's lock, and re-read: a Start may have replaced
	// the session meanwhile.
	unlock := m.lock(strconv.FormatInt(s.UserID, 10))
	cur, rerr := m.store.LabSession(ctx, s.ID)
	if rerr == nil && cur.State == opsdojo.SessionRunning && cur.ContainerID == s.ContainerID {
		cur.EndReason = reason
		m.finish(ctx, cur, opsdojo.SessionLost)
	}
	unlock()
	return opsdojo.WrapError(opsdojo.ECONFLICT, err, "this lab session was lost: %s. Start the lab again; your progress is kept", reason)
}

// End removes the session's container and marks it ended.
func (m *Manager) End(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, error) {
	s, err := m.Get(ctx, user, id)
	if err != nil {
		return s, err
	}
	if !s.State.Live() {
		return s, nil
	}
	m.closeTerminals(s.ID, "")
	m.saveHome(ctx, s)

	m.closeDocker(ctx, s.ID)
	if err := m.box.Remove(ctx, sandbox.Box{ContainerID: s.ContainerID, NetworkID: s.NetworkID}); err != nil {
		return s, err
	}
	m.removeImages(ctx, s.ID)
	s.State = opsdojo.SessionEnded
	if err := m.store.UpdateLabSession(ctx, s); err != nil {
		return s, err
	}
	m.mx.SessionEnds.WithLabelValues("learner").Inc()
	m.emit(s.UserID, s.LabID, "", "session")
	m.sessionGone(s.ID)
	return s, nil
}

// finish marks a session over and removes what it owned, best effort.
func (m *Manager) finish(ctx context.Context, s opsdojo.LabSession, state opsdojo.SessionState) {
	ctx = context.WithoutCancel(ctx)
	m.closeTerminals(s.ID, s.EndReason)
	m.saveHome(ctx, s) // only of a running session: lost, over quota

	m.closeDocker(ctx, s.ID)
	if err := m.box.Remove(ctx, sandbox.Box{ContainerID: s.ContainerID, NetworkID: s.NetworkID}); err != nil {
		m.log.Warn("remove session container", "session", s.ID, "err", err)
	}
	m.removeImages(ctx, s.ID)
	s.State = state
	if err := m.store.UpdateLabSession(ctx, s); err != nil {
		m.log.Error("mark session", "session", s.ID, "state", state, "err", err)
	}
	if state == opsdojo.SessionLost {
		m.mx.SessionEnds.WithLabelValues("lost").Inc()
	}
	m.emit(s.UserID, s.LabID, "", "session")
	m.sessionGone(s.ID)
}

// removeImages drops the images a session's build checks kept as cache:
// the final images by label, then every image the builds recorded (the
// other stages' too), newest first.
func (m *Manager) removeImages(ctx context.Context, id string) {
	if err := m.box.RemoveSessionImages(ctx, id); err != nil {
		m.log.Warn("remove session images", "session", id, "err", err)
	}
	ids, err := m.store.SessionImages(ctx, id)
	if err != nil {
		m.log.Warn("list session images", "session", id, "err", err)
		return
	}
	if len(ids) == 0 {
		return
	}
	m.box.RemoveImages(ctx, ids)
	if err := m.store.ForgetSessionImages(ctx, id); err != nil {
		m.log.Warn("forget session images", "session", id, "err", err)
	}
}

// sessionBuilds records in the store every image a session's build makes,
// so that the session's end removes them even after a server restart.
type sessionBuilds struct {
	grading.BuildEngine
	m *Manager
}

func (b sessionBuilds) Build(ctx context.Context, req grading.BuildRequest) (grading.BuildResult, error) {
	res, err := b.BuildEngine.Build(ctx, req)
	if req.Session != "" && len(res.Images) > 0 {
		if rerr := b.m.store.AddSessionImages(context.WithoutCancel(ctx), req.Session, res.Images); rerr != nil {
			b.m.log.Warn("record session images", "session", req.Session, "err", rerr)
		}
		// A build can add gigabytes in one go: count them now, not at the
		// next sweep.
		b.m.kickQuota()
	}
	return res, err
}

func (m *Manager) touch(ctx context.Context, s opsdojo.LabSession) opsdojo.LabSession {
	now := m.now()
	s.LastActiveAt, s.ExpiresAt = now, capExpiry(s, now.Add(m.cfg.TTL))
	if err := m.store.TouchLabSession(ctx, s.ID, s.LastActiveAt, s.ExpiresAt); err != nil {
		m.log.Warn("touch session", "session", s.ID, "err", err)
	}
	return s
}

// Touch records activity on a session (a keystroke, say).
func (m *Manager) Touch(ctx context.Context, s opsdojo.LabSession) { m.touch(ctx, s) }

// Progress returns the learner's progress in a lab.
func (m *Manager) Progress(ctx context.Context, user opsdojo.User, labID string) (opsdojo.Progress, error) {
	return m.store.Progress(ctx, user.ID, labID)
}

// RevealHint records that the learner asked for the next hint of a step
// and returns how many of its hints they have now seen.
func (m *Manager) RevealHint(ctx context.Context, user opsdojo.User, labID, stepID string) (int, error) {
	lab, ok := m.labs.Get(labID)
	if !ok {
		return 0, opsdojo.Errorf(opsdojo.ENOTFOUND, "no lab %q", labID)
	}
	step, ok := lab.Step(stepID)
	if !ok {
		return 0, opsdojo.Errorf(opsdojo.ENOTFOUND, "lab %s has no step %q", labID, stepID)
	}
	p, err := m.store.Progress(ctx, user.ID, labID)
	if err != nil {
		return 0, err
	}
	shown := p.HintsShown[stepID]
	if shown >= len(step.Hints) {
		return shown, nil
	}
	if err := m.store.RevealHint(ctx, user.ID, labID, stepID, shown, m.now()); err != nil {
		return shown, err
	}
	m.emit(user.ID, labID, stepID, "hint")
	return shown + 1, nil
}

// MaxPoints is what a lab's checks are worth in all.
func MaxPoints(lab *labs.Lab) float64 {
	total := 0.0
	for _, st := range lab.Steps {
		for _, c := range st.Checks {
			total += c.Points
		}
	}
	return total
}

// Check runs a step's checks in the session's container and records the
// attempt. It returns the result and the learner's progress after it.
func (m *Manager) Check(ctx context.Context, user opsdojo.User, id, stepID string) (opsdojo.StepResult, opsdojo.Progress, error) {
	s, lab, err := m.live(ctx, user, id)
	if err != nil {
		return opsdojo.StepResult{}, opsdojo.Progress{}, err
	}
	step, ok := lab.Step(stepID)
	if !ok {
		return opsdojo.StepResult{}, opsdojo.Progress{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "lab %s has no step %q", lab.ID, stepID)
	}
	if err := m.ensureRunning(ctx, s); err != nil {
		return opsdojo.StepResult{}, opsdojo.Progress{}, err
	}
	m.touch(ctx, s)
	target := m.target(s)
	live := m.startLiveLog(s.ID, stepID)
	defer m.endLiveLog(s.ID, stepID, live)
	target.Progress = live
	res := m.grader.RunStep(ctx, lab, step, target)
	m.mx.ObserveStep(res)
	if err := ctx.Err(); err != nil {
		return res, opsdojo.Progress{}, err
	}
	if err := m.store.RecordAttempt(ctx, opsdojo.Attempt{UserID: user.ID, SessionID: s.ID, LabID: lab.ID, Result: res, At: m.now()}); err != nil {
		return res, opsdojo.Progress{}, err
	}
	m.emit(user.ID, lab.ID, stepID, "check")
	p, err := m.store.Progress(ctx, user.ID, lab.ID)
	return res, p, err
}

// liveLog is the output of a running check (a build log) that the learner
// can watch while they wait; it keeps the last maxLiveLog bytes.
type liveLog struct {
	mu    sync.Mutex
	buf   []byte
	total int64
}

const maxLiveLog = 128 << 10

func (l *liveLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	l.total += int64(len(p))
	if len(l.buf) > maxLiveLog {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-maxLiveLog:]...)
	}
	return len(p), nil
}

func (m *Manager) startLiveLog(session, step string) *liveLog {
	l := &liveLog{}
	m.mu.Lock()
	if m.liveLogs == nil {
		m.liveLogs = map[string]*liveLog{}
	}
	m.liveLogs[session+"/"+step] = l
	m.mu.Unlock()
	return l
}

func (m *Manager) endLiveLog(session, step string, l *liveLog) {
	m.mu.Lock()
	if m.liveLogs[session+"/"+step] == l {
		delete(m.liveLogs, session+"/"+step)
	}
	m.mu.Unlock()
}

// CheckProgress returns what a running check of the user's session has
// printed so far (a build log) and whether one is running.
func (m *Manager) CheckProgress(ctx context.Context, user opsdojo.User, id, stepID string) (string, bool, error) {
	if _, err := m.Get(ctx, user, id); err != nil {
		return "", false, err
	}
	m.mu.Lock()
	l := m.liveLogs[id+"/"+stepID]
	m.mu.Unlock()
	if l == nil {
		return "", false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf), true, nil
}

// Terminal opens a login shell in the session's container.
func (m *Manager) Terminal(ctx context.Context, user opsdojo.User, id string, cols, rows uint) (opsdojo.LabSession, sandbox.Terminal, error) {
	s, _, err := m.live(ctx, user, id)
	if err != nil {
		return s, nil, err
	}
	if err := m.ensureRunning(ctx, s); err != nil {
		return s, nil, err
	}
	t, err := m.box.OpenTTY(ctx, s.ContainerID, shellRequest(cols, rows))
	if err != nil {
		return s, nil, err
	}
	return m.touch(ctx, s), t, nil
}

// target is a session's container as graders see it.
func (m *Manager) target(s opsdojo.LabSession) grading.Target {
	return grading.Target{
		Container: containerRunner{box: m.box, id: s.ContainerID},
		Files:     containerFiles{box: m.box, id: s.ContainerID},
		Engine:    sessionBuilds{BuildEngine: m.box, m: m},
		Session:   s.ID,
		Learner:   strconv.FormatInt(s.UserID, 10),
	}
}

// containerFiles reads the learner's files from their container.
type containerFiles struct {
	box Sandbox
	id  string
}

func (c containerFiles) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	return c.box.ReadFile(ctx, c.id, name, limit)
}

func (c containerFiles) Archive(ctx context.Context, dir string, w io.Writer, limit int64) error {
	return c.box.Archive(ctx, c.id, dir, w, limit)
}

// containerRunner lets graders run commands in one session's container.
type containerRunner struct {
	box Sandbox
	id  string
}

func (c containerRunner) Run(ctx context.Context, cmd grading.Command) (grading.Output, error) {
	r, err := c.box.Exec(ctx, c.id, sandbox.ExecRequest{Cmd: cmd.Argv, User: cmd.User, Env: cmd.Env, Stdin: cmd.Stdin})
	if err != nil {
		return grading.Output{}, err
	}
	return grading.Output{ExitCode: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr}, nil
}

// Reap removes the containers of expired sessions.
func (m *Manager) Reap(ctx context.Context) (int, error) {
	expired, err := m.store.ExpiredLabSessions(ctx, m.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range expired {
		m.closeTerminals(s.ID, "")
		m.saveHome(ctx, s)

		m.closeDocker(ctx, s.ID)
		if err := m.box.Remove(ctx, sandbox.Box{ContainerID: s.ContainerID, NetworkID: s.NetworkID}); err != nil {
			m.log.Warn("reap session", "session", s.ID, "err", err)
			continue
		}
		m.removeImages(ctx, s.ID)
		s.State = opsdojo.SessionExpired
		if err := m.store.UpdateLabSession(ctx, s); err != nil {
			return n, err
		}
		m.log.Info("session expired", "session", s.ID, "user", s.UserID, "lab", s.LabID)
		m.mx.SessionEnds.WithLabelValues("expired").Inc()
		m.sessionGone(s.ID)
		n++
	}
	return n, nil
}

// Reconcile makes the engine and the database agree after a restart: it
// adopts containers the database knows, removes the ones it does not (only
// this instance's, by label), and marks sessions whose container is gone.
func (m *Manager) Reconcile(ctx context.Context) error {
	sessions, err := m.store.LiveLabSessions(ctx)
	if err != nil {
		return err
	}
	containers, err := m.box.Containers(ctx)
	if err != nil {
		return err
	}
	pooled, err := m.reconcilePool(ctx, containers)
	if err != nil {
		return err
	}
	known := make(map[string]opsdojo.LabSession, len(sessions))
	for _, s := range sessions {
		known[s.ID] = s
	}
	found := map[string]bool{}
	reasons := map[string]string{}
	var errs []error
	for _, c := range containers {
		if pooled[c.SessionID] {
			continue
		}
		s, ok := known[c.SessionID]
		if ok && s.State == opsdojo.SessionRunning && s.ContainerID == c.ID {
			found[s.ID] = true
			if !c.Running {
				if err := m.box.EnsureRunning(ctx, c.ID); err != nil {
					if reason := lostReason(err); reason != "" {
						// Finished as lost below, with why.
						reasons[s.ID] = reason
						delete(found, s.ID)
						continue
					}
					if opsdojo.ErrorCode(err) != opsdojo.ECONFLICT {
						errs = append(errs, err)
						continue
					}
					// Paused by an operator: adopted as it is.
				}
			}
			if _, err := m.openDocker(ctx, s); err != nil {
				m.log.Warn("reopen the session's docker proxy", "session", s.ID, "err", err)
			}
			m.log.Info("adopted session container", "session", s.ID, "lab", s.LabID)
			continue
		}
		if ok && s.State == opsdojo.SessionRunning && c.LearnerCLI {
			continue // the learner's own, removed with the session
		}
		m.log.Info("removing orphan container", "container", c.ID, "session", c.SessionID)
		if err := m.box.Remove(ctx, sandbox.Box{ContainerID: c.ID}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range sessions {
		if found[s.ID] {
			continue
		}
		state := opsdojo.SessionLost
		if s.State == opsdojo.SessionStarting {
			state = opsdojo.SessionEnded
		} else if s.EndReason = reasons[s.ID]; s.EndReason == "" {
			s.EndReason = "its container was removed outside opsdojo"
		}
		m.finish(ctx, s, state)
	}
	networks, err := m.box.Networks(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, n := range networks {
		if !found[n.SessionID] && !pooled[n.SessionID] {
			if err := m.box.Remove(ctx, sandbox.Box{NetworkID: n.ID}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Run reconciles once, then reaps expired sessions until ctx ends. Engine
// outages are logged and retried on the next tick.
func (m *Manager) Run(ctx context.Context) {
	reconciled := false
	// The pool starts filling once Reconcile has adopted or removed what
	// a previous run left.
	poolStart, poolDone := make(chan struct{}), make(chan struct{})
	reconcile := func() {
		if err := m.Reconcile(ctx); err != nil {
			m.log.Error("reconcile with the Docker engine; retrying on the next tick", "err", err)
			return
		}
		if !reconciled {
			close(poolStart)
		}
		reconciled = true
	}
	go func() {
		defer close(poolDone)
		select {
		case <-poolStart:
			m.runPool(ctx)
		case <-ctx.Done():
		}
	}()
	defer func() { <-poolDone }()
	reconcile()
	quotaDone := make(chan struct{})
	go func() { defer close(quotaDone); m.runQuota(ctx) }()
	defer func() { <-quotaDone }()
	t := time.NewTicker(m.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			began := time.Now()
			if !reconciled {
				reconcile()
			}
			if _, err := m.Reap(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("reap expired sessions", "err", err)
			}
			m.tickHomes(ctx) // homes.go
			if n, err := m.PruneRecordings(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("prune expired recordings", "err", err)
			} else if n > 0 {
				m.log.Info("pruned expired recordings", "count", n)
			}
			m.mx.ObserveReaper(time.Since(began), time.Now())
		}
	}
}
