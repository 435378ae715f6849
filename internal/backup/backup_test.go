package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
)

// busyDataDir makes a data dir whose database and recordings keep being
// written until stop is called; it returns how many attempts were
// committed before the call returned.
func busyDataDir(t *testing.T) (dir string, committed func() int64, stop func()) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, DBName))
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.CreateUser(ctx, "alice", "hash-of-alice", false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.CreateLabSession(ctx, opsdojo.LabSession{ID: "s1", UserID: u.ID, LabID: "git", ContainerID: "c", NetworkID: "n",
		State: opsdojo.SessionRunning, CreatedAt: now, LastActiveAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"recordings/s1", "homes/1"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "homes/1/git.tar.gz"), []byte("saved home"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err := os.OpenFile(filepath.Join(dir, "recordings/s1/main.cast"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			res := opsdojo.StepResult{StepID: "init", Status: opsdojo.CheckStatus("fail")}
			if err := st.RecordAttempt(ctx, opsdojo.Attempt{UserID: u.ID, SessionID: "s1", LabID: "git", Result: res, At: time.Now()}); err != nil {
				t.Error(err)
				return
			}
			n.Add(1)
			fmt.Fprintf(rec, "[%d, \"o\", \"line %d\\r\\n\"]\n", i, i)
		}
	}()
	// Some work before the backup starts.
	for n.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	return dir, n.Load, func() {
		close(done)
		wg.Wait()
		rec.Close()
		st.Close()
	}
}

func TestBackupWhileBusyAndRestore(t *testing.T) {
	ctx := context.Background()
	dir, committed, stop := busyDataDir(t)
	before := committed()
	var buf bytes.Buffer
	sum, err := Create(ctx, dir, "test", &buf)
	after := committed()
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if int64(sum.DB.Attempts) < before || int64(sum.DB.Attempts) > after {
		t.Fatalf("backup has %d attempts; %d were committed before it began, %d when it ended", sum.DB.Attempts, before, after)
	}
	if after == before {
		t.Log("no writes landed during the backup; the test still checks consistency")
	}
	target := filepath.Join(t.TempDir(), "restored")
	got, err := Restore(ctx, bytes.NewReader(buf.Bytes()), target, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.DB != sum.DB || got.DB.Users != 1 || got.DB.Sessions != 1 {
		t.Fatalf("restored database %+v, backed up %+v", got.DB, sum.DB)
	}
	home, err := os.ReadFile(filepath.Join(target, "homes/1/git.tar.gz"))
	if err != nil || string(home) != "saved home" {
		t.Fatalf("saved home: %q, %v", home, err)
	}
	cast, err := os.ReadFile(filepath.Join(target, "recordings/s1/main.cast"))
	if err != nil || !bytes.HasPrefix(cast, []byte("[0, \"o\", \"line 0")) {
		t.Fatalf("recording: %.40q, %v", cast, err)
	}
	for _, p := range []string{DBName, "recordings/s1/main.cast", "homes/1/git.tar.gz"} {
		fi, err := os.Stat(filepath.Join(target, p))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, fi.Mode().Perm(), err)
		}
	}
	// The restored database is a working one.
	st, err := store.Open(ctx, filepath.Join(target, DBName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.LabSession(ctx, "s1"); err != nil {
		t.Fatalf("restored session: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(leftovers) > 0 {
		t.Errorf("backup left %v behind", leftovers)
	}
}

func TestRestoreRefusesNonEmptyDirUnlessForced(t *testing.T) {
	ctx := context.Background()
	dir, _, stop := busyDataDir(t)
	var buf bytes.Buffer
	_, err := Create(ctx, dir, "test", &buf)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := os.WriteFile(filepath.Join(target, DBName), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, DBName+"-wal"), []byte("stale wal"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, bytes.NewReader(buf.Bytes()), target, false); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("non-empty dir: %v, want ErrNotEmpty", err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, DBName)); string(b) != "not a database" {
		t.Fatal("a refused restore changed the data dir")
	}
	if _, err := Restore(ctx, bytes.NewReader(buf.Bytes()), target, true); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if st, err := store.Verify(ctx, filepath.Join(target, DBName)); err != nil || st.Users != 1 {
		t.Fatalf("after --force: %+v, %v", st, err)
	}
}

func archive(t testing.TB, entries ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		body := []byte(h.Linkname)
		h.Linkname = ""
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestRestoreRejectsForeignArchives(t *testing.T) {
	ctx := context.Background()
	manifest := tar.Header{Name: manifestName, Typeflag: tar.TypeReg, Mode: 0o600, Linkname: `{"format":1}`}
	cases := map[string][]byte{
		"not gzip":     []byte("hello"),
		"dot-dot":      archive(t, manifest, tar.Header{Name: "recordings/../../evil", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "x"}),
		"absolute":     archive(t, manifest, tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "x"}),
		"other folder": archive(t, manifest, tar.Header{Name: "bin/evil", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "x"}),
		"symlink":      archive(t, manifest, tar.Header{Name: "recordings/link", Typeflag: tar.TypeSymlink, Mode: 0o777}),
		"no database":  archive(t, manifest),
		"bad database": archive(t, manifest, tar.Header{Name: DBName, Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "garbage garbage"}),
		"no manifest":  archive(t, tar.Header{Name: "recordings/", Typeflag: tar.TypeDir, Mode: 0o700}),
		"new format":   archive(t, tar.Header{Name: manifestName, Typeflag: tar.TypeReg, Mode: 0o600, Linkname: `{"format":2}`}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "d")
			_, err := Restore(ctx, bytes.NewReader(data), target, false)
			if err == nil {
				t.Fatal("restored")
			}
			entries, _ := os.ReadDir(target)
			if len(entries) > 0 {
				t.Fatalf("a failed restore left %v (err %v)", entries, err)
			}
			if strings.Contains(err.Error(), "panic") {
				t.Fatal(err)
			}
		})
	}
}
