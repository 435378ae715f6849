package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
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
	if got.State != opsdojo.SessionEnded || !strings.Contains(got.EndReason, "used 250 MiB of disk, past the 100 MiB disk quota (250 MiB files, 0 MiB images, 0 MiB recordings)") {
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

// TestDiskQuotaCountsImagesAndRecordings: a session's build images (what
// they add, as the engine reports it) and its recordings count with its
// files; the end reason and the warning say how much of each.
func TestDiskQuotaCountsImagesAndRecordings(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{TTL: time.Hour, DiskQuota: 100 << 20})
	recDir := filepath.Join(t.TempDir(), "recordings")
	e.m.SetTerminals(TerminalConfig{RecordDir: recDir})
	images := e.start(t, e.alice, "git")   // small files, big images
	recordings := e.start(t, e.bob, "git") // small files, big recordings
	e.box.diskUsage = map[string]int64{images.ContainerID: 10 << 20, recordings.ContainerID: 5 << 20}
	e.box.imageBytes = map[string]int64{"img-a": 60 << 20, "img-b": 40 << 20}
	if err := e.st.AddSessionImages(ctx, images.ID, []string{"img-a", "img-b"}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(recDir, recordings.ID), 0o750); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"main-1.cast", "t2-1.cast"} {
		if err := os.WriteFile(filepath.Join(recDir, recordings.ID, name), make([]byte, 40<<20), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.m.EnforceDiskQuota(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EnforceDiskQuota = %d, %v; want 1 ended", n, err)
	}
	got := e.stored(t, images.ID)
	if got.State != opsdojo.SessionEnded || got.EndReason != "it used 110 MiB of disk, past the 100 MiB disk quota (10 MiB files, 100 MiB images, 0 MiB recordings)" {
		t.Fatalf("session over quota by its images: %s %q", got.State, got.EndReason)
	}
	// 85 MiB with its recordings: warned, not ended.
	if got := e.stored(t, recordings.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("session at 85%%: %s %q", got.State, got.EndReason)
	}
	e.m.mu.Lock()
	_, warned := e.m.diskWarned[recordings.ID]
	e.m.mu.Unlock()
	if !warned {
		t.Fatal("a session at 85% of its quota through its recordings was not warned")
	}
	use, err := e.m.SessionDiskUse(ctx, recordings)
	if err != nil || use.String() != "85 MiB: 5 MiB files, 0 MiB images, 80 MiB recordings" {
		t.Fatalf("use %q, %v", use.String(), err)
	}
	big := DiskUse{Files: 3435973837, Images: 858993459, Recordings: 107374182}
	if got := big.String(); got != "4.1 GiB: 3.2 GiB files, 0.8 GiB images, 0.1 GiB recordings" {
		t.Fatalf("DiskUse.String() = %q", got)
	}
}

// TestDiskWatch: growth counts from the lowest point since the last
// sweep, so space freed and then filled again is seen.
func TestDiskWatch(t *testing.T) {
	used := int64(1000)
	w := newDiskWatch([]string{"/x"}, 100, func([]string) (int64, error) { return used, nil })
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ used, grew int64 }{{1050, 50}, {900, 0}, {1020, 120}, {1500, 600}} {
		used = step.used
		if g, err := w.poll(); err != nil || g != step.grew {
			t.Fatalf("at %d: grew %d, %v; want %d", step.used, g, err, step.grew)
		}
	}
	w.rebase()
	if g, _ := w.poll(); g != 0 {
		t.Fatalf("after a sweep: grew %d", g)
	}
	// The real reading: the filesystem of a temp dir, counted once when
	// named twice.
	dir := t.TempDir()
	one, err := statfsUsed([]string{dir})
	if err != nil || one <= 0 {
		t.Fatalf("statfs: %d, %v", one, err)
	}
	if _, err := statfsUsed([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing path read as a disk")
	}
}

// TestQuotaFastPath: with a reap interval of an hour, a jump of the
// watched disks' use, or a build that records images, ends a session over
// its quota at once.
func TestQuotaFastPath(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour, ReapInterval: time.Hour, DiskQuota: 100 << 20,
		DiskWatchPaths: []string{"/watched"}, DiskWatchInterval: 5 * time.Millisecond})
	var mu sync.Mutex
	used := int64(10 << 30)
	reads := 0
	e.m.quota.used = func([]string) (int64, error) { mu.Lock(); defer mu.Unlock(); reads++; return used, nil }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.m.runQuota(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(hang); ; time.Sleep(time.Millisecond) { // the watch has its starting point
		mu.Lock()
		n := reads
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch never polled")
		}
	}
	waitEnded := func(s opsdojo.LabSession) {
		t.Helper()
		deadline := time.Now().Add(hang)
		for e.stored(t, s.ID).State == opsdojo.SessionRunning {
			if time.Now().After(deadline) {
				t.Fatalf("session %s still running", s.ID)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// fallocate: the learner's files jump past the quota, and so do the disks.
	s := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.diskUsage = map[string]int64{s.ContainerID: 200 << 20}
	e.box.mu.Unlock()
	mu.Lock()
	used += 200 << 20
	mu.Unlock()
	waitEnded(s)

	// A build check's images push a session past its quota: the build
	// itself asks for a sweep (its images are recorded only at its end).
	s2 := e.start(t, e.bob, "git")
	e.box.mu.Lock()
	e.box.imageBytes = map[string]int64{"big": 300 << 20}
	e.box.buildImages = []string{"big"}
	e.box.mu.Unlock()
	eng := e.m.target(s2).Engine
	if _, err := eng.Build(ctx, grading.BuildRequest{Session: s2.ID, Tag: "t"}); err != nil {
		t.Fatal(err)
	}
	waitEnded(s2)
	if got := e.stored(t, s2.ID); !strings.Contains(got.EndReason, "300 MiB images") {
		t.Fatalf("end reason %q", got.EndReason)
	}
}

// TestQuotaWatchIgnoresSmallGrowth: growth under the threshold does not
// sweep (the regular sweep an hour away would be the only one).
func TestQuotaWatchIgnoresSmallGrowth(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour, ReapInterval: time.Hour, DiskQuota: 100 << 20,
		DiskWatchPaths: []string{"/watched"}, DiskWatchInterval: 2 * time.Millisecond})
	var mu sync.Mutex
	used := int64(10 << 30)
	polls := 0
	e.m.quota.used = func([]string) (int64, error) { mu.Lock(); defer mu.Unlock(); polls++; return used, nil }
	s := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.diskUsage = map[string]int64{s.ContainerID: 200 << 20}
	e.box.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.m.runQuota(ctx) }()
	waitPolls := func(n int) {
		for {
			mu.Lock()
			p := polls
			mu.Unlock()
			if p >= n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitPolls(2) // the watch has its starting point
	mu.Lock()
	used += 10 << 20 // under the 50 MiB threshold
	start := polls
	mu.Unlock()
	waitPolls(start + 20)
	cancel()
	<-done
	if got := e.stored(t, s.ID); got.State != opsdojo.SessionRunning {
		t.Fatalf("swept on growth under the threshold: %s", got.State)
	}
}

// BenchmarkStatfsUsed measures one poll of the disk watch: statfs (and
// stat) of two directories, here a temp dir and the working directory.
func BenchmarkStatfsUsed(b *testing.B) {
	paths := []string{b.TempDir(), "."}
	for b.Loop() {
		if _, err := statfsUsed(paths); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQuotaWatchAfterFreedSpace: the space a sweep frees (the container
// over quota) is filled again before the next poll, by a learner who
// starts again and runs fallocate at once. The watch counts growth from
// what is left after the sweep, so it still sees the jump.
func TestQuotaWatchAfterFreedSpace(t *testing.T) {
	e := newEnv(t, Config{TTL: time.Hour, ReapInterval: time.Hour, DiskQuota: 100 << 20,
		DiskWatchPaths: []string{"/watched"}, DiskWatchInterval: time.Hour})
	var mu sync.Mutex
	used := int64(10 << 30)
	freed := false
	readAfterFree := make(chan struct{})
	var once sync.Once
	e.m.quota.used = func([]string) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		if freed {
			once.Do(func() { close(readAfterFree) })
		}
		return used, nil
	}
	grow := func(n int64) { mu.Lock(); used += n; mu.Unlock() }
	ticks := make(chan time.Time)
	e.m.quota.polls = ticks
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.m.runQuota(ctx) }()
	defer func() { cancel(); <-done }()
	// One poll, then wait: a second poll could see the dip the sweep
	// leaves, which a real watch polling every few seconds can miss.
	pollOnceThenWait := func(s opsdojo.LabSession) {
		t.Helper()
		ticks <- time.Now()
		deadline := time.Now().Add(hang)
		for e.stored(t, s.ID).State == opsdojo.SessionRunning {
			if time.Now().After(deadline) {
				t.Fatalf("session %s still running", s.ID)
			}
			time.Sleep(time.Millisecond)
		}
	}
	ticks <- time.Now() // the watch has its starting point
	first := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.diskUsage = map[string]int64{first.ContainerID: 200 << 20}
	e.box.onRemove = func() { mu.Lock(); used -= 200 << 20; freed = true; mu.Unlock() } // the engine frees the layer
	e.box.mu.Unlock()
	grow(200 << 20)
	pollOnceThenWait(first)
	// The learner starts again once the sweep is over; if the manager
	// reads the disks after the sweep, that comes first.
	select {
	case <-readAfterFree:
	case <-time.After(time.Second):
	}

	again := e.start(t, e.alice, "git")
	e.box.mu.Lock()
	e.box.diskUsage[again.ContainerID] = 200 << 20
	e.box.mu.Unlock()
	grow(200 << 20) // back where the disks were when the last sweep started
	// Poll until it ends: sweeps are spaced (sweepDuty), a poll right
	// after the last sweep may be skipped.
	deadline := time.Now().Add(hang)
	for e.stored(t, again.ID).State == opsdojo.SessionRunning {
		if time.Now().After(deadline) {
			t.Fatalf("session %s still running: the refilled space went unseen", again.ID)
		}
		ticks <- time.Now()
		time.Sleep(time.Millisecond)
	}
}
