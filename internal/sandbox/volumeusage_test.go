package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func writeBytes(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Repeat("x", n)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDirUsage: allocated space, each inode once; links are not followed
// out of the tree; sparse files count what they hold and reserved space
// counts.
func TestDirUsage(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	writeBytes(t, filepath.Join(outside, "big"), 4<<20)
	dir := t.TempDir()
	empty, err := DirUsage(ctx, dir)
	if err != nil || empty <= 0 || empty > 64<<10 {
		t.Fatalf("empty folder: %d, %v", empty, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeBytes(t, filepath.Join(dir, "a", "b", "one"), 1<<20)
	if err := os.Link(filepath.Join(dir, "a", "b", "one"), filepath.Join(dir, "again")); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"out": outside, "outfile": filepath.Join(outside, "big"), "up": "..", "root": "/"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := DirUsage(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 1<<20 || got > 1<<20+256<<10 {
		t.Fatalf("1 MiB file, hard-linked twice, links out: %d bytes", got)
	}
	// A sparse file holds (almost) nothing; reserved space counts.
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sparse, err := DirUsage(ctx, dir)
	if err != nil || sparse-got > 64<<10 {
		t.Fatalf("a sparse 1 GiB file counted %d bytes (%v)", sparse-got, err)
	}
	r, err := os.Create(filepath.Join(dir, "reserved"))
	if err != nil {
		t.Fatal(err)
	}
	ferr := unix.Fallocate(int(r.Fd()), 0, 0, 8<<20)
	r.Close()
	if ferr == nil {
		reserved, err := DirUsage(ctx, dir)
		if err != nil || reserved-sparse < 8<<20 {
			t.Fatalf("8 MiB fallocated counted %d bytes (%v)", reserved-sparse, err)
		}
	} else {
		t.Logf("fallocate not supported here: %v", ferr)
	}
	// A folder that is gone measures nothing.
	if n, err := DirUsage(ctx, filepath.Join(dir, "gone")); n != 0 || err != nil {
		t.Fatalf("missing folder: %d, %v", n, err)
	}
	// The walk starts at a folder, never through a link.
	if n, err := DirUsage(ctx, filepath.Join(dir, "out")); err == nil || n != 0 {
		t.Fatalf("a link as the folder: %d, %v", n, err)
	}
	// A cancelled walk stops.
	for i := range 5000 {
		writeBytes(t, filepath.Join(dir, "a", fmt.Sprintf("f%05d", i)), 0)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := DirUsage(cctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestDirUsageTooDeep: folders nested past the limit are an error, not a
// silently partial count (data could hide below the limit).
func TestDirUsageTooDeep(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Relative steps: the full path would be longer than PATH_MAX.
	for range maxVolumeDepth + 1 {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Close(fd)
	if _, err := DirUsage(context.Background(), dir); !errors.Is(err, errTooDeep) {
		t.Fatalf("%d levels: %v", maxVolumeDepth+1, err)
	}
}

// BenchmarkDirUsage: the walk of a volume of 100 folders of 100 small
// files (what a sweep costs per 10 000 entries a learner keeps).
func BenchmarkDirUsage(b *testing.B) {
	dir := b.TempDir()
	for i := range 100 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for j := range 100 {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d", j)), []byte("data"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := DirUsage(ctx, dir); err != nil {
			b.Fatal(err)
		}
	}
}
