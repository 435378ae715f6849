package store

import (
	"context"
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
	want := []SessionCount{{"docker", "expired", 1}, {"git", "running", 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}
