package session

import (
	"context"
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
