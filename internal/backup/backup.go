// Package backup copies a data dir into one tar.gz while the server runs
// (an online database snapshot, the recordings, the saved homes and the
// ACME cache) and restores such a file into an empty data dir.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/store"
)

// DBName is the database's file name in a data dir and in a backup.
const DBName = "opsdojo.db"

// Dirs are the data dir's folders a backup carries, when present.
var Dirs = []string{"recordings", "homes", "acme"}

const manifestName = "opsdojo-backup.json"

// Manifest describes a backup; it is the archive's first entry.
type Manifest struct {
	Format    int       `json:"format"`
	CreatedAt time.Time `json:"created_at"`
	Version   string    `json:"version"`
	Files     int       `json:"files"`
	Bytes     int64     `json:"bytes"`
}

// Summary says what a backup or restore moved.
type Summary struct {
	Files int
	Bytes int64
	DB    store.Stats
}

// Create writes a backup of dataDir to w while a server may be using it.
// The database is snapshotted first, then the folders are copied, so a
// recording the snapshot names is in the archive unless it was pruned
// meanwhile; one still being written is copied as far as it got.
func Create(ctx context.Context, dataDir, version string, w io.Writer) (Summary, error) {
	var sum Summary
	tmp, err := os.MkdirTemp(dataDir, ".backup-")
	if err != nil {
		return sum, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, DBName)
	if err := store.Snapshot(ctx, filepath.Join(dataDir, DBName), snap); err != nil {
		return sum, err
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	m, _ := json.Marshal(Manifest{Format: 1, CreatedAt: time.Now().UTC(), Version: version})
	if err := tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: int64(len(m)), ModTime: time.Now(), Typeflag: tar.TypeReg}); err != nil {
		return sum, err
	}
	if _, err := tw.Write(m); err != nil {
		return sum, err
	}
	if err := addFile(tw, snap, DBName, &sum); err != nil {
		return sum, err
	}
	for _, d := range Dirs {
		root := filepath.Join(dataDir, d)
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // pruned or absent: nothing to copy
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, err := filepath.Rel(dataDir, p)
			if err != nil {
				return err
			}
			name := filepath.ToSlash(rel)
			switch {
			case e.IsDir():
				return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o700, Typeflag: tar.TypeDir, ModTime: time.Now()})
			case e.Type().IsRegular():
				return addFile(tw, p, name, &sum)
			}
			return nil // links and the like are not ours
		})
		if err != nil {
			return sum, fmt.Errorf("backup %s: %w", d, err)
		}
	}
	if err := tw.Close(); err != nil {
		return sum, fmt.Errorf("backup: %w", err)
	}
	if err := gz.Close(); err != nil {
		return sum, fmt.Errorf("backup: %w", err)
	}
	st, err := store.Verify(ctx, snap)
	sum.DB = st
	return sum, err
}

// addFile copies a file as it is now. It opens before it measures: a file
// deleted meanwhile is skipped, and one still growing is copied up to the
// size it had when measured (files here only grow or go away).
func addFile(tw *tar.Writer, src, name string, sum *Summary) error {
	f, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	sum.Files++
	sum.Bytes += fi.Size()
	return nil
}

// ErrNotEmpty is returned by Restore for a data dir that holds files.
var ErrNotEmpty = errors.New("the data dir is not empty")

// Restore unpacks a backup into dataDir. The dir must be empty or absent
// unless force is set, in which case the backup's database replaces the
// one there and its files overwrite those of the same name. The server
// must not be running on dataDir. Everything is unpacked into a staging
// folder and the database checked before anything in dataDir changes.
func Restore(ctx context.Context, r io.Reader, dataDir string, force bool) (Summary, error) {
	var sum Summary
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return sum, fmt.Errorf("restore: %w", err)
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return sum, fmt.Errorf("restore: %w", err)
	}
	if len(entries) > 0 && !force {
		return sum, fmt.Errorf("%w: %s holds %d entries; restore into an empty one or pass --force", ErrNotEmpty, dataDir, len(entries))
	}
	stage, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return sum, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(stage)
	gz, err := gzip.NewReader(r)
	if err != nil {
		return sum, fmt.Errorf("not an opsdojo backup (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	sawManifest, sawDB := false, false
	for {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, fmt.Errorf("not an opsdojo backup (tar): %w", err)
		}
		name, err := entryName(h.Name)
		if err != nil {
			return sum, err
		}
		if name == manifestName {
			var m Manifest
			if err := json.NewDecoder(io.LimitReader(tr, 64<<10)).Decode(&m); err != nil || m.Format != 1 {
				return sum, fmt.Errorf("backup manifest: format %d, %v (this opsdojo reads format 1)", m.Format, err)
			}
			sawManifest = true
			continue
		}
		dst := filepath.Join(stage, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return sum, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				return sum, err
			}
			f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return sum, fmt.Errorf("restore %s: %w", name, err)
			}
			n, err := io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return sum, fmt.Errorf("restore %s: %w", name, err)
			}
			_ = os.Chtimes(dst, h.ModTime, h.ModTime)
			sum.Files++
			sum.Bytes += n
			sawDB = sawDB || name == DBName
		default:
			return sum, fmt.Errorf("backup entry %q: type %q is not a file or folder", h.Name, h.Typeflag)
		}
	}
	if !sawManifest || !sawDB {
		return sum, errors.New("not an opsdojo backup: no manifest or no database in it")
	}
	st, err := store.Verify(ctx, filepath.Join(stage, DBName))
	if err != nil {
		return sum, fmt.Errorf("the backup's database: %w", err)
	}
	sum.DB = st
	// A WAL or shared-memory file of another database beside the new one
	// would be replayed into it.
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(filepath.Join(dataDir, DBName+suffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return sum, fmt.Errorf("restore: %w", err)
		}
	}
	staged, err := os.ReadDir(stage)
	if err != nil {
		return sum, err
	}
	for _, e := range staged {
		if err := moveInto(filepath.Join(stage, e.Name()), filepath.Join(dataDir, e.Name())); err != nil {
			return sum, fmt.Errorf("restore %s: %w", e.Name(), err)
		}
	}
	return sum, nil
}

// moveInto renames src to dst; a folder that exists at dst (with --force)
// gets src's entries moved into it one by one.
func moveInto(src, dst string) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return os.Rename(src, dst)
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if err := os.Remove(dst); err != nil {
			return err
		}
		return os.Rename(src, dst)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := moveInto(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// entryName admits the names a backup writes: the manifest, the database,
// and relative paths under Dirs, without "..", absolute paths or oddities.
func entryName(raw string) (string, error) {
	name := strings.TrimSuffix(raw, "/")
	bad := func() (string, error) { return "", fmt.Errorf("backup entry %q is not one opsdojo writes", raw) }
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || path.Clean(name) != name {
		return bad()
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." || part == "." || part == "" {
			return bad()
		}
	}
	if name == manifestName || name == DBName {
		return name, nil
	}
	top, _, _ := strings.Cut(name, "/")
	for _, d := range Dirs {
		if top == d {
			return name, nil
		}
	}
	return bad()
}
