package opsdojo

import (
	"strings"
	"time"
)

// AuditEntry is one instructor or admin action: who did what to whom, when.
type AuditEntry struct {
	ID int64     `json:"id"`
	At time.Time `json:"at"`
	// ActorID is the user who acted; ActorName keeps their name even if the
	// account is deleted later.
	ActorID   int64  `json:"actor_id"`
	ActorName string `json:"actor"`
	// Via is "browser" or "token:<id>" (an API token of the actor's).
	Via    string `json:"via"`
	Action string `json:"action"`
	// TargetUserID/TargetName name the learner acted on (zero/empty when
	// the action has no learner, e.g. a token created).
	TargetUserID int64  `json:"target_user_id,omitempty"`
	TargetName   string `json:"target,omitempty"`
	// CohortID is the cohort the action was taken through (zero: none),
	// which decides which instructors see the entry.
	CohortID  int64  `json:"cohort_id,omitempty"`
	LabID     string `json:"lab,omitempty"`
	SessionID string `json:"session,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// Audit actions.
const (
	AuditWatch       = "watch"
	AuditMessage     = "message"
	AuditExtend      = "extend"
	AuditEnd         = "end"
	AuditReset       = "reset"
	AuditExport      = "export"
	AuditTokenCreate = "token.create"
	AuditTokenRevoke = "token.revoke"
	AuditRemove      = "cohort.remove"
	AuditWarmSeats   = "cohort.warm-seats"
)

// Scope is what an API token may do.
type Scope string

const (
	// ScopeReadProgress reads boards and learners' attempts.
	ScopeReadProgress Scope = "read:progress"
	// ScopeExport downloads grade exports.
	ScopeExport Scope = "export"
	// ScopeManageSessions messages, extends, ends and resets learners' labs.
	ScopeManageSessions Scope = "manage:sessions"
)

// AllScopes lists the valid scopes.
var AllScopes = []Scope{ScopeReadProgress, ScopeExport, ScopeManageSessions}

// ParseScopes checks a list of scope names; duplicates are dropped.
func ParseScopes(names []string) ([]Scope, error) {
	var out []Scope
	seen := map[Scope]bool{}
	for _, n := range names {
		sc := Scope(strings.TrimSpace(n))
		valid := false
		for _, a := range AllScopes {
			valid = valid || a == sc
		}
		if !valid {
			return nil, Errorf(EINVALID, "unknown scope %q (valid: read:progress, export, manage:sessions)", n)
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, Errorf(EINVALID, "a token needs at least one scope")
	}
	return out, nil
}

// APIToken is an instructor's token for scripts. Only its hash is stored.
type APIToken struct {
	ID     int64   `json:"id"`
	UserID int64   `json:"-"`
	Name   string  `json:"name"`
	Prefix string  `json:"prefix"` // the token's first characters, to tell tokens apart
	Scopes []Scope `json:"scopes"`
	// CreatedAt, ExpiresAt, RevokedAt, LastUsedAt: the token's life.
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Has reports whether the token carries scope.
func (t APIToken) Has(scope Scope) bool {
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Usable reports whether the token may be used at now.
func (t APIToken) Usable(now time.Time) bool {
	return t.RevokedAt == nil && now.Before(t.ExpiresAt)
}

// StepStatus is a learner's state at one step, as the board shows it.
type StepStatus string

const (
	StepNotStarted StepStatus = "not started"
	StepWorking    StepStatus = "working"
	StepFailed     StepStatus = "failed"
	StepPassed     StepStatus = "passed"
)

// StepRecord is everything stored about one learner at one step since the
// lab was last reset: the board's cell and the export's row.
type StepRecord struct {
	UserID   int64
	LabID    string
	StepID   string
	Passed   bool
	Points   float64
	Attempts int // counted attempts (grader errors do not count)
	Hints    int
	// FirstPassedAt is when the step was first passed; nil: not yet.
	FirstPassedAt *time.Time
	// LastStatus is the status of the latest attempt ("" without one).
	LastStatus CheckStatus
	// FailStreak counts the failed attempts since the last pass or the
	// start, whichever is later.
	FailStreak int
	// LastAttemptAt is the time of the latest attempt (zero without one).
	LastAttemptAt time.Time
}

// LabActivity is what the board needs about a learner's sessions of a lab
// since its last reset.
type LabActivity struct {
	UserID int64
	LabID  string
	// Started: the learner has opened a session of the lab (since a reset).
	Started bool
	// Live: a session of the lab is running now; LiveSince when it started.
	Live      bool
	LiveSince time.Time
	// LiveSessionID is the running session's id ("" without one).
	LiveSessionID string
	// LastActive is the latest activity in any session of the lab.
	LastActive time.Time
	// ResetAt is when the lab was last reset (zero: never).
	ResetAt time.Time
}

// CheckEvent tells listeners that a learner's record at a lab changed: a
// Check finished, a hint was shown, a session started, ended or was reset.
type CheckEvent struct {
	UserID int64
	LabID  string
	StepID string // empty: the whole lab
	Kind   string // "check", "hint", "session", "reset"
	At     time.Time
}
