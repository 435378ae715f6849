package session

// Saved homes (issue 9, "work never lost"): when a session ends (the
// learner ends it, it expires, it goes over its disk quota, its container
// is lost but still there) the learner's home folder is read through the
// engine's archive API, cleaned and bounded by package homes, and kept as
// <data-dir>/homes/<user>/<lab>.tar.gz; the next start of that lab by the
// same learner unpacks it over the starter files. Before a session
// expires, the people at its terminals are warned.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/homes"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// HomeStore is the persistence saved homes need (store.Store has it).
type HomeStore interface {
	RecordHomeSave(ctx context.Context, h opsdojo.HomeSave) error
	Home(ctx context.Context, userID int64, labID string) (opsdojo.HomeSave, error)
	LastHomeSave(ctx context.Context, userID int64, labID string) (opsdojo.HomeSave, error)
	StaleHomes(ctx context.Context, cutoff time.Time, limit int) ([]opsdojo.HomeSave, error)
	ForgetHome(ctx context.Context, userID int64, labID string) error
	HomesUsage(ctx context.Context) (int, int64, error)
	UserByUsername(ctx context.Context, username string) (opsdojo.User, string, error)
}

// HomeSandbox reads and writes a container's home folder (sandbox.Engine
// has it).
type HomeSandbox interface {
	ExportHome(ctx context.Context, containerID string) (io.ReadCloser, error)
	ImportHome(ctx context.Context, containerID string, r io.Reader) error
}

// HomesConfig configures saved homes and the expiry warnings.
type HomesConfig struct {
	// Dir holds the saved homes; empty: homes are not saved.
	Dir string
	// Limits bound one saved home (zero fields: homes.DefaultLimits).
	Limits homes.Limits
	// Retention deletes a saved home not saved again for this long;
	// zero keeps them.
	Retention time.Duration
	// SaveTimeout bounds one save or restore (default 2 minutes).
	SaveTimeout time.Duration
	// ExpiryWarnings: how long before an idle session expires its
	// terminals are told (e.g. 10m and 2m); empty: no warnings.
	ExpiryWarnings []time.Duration
}

// homeState is the manager's saved-homes state; nil fields: off.
type homeState struct {
	cfg   HomesConfig
	dir   homes.Dir
	store HomeStore
	box   HomeSandbox

	mu       sync.Mutex
	restored map[string]RestoreInfo // session → how its home was restored
	warned   map[string]expiryWarn  // session → the last expiry warning
	// notify tells a session's terminals (tests watch it).
	notify func(session string, n terminal.Notice)
}

type expiryWarn struct {
	expires time.Time // the expiry it was about: activity moves it
	level   int       // index in ExpiryWarnings of the last warning sent
}

// RestoreInfo says how a session's saved home was restored.
type RestoreInfo struct {
	SavedAt time.Time `json:"saved_at"`
	Files   int       `json:"files"`
	Skipped int       `json:"skipped"`
	// Error: the save could not be restored (the session started with
	// the starter files); it was set aside, not lost.
	Error string `json:"error,omitempty"`
}

// SetHomes turns on saved homes and expiry warnings. Call it once, before
// the server serves. The manager's store and sandbox must implement
// HomeStore and HomeSandbox when cfg.Dir is set.
func (m *Manager) SetHomes(cfg HomesConfig) error {
	def := homes.DefaultLimits()
	if cfg.Limits.MaxBytes <= 0 {
		cfg.Limits.MaxBytes = def.MaxBytes
	}
	if cfg.Limits.MaxEntries <= 0 {
		cfg.Limits.MaxEntries = def.MaxEntries
	}
	if cfg.Limits.UID == 0 {
		cfg.Limits.UID, cfg.Limits.GID = def.UID, def.GID
	}
	if cfg.SaveTimeout <= 0 {
		cfg.SaveTimeout = 2 * time.Minute
	}
	cfg.ExpiryWarnings = slices.DeleteFunc(slices.Clone(cfg.ExpiryWarnings), func(d time.Duration) bool { return d <= 0 })
	// A warning as long as the TTL would fire again after every keystroke.
	cfg.ExpiryWarnings = slices.DeleteFunc(cfg.ExpiryWarnings, func(d time.Duration) bool { return d >= m.cfg.TTL })
	slices.SortFunc(cfg.ExpiryWarnings, func(a, b time.Duration) int { return int(b - a) }) // longest first
	h := &homeState{cfg: cfg, restored: map[string]RestoreInfo{}, warned: map[string]expiryWarn{},
		notify: func(id string, n terminal.Notice) { m.terms().NotifySession(id, n) }}
	if cfg.Dir != "" {
		st, ok := m.store.(HomeStore)
		if !ok {
			return fmt.Errorf("saved homes: the store cannot keep them")
		}
		box, ok := m.box.(HomeSandbox)
		if !ok {
			return fmt.Errorf("saved homes: the sandbox cannot read home folders")
		}
		h.dir, h.store, h.box = homes.Dir{Root: cfg.Dir}, st, box
	}
	m.homes = h
	return nil
}

func (m *Manager) homesOn() bool { return m.homes != nil && m.homes.store != nil }

// saveHome saves a session's home before its container is removed. It
// never fails the caller: a refusal or failure is logged and recorded,
// and the previous save is kept.
func (m *Manager) saveHome(ctx context.Context, s opsdojo.LabSession) {
	if !m.homesOn() || s.ContainerID == "" || s.State != opsdojo.SessionRunning {
		// A session still "starting" may hold half a restore: saving it
		// would replace a good save with less.
		return
	}
	h := m.homes
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.SaveTimeout)
	defer cancel()
	start := m.now()
	rec := opsdojo.HomeSave{UserID: s.UserID, LabID: s.LabID, SessionID: s.ID, At: start}
	var st homes.Stats
	size, err := h.dir.Write(s.UserID, s.LabID, func(w io.Writer) error {
		rc, err := h.box.ExportHome(ctx, s.ContainerID)
		if err != nil {
			return err
		}
		defer rc.Close()
		st, err = homes.Pack(w, rc, h.cfg.Limits)
		return err
	})
	rec.Bytes, rec.Content, rec.Files, rec.Skipped = size, st.Bytes, st.Files, st.Skipped
	switch {
	case err == nil:
		rec.Outcome = opsdojo.HomeSaved
		m.log.Info("home saved", "session", s.ID, "user", s.UserID, "lab", s.LabID, "bytes", size, "content", st.Bytes,
			"files", st.Files, "skipped", st.Skipped, "took", m.now().Sub(start).Round(time.Millisecond))
		if st.Skipped > 0 {
			m.log.Info("home save left entries out", "session", s.ID, "entries", st.SkippedNames)
		}
	case opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND:
		m.log.Info("home not saved: the container is gone", "session", s.ID, "user", s.UserID, "lab", s.LabID)
		return
	case homes.IsTooLarge(err):
		rec.Outcome, rec.Reason = opsdojo.HomeRefused, err.Error()+"; it was not saved, and the previous save (if any) is kept"
		rec.Bytes = 0
		m.log.Warn("home not saved: over the limits", "session", s.ID, "user", s.UserID, "lab", s.LabID, "reason", err)
	default:
		rec.Outcome, rec.Reason, rec.Bytes = opsdojo.HomeFailed, "the home folder could not be saved; the previous save (if any) is kept", 0
		m.log.Error("save home", "session", s.ID, "user", s.UserID, "lab", s.LabID, "err", err)
	}
	if err := h.store.RecordHomeSave(ctx, rec); err != nil {
		m.log.Error("record home save", "session", s.ID, "err", err)
	}
}

// restoreHome unpacks the learner's saved home of the lab over the
// starter files of a new session's container. Start calls it once the
// container answers and before the learner can reach it, so nothing of
// the learner's runs in the container while it unpacks. A save that
// cannot be restored does not fail the start: it is set aside (kept on
// disk, out of the way of the next save) and the learner is told.
func (m *Manager) restoreHome(ctx context.Context, s opsdojo.LabSession) {
	if !m.homesOn() {
		return
	}
	h := m.homes
	saved, err := h.store.Home(ctx, s.UserID, s.LabID)
	if err != nil {
		if opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
			m.log.Error("look up saved home", "session", s.ID, "err", err)
		}
		return
	}
	f, err := h.dir.Open(s.UserID, s.LabID)
	if errors.Is(err, fs.ErrNotExist) {
		m.log.Warn("saved home recorded but its file is gone", "session", s.ID, "user", s.UserID, "lab", s.LabID)
		_ = h.store.ForgetHome(ctx, s.UserID, s.LabID)
		return
	}
	info := RestoreInfo{SavedAt: saved.At}
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, h.cfg.SaveTimeout)
		var st homes.Stats
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			var rerr error
			st, rerr = homes.Restore(pw, f, h.cfg.Limits)
			pw.CloseWithError(rerr)
			done <- rerr
		}()
		err = h.box.ImportHome(ctx, s.ContainerID, pr)
		pr.CloseWithError(errors.New("restore stopped"))
		if rerr := <-done; rerr != nil && err == nil {
			err = rerr
		} else if rerr != nil {
			err = errors.Join(err, rerr)
		}
		cancel()
		f.Close()
		info.Files, info.Skipped = st.Files, st.Skipped
		if st.Skipped > 0 {
			m.log.Warn("restore left unsafe entries out", "session", s.ID, "entries", st.SkippedNames)
		}
	}
	if err != nil {
		info.Error = "your saved home folder could not be restored; it was kept aside and an operator can recover it"
		m.log.Error("restore home", "session", s.ID, "user", s.UserID, "lab", s.LabID, "err", err)
		if p, serr := h.dir.SetAside(s.UserID, s.LabID, m.now().Unix()); serr == nil {
			m.log.Warn("saved home set aside", "path", p)
			_ = h.store.ForgetHome(context.WithoutCancel(ctx), s.UserID, s.LabID)
		}
	} else {
		m.log.Info("home restored", "session", s.ID, "user", s.UserID, "lab", s.LabID, "files", info.Files, "skipped", info.Skipped)
	}
	h.mu.Lock()
	h.restored[s.ID] = info
	h.mu.Unlock()
}

// HomeStatus is what the lab page shows about a learner's saved home.
type HomeStatus struct {
	Enabled bool `json:"enabled"`
	// Saved is the current save; nil when there is none.
	Saved *opsdojo.HomeSave `json:"saved"`
	// Last is the latest save attempt, when it did not save.
	Last *opsdojo.HomeSave `json:"last_attempt,omitempty"`
	// Restored says how the live session's home was restored.
	Restored *RestoreInfo `json:"restored,omitempty"`
	MaxBytes int64        `json:"max_bytes"`
}

// HomeStatus returns the caller's saved home of a lab, and how the live
// session (sessionID, may be empty) restored it.
func (m *Manager) HomeStatus(ctx context.Context, user opsdojo.User, labID, sessionID string) (HomeStatus, error) {
	if _, ok := m.labs.Get(labID); !ok {
		return HomeStatus{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no lab %q", labID)
	}
	if !m.homesOn() {
		return HomeStatus{}, nil
	}
	h := m.homes
	out := HomeStatus{Enabled: true, MaxBytes: h.cfg.Limits.MaxBytes}
	if saved, err := h.store.Home(ctx, user.ID, labID); err == nil {
		out.Saved = &saved
	} else if opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		return out, err
	}
	if last, err := h.store.LastHomeSave(ctx, user.ID, labID); err == nil && last.Outcome != opsdojo.HomeSaved {
		out.Last = &last
	}
	if sessionID != "" {
		if s, err := m.Get(ctx, user, sessionID); err == nil && s.LabID == labID {
			h.mu.Lock()
			if r, ok := h.restored[s.ID]; ok {
				out.Restored = &r
			}
			h.mu.Unlock()
		}
	}
	return out, nil
}

// SavedHome opens a learner's saved home of a lab for download: the
// caller's own, or (admins only) the one of username. Anyone else's is
// ENOTFOUND, as if it did not exist.
func (m *Manager) SavedHome(ctx context.Context, user opsdojo.User, labID, username string) (*os.File, opsdojo.HomeSave, error) {
	if !m.homesOn() {
		return nil, opsdojo.HomeSave{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "saved homes are off on this server")
	}
	owner := user.ID
	if username != "" && username != user.Username {
		if !user.IsAdmin {
			return nil, opsdojo.HomeSave{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no saved home for this lab")
		}
		u, _, err := m.homes.store.UserByUsername(ctx, username)
		if err != nil {
			return nil, opsdojo.HomeSave{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no saved home for this lab")
		}
		owner = u.ID
	}
	saved, err := m.homes.store.Home(ctx, owner, labID)
	if err != nil {
		return nil, saved, err
	}
	f, err := m.homes.dir.Open(owner, labID)
	if err != nil {
		return nil, saved, opsdojo.Errorf(opsdojo.ENOTFOUND, "the saved home's file is gone")
	}
	return f, saved, nil
}

// HomeSnapshot packs the live home folder of a session (its learner's or,
// for admins, anyone's) into a temporary file and returns it opened and
// already unlinked: the caller streams it and closes it. Packing to a
// file first means a home over the limits is a clean error, never a cut
// download.
func (m *Manager) HomeSnapshot(ctx context.Context, user opsdojo.User, sessionID string) (*os.File, opsdojo.LabSession, error) {
	s, err := m.viewable(ctx, user, sessionID)
	if err != nil {
		return nil, s, err
	}
	if !m.homesOn() {
		return nil, s, opsdojo.Errorf(opsdojo.ENOTFOUND, "saved homes are off on this server")
	}
	if s.State != opsdojo.SessionRunning {
		return nil, s, opsdojo.Errorf(opsdojo.ECONFLICT, "this lab session is not running; download the saved home instead")
	}
	if err := m.ensureRunning(ctx, s); err != nil {
		return nil, s, err
	}
	h := m.homes
	dir := filepath.Join(h.cfg.Dir, ".snapshots")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, s, fmt.Errorf("snapshot folder: %w", err)
	}
	f, err := os.CreateTemp(dir, s.ID+".*.tar.gz")
	if err != nil {
		return nil, s, fmt.Errorf("snapshot file: %w", err)
	}
	os.Remove(f.Name()) // gone with the last close, even if the server dies
	ctx, cancel := context.WithTimeout(ctx, h.cfg.SaveTimeout)
	defer cancel()
	rc, err := h.box.ExportHome(ctx, s.ContainerID)
	if err != nil {
		f.Close()
		return nil, s, err
	}
	_, err = homes.Pack(f, rc, h.cfg.Limits)
	rc.Close()
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		if homes.IsTooLarge(err) {
			return nil, s, opsdojo.Errorf(opsdojo.EINVALID, "%s; no snapshot was made", err.Error())
		}
		return nil, s, fmt.Errorf("snapshot home: %w", err)
	}
	return f, s, nil
}

// PruneHomes deletes saved homes not saved again within the retention.
func (m *Manager) PruneHomes(ctx context.Context) (int, error) {
	if !m.homesOn() || m.homes.cfg.Retention <= 0 {
		return 0, nil
	}
	h := m.homes
	stale, err := h.store.StaleHomes(ctx, m.now().Add(-h.cfg.Retention), 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range stale {
		if err := h.dir.Remove(s.UserID, s.LabID); err != nil {
			m.log.Warn("delete saved home", "user", s.UserID, "lab", s.LabID, "err", err)
			continue
		}
		if err := h.store.ForgetHome(ctx, s.UserID, s.LabID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// HomesUsage is what saved homes hold on disk (count, bytes), for the
// admin page.
func (m *Manager) HomesUsage(ctx context.Context) (int, int64, error) {
	if !m.homesOn() {
		return 0, 0, nil
	}
	return m.homes.store.HomesUsage(ctx)
}

// warnExpiry tells the people at a session's terminals, once per
// threshold of ExpiryWarnings, that it will expire unless used. Activity
// moves the expiry, which starts the warnings over.
func (m *Manager) warnExpiry(ctx context.Context) error {
	if m.homes == nil {
		return nil
	}
	h := m.homes
	live, err := m.store.LiveLabSessions(ctx)
	if err != nil {
		return err
	}
	now := m.now()
	keep := make(map[string]bool, len(live))
	for _, s := range live {
		keep[s.ID] = true
		left := s.ExpiresAt.Sub(now)
		if s.State != opsdojo.SessionRunning || left <= 0 || len(h.cfg.ExpiryWarnings) == 0 {
			continue
		}
		level := -1
		for i, d := range h.cfg.ExpiryWarnings {
			if left <= d {
				level = i
			}
		}
		if level < 0 {
			continue
		}
		h.mu.Lock()
		w, ok := h.warned[s.ID]
		send := !ok || !w.expires.Equal(s.ExpiresAt) || level > w.level
		if send {
			h.warned[s.ID] = expiryWarn{expires: s.ExpiresAt, level: level}
		}
		h.mu.Unlock()
		if send {
			h.notify(s.ID, terminal.Notice{Text: m.expiryText(left)})
		}
	}
	h.mu.Lock()
	for id := range h.warned {
		if !keep[id] {
			delete(h.warned, id)
		}
	}
	for id := range h.restored {
		if !keep[id] {
			delete(h.restored, id)
		}
	}
	h.mu.Unlock()
	return nil
}

func (m *Manager) expiryText(left time.Duration) string {
	when := fmt.Sprintf("%d minutes", int((left+time.Minute-1)/time.Minute))
	if left < time.Minute {
		when = fmt.Sprintf("%d seconds", int((left+time.Second-1)/time.Second))
	} else if left <= time.Minute {
		when = "1 minute"
	}
	text := "This lab session ends in " + when + " unless you use it: type in a terminal or run a check to keep it. "
	if m.homesOn() {
		return text + "Your home folder is saved when it ends and restored when you start the lab again."
	}
	return text + "Your progress is kept, but the files in the lab are not."
}

// tickHomes is the reaper's tick for saved homes: expiry warnings and
// retention.
func (m *Manager) tickHomes(ctx context.Context) {
	if err := m.warnExpiry(ctx); err != nil && ctx.Err() == nil {
		m.log.Error("warn sessions near expiry", "err", err)
	}
	if n, err := m.PruneHomes(ctx); err != nil && ctx.Err() == nil {
		m.log.Error("prune saved homes", "err", err)
	} else if n > 0 {
		m.log.Info("deleted saved homes past their retention", "count", n)
	}
}
