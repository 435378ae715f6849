package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func TestEnforceDiskQuota(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour, DiskQuota: 100 << 20})
	heavy := e.start(t, e.alice, "git")
	light := e.start(t, e.alice, "docker")
	atQuota := e.start(t, e.bob, "git")
	e.box.diskUsage = map[string]int64{heavy.ContainerID: 250 << 20, light.ContainerID: 1_000, atQuota.ContainerID: 100 << 20}

	n, err := e.m.EnforceDiskQuota(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EnforceDiskQuota = %d, %v; want 1", n, err)
	}
	got := e.stored(t, heavy.ID)
	if got.State != opsdojo.SessionEnded || !strings.Contains(got.EndReason, "100 MiB disk quota (250 MiB written)") {
		t.Fatalf("heavy session: %s %q", got.State, got.EndReason)
	}
	if !e.box.wasRemoved(heavy.ContainerID, heavy.NetworkID) {
		t.Fatal("the container over quota was not removed")
	}
	for _, s := range []opsdojo.LabSession{light, atQuota} {
		if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning || got.EndReason != "" || e.box.wasRemoved(s.ContainerID, "") {
			t.Fatalf("session %s under quota was touched: %s %q", s.ID, got.State, got.EndReason)
		}
	}
	// The learner starts the lab again and gets a fresh session.
	again := e.start(t, e.alice, "git")
	if again.ID == heavy.ID || again.State != opsdojo.SessionRunning || again.EndReason != "" {
		t.Fatalf("restart after the quota: %+v", again)
	}
	// An ended session is not ended twice.
	if n, err := e.m.EnforceDiskQuota(ctx); err != nil || n != 0 {
		t.Fatalf("second pass = %d, %v; want 0", n, err)
	}
}

func TestEnforceDiskQuotaOffAndEngineDown(t *testing.T) {
	ctx := context.Background()
	off := newEnv(t, Config{TTL: time.Hour})
	s := off.start(t, off.alice, "git")
	off.box.diskUsage = map[string]int64{s.ContainerID: 1 << 40}
	if n, err := off.m.EnforceDiskQuota(ctx); err != nil || n != 0 {
		t.Fatalf("no quota: %d, %v", n, err)
	}

	down := newEnv(t, Config{TTL: time.Hour, DiskQuota: 1})
	s = down.start(t, down.alice, "git")
	down.box.diskErr = opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the Docker engine is not reachable")
	n, err := down.m.EnforceDiskQuota(ctx)
	if n != 0 || opsdojo.ErrorCode(err) != opsdojo.EUNAVAILABLE {
		t.Fatalf("engine down: %d, %v", n, err)
	}
	if got := down.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("a session was ended because the engine did not answer: %s", got.State)
	}
}

// TestDiskQuotaWarning: a session past 80% of its quota is warned, at most
// every diskWarnEvery, and forgotten once it is no longer live.
func TestDiskQuotaWarning(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour, DiskQuota: 100 << 20})
	near := e.start(t, e.alice, "git")
	far := e.start(t, e.alice, "docker")
	e.box.diskUsage = map[string]int64{near.ContainerID: 85 << 20, far.ContainerID: 50 << 20}
	warnedAt := func(id string) (time.Time, bool) {
		e.m.mu.Lock()
		defer e.m.mu.Unlock()
		at, ok := e.m.diskWarned[id]
		return at, ok
	}
	if _, err := e.m.EnforceDiskQuota(ctx); err != nil {
		t.Fatal(err)
	}
	first, ok := warnedAt(near.ID)
	if !ok {
		t.Fatal("a session at 85% of its quota was not warned")
	}
	if _, ok := warnedAt(far.ID); ok {
		t.Fatal("a session at 50% was warned")
	}
	e.clock.advance(time.Minute)
	e.m.EnforceDiskQuota(ctx)
	if at, _ := warnedAt(near.ID); !at.Equal(first) {
		t.Fatal("warned again a minute later")
	}
	e.clock.advance(diskWarnEvery)
	e.m.EnforceDiskQuota(ctx)
	if at, _ := warnedAt(near.ID); !at.After(first) {
		t.Fatal("not warned again after diskWarnEvery")
	}
	if _, err := e.m.End(ctx, e.alice, near.ID); err != nil {
		t.Fatal(err)
	}
	e.m.EnforceDiskQuota(ctx)
	if _, ok := warnedAt(near.ID); ok {
		t.Fatal("an ended session's warning was kept")
	}
}
