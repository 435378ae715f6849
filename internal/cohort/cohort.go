// Package cohort holds the rules of cohorts that are not storage: which
// cohort lab a member may start when and for how long, and the invite
// tokens. The store keeps the data; the web layer shows it.
package cohort

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Memberships is what the policy reads from the store.
type Memberships interface {
	CohortsOfMember(ctx context.Context, userID int64) ([]opsdojo.Cohort, error)
}

// Policy is the session.StartPolicy of cohorts. A lab that is in none of
// the learner's cohorts starts as before. A lab in one or more of them
// starts only while at least one of those cohorts is open, and its session
// gets the strictest time limit among the open ones that set one.
type Policy struct {
	Store Memberships
}

// StartLimit implements session.StartPolicy.
func (p Policy) StartLimit(ctx context.Context, user opsdojo.User, labID string, now time.Time) (time.Duration, error) {
	cohorts, err := p.Store.CohortsOfMember(ctx, user.ID)
	if err != nil {
		return 0, err
	}
	var refusal error
	var limit time.Duration
	open := false
	for _, c := range cohorts {
		if !c.HasLab(labID) {
			continue
		}
		if err := c.WindowError(now, "start its labs"); err != nil {
			if refusal == nil {
				refusal = err
			}
			continue
		}
		open = true
		if c.SessionLimit > 0 && (limit == 0 || c.SessionLimit < limit) {
			limit = c.SessionLimit
		}
	}
	if !open && refusal != nil {
		return 0, refusal
	}
	return limit, nil
}

// tokenBytes is the invite token's entropy: 256 bits.
const tokenBytes = 32

// NewInvite returns a fresh invite token for the link and the hash the
// store keeps (the token itself is never stored).
func NewInvite() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate invite token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashInvite(token), nil
}

// HashInvite is the stored form of an invite token. A plain SHA-256 is
// enough: the token is random and 256 bits long, nothing to brute-force.
// Anything that is not a well-formed token hashes to "", which matches
// no cohort.
func HashInvite(token string) string {
	if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != tokenBytes {
		return ""
	}
	sum := sha256.Sum256([]byte("opsdojo-invite:" + token))
	return hex.EncodeToString(sum[:])
}
