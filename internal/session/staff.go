package session

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// The methods in this file act on any learner's session: they check no
// ownership. Callers (internal/board's Service) decide first whether the
// acting instructor or admin may touch that learner.

// StaffStore is what the staff actions need beyond Store (the SQLite
// store provides it).
type StaffStore interface {
	ExtendLabSession(ctx context.Context, id string, d time.Duration) (opsdojo.LabSession, error)
	ResetLab(ctx context.Context, userID int64, labID string, by int64, at time.Time) error
}

// SetEvents sets where the manager reports changes to learners' records
// (a Check recorded, a hint shown, a session started, ended or reset).
// Call it once before serving; f must not block.
func (m *Manager) SetEvents(f func(opsdojo.CheckEvent)) {
	m.mu.Lock()
	m.events = f
	m.mu.Unlock()
}

func (m *Manager) emit(userID int64, labID, stepID, kind string) {
	m.mu.Lock()
	f := m.events
	m.mu.Unlock()
	if f != nil {
		f(opsdojo.CheckEvent{UserID: userID, LabID: labID, StepID: stepID, Kind: kind, At: m.now()})
	}
}

// Session returns any session by id (no ownership check).
func (m *Manager) Session(ctx context.Context, id string) (opsdojo.LabSession, error) {
	return m.store.LabSession(ctx, id)
}

// LiveSessionOf returns a learner's live session of a lab, ENOTFOUND
// without one.
func (m *Manager) LiveSessionOf(ctx context.Context, userID int64, labID string) (opsdojo.LabSession, error) {
	return m.store.LiveLabSession(ctx, userID, labID)
}

// maxMessage bounds an instructor's message (the page shows it beside the
// terminal; the protocol caps a notice at 500 characters).
const maxMessage = 500

// Message shows text beside the terminals of a running session (the
// notice of docs/terminal-protocol.md, opcode 6). It returns how many
// terminals have the learner at them; with none the message is kept for
// the next terminal the learner opens (terminal.Registry.MessageSession).
func (m *Manager) Message(ctx context.Context, id, from, text string) (int, error) {
	text = strings.TrimSpace(text)
	if text == "" || !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxMessage-len(from)-20 {
		return 0, opsdojo.Errorf(opsdojo.EINVALID, "a message is 1 to %d characters of text", maxMessage-len(from)-20)
	}
	s, err := m.store.LabSession(ctx, id)
	if err != nil {
		return 0, err
	}
	if s.State != opsdojo.SessionRunning {
		return 0, opsdojo.Errorf(opsdojo.ECONFLICT, "the lab session is not running")
	}
	return m.terms().MessageSession(id, terminal.Notice{Text: fmt.Sprintf("Message from %s: %s", from, text)}), nil
}

// MaxExtend bounds one extension.
const MaxExtend = 8 * time.Hour

// Extend gives a running session d more time before it expires (activity
// never takes it back) and tells the learner.
func (m *Manager) Extend(ctx context.Context, id string, d time.Duration) (opsdojo.LabSession, error) {
	if d < time.Minute || d > MaxExtend {
		return opsdojo.LabSession{}, opsdojo.Errorf(opsdojo.EINVALID, "extend by 1 minute to %s", MaxExtend)
	}
	ss, ok := m.store.(StaffStore)
	if !ok {
		return opsdojo.LabSession{}, fmt.Errorf("the store cannot extend sessions")
	}
	s, err := ss.ExtendLabSession(ctx, id, d)
	if err != nil {
		return s, err
	}
	m.terms().NotifySession(id, terminal.Notice{Text: fmt.Sprintf("Your instructor gave this lab %s more; it now ends after %s UTC at the earliest.",
		d, s.ExpiresAt.UTC().Format("15:04"))})
	m.emit(s.UserID, s.LabID, "", "session")
	return s, nil
}

// Terminate ends any learner's session, telling them why.
func (m *Manager) Terminate(ctx context.Context, id, reason string) (opsdojo.LabSession, error) {
	defer m.lock(m.userKeyOf(ctx, id))()
	s, err := m.store.LabSession(ctx, id)
	if err != nil {
		return s, err
	}
	if !s.State.Live() {
		return s, opsdojo.Errorf(opsdojo.ECONFLICT, "the lab session is not running")
	}
	s.EndReason = reason
	m.finish(ctx, s, opsdojo.SessionEnded) // emits the event
	s.State = opsdojo.SessionEnded
	return s, nil
}

// userKeyOf is the per-learner lock key of a session's learner ("" when
// the session cannot be read: the caller's read fails the same way).
func (m *Manager) userKeyOf(ctx context.Context, id string) string {
	s, err := m.store.LabSession(ctx, id)
	if err != nil {
		return "unknown-session"
	}
	return fmt.Sprint(s.UserID)
}

// ResetLab ends the learner's live session of the lab (if any) and clears
// their progress in it: steps passed, points, attempt counts and hints
// shown. Every check attempt stays stored, marked as before the reset,
// as the grading record. by is the acting user.
func (m *Manager) ResetLab(ctx context.Context, userID int64, labID string, by opsdojo.User) error {
	if _, ok := m.labs.Get(labID); !ok {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no lab %q", labID)
	}
	ss, ok := m.store.(StaffStore)
	if !ok {
		return fmt.Errorf("the store cannot reset labs")
	}
	unlock := m.lock(fmt.Sprint(userID))
	defer unlock()
	s, err := m.store.LiveLabSession(ctx, userID, labID)
	switch {
	case err == nil:
		s.EndReason = "your instructor reset this lab; start it again for a fresh copy"
		m.finish(ctx, s, opsdojo.SessionEnded)
	case opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND:
		return err
	}
	if err := ss.ResetLab(ctx, userID, labID, by.ID, m.now()); err != nil {
		return err
	}
	m.log.Info("lab reset", "user", userID, "lab", labID, "by", by.ID)
	m.emit(userID, labID, "", "reset")
	return nil
}
