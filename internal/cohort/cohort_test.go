package cohort

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
)

func TestInviteTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash, err := NewInvite()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) < 43 || seen[tok] || hash == "" || strings.Contains(hash, tok) || HashInvite(tok) != hash {
			t.Fatalf("token %q hash %q", tok, hash)
		}
		seen[tok] = true
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 44), "../../etc", strings.Repeat("é", 43)} {
		if h := HashInvite(bad); h != "" {
			t.Errorf("HashInvite(%q) = %q, want empty", bad, h)
		}
	}
}

func TestPolicy(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ins, _ := st.CreateUser(ctx, "ins", "h", false)
	if err := st.SetUserRole(ctx, ins.ID, opsdojo.RoleInstructor); err != nil {
		t.Fatal(err)
	}
	learner, _ := st.CreateUser(ctx, "lee", "h", false)
	now := time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC)
	mk := func(name string, labs []string, opens, closes time.Time, limit time.Duration) {
		t.Helper()
		c, err := st.CreateCohort(ctx, opsdojo.Cohort{Name: name, Labs: labs, Owners: []int64{ins.ID}, Seats: 5, OpensAt: opens, ClosesAt: closes, SessionLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		_, hash, _ := NewInvite()
		if err := st.SetCohortInvite(ctx, c.ID, hash, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.JoinCohort(ctx, hash, learner.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	mk("open-long", []string{"a", "b"}, time.Time{}, time.Time{}, 2*time.Hour)
	mk("open-short", []string{"b"}, now.Add(-time.Hour), now.Add(time.Hour), 30*time.Minute)
	mk("closing", []string{"c"}, now.Add(-time.Hour), now.Add(time.Minute), 0)
	p := Policy{Store: st}
	for _, tc := range []struct {
		lab   string
		at    time.Time
		limit time.Duration
		code  string
	}{
		{"a", now, 2 * time.Hour, ""},
		{"b", now, 30 * time.Minute, ""},                 // the strictest of two open cohorts
		{"b", now.Add(2 * time.Hour), 2 * time.Hour, ""}, // the short one closed; the long one still open
		{"c", now, 0, ""},
		{"c", now.Add(time.Minute), 0, opsdojo.EFORBIDDEN}, // closed at that instant
		{"z", now.Add(time.Minute), 0, ""},                 // not a cohort lab
	} {
		limit, err := p.StartLimit(ctx, learner, tc.lab, tc.at)
		if tc.code != "" {
			if opsdojo.ErrorCode(err) != tc.code || !strings.Contains(opsdojo.ErrorMessage(err), "closed") {
				t.Errorf("lab %s at %v: err %v, want %s saying closed", tc.lab, tc.at, err, tc.code)
			}
			continue
		}
		if err != nil || limit != tc.limit {
			t.Errorf("lab %s at %v: limit %v, err %v; want %v", tc.lab, tc.at, limit, err, tc.limit)
		}
	}
	// Someone in no cohort starts anything.
	if limit, err := p.StartLimit(ctx, ins, "c", now.Add(time.Hour)); err != nil || limit != 0 {
		t.Fatalf("non-member: %v, %v", limit, err)
	}
}
