// Package tarball writes a folder as a tar stream: build contexts, a lab's
// starter files. Symlinks are archived as links, never followed, so a
// folder cannot pull in files from outside itself.
package tarball

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrTooLarge is returned when the files hold more than Options.Limit bytes.
var ErrTooLarge = errors.New("folder too large")

// Options shape the archive.
type Options struct {
	// Owner, when set, makes every entry belong to this uid and gid.
	Owner *[2]int
	// ZeroTimes sets every modification time to the epoch, so the same
	// files always give the same stream (and a warm build cache).
	ZeroTimes bool
	// DirSlash ends folder names with "/".
	DirSlash bool
	// Limit caps the bytes of regular files (0: no cap).
	Limit int64
}

// WriteDir writes the contents of dir (not dir itself) to w as a tar
// stream. Entries that are neither files, folders nor links are skipped.
func WriteDir(ctx context.Context, w io.Writer, dir string, o Options) error {
	tw := tar.NewWriter(w)
	var total int64
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil // sockets, devices: not content
		}
		hdr.Name = filepath.ToSlash(rel)
		if o.DirSlash && de.IsDir() {
			hdr.Name += "/"
		}
		if o.Owner != nil {
			hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = o.Owner[0], o.Owner[1], "", ""
		}
		if o.ZeroTimes {
			hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		}
		if info.Mode().IsRegular() {
			total += info.Size()
			if o.Limit > 0 && total > o.Limit {
				return ErrTooLarge
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, info.Size())
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
