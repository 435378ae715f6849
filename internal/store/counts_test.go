package store

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestSessionCountsByLabAndState(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	a, b := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	now := time.Now()
	for _, ls := range []opsdojo.LabSession{
		session("s1", a.ID, "git", opsdojo.SessionRunning, now, time.Hour),
		session("s2", b.ID, "git", opsdojo.SessionRunning, now, time.Hour),
		session("s3", a.ID, "docker", opsdojo.SessionRunning, now, time.Hour),
	} {
		if err := s.CreateLabSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
	ended := session("s3", a.ID, "docker", opsdojo.SessionExpired, now, time.Hour)
	if err := s.UpdateLabSession(ctx, ended); err != nil {
		t.Fatal(err)
	}
	got, err := s.SessionCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Ended sessions are not counted (opsdojo_session_ends_total is).
	want := []SessionCount{{"git", "running", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}

// BenchmarkSessionCounts is the cost of one /metrics scrape's session
// count on a database of a year of sessions (100k ended rows, 4 labs) and
// a class of 200 running.
func BenchmarkSessionCounts(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "opsdojo.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u, err := s.CreateUser(ctx, "alice", "hash", false)
	if err != nil {
		b.Fatal(err)
	}
	var learners []int64
	for i := 0; i < 50; i++ {
		l, err := s.CreateUser(ctx, fmt.Sprintf("learner%d", i), "hash", false)
		if err != nil {
			b.Fatal(err)
		}
		learners = append(learners, l.ID)
	}
	now := time.Now()
	labsN := []string{"git-basics", "ci-pipeline", "dockerfile-go-service", "prometheus-alerting"}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100_000; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO lab_sessions (id, user_id, lab_id, container_id, network_id, state, created_at, last_active_at, expires_at)
			VALUES (?, ?, ?, '', '', 'expired', ?, ?, ?)`, fmt.Sprintf("s%d", i), u.ID, labsN[i%4], ms(now), ms(now), ms(now)); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 200; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO lab_sessions (id, user_id, lab_id, container_id, network_id, state, created_at, last_active_at, expires_at)
			VALUES (?, ?, ?, '', '', 'running', ?, ?, ?)`, fmt.Sprintf("r%d", i), learners[i/4], labsN[i%4], ms(now), ms(now), ms(now)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.SessionCounts(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
