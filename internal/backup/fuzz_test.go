package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRestore feeds Restore arbitrary archives: it must fail with an
// error or restore, never panic, and never write outside the data dir.
func FuzzRestore(f *testing.F) {
	manifest := tar.Header{Name: manifestName, Typeflag: tar.TypeReg, Mode: 0o600, Linkname: `{"format":1}`}
	f.Add([]byte("not gzip"))
	f.Add(archive(f, manifest, tar.Header{Name: "recordings/s1/main.cast", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "x"}))
	f.Add(archive(f, manifest, tar.Header{Name: "homes/../../x", Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "x"}))
	f.Add(archive(f, manifest, tar.Header{Name: DBName, Typeflag: tar.TypeReg, Mode: 0o600, Linkname: "SQLite format 3\x00"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "data")
		_, _ = Restore(context.Background(), bytes.NewReader(data), dir, false)
		entries, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "data" {
				t.Fatalf("restore wrote %s outside the data dir", e.Name())
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, ".restore-*"))
		if len(leftovers) > 0 {
			t.Fatalf("staging left behind: %v", leftovers)
		}
	})
}
