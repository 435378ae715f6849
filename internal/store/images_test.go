package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestSessionImages(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	u := mustUser(t, s, "alice")
	for _, id := range []string{"s1", "s2"} {
		if err := s.CreateLabSession(ctx, session(id, u.ID, "lab-"+id, opsdojo.SessionRunning, time.Now(), time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSessionImages(ctx, "s1", []string{"sha256:a", "sha256:b"}); err != nil {
		t.Fatal(err)
	}
	// A second build reuses a cached step and adds one.
	if err := s.AddSessionImages(ctx, "s1", []string{"sha256:b", "sha256:c"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSessionImages(ctx, "s2", []string{"sha256:z"}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path) // the list outlives a restart
	got, err := s.SessionImages(ctx, "s1")
	if err != nil || !slices.Equal(got, []string{"sha256:a", "sha256:b", "sha256:c"}) {
		t.Fatalf("s1 images %v, %v", got, err)
	}
	if err := s.ForgetSessionImages(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionImages(ctx, "s1"); len(got) != 0 {
		t.Fatalf("s1 after forgetting: %v", got)
	}
	if got, _ := s.SessionImages(ctx, "s2"); !slices.Equal(got, []string{"sha256:z"}) {
		t.Fatalf("s2 touched: %v", got)
	}
}
