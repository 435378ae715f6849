package opsdojo

import (
	"strings"
	"time"
)

// Role is what a user may do. Every route checks it on the server.
type Role string

const (
	// RoleAdmin manages users and sees every cohort and session.
	RoleAdmin Role = "admin"
	// RoleInstructor creates cohorts and sees only the cohorts they own.
	RoleInstructor Role = "instructor"
	// RoleLearner takes labs; the default for anyone who signs up.
	RoleLearner Role = "learner"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleInstructor, RoleLearner}

// ParseRole returns the role named s, or EINVALID.
func ParseRole(s string) (Role, error) {
	r := Role(strings.TrimSpace(strings.ToLower(s)))
	for _, ok := range Roles {
		if r == ok {
			return r, nil
		}
	}
	return "", Errorf(EINVALID, "unknown role %q: use admin, instructor or learner", s)
}

// Teaches reports whether the role may create and run cohorts.
func (r Role) Teaches() bool { return r == RoleAdmin || r == RoleInstructor }

// Cohort is a class: learners who joined through its invite link take its
// labs, in order, inside its window and under its session time limit.
type Cohort struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Labs are lab ids in the order the class takes them.
	Labs []string `json:"labs"`
	// Owners are the user ids of the instructors who run the cohort.
	Owners []int64 `json:"owners"`
	// Seats caps how many learners may join.
	Seats int `json:"seats"`
	// OpensAt and ClosesAt bound when learners may join and start the
	// cohort's labs; a zero time is no bound on that side.
	OpensAt  time.Time `json:"opens_at"`
	ClosesAt time.Time `json:"closes_at"`
	// SessionLimit caps how long a member's session of a cohort lab lives
	// from its start, whatever the activity; zero: the server's idle TTL
	// only.
	SessionLimit time.Duration `json:"session_limit_ns"`
	// HasInvite is set while an invite link exists (its token is stored
	// only as a hash, so it cannot be shown again); InviteExpiresAt is when
	// it stops working.
	HasInvite       bool      `json:"has_invite"`
	InviteExpiresAt time.Time `json:"invite_expires_at"`
	// Members is how many learners have joined.
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

// OpenAt reports whether the cohort's window contains t.
func (c Cohort) OpenAt(t time.Time) bool {
	if !c.OpensAt.IsZero() && t.Before(c.OpensAt) {
		return false
	}
	if !c.ClosesAt.IsZero() && !t.Before(c.ClosesAt) {
		return false
	}
	return true
}

// WindowError is the learner-facing refusal for doing something in the
// cohort outside its window, or nil when t is inside it.
func (c Cohort) WindowError(t time.Time, what string) error {
	if c.OpenAt(t) {
		return nil
	}
	if !c.OpensAt.IsZero() && t.Before(c.OpensAt) {
		return Errorf(EFORBIDDEN, "the cohort %q opens at %s UTC; you cannot %s before then", c.Name, c.OpensAt.UTC().Format("2006-01-02 15:04"), what)
	}
	return Errorf(EFORBIDDEN, "the cohort %q closed at %s UTC; you cannot %s any more", c.Name, c.ClosesAt.UTC().Format("2006-01-02 15:04"), what)
}

// HasLab reports whether labID is one of the cohort's labs.
func (c Cohort) HasLab(labID string) bool {
	for _, l := range c.Labs {
		if l == labID {
			return true
		}
	}
	return false
}

// OwnedBy reports whether userID is one of the cohort's instructors.
func (c Cohort) OwnedBy(userID int64) bool {
	for _, o := range c.Owners {
		if o == userID {
			return true
		}
	}
	return false
}

// CohortMember is a learner who joined a cohort.
type CohortMember struct {
	UserID   int64     `json:"user_id"`
	Username string    `json:"username"`
	JoinedAt time.Time `json:"joined_at"`
}
