package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Volume contents in the disk quota. What a learner writes into a volume
// is neither in a container's writable layer nor in an image, so it needs
// its own measure. The engine has one (`/system/df`), but API 1.41
// (Debian's docker.io 20.10) has no way to ask for volumes only: it walks
// every container's writable layer and every volume on the host for each
// call. API 1.42+ takes ?type=volume, and still walks every volume on the
// host, other sessions' homes and volumes included. So when this process
// shares the engine's filesystem (a local socket, and the volumes' mount
// points are there), the server walks the session's own volumes itself,
// which costs what those volumes hold and nothing more, on any engine
// version. Otherwise it asks the engine, once per sweep for all the
// session's volumes.

// maxVolumeDepth bounds how deep the walk goes (it holds one descriptor
// per level). Deeper folders cannot be measured: the session is ended
// rather than let data hide below the limit.
const maxVolumeDepth = 1024

// LearnerVolume is a volume a session's learner made with their docker
// CLI: one created with its owner labels, or an anonymous one of their
// containers (`-v /data`, an image's VOLUME), which carries none.
type LearnerVolume struct {
	Name       string
	Mountpoint string
}

// LearnerVolumes lists a session's learner volumes.
func (e *Engine) LearnerVolumes(ctx context.Context, sessionID string) ([]LearnerVolume, error) {
	own := filters.NewArgs(filters.Arg("label", LabelSession+"="+sessionID), filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID),
		filters.Arg("label", LabelCreatedBy+"="+CreatedByCLI))
	byName := map[string]string{}
	vols, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: own})
	if err != nil {
		return nil, engineErr(err, "list the learner's volumes")
	}
	for _, v := range vols.Volumes {
		if v != nil {
			byName[v.Name] = v.Mountpoint
		}
	}
	list, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: own})
	if err != nil {
		return nil, engineErr(err, "list the learner's containers")
	}
	for _, c := range list {
		for _, m := range c.Mounts {
			// The proxy admits no other volume than the session's own and
			// the container's anonymous ones.
			if m.Type == mount.TypeVolume && m.Name != "" && byName[m.Name] == "" {
				byName[m.Name] = m.Source
			}
		}
	}
	out := make([]LearnerVolume, 0, len(byName))
	for n, mp := range byName {
		out = append(out, LearnerVolume{Name: n, Mountpoint: mp})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LearnerVolumesUsage returns the disk space the contents of a session's
// learner volumes take. A volume too deep to measure is an EFORBIDDEN
// error naming it.
func (e *Engine) LearnerVolumesUsage(ctx context.Context, sessionID string) (int64, error) {
	vols, err := e.LearnerVolumes(ctx, sessionID)
	if err != nil || len(vols) == 0 {
		return 0, err
	}
	var total int64
	var remote []string
	local := strings.HasPrefix(e.cli.DaemonHost(), "unix://")
	for _, v := range vols {
		if !local || !sharedMountpoint(v.Mountpoint) {
			remote = append(remote, v.Name)
			continue
		}
		n, err := DirUsage(ctx, v.Mountpoint)
		if errors.Is(err, errTooDeep) {
			return total, opsdojo.Errorf(opsdojo.EFORBIDDEN, "the volume %s holds folders nested deeper than %d levels, which cannot be measured", v.Name, maxVolumeDepth)
		}
		if err != nil {
			return total, fmt.Errorf("measure the volume %s: %w", v.Name, err)
		}
		total += n
	}
	if len(remote) > 0 {
		sizes, err := e.VolumeSizesByEngine(ctx)
		if err != nil {
			return total, err
		}
		for _, n := range remote {
			total += max(sizes[n], 0)
		}
	}
	return total, nil
}

// sharedMountpoint tells whether a volume's mount point, as the engine
// names it, is on this process's filesystem: the volume's own folder
// (…/volumes/NAME, which holds _data) is there. A volume removed meanwhile
// is still "shared" and measures nothing.
func sharedMountpoint(mp string) bool {
	if mp == "" || !filepath.IsAbs(mp) {
		return false
	}
	_, err := os.Lstat(filepath.Dir(filepath.Dir(mp)))
	return err == nil
}

// VolumeSizesByEngine asks the engine the size of every volume (the
// `docker system df -v` figures), by name. With API 1.41 the engine
// ignores the type filter and measures everything else too: this is the
// fallback for a server that does not share the engine's filesystem.
func (e *Engine) VolumeSizesByEngine(ctx context.Context) (map[string]int64, error) {
	du, err := e.cli.DiskUsage(ctx, types.DiskUsageOptions{Types: []types.DiskUsageObject{types.VolumeObject}})
	if err != nil {
		return nil, engineErr(err, "ask the engine for volume sizes")
	}
	out := make(map[string]int64, len(du.Volumes))
	for _, v := range du.Volumes {
		if v != nil && v.UsageData != nil {
			out[v.Name] = v.UsageData.Size
		}
	}
	return out, nil
}

var errTooDeep = errors.New("folders nested too deep to measure")

// DirUsage returns the disk space (allocated blocks, so sparse files count
// what they hold and `fallocate` what it reserves) of the files and
// folders under dir, dir included, each inode once. The learner writes
// in that tree while it is walked, as root: every step is relative to an
// open folder and never follows a symbolic link, so a link or a swapped
// folder cannot lead the walk out of the tree; other filesystems mounted
// inside are not entered. A folder or file removed during the walk
// counts nothing.
func DirUsage(ctx context.Context, dir string) (int64, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, nil
		}
		return 0, fmt.Errorf("open %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, fmt.Errorf("stat %s: %w", dir, err)
	}
	w := &duWalk{ctx: ctx, dev: st.Dev, links: map[uint64]bool{}, total: st.Blocks * 512}
	err = w.dir(fd, 1)
	return w.total, err
}

type duWalk struct {
	ctx   context.Context
	dev   uint64
	links map[uint64]bool // inodes with more than one link, seen
	total int64
	n     int
}

// dir adds what the open folder fd holds and closes it.
func (w *duWalk) dir(fd, depth int) error {
	f := os.NewFile(uintptr(fd), "volume folder")
	defer f.Close()
	for {
		names, rerr := f.Readdirnames(512)
		for _, name := range names {
			if w.n++; w.n%4096 == 0 {
				if err := w.ctx.Err(); err != nil {
					return err
				}
			}
			var st unix.Stat_t
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return fmt.Errorf("stat: %w", err)
			}
			if st.Dev != w.dev {
				continue // a mount point: another filesystem
			}
			isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			if !isDir && st.Nlink > 1 {
				if w.links[st.Ino] {
					continue
				}
				w.links[st.Ino] = true
			}
			w.total += st.Blocks * 512
			if !isDir {
				continue
			}
			if depth >= maxVolumeDepth {
				return errTooDeep
			}
			cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
			if err != nil {
				// Removed, or swapped for a link or a file since the stat.
				if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
					continue
				}
				return fmt.Errorf("open a folder: %w", err)
			}
			if err := unix.Fstat(cfd, &st); err != nil || st.Dev != w.dev {
				unix.Close(cfd) // swapped for a mount point since the stat
				continue
			}
			if err := w.dir(cfd, depth+1); err != nil {
				return err
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return fmt.Errorf("read a folder: %w", rerr)
		}
		if len(names) == 0 {
			return nil
		}
	}
}
