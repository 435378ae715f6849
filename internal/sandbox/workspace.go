package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// The editor pane (issue 11) lists, opens and saves files of the learner's
// home. Reads go through the engine's archive API like the graders'. Saves
// run as the learner: the archive API extracts as root and follows
// symlinks in parent folders at the moment it writes, so a learner racing
// a folder swap could make a root-run write land in /usr/bin, which the
// exec checks trust. A write as uid 1000 can do nothing the learner's own
// shell cannot.

// EditorMaxFile is the largest file the editor opens or saves.
const EditorMaxFile = 1 << 20

// FileEntry is one entry of the learner's home tree.
type FileEntry struct {
	Path string `json:"path"` // relative to the home
	Type string `json:"type"` // "file", "dir", "link", "other"
	Size int64  `json:"size"`
}

// FileListing is a bounded listing of the learner's home.
type FileListing struct {
	Entries []FileEntry `json:"entries"`
	// Truncated: there were more entries than the bound, or deeper ones.
	Truncated bool `json:"truncated"`
}

// FileContent is an opened text file.
type FileContent struct {
	Path    string    `json:"path"`
	Content string    `json:"content"`
	SHA256  string    `json:"sha256"`
	Mode    string    `json:"mode"` // octal permission bits, e.g. "0644"
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// SaveRequest writes a file. BaseSHA256 is the hash of the content the
// editor opened ("" for a new file); unless Overwrite, the save is refused
// with ECONFLICT when the file on disk no longer has it.
type SaveRequest struct {
	Path       string
	Content    []byte
	BaseSHA256 string
	Overwrite  bool
}

// ErrChangedOnDisk is wrapped by the ECONFLICT error of a save whose file
// changed since it was opened.
var ErrChangedOnDisk = errors.New("the file changed on disk since it was opened")

// Pruned folders: caches and dependency trees a learner does not edit,
// whose thousands of entries would crowd everything else out.
var listPrune = []string{".git", ".cache", "node_modules", "go", ".npm", ".local"}

// ListHome lists the learner's home as the learner sees it, at most
// maxEntries entries and maxDepth levels deep. It runs find(1) as the
// learner, bounded by timeout(1): the archive API would stream every byte
// of the home (Go build caches are hundreds of MB) to list names.
func (e *Engine) ListHome(ctx context.Context, containerID string, maxEntries, maxDepth int) (FileListing, error) {
	var prune []string
	for i, p := range listPrune {
		if i > 0 {
			prune = append(prune, "-o")
		}
		prune = append(prune, "-name", p)
	}
	cmd := []string{"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "LC_ALL=C", "/usr/bin/timeout", "5",
		"/usr/bin/find", ".", "-mindepth", "1", "-maxdepth", strconv.Itoa(maxDepth), "("}
	cmd = append(cmd, prune...)
	cmd = append(cmd, ")", "-prune", "-printf", `%y %s %d %P\0`, "-o", "-printf", `%y %s %d %P\0`)
	res, err := e.Exec(ctx, containerID, ExecRequest{Cmd: cmd, User: LearnerUser, WorkDir: LearnerHome,
		MaxOutput: (maxEntries + 1) * 512})
	if err != nil {
		return FileListing{}, err
	}
	return parseListing(res.Stdout, maxEntries, maxDepth, res.Truncated), nil
}

// parseListing reads find's `%y %s %d %P\0` records.
func parseListing(out []byte, maxEntries, maxDepth int, truncated bool) FileListing {
	l := FileListing{Entries: []FileEntry{}, Truncated: truncated}
	recs := bytes.Split(out, []byte{0})
	if len(recs) > 0 && len(recs[len(recs)-1]) == 0 {
		recs = recs[:len(recs)-1]
	} else if len(recs) > 0 {
		recs = recs[:len(recs)-1] // cut off mid-record
		l.Truncated = true
	}
	for _, r := range recs {
		parts := strings.SplitN(string(r), " ", 4)
		if len(parts) != 4 || parts[3] == "" || !utf8.ValidString(parts[3]) {
			continue
		}
		size, _ := strconv.ParseInt(parts[1], 10, 64)
		depth, _ := strconv.Atoi(parts[2])
		kind := "other"
		switch parts[0] {
		case "f":
			kind = "file"
		case "d":
			kind = "dir"
			if depth >= maxDepth {
				l.Truncated = true
			}
		case "l":
			kind = "link"
		}
		if len(l.Entries) >= maxEntries {
			l.Truncated = true
			break
		}
		l.Entries = append(l.Entries, FileEntry{Path: parts[3], Type: kind, Size: size})
	}
	return l
}

// OpenFile reads a text file of the learner's home through the archive
// API: at most EditorMaxFile bytes, no symlinks, no folders, no binary
// data (NUL bytes or invalid UTF-8).
func (e *Engine) OpenFile(ctx context.Context, containerID, name string) (FileContent, error) {
	p, err := homePath(name)
	if err != nil {
		return FileContent{}, err
	}
	// The engine follows symlinked folders on the way (as root): refuse
	// them, so "etc/shadow" under a link to /etc is not read for the
	// learner. A learner racing a folder swap against this check can
	// still get root-readable files of their own lab image (docs/security.md).
	for dir := path.Dir(p); dir != LearnerHome && strings.HasPrefix(dir, LearnerHome+"/"); dir = path.Dir(dir) {
		st, err := e.cli.ContainerStatPath(ctx, containerID, dir)
		if err != nil {
			if opsdojo.ErrorCode(engineErr(err, "")) == opsdojo.ENOTFOUND || strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "Could not find the file") {
				return FileContent{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
			}
			return FileContent{}, engineErr(err, "open "+name)
		}
		if st.Mode&os.ModeSymlink != 0 || st.LinkTarget != "" {
			return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is inside a symlinked folder; the editor opens files under real folders of your home only", name)
		}
	}
	rc, stat, err := e.cli.CopyFromContainer(ctx, containerID, p)
	if err != nil {
		if opsdojo.ErrorCode(engineErr(err, "")) == opsdojo.ENOTFOUND || strings.Contains(err.Error(), "No such container:path") || strings.Contains(err.Error(), "Could not find the file") {
			return FileContent{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "%s does not exist", name)
		}
		return FileContent{}, engineErr(err, "open "+name)
	}
	defer rc.Close()
	switch {
	case stat.Mode&os.ModeSymlink != 0 || stat.LinkTarget != "":
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is a symlink; the editor opens regular files only (open the file it points to)", name)
	case stat.Mode.IsDir():
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is a folder, not a file", name)
	case !stat.Mode.IsRegular():
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is not a regular file", name)
	case stat.Size > EditorMaxFile:
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is %d bytes; the editor opens files up to 1 MiB (use the terminal for bigger ones)", name, stat.Size)
	}
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return FileContent{}, fmt.Errorf("open %s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(tr, EditorMaxFile+1))
	if err != nil {
		return FileContent{}, fmt.Errorf("open %s: %w", name, err)
	}
	if len(b) > EditorMaxFile {
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is larger than 1 MiB; the editor opens files up to 1 MiB", name)
	}
	if err := TextOnly(name, b); err != nil {
		return FileContent{}, err
	}
	sum := sha256.Sum256(b)
	return FileContent{Path: name, Content: string(b), SHA256: hex.EncodeToString(sum[:]),
		Mode: fmt.Sprintf("%04o", stat.Mode.Perm()), Size: int64(len(b)), ModTime: stat.Mtime.UTC()}, nil
}

// TextOnly refuses what the editor cannot show faithfully: NUL bytes or
// invalid UTF-8 (images, binaries, other encodings).
func TextOnly(name string, b []byte) error {
	if bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b) {
		return opsdojo.Errorf(opsdojo.EINVALID, "%s is a binary file (or not UTF-8 text); the editor opens text files only", name)
	}
	return nil
}

// saveScript runs as the learner with the content on stdin. It refuses
// symlinks and non-regular files, compares the file's hash with the one
// the editor opened (unless told to overwrite), writes a temporary file
// next to the target, gives it the target's mode and renames it over, so
// an interrupted save leaves the old file whole. Exit codes: 3 symlink,
// 4 not a regular file, 5 changed on disk, 6 the folder does not exist.
const saveScript = `set -u
f=$1 base=$2
[ -L "$f" ] && exit 3
[ -e "$f" ] && [ ! -f "$f" ] && exit 4
d=$(dirname -- "$f")
[ -d "$d" ] && [ ! -L "$d" ] || exit 6
if [ "$base" != "-" ]; then
  if [ -e "$f" ]; then cur=$(sha256sum < "$f") || exit 1; cur=${cur%% *}; else cur=""; fi
  [ "$cur" = "$base" ] || exit 5
fi
t=$(mktemp -- "$d/.opsdojo-save.XXXXXX") || exit 1
trap 'rm -f -- "$t"' EXIT
head -c 1048577 > "$t" || exit 1
[ "$(stat -c %s -- "$t")" -le 1048576 ] || exit 7
if [ -e "$f" ]; then chmod --reference="$f" -- "$t" || exit 1; else chmod 0644 -- "$t" || exit 1; fi
mv -f -- "$t" "$f" || exit 1
trap - EXIT
stat -c '%a %Y' -- "$f"
`

// SaveFile writes a text file of the learner's home as the learner (uid
// 1000): mode kept, at most EditorMaxFile bytes, no symlinks, and an
// ECONFLICT wrapping ErrChangedOnDisk when the file changed since the
// editor opened it.
func (e *Engine) SaveFile(ctx context.Context, containerID string, req SaveRequest) (FileContent, error) {
	p, err := homePath(req.Path)
	if err != nil {
		return FileContent{}, err
	}
	if p == LearnerHome {
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "name a file inside your home folder")
	}
	if len(req.Content) > EditorMaxFile {
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "the file is %d bytes; the editor saves files up to 1 MiB", len(req.Content))
	}
	if err := TextOnly(req.Path, req.Content); err != nil {
		return FileContent{}, err
	}
	base := req.BaseSHA256
	if req.Overwrite {
		base = "-"
	}
	res, err := e.Exec(ctx, containerID, ExecRequest{
		Cmd:   []string{"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "LC_ALL=C", "/usr/bin/timeout", "20", "/bin/bash", "--noprofile", "--norc", "-c", saveScript, "opsdojo-save", p, base},
		User:  LearnerUser,
		Stdin: bytes.NewReader(req.Content),
	})
	if err != nil {
		return FileContent{}, err
	}
	switch res.ExitCode {
	case 0:
	case 3:
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is a symlink; the editor saves regular files only", req.Path)
	case 4:
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "%s is not a regular file", req.Path)
	case 5:
		return FileContent{}, opsdojo.WrapError(opsdojo.ECONFLICT, ErrChangedOnDisk, "%s changed since you opened it (in the terminal?): reload it, or overwrite it with your version", req.Path)
	case 6:
		return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "the folder of %s does not exist (or is a symlink); create it in the terminal first", req.Path)
	default:
		msg := strings.TrimSpace(string(res.Stderr))
		if strings.Contains(msg, "Permission denied") {
			return FileContent{}, opsdojo.Errorf(opsdojo.EINVALID, "you may not write %s (permission denied)", req.Path)
		}
		return FileContent{}, fmt.Errorf("save %s: exit %d: %s", req.Path, res.ExitCode, msg)
	}
	var mode string
	var mtime int64
	if _, err := fmt.Sscanf(string(res.Stdout), "%s %d", &mode, &mtime); err != nil {
		return FileContent{}, fmt.Errorf("save %s: unexpected answer %q", req.Path, res.Stdout)
	}
	if len(mode) < 4 {
		mode = strings.Repeat("0", 4-len(mode)) + mode
	}
	sum := sha256.Sum256(req.Content)
	return FileContent{Path: req.Path, SHA256: hex.EncodeToString(sum[:]), Mode: mode, Size: int64(len(req.Content)),
		ModTime: time.Unix(mtime, 0).UTC()}, nil
}

// ContainerAddr is the container's address on its session network, where
// the server reaches a learner's service for the web preview.
func (e *Engine) ContainerAddr(ctx context.Context, containerID, sessionID string) (netip.Addr, error) {
	info, err := e.cli.ContainerInspect(ctx, containerID)
	if err != nil {
		return netip.Addr{}, engineErr(err, "inspect container")
	}
	if info.State == nil || !info.State.Running {
		return netip.Addr{}, opsdojo.Errorf(opsdojo.ECONFLICT, "the lab's container is not running")
	}
	if info.NetworkSettings != nil {
		if n, ok := info.NetworkSettings.Networks[Name(sessionID)]; ok && n != nil {
			if a, err := netip.ParseAddr(n.IPAddress); err == nil {
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("container %s has no address on network %s", containerID, Name(sessionID))
}
