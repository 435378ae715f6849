// Package homes saves a learner's home folder as a bounded, cleaned
// tar.gz and turns a saved one back into a tar stream that is safe to
// unpack into a fresh container: no entry leaves the home, none is
// written through a link, nothing but files, folders and links, every
// entry owned by the learner. It knows nothing of Docker: the session
// manager feeds it the engine's archive stream and hands its output back
// to the engine.
package homes

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Limits bound a saved home.
type Limits struct {
	// MaxBytes caps the bytes of file content (what the headers declare,
	// so a huge sparse file counts at its full size and is refused before
	// a byte of it is read).
	MaxBytes int64
	// MaxEntries caps the number of entries (files, folders, links).
	MaxEntries int
	// UID and GID own every restored entry.
	UID, GID int
}

// DefaultLimits: 200 MiB of content, 100,000 entries, uid/gid 1000.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 200 << 20, MaxEntries: 100_000, UID: 1000, GID: 1000}
}

// TooLargeError says a home is over Limits: it is refused whole, never
// saved in part.
type TooLargeError struct{ Why string }

func (e *TooLargeError) Error() string { return e.Why }

// IsTooLarge reports whether err is a TooLargeError.
func IsTooLarge(err error) bool {
	var t *TooLargeError
	return errors.As(err, &t)
}

// Stats describe what a save or restore wrote.
type Stats struct {
	Files   int   // regular files
	Entries int   // all entries written
	Bytes   int64 // file content
	// Skipped are entries left out (devices, fifos, unsafe names or
	// links), at most maxSkippedNames of them named.
	Skipped      int
	SkippedNames []string
}

const maxSkippedNames = 20

func (s *Stats) skip(name, why string) {
	s.Skipped++
	if len(s.SkippedNames) < maxSkippedNames {
		s.SkippedNames = append(s.SkippedNames, fmt.Sprintf("%q: %s", truncName(name), why))
	}
}

func truncName(n string) string {
	if len(n) > 120 {
		return n[:120] + "..."
	}
	return n
}

// maxName bounds an entry's name (Linux's PATH_MAX).
const maxName = 4096

// writer writes a cleaned tar stream: every entry checked against what
// it has written so far.
type writer struct {
	tw    *tar.Writer
	lim   Limits
	dirs  map[string]bool // folders written: the only parents allowed
	files map[string]bool // regular files written: the only hard link targets
	seen  map[string]bool // every name written: no entry twice
	stats Stats
}

func newWriter(w io.Writer, lim Limits) *writer {
	return &writer{tw: tar.NewWriter(w), lim: lim, dirs: map[string]bool{}, files: map[string]bool{}, seen: map[string]bool{}}
}

// cleanName checks a name relative to the home: no absolute path, no
// "..", no empty or "." element, no NUL.
func cleanName(name string) (string, string) {
	name = strings.TrimSuffix(name, "/")
	switch {
	case name == "" || name == ".":
		return "", "empty name"
	case len(name) > maxName:
		return "", "name too long"
	case strings.ContainsRune(name, 0):
		return "", "NUL in name"
	case strings.HasPrefix(name, "/"):
		return "", "absolute name"
	case path.Clean(name) != name:
		return "", "name is not clean"
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." || el == "." || el == "" {
			return "", "name leaves the home"
		}
	}
	return name, ""
}

// add checks one entry and writes it when safe. It returns an error only
// when the whole stream must stop (over the limits, a write failed);
// unsafe entries are skipped and counted.
func (w *writer) add(hdr *tar.Header, body io.Reader) error {
	if hdr.Size < 0 {
		return fmt.Errorf("entry %q: negative size", truncName(hdr.Name))
	}
	// Declared sizes count whether the entry is kept or not: skipping a
	// file still reads (or decompresses) its content.
	w.stats.Bytes += hdr.Size
	if w.stats.Bytes > w.lim.MaxBytes {
		return &TooLargeError{Why: fmt.Sprintf("the home folder holds more than %s of files (the limit)", formatSize(w.lim.MaxBytes))}
	}
	if w.stats.Entries+w.stats.Skipped >= w.lim.MaxEntries {
		return &TooLargeError{Why: fmt.Sprintf("the home folder holds more than %d files and folders (the limit)", w.lim.MaxEntries)}
	}
	name, why := cleanName(hdr.Name)
	if why != "" {
		w.stats.skip(hdr.Name, why)
		return nil
	}
	if w.seen[name] {
		// A second entry of a name could swap a folder already
		// written for a link that later entries would go through.
		w.stats.skip(name, "duplicate entry")
		return nil
	}
	if parent := path.Dir(name); parent != "." && !w.dirs[parent] {
		// Every parent must be a folder this stream made: nothing is
		// written through a link (or a folder the image had).
		w.stats.skip(name, "its folder is not in the archive before it")
		return nil
	}
	out := &tar.Header{
		Name:    name,
		Mode:    hdr.Mode & 0o777, // no setuid, setgid or sticky bits
		Uid:     w.lim.UID,
		Gid:     w.lim.GID,
		ModTime: hdr.ModTime.Truncate(time.Second),
		Format:  tar.FormatPAX, // long names; no xattrs or other PAX records copied
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		out.Typeflag = tar.TypeDir
		out.Name += "/"
	case tar.TypeReg, '\x00': // '\x00': old archives' regular files
		out.Typeflag, out.Size = tar.TypeReg, hdr.Size
	case tar.TypeSymlink:
		if why := checkSymlink(name, hdr.Linkname); why != "" {
			w.stats.skip(name, why)
			return nil
		}
		out.Typeflag, out.Linkname = tar.TypeSymlink, hdr.Linkname
	case tar.TypeLink:
		target, why := cleanName(hdr.Linkname)
		if why != "" || !w.files[target] {
			w.stats.skip(name, "hard link to a file not in the archive")
			return nil
		}
		out.Typeflag, out.Linkname = tar.TypeLink, target
	default:
		w.stats.skip(name, "not a file, folder or link")
		return nil
	}
	if err := w.tw.WriteHeader(out); err != nil {
		return fmt.Errorf("write %q: %w", truncName(name), err)
	}
	if out.Typeflag == tar.TypeReg {
		n, err := io.CopyN(w.tw, body, out.Size)
		if err != nil {
			return fmt.Errorf("copy %q (%d of %d bytes): %w", truncName(name), n, out.Size, err)
		}
		w.files[name] = true
		w.stats.Files++
	}
	if out.Typeflag == tar.TypeDir {
		w.dirs[name] = true
	}
	w.seen[name] = true
	w.stats.Entries++
	return nil
}

// checkSymlink allows any link whose target stays in the home once
// resolved from the link's folder, and absolute links: a link is kept as
// a link and never followed by the restore (no entry may sit under one),
// while a relative link that climbs out is what the engine's unpacker
// refuses, failing the whole restore.
func checkSymlink(name, target string) string {
	switch {
	case target == "":
		return "symlink without a target"
	case len(target) > maxName:
		return "symlink target too long"
	case strings.ContainsRune(target, 0):
		return "NUL in symlink target"
	case path.IsAbs(target):
		return ""
	}
	p := path.Join(path.Dir(name), target)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "symlink leaves the home"
	}
	return ""
}

func (w *writer) close() error { return w.tw.Close() }

// Pack reads the engine's archive of the home folder (entries named
// "./x" or "<home base>/x") and writes a cleaned tar.gz to dst. A home
// over the limits is refused with a TooLargeError before dst holds a
// complete archive; the caller must then discard dst.
func Pack(dst io.Writer, src io.Reader, lim Limits) (Stats, error) {
	zw, err := gzip.NewWriterLevel(dst, gzip.BestSpeed)
	if err != nil {
		return Stats{}, err
	}
	w := newWriter(zw, lim)
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return w.stats, fmt.Errorf("read the home folder: %w", err)
		}
		hdr.Name = stripRoot(hdr.Name)
		if hdr.Name == "" {
			continue // the home folder itself
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = stripRoot(hdr.Linkname)
		}
		if err := w.add(hdr, tr); err != nil {
			return w.stats, err
		}
	}
	if err := w.close(); err != nil {
		return w.stats, err
	}
	return w.stats, zw.Close()
}

// stripRoot removes the first element of an engine archive name: the
// archive of "/home/learner/." names entries "./x" or "learner/x"
// depending on the engine version.
func stripRoot(name string) string {
	if rest, ok := strings.CutPrefix(name, "./"); ok {
		return rest
	}
	if name == "." || name == "./" {
		return ""
	}
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return "" // the folder itself
}

// Restore reads a saved tar.gz and writes to dst an uncompressed tar
// stream to unpack at the home folder: the same checks as Pack, again,
// since the file on disk is only as trusted as the disk. Unsafe entries
// are skipped (counted in Stats); limits and broken archives stop it.
func Restore(dst io.Writer, src io.Reader, lim Limits) (Stats, error) {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return Stats{}, fmt.Errorf("read the saved home: %w", err)
	}
	defer zr.Close()
	w := newWriter(dst, lim)
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return w.stats, fmt.Errorf("read the saved home: %w", err)
		}
		if err := w.add(hdr, tr); err != nil {
			return w.stats, err
		}
	}
	return w.stats, w.close()
}

func formatSize(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", b>>30)
	case b >= 1<<20:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d bytes", b)
}
