package session

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// StartPolicy decides, before a lab session starts, whether the learner may
// start the lab now (a cohort's window) and how long the session may live
// at most whatever the activity (a cohort's session time limit). A refusal
// is an error for the learner; a zero limit is none.
type StartPolicy interface {
	StartLimit(ctx context.Context, user opsdojo.User, labID string, now time.Time) (time.Duration, error)
}

// SetPolicy installs the start policy. Call it once, before the server
// serves; without it every lab may start and only the idle TTL applies.
func (m *Manager) SetPolicy(p StartPolicy) { m.policy = p }

// startLimit asks the policy, if any.
func (m *Manager) startLimit(ctx context.Context, user opsdojo.User, labID string, now time.Time) (time.Duration, error) {
	if m.policy == nil {
		return 0, nil
	}
	return m.policy.StartLimit(ctx, user, labID, now)
}

// capExpiry keeps an expiry at or before the session's deadline.
func capExpiry(s opsdojo.LabSession, expires time.Time) time.Time {
	if !s.Deadline.IsZero() && s.Deadline.Before(expires) {
		return s.Deadline
	}
	return expires
}

// UserSessionsStore lists one user's live sessions (the SQLite store does).
type UserSessionsStore interface {
	LiveLabSessionsOf(ctx context.Context, userID int64) ([]opsdojo.LabSession, error)
}

// Running returns the user's live sessions, oldest first.
func (m *Manager) Running(ctx context.Context, user opsdojo.User) ([]opsdojo.LabSession, error) {
	us, ok := m.store.(UserSessionsStore)
	if !ok {
		return nil, fmt.Errorf("the store cannot list a user's sessions")
	}
	list, err := us.LiveLabSessionsOf(ctx, user.ID)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []opsdojo.LabSession{}
	}
	return list, nil
}

// Restart ends one of the user's sessions and starts its lab afresh: a
// new container from the lab's image, with the learner's progress kept.
func (m *Manager) Restart(ctx context.Context, user opsdojo.User, id string) (opsdojo.LabSession, error) {
	s, err := m.End(ctx, user, id)
	if err != nil {
		return s, err
	}
	return m.Start(ctx, user, s.LabID)
}

// EndAllOf ends every live session of a user with reason (shown to them,
// and sent to their terminals): a disabled user keeps no container.
func (m *Manager) EndAllOf(ctx context.Context, userID int64, reason string) (int, error) {
	us, ok := m.store.(UserSessionsStore)
	if !ok {
		return 0, fmt.Errorf("the store cannot list a user's sessions")
	}
	// Under the learner's lock: a start racing this one finishes first
	// and is listed, or starts after and is refused by the caller.
	defer m.lock(strconv.FormatInt(userID, 10))()
	list, err := us.LiveLabSessionsOf(ctx, userID)
	if err != nil {
		return 0, err
	}
	for _, s := range list {
		s.EndReason = reason
		m.finish(ctx, s, opsdojo.SessionEnded)
		m.log.Info("session ended by an admin", "session", s.ID, "user", userID, "reason", reason)
	}
	return len(list), nil
}
