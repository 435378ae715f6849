package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestExpiredAndDeletedRecordings(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	u := mustUser(t, s, "alice")
	now := time.Now().Truncate(time.Millisecond)
	if err := s.CreateLabSession(ctx, session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	recs := []struct {
		id      string
		started time.Time
		ended   *time.Time // nil: never finished
	}{
		{"old-ended", now.Add(-40 * day), ptr(now.Add(-39 * day))},
		{"old-unfinished", now.Add(-35 * day), nil},
		{"ended-recently", now.Add(-40 * day), ptr(now.Add(-day))}, // a long one: its end counts
		{"live", now.Add(-time.Hour), nil},
	}
	for _, r := range recs {
		if err := s.CreateRecording(ctx, Recording{ID: r.id, SessionID: "s1", UserID: u.ID, LabID: "git", Tab: "main", Path: "/rec/" + r.id, StartedAt: r.started}); err != nil {
			t.Fatal(err)
		}
		if r.ended != nil {
			if err := s.FinishRecording(ctx, r.id, 10, *r.ended); err != nil {
				t.Fatal(err)
			}
		}
	}
	cutoff := now.Add(-30 * day)
	names := func(list []Recording) string {
		var out []string
		for _, r := range list {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	got, err := s.ExpiredRecordings(ctx, cutoff, 0)
	if err != nil {
		t.Fatal(err)
	}
	if names(got) != "old-ended,old-unfinished" || got[0].Username != "alice" || got[0].Path != "/rec/old-ended" {
		t.Fatalf("expired: %s (%+v)", names(got), got)
	}
	if got, _ := s.ExpiredRecordings(ctx, cutoff, 1); names(got) != "old-ended" {
		t.Fatalf("limit 1: %s", names(got))
	}
	if err := s.DeleteRecording(ctx, "old-ended"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recording(ctx, "old-ended"); opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		t.Fatalf("deleted recording still readable: %v", err)
	}
	left, _ := s.Recordings(ctx, RecordingFilter{})
	if names(left) != "live,old-unfinished,ended-recently" { // newest start first
		t.Fatalf("left: %s", names(left))
	}
}

func ptr[T any](v T) *T { return &v }
