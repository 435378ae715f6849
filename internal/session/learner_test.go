package session

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// learnerRecorder is a checker that notes whose work it graded.
type learnerRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *learnerRecorder) Check(_ context.Context, in grading.Input) opsdojo.CheckResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, in.Learner)
	return opsdojo.CheckResult{Status: opsdojo.StatusPass}
}

// TestCheckNamesTheLearner: checks learn whose session they grade, so the
// build queue can give each learner one build at a time across all their
// sessions.
func TestCheckNamesTheLearner(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour})
	rec := &learnerRecorder{}
	e.grader.Register("exec", rec)
	a1 := e.start(t, e.alice, "git")
	a2 := e.start(t, e.alice, "docker")
	b1 := e.start(t, e.bob, "git")
	for _, c := range []struct {
		user opsdojo.User
		id   string
	}{{e.alice, a1.ID}, {e.alice, a2.ID}, {e.bob, b1.ID}} {
		if _, _, err := e.m.Check(ctx, c.user, c.id, "branch"); err != nil {
			t.Fatal(err)
		}
	}
	alice, bob := strconv.FormatInt(e.alice.ID, 10), strconv.FormatInt(e.bob.ID, 10)
	if len(rec.got) != 3 || rec.got[0] != alice || rec.got[1] != alice || rec.got[2] != bob || alice == bob {
		t.Fatalf("learners %q, want [%s %s %s]", rec.got, alice, alice, bob)
	}
}
