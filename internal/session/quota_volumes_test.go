package session

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// volumesBox is the fake sandbox with learner volumes to measure.
type volumesBox struct {
	*fakeSandbox
	mu    sync.Mutex
	bytes map[string]int64 // by session
	errs  map[string]error
}

func (b *volumesBox) LearnerVolumesUsage(_ context.Context, session string) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes[session], b.errs[session]
}

func newVolumesEnv(t *testing.T, cfg Config) (*env, *volumesBox) {
	e := newEnv(t, cfg)
	vb := &volumesBox{fakeSandbox: e.box, bytes: map[string]int64{}, errs: map[string]error{}}
	e.m.box = vb
	return e, vb
}

// TestDiskQuotaCountsLearnerVolumes: what a learner wrote into the
// volumes of their docker CLI counts with their files: past 80% a
// warning, past the quota the end, and the reason says how much was in
// volumes.
func TestDiskQuotaCountsLearnerVolumes(t *testing.T) {
	ctx := context.Background()
	e, vb := newVolumesEnv(t, Config{TTL: time.Hour, DiskQuota: 100 << 20})
	near := e.start(t, e.alice, "git")
	over := e.start(t, e.bob, "git")
	e.box.diskUsage = map[string]int64{near.ContainerID: 10 << 20, over.ContainerID: 10 << 20}
	vb.bytes[near.ID] = 75 << 20  // 85 MiB in all
	vb.bytes[over.ID] = 120 << 20 // 130 MiB in all

	use, err := e.m.SessionDiskUse(ctx, over)
	if err != nil || use.Volumes != 120<<20 || use.Total() != 130<<20 {
		t.Fatalf("SessionDiskUse = %+v, %v", use, err)
	}
	n, err := e.m.EnforceDiskQuota(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EnforceDiskQuota = %d, %v; want 1", n, err)
	}
	got := e.stored(t, over.ID)
	if got.State != opsdojo.SessionEnded || !strings.Contains(got.EndReason, "used 130 MiB of disk, past the 100 MiB disk quota (10 MiB files, 120 MiB docker volumes, 0 MiB images, 0 MiB recordings)") {
		t.Fatalf("over: %s %q", got.State, got.EndReason)
	}
	if got := e.stored(t, near.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("near: %s", got.State)
	}
	e.m.mu.Lock()
	_, warned := e.m.diskWarned[near.ID]
	e.m.mu.Unlock()
	if !warned {
		t.Fatal("a session at 85% with its volumes was not warned")
	}
}

// TestDiskQuotaEndsUnmeasurableVolumes: a learner who makes their volume
// impossible to measure is ended with the reason, and the other sessions
// are still checked; an engine failure ends nobody.
func TestDiskQuotaEndsUnmeasurableVolumes(t *testing.T) {
	ctx := context.Background()
	e, vb := newVolumesEnv(t, Config{TTL: time.Hour, DiskQuota: 100 << 20})
	deep := e.start(t, e.alice, "git")
	heavy := e.start(t, e.bob, "git")
	e.box.diskUsage = map[string]int64{heavy.ContainerID: 200 << 20}
	vb.errs[deep.ID] = opsdojo.Errorf(opsdojo.EFORBIDDEN, "the volume v holds folders nested deeper than 1024 levels, which cannot be measured")
	n, err := e.m.EnforceDiskQuota(ctx)
	if err != nil || n != 2 {
		t.Fatalf("EnforceDiskQuota = %d, %v; want 2", n, err)
	}
	if got := e.stored(t, deep.ID); got.State != opsdojo.SessionEnded || !strings.Contains(got.EndReason, "could not be measured against the 100 MiB disk quota: the volume v holds folders nested deeper than 1024 levels") {
		t.Fatalf("deep: %s %q", got.State, got.EndReason)
	}

	e2, vb2 := newVolumesEnv(t, Config{TTL: time.Hour, DiskQuota: 100 << 20})
	s := e2.start(t, e2.alice, "git")
	vb2.errs[s.ID] = opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the Docker engine is not reachable")
	if n, err := e2.m.EnforceDiskQuota(ctx); n != 0 || opsdojo.ErrorCode(err) != opsdojo.EUNAVAILABLE {
		t.Fatalf("engine down: %d, %v", n, err)
	}
	if got := e2.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("ended because the engine did not answer: %s", got.State)
	}
}
