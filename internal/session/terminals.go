package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// TerminalConfig tunes the lab sessions' terminals. Zero fields take the
// defaults of terminal.Config.
type TerminalConfig struct {
	// Grace is how long a shell outlives its last driver connection.
	Grace time.Duration
	// BufferSize is the output kept per terminal for reconnects.
	BufferSize int
	// Window is the flow-control window.
	Window int
	// MaxTabs caps the terminals of one session (default 5).
	MaxTabs int
	// RecordDir is where asciicast recordings go; empty: no recordings.
	RecordDir string
	// MaxRecording caps one recording's file (default 20 MiB).
	MaxRecording int64
	// RecordingUserMax caps what one learner's recordings hold on disk
	// together, across their terminals and sessions, until retention
	// deletes old ones; zero: no cap.
	RecordingUserMax int64
	// RecordingRetention is how long a recording is kept after it ended;
	// zero keeps recordings forever.
	RecordingRetention time.Duration
	// Terminal overrides the other fields' terminal settings when set.
	Terminal terminal.Config
}

// RecordingStore keeps the recordings' rows. The manager's Store provides
// it when it can (the SQLite store does).
type RecordingStore interface {
	CreateRecording(ctx context.Context, r store.Recording) error
	FinishRecording(ctx context.Context, id string, bytes int64, ended time.Time) error
	Recording(ctx context.Context, id string) (store.Recording, error)
	Recordings(ctx context.Context, f store.RecordingFilter) ([]store.Recording, error)
}

// RecordingBudgetStore lets the manager keep each learner's recordings
// within RecordingUserMax (the SQLite store does).
type RecordingBudgetStore interface {
	UserRecordingUsage(ctx context.Context, userID int64) (store.UserRecordings, error)
	MarkRecordingTruncated(ctx context.Context, id, why string) error
}

// RecordingPruner finds and forgets expired recordings (the SQLite store
// does).
type RecordingPruner interface {
	ExpiredRecordings(ctx context.Context, cutoff time.Time, limit int) ([]store.Recording, error)
	DeleteRecording(ctx context.Context, id string) error
}

// AdminStore lists live sessions with their learners' names.
type AdminStore interface {
	LiveSessionsWithUsers(ctx context.Context) ([]store.LiveSession, error)
}

// terminalState is the manager's terminal registry, set up once.
type terminalState struct {
	once sync.Once
	reg  *terminal.Registry
	cfg  TerminalConfig

	mu      sync.Mutex
	budgets map[int64]*userBudget // by learner: their recordings' budget
}

type userBudget struct {
	mu sync.Mutex // held while the budget is set up
	b  atomic.Pointer[terminal.Budget]
}

// SetTerminals configures the terminals. Call it once, before the server
// serves; without it terminals take the defaults and are not recorded.
func (m *Manager) SetTerminals(cfg TerminalConfig) {
	m.terminals.once.Do(func() { m.initTerminals(cfg) })
}

func (m *Manager) initTerminals(cfg TerminalConfig) {
	tc := cfg.Terminal
	if tc.Grace == 0 {
		tc.Grace = cfg.Grace
	}
	if tc.BufferSize == 0 {
		tc.BufferSize = cfg.BufferSize
	}
	if tc.Window == 0 {
		tc.Window = cfg.Window
	}
	m.terminals.cfg = cfg
	m.terminals.reg = terminal.NewRegistry(tc, cfg.MaxTabs)
}

func (m *Manager) terms() *terminal.Registry {
	m.terminals.once.Do(func() { m.initTerminals(TerminalConfig{}) })
	return m.terminals.reg
}

// closeTerminals hangs up a session's shells; called when it ends.
func (m *Manager) closeTerminals(sessionID, reason string) {
	text := "the lab session ended"
	if reason != "" {
		text += ": " + reason
	}
	m.terms().CloseSession(sessionID, terminal.CloseSessionEnded, text)
}

// CloseTerminals hangs up every shell and waits for them (server
// shutdown), at most until ctx ends.
func (m *Manager) CloseTerminals(ctx context.Context) error {
	return m.terms().CloseAll(ctx)
}

// TerminalRequest asks for a terminal of a session.
type TerminalRequest struct {
	// Tab names the terminal (default "main").
	Tab string
	// Watch asks for a read-only view of an open terminal. The session's
	// learner and admins may watch.
	Watch bool
	// Cols and Rows size a new terminal.
	Cols, Rows uint
	// Staff: the caller checked that the user may watch this session's
	// learner (an instructor of their cohort; internal/board).
	Staff bool
}

// OpenTerminal returns the terminal a websocket should attach to: for the
// learner, the tab's shell, started if it is not running; for a watcher,
// the open terminal. Someone else's session is ENOTFOUND.
func (m *Manager) OpenTerminal(ctx context.Context, user opsdojo.User, id string, req TerminalRequest) (opsdojo.LabSession, *terminal.Term, error) {
	tab := req.Tab
	if tab == "" {
		tab = "main"
	}
	if !terminal.ValidTab(tab) {
		return opsdojo.LabSession{}, nil, opsdojo.Errorf(opsdojo.EINVALID, "a tab name is 1 to 32 letters, digits and dashes")
	}
	reg := m.terms()
	key := terminal.Key{Session: id, Tab: tab}
	if req.Watch {
		s, err := m.store.LabSession(ctx, id)
		if err != nil {
			return opsdojo.LabSession{}, nil, err
		}
		if s.UserID != user.ID && !user.IsAdmin && !req.Staff {
			return opsdojo.LabSession{}, nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such session")
		}
		t := reg.Get(key)
		if t == nil || s.State != opsdojo.SessionRunning {
			return s, nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "the terminal %q is not open", tab)
		}
		return s, t, nil
	}
	s, _, err := m.live(ctx, user, id)
	if err != nil {
		return s, nil, err
	}
	// One start at a time per session: a reconnect racing a first
	// connect must not make two shells for one tab.
	defer m.lock("terminals/" + id)()
	if t := reg.Get(key); t != nil {
		return m.touch(ctx, s), t, nil
	}
	if reg.Count(id) >= reg.MaxTabs() {
		return s, nil, opsdojo.Errorf(opsdojo.ETOOMANY, "a lab can have at most %d terminals; close one first", reg.MaxTabs())
	}
	if req.Cols == 0 || req.Rows == 0 {
		req.Cols, req.Rows = 80, 24
	}
	// The shell outlives this request.
	s, tty, err := m.Terminal(context.WithoutCancel(ctx), user, id, req.Cols, req.Rows)
	if err != nil {
		return s, nil, err
	}
	opts := terminal.Options{Tab: tab, Cols: req.Cols, Rows: req.Rows, Log: m.log.With("session", id, "tab", tab)}
	var recID string
	opts.Recorder, recID = m.startRecording(ctx, s, user, tab, req.Cols, req.Rows)
	if opts.Recorder != nil {
		rec := opts.Recorder
		opts.OnClose = func(*terminal.Term) { m.finishRecording(recID, rec) }
	}
	t, err := reg.Start(key, tty, opts)
	if err != nil {
		_ = tty.Close()
		if opts.Recorder != nil {
			m.finishRecording(recID, opts.Recorder)
		}
		return s, nil, err
	}
	m.log.Info("terminal started", "session", id, "tab", tab, "recording", recID)
	return s, t, nil
}

// Records reports whether the lab's terminals are recorded, so that the
// lab page can tell the learner.
func (m *Manager) Records(lab *labs.Lab) bool {
	m.terms() // the terminal settings are in place
	_, ok := m.store.(RecordingStore)
	return ok && m.terminals.cfg.RecordDir != "" && lab != nil && !lab.NoRecording
}

// startRecording creates a terminal's asciicast file and its row. Any
// failure only means no recording.
func (m *Manager) startRecording(ctx context.Context, s opsdojo.LabSession, user opsdojo.User, tab string, cols, rows uint) (*terminal.Recorder, string) {
	cfg := m.terminals.cfg
	rs, ok := m.store.(RecordingStore)
	if cfg.RecordDir == "" || !ok {
		return nil, ""
	}
	if lab, found := m.labs.Get(s.LabID); found && lab.NoRecording {
		return nil, ""
	}
	dir := filepath.Join(cfg.RecordDir, s.ID)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		m.log.Warn("recording directory", "err", err)
		return nil, ""
	}
	id, err := newID()
	if err != nil {
		return nil, ""
	}
	now := m.now()
	if cols == 0 || rows == 0 {
		cols, rows = 80, 24
	}
	budget := m.recordingBudget(ctx, s.UserID)
	if budget != nil && budget.Left() == 0 && budget.Used()-budget.Limit() > maxBudgetOverdraft {
		// Out of budget for a while: even the header and the marker of
		// each new tab's recording would add up.
		return nil, ""
	}
	opts := terminal.RecorderOptions{Cols: cols, Rows: rows, Title: s.LabID + " · " + tab + " · " + user.Username, MaxBytes: cfg.MaxRecording, Now: now,
		Budget: budget, OnTruncate: func(why string) { go m.recordingTruncated(s.ID, id, tab, why) }}
	var rec *terminal.Recorder
	var path string
	for i := 0; i < 10 && rec == nil; i++ {
		name := tab + "-" + strconv.FormatInt(now.Unix(), 10)
		if i > 0 {
			name += "-" + strconv.Itoa(i+1)
		}
		path = filepath.Join(dir, name+".cast")
		rec, err = terminal.NewRecorder(path, opts)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if rec == nil {
		m.log.Warn("start recording", "err", err)
		return nil, ""
	}
	if err := rs.CreateRecording(context.WithoutCancel(ctx), store.Recording{ID: id, SessionID: s.ID, UserID: s.UserID, LabID: s.LabID, Tab: tab, Path: path, StartedAt: now}); err != nil {
		m.log.Warn("record recording", "err", err)
		_, _ = rec.Close()
		_ = os.Remove(path)
		return nil, ""
	}
	return rec, id
}

// maxBudgetOverdraft is how far past a learner's recordings budget the
// headers and final markers of new recordings may go before new terminals
// are not recorded at all.
const maxBudgetOverdraft = 64 << 10

// recordingBudget returns the learner's shared recordings budget, set up
// from what their recordings hold on disk the first time; nil without a
// cap.
func (m *Manager) recordingBudget(ctx context.Context, userID int64) *terminal.Budget {
	limit := m.terminals.cfg.RecordingUserMax
	bs, ok := m.store.(RecordingBudgetStore)
	if limit <= 0 || !ok {
		return nil
	}
	m.terminals.mu.Lock()
	if m.terminals.budgets == nil {
		m.terminals.budgets = map[int64]*userBudget{}
	}
	ub := m.terminals.budgets[userID]
	if ub == nil {
		ub = &userBudget{}
		m.terminals.budgets[userID] = ub
	}
	m.terminals.mu.Unlock()
	ub.mu.Lock()
	defer ub.mu.Unlock()
	if b := ub.b.Load(); b != nil {
		return b
	}
	used, err := bs.UserRecordingUsage(context.WithoutCancel(ctx), userID)
	if err != nil {
		// Not recorded rather than uncapped; the next terminal tries again.
		m.log.Warn("sum a learner's recordings; this terminal is not recorded", "user", userID, "err", err)
		return terminal.NewBudget(limit, limit+maxBudgetOverdraft+1)
	}
	n := used.Finished
	// Recordings that never finished (the server stopped under them): only
	// their files know their size.
	for _, p := range used.Unfinished {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	b := terminal.NewBudget(limit, n)
	ub.b.Store(b)
	return b
}

// recordingTruncated records why a recording stopped early and tells the
// people at the session's terminals, so that nobody mistakes a cut
// recording for the whole story.
func (m *Manager) recordingTruncated(sessionID, recID, tab, why string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if bs, ok := m.store.(RecordingBudgetStore); ok && recID != "" {
		if err := bs.MarkRecordingTruncated(ctx, recID, why); err != nil {
			m.log.Warn("mark recording truncated", "recording", recID, "err", err)
		}
	}
	m.log.Info("recording stopped early", "session", sessionID, "tab", tab, "recording", recID, "why", why)
	m.terms().NotifySession(sessionID, terminal.Notice{Text: fmt.Sprintf("The recording of terminal %q stopped (%s); the terminal itself works as before.", tab, why)})
}

func (m *Manager) finishRecording(id string, rec *terminal.Recorder) {
	n, _ := rec.Close()
	rs, ok := m.store.(RecordingStore)
	if !ok || id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rs.FinishRecording(ctx, id, n, m.now()); err != nil {
		m.log.Warn("finish recording", "recording", id, "err", err)
	}
}

// Terminals lists a session's open terminals.
func (m *Manager) Terminals(ctx context.Context, user opsdojo.User, id string) ([]terminal.Info, error) {
	if _, err := m.viewable(ctx, user, id); err != nil {
		return nil, err
	}
	return m.terms().List(id), nil
}

// CloseTerminal hangs up one of the learner's terminals.
func (m *Manager) CloseTerminal(ctx context.Context, user opsdojo.User, id, tab string) error {
	if _, err := m.Get(ctx, user, id); err != nil {
		return err
	}
	if !m.terms().CloseTab(terminal.Key{Session: id, Tab: tab}, terminal.CloseNormal, "the terminal was closed") {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "the terminal %q is not open", tab)
	}
	return nil
}

// viewable returns a session its learner or an admin may look at.
func (m *Manager) viewable(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, error) {
	s, err := m.store.LabSession(ctx, id)
	if err != nil {
		return s, err
	}
	if s.UserID != user.ID && !user.IsAdmin {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such session")
	}
	return s, nil
}

// LiveSession is a live session as an admin sees it.
type LiveSession struct {
	store.LiveSession
	Terminals []terminal.Info `json:"terminals"`
}

// LiveSessions lists every live session with its terminals. Admins only:
// others get ENOTFOUND.
func (m *Manager) LiveSessions(ctx context.Context, user opsdojo.User) ([]LiveSession, error) {
	if !user.IsAdmin {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "not found")
	}
	as, ok := m.store.(AdminStore)
	if !ok {
		return nil, fmt.Errorf("the store cannot list sessions with their users")
	}
	list, err := as.LiveSessionsWithUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]LiveSession, 0, len(list))
	for _, s := range list {
		out = append(out, LiveSession{LiveSession: s, Terminals: m.terms().List(s.ID)})
	}
	return out, nil
}

// Recordings lists recordings: the user's own, or for admins everyone's
// (of one user when username is set).
func (m *Manager) Recordings(ctx context.Context, user opsdojo.User, username string) ([]store.Recording, error) {
	rs, ok := m.store.(RecordingStore)
	if !ok {
		return []store.Recording{}, nil
	}
	f := store.RecordingFilter{UserID: user.ID}
	if user.IsAdmin {
		f = store.RecordingFilter{Username: username}
	}
	return rs.Recordings(ctx, f)
}

// Recording returns a recording its owner or an admin may download.
func (m *Manager) Recording(ctx context.Context, user opsdojo.User, id string) (store.Recording, error) {
	rs, ok := m.store.(RecordingStore)
	if !ok {
		return store.Recording{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such recording")
	}
	r, err := rs.Recording(ctx, id)
	if err != nil {
		return r, err
	}
	if r.UserID != user.ID && !user.IsAdmin {
		return store.Recording{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such recording")
	}
	return r, nil
}

// PruneRecordings deletes the recordings, files and rows, that ended more
// than RecordingRetention ago, and returns how many went. A recording
// whose file lies outside RecordDir (the data dir moved) loses its row
// only: the server never deletes files it cannot vouch for.
func (m *Manager) PruneRecordings(ctx context.Context) (int, error) {
	cfg := m.terminals.cfg
	ps, ok := m.store.(RecordingPruner)
	if cfg.RecordingRetention <= 0 || cfg.RecordDir == "" || !ok {
		return 0, nil
	}
	root, err := filepath.Abs(cfg.RecordDir)
	if err != nil {
		return 0, fmt.Errorf("recording directory: %w", err)
	}
	n := 0
	for {
		list, err := ps.ExpiredRecordings(ctx, m.now().Add(-cfg.RecordingRetention), 200)
		if err != nil {
			return n, err
		}
		progressed := false
		for _, r := range list {
			if r.EndedAt == nil && m.terms().Get(terminal.Key{Session: r.SessionID, Tab: r.Tab}) != nil {
				continue // still being written by a terminal that has run that long
			}
			size := r.Bytes
			if fi, err := os.Stat(r.Path); err == nil {
				size = fi.Size()
			}
			if err := removeRecordingFile(root, r.Path); err != nil {
				m.log.Warn("recording file not removed; its row stays for the next try", "recording", r.ID, "path", r.Path, "err", err)
				continue
			}
			if err := ps.DeleteRecording(ctx, r.ID); err != nil {
				return n, err
			}
			m.releaseRecordingBudget(r.UserID, size)
			n++
			progressed = true
		}
		if len(list) < 200 || !progressed {
			return n, nil
		}
	}
}

// removeRecordingFile removes a recording's file when it lies under root,
// and its session directory once empty.
func removeRecordingFile(root, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == ".." {
		return nil // not ours to delete
	}
	if err := os.Remove(abs); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if dir := filepath.Dir(abs); dir != root {
		_ = os.Remove(dir) // fails while other recordings remain
	}
	return nil
}

// releaseRecordingBudget gives a deleted recording's bytes back to its
// learner's budget, if the budget is in use.
func (m *Manager) releaseRecordingBudget(userID, n int64) {
	m.terminals.mu.Lock()
	ub := m.terminals.budgets[userID]
	m.terminals.mu.Unlock()
	if ub == nil {
		return
	}
	if b := ub.b.Load(); b != nil {
		b.Release(n)
	}
}
