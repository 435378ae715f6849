package homes

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// Dir holds saved homes as <root>/<user id>/<lab id>.tar.gz.
type Dir struct{ Root string }

// labName is what a lab id may be to name a file (the catalog's ids are
// stricter; this keeps a bad one from naming a path).
var labName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Path is where a user's saved home of a lab lives.
func (d Dir) Path(userID int64, labID string) (string, error) {
	if !labName.MatchString(labID) || userID <= 0 {
		return "", fmt.Errorf("no saved home name for user %d lab %q", userID, labID)
	}
	return filepath.Join(d.Root, strconv.FormatInt(userID, 10), labID+".tar.gz"), nil
}

// Write replaces a saved home atomically: fill writes a temporary file
// in the same folder, which is synced and renamed over the old one only
// when fill succeeds, so the previous save stays whole until the new one
// is. It returns the new file's size.
func (d Dir) Write(userID int64, labID string, fill func(io.Writer) error) (int64, error) {
	p, err := d.Path(userID, labID)
	if err != nil {
		return 0, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("saved homes folder: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+labID+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("saved home temp file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := fill(f); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync saved home: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("close saved home: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		os.Remove(f.Name())
		done = true
		return 0, fmt.Errorf("rename saved home: %w", err)
	}
	done = true
	// The rename is durable once the folder is synced.
	if df, err := os.Open(dir); err == nil {
		_ = df.Sync()
		df.Close()
	}
	return st.Size(), nil
}

// Open opens a saved home; ENOENT when there is none.
func (d Dir) Open(userID int64, labID string) (*os.File, error) {
	p, err := d.Path(userID, labID)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Remove deletes a saved home; a missing one is not an error.
func (d Dir) Remove(userID int64, labID string) error {
	p, err := d.Path(userID, labID)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// SetAside renames a saved home that could not be restored to
// <lab>.unrestored-<unix>.tar.gz beside it, so that the session's next
// save (of a home without it) does not replace it; an operator can
// still recover it. Returns the new path.
func (d Dir) SetAside(userID int64, labID string, unix int64) (string, error) {
	p, err := d.Path(userID, labID)
	if err != nil {
		return "", err
	}
	q := filepath.Join(filepath.Dir(p), fmt.Sprintf("%s.unrestored-%d.tar.gz", labID, unix))
	if err := os.Rename(p, q); err != nil {
		return "", err
	}
	return q, nil
}
