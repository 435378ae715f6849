package store

import (
	"context"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestEndReasonRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	u := mustUser(t, s, "alice")
	now := time.Now()
	ls := session("s1", u.ID, "git", opsdojo.SessionRunning, now, time.Hour)
	if err := s.CreateLabSession(ctx, ls); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LabSession(ctx, "s1"); got.EndReason != "" {
		t.Fatalf("new session has end reason %q", got.EndReason)
	}
	ls.State, ls.EndReason = opsdojo.SessionEnded, "its files grew past the 100 MB disk quota"
	if err := s.UpdateLabSession(ctx, ls); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	got, err := s.LabSession(ctx, "s1")
	if err != nil || got.State != opsdojo.SessionEnded || got.EndReason != ls.EndReason {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}
