package tarball

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("x"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))

	var buf bytes.Buffer
	if err := WriteDir(context.Background(), &buf, dir, Options{Owner: &[2]int{1000, 1000}, ZeroTimes: true, DirSlash: true}); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	got := map[string]*tar.Header{}
	contents := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	for _, name := range []string{"sub/", "sub/a.txt", ".hidden", "link"} {
		h, ok := got[name]
		if !ok {
			t.Fatalf("entry %q missing: %v", name, got)
		}
		if h.Uid != 1000 || h.Gid != 1000 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: uid %d gid %d mtime %v", name, h.Uid, h.Gid, h.ModTime)
		}
	}
	if got["link"].Typeflag != tar.TypeSymlink || got["link"].Linkname != "/etc/passwd" || contents["link"] != "" {
		t.Errorf("symlink followed or lost: %+v", got["link"])
	}
	if contents["sub/a.txt"] != "hello" {
		t.Errorf("content %q", contents["sub/a.txt"])
	}
}

func TestWriteDirLimit(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2048), 0o644)
	err := WriteDir(context.Background(), io.Discard, dir, Options{Limit: 1024})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteDir(ctx, io.Discard, dir, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
