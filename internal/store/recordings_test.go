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

// TestUserRecordingUsage: a user's recordings budget starts from their
// finished recordings' bytes and the files of unfinished ones; another
// user's do not count; a truncation reason is kept and listed.
func TestUserRecordingUsage(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	alice, bob := mustUser(t, s, "alice"), mustUser(t, s, "bob")
	now := time.Now().Truncate(time.Millisecond)
	if err := s.CreateLabSession(ctx, session("s1", alice.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLabSession(ctx, session("s2", bob.ID, "git", opsdojo.SessionRunning, now, time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct {
		id, session string
		user        int64
		bytes       int64 // -1: unfinished
	}{{"a1", "s1", alice.ID, 100}, {"a2", "s1", alice.ID, 250}, {"a3", "s1", alice.ID, -1}, {"b1", "s2", bob.ID, 9999}} {
		if err := s.CreateRecording(ctx, Recording{ID: r.id, SessionID: r.session, UserID: r.user, LabID: "git", Tab: "t", Path: "/rec/" + r.id, StartedAt: now.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if r.bytes >= 0 {
			if err := s.FinishRecording(ctx, r.id, r.bytes, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
	}
	u, err := s.UserRecordingUsage(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Finished != 350 || len(u.Unfinished) != 1 || u.Unfinished[0] != "/rec/a3" {
		t.Fatalf("alice's usage: %+v", u)
	}
	if err := s.MarkRecordingTruncated(ctx, "a2", "recording truncated: your recordings reached their 1 MiB limit"); err != nil {
		t.Fatal(err)
	}
	r, err := s.Recording(ctx, "a2")
	if err != nil || !strings.Contains(r.Truncated, "1 MiB limit") {
		t.Fatalf("truncated recording: %+v, %v", r, err)
	}
	if r, _ := s.Recording(ctx, "a1"); r.Truncated != "" {
		t.Fatalf("an untouched recording is marked truncated: %q", r.Truncated)
	}
}
