package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// The disk quota. overlay2 on ext4 cannot cap a container's writable
// layer, build images and recordings are not the container's at all, so
// the manager measures what each session uses and ends the sessions over
// their quota. It does so every ReapInterval, and at once when a cheap
// watch of the disks' used space (statfs every second) sees
// them grow by more than a threshold since the last sweep: `fallocate`
// takes milliseconds to reserve gigabytes, a minute is far too long.

// DiskUse is what a session holds on disk.
type DiskUse struct {
	// Files: the container's writable layer (what the learner wrote).
	Files int64
	// Images: the layers the session's build checks made (not the lab or
	// base image they build FROM).
	Images int64
	// Recordings: the session's terminal recordings.
	Recordings int64
	// Volumes: the contents of the volumes the learner made with their
	// docker CLI.
	Volumes int64
}

// Total is what counts against the quota.
func (u DiskUse) Total() int64 { return u.Files + u.Images + u.Recordings + u.Volumes }

// String reads "4.1 GiB: 3.2 GiB files, 0.8 GiB images, 0.1 GiB
// recordings", in the unit of the total.
func (u DiskUse) String() string { return u.format(u.Total()) + ": " + u.breakdown() }

// breakdown is the parts without the total; volumes only for the labs
// whose learners have some.
func (u DiskUse) breakdown() string {
	vols := ""
	if u.Volumes > 0 {
		vols = fmt.Sprintf("%s docker volumes, ", u.format(u.Volumes))
	}
	return fmt.Sprintf("%s files, %s%s images, %s recordings", u.format(u.Files), vols, u.format(u.Images), u.format(u.Recordings))
}

func (u DiskUse) format(b int64) string {
	if u.Total() >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return formatMB(b)
}

func formatMB(b int64) string { return fmt.Sprintf("%d MiB", (b+1<<19)>>20) }

// formatSize prints a quota: MiB below 1 GiB, else GiB with one decimal.
func formatSize(b int64) string {
	if b < 1<<30 {
		return formatMB(b)
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}

const (
	defaultDiskWatchInterval = time.Second
	maxDiskWatchThreshold    = 256 << 20
	// sweepDuty caps the engine time triggered sweeps take: after a sweep
	// of d, the next triggered one waits at least sweepDuty*d.
	sweepDuty = 3
)

func (c *Config) quotaDefaults() {
	if c.DiskWatchInterval == 0 {
		c.DiskWatchInterval = defaultDiskWatchInterval
	}
	if c.DiskWatchThreshold <= 0 && c.DiskQuota > 0 {
		c.DiskWatchThreshold = max(min(c.DiskQuota/2, maxDiskWatchThreshold), 1<<20)
	}
}

// quotaState is the manager's quota bookkeeping.
type quotaState struct {
	sweep sync.Mutex    // one sweep at a time
	kick  chan struct{} // a sweep is wanted now (a build added images)
	once  sync.Once
	// used reads the watched disks' used bytes (statfsUsed; tests fake it).
	used func(paths []string) (int64, error)
	// polls, when set, replaces the watch's ticker (tests).
	polls <-chan time.Time

	mu sync.Mutex
	// images caches each session's image bytes by its recorded image list:
	// images never change, a session's list only grows, and measuring them
	// costs the engine a couple of milliseconds per image.
	images map[string]imagesCount
}

type imagesCount struct {
	n     int
	last  string
	bytes int64
}

func (m *Manager) kicks() chan struct{} {
	m.quota.once.Do(func() { m.quota.kick = make(chan struct{}, 1) })
	return m.quota.kick
}

// kickQuota asks for a quota sweep now.
func (m *Manager) kickQuota() {
	select {
	case m.kicks() <- struct{}{}:
	default: // one is pending already
	}
}

// SessionDiskUse measures what a running session holds on disk.
func (m *Manager) SessionDiskUse(ctx context.Context, s opsdojo.LabSession) (DiskUse, error) {
	var u DiskUse
	var err error
	if u.Files, err = m.box.DiskUsage(ctx, s.ContainerID); err != nil {
		return u, err
	}
	if lf, ok := m.box.(learnerFiles); ok {
		more, err := lf.LearnerContainersUsage(ctx, s.ID)
		if err != nil {
			return u, err
		}
		u.Files += more
	}
	if lv, ok := m.box.(learnerVolumes); ok {
		if u.Volumes, err = lv.LearnerVolumesUsage(ctx, s.ID); err != nil {
			if opsdojo.ErrorCode(err) == opsdojo.EFORBIDDEN {
				return u, &unmeasurable{err: err}
			}
			return u, err
		}
	}
	ids, err := m.store.SessionImages(ctx, s.ID)
	if err != nil {
		return u, err
	}
	key := imagesCount{n: len(ids)}
	if len(ids) > 0 {
		key.last = ids[len(ids)-1]
	}
	m.quota.mu.Lock()
	cached, ok := m.quota.images[s.ID]
	m.quota.mu.Unlock()
	if ok && cached.n == key.n && cached.last == key.last {
		u.Images = cached.bytes
	} else {
		if u.Images, err = m.box.ImagesUsage(ctx, s.ID, ids); err != nil {
			return u, err
		}
		key.bytes = u.Images
		m.quota.mu.Lock()
		if m.quota.images == nil {
			m.quota.images = map[string]imagesCount{}
		}
		m.quota.images[s.ID] = key
		m.quota.mu.Unlock()
	}
	u.Recordings = m.recordingBytes(s.ID)
	return u, nil
}

// recordingBytes sums the files in a session's recording directory: the
// live recordings' too, which only the files know.
func (m *Manager) recordingBytes(sessionID string) int64 {
	dir := m.terminals.cfg.RecordDir
	if dir == "" {
		return 0
	}
	entries, err := os.ReadDir(filepath.Join(dir, sessionID))
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

// learnerVolumes is what an engine offers that can measure the contents
// of the volumes a learner made with their docker CLI. An EFORBIDDEN error
// means the learner made them unmeasurable.
type learnerVolumes interface {
	LearnerVolumesUsage(ctx context.Context, sessionID string) (int64, error)
}

// unmeasurable: the learner made their files impossible to measure.
type unmeasurable struct{ err error }

func (u *unmeasurable) Error() string { return u.err.Error() }
func (u *unmeasurable) Unwrap() error { return u.err }

// EnforceDiskQuota ends every running session that uses more than
// DiskQuota bytes of disk, warns those past 80% of it, and returns how
// many it ended. The learner's progress stays; they see why the session
// ended and can start the lab again.
func (m *Manager) EnforceDiskQuota(ctx context.Context) (int, error) {
	if m.cfg.DiskQuota <= 0 {
		return 0, nil
	}
	m.quota.sweep.Lock()
	defer m.quota.sweep.Unlock()
	sessions, err := m.store.LiveLabSessions(ctx)
	if err != nil {
		return 0, err
	}
	defer m.forgetDiskWarnings(sessions)
	n := 0
	for _, s := range sessions {
		if s.State != opsdojo.SessionRunning || s.ContainerID == "" {
			continue
		}
		use, err := m.SessionDiskUse(ctx, s)
		if opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND {
			continue // gone: Start and Reconcile deal with that
		}
		var um *unmeasurable
		if errors.As(err, &um) {
			// What cannot be counted cannot stay under the quota.
			if m.endUnmeasurable(ctx, s.ID, um.err) {
				n++
			}
			continue
		}
		if err != nil {
			return n, err
		}
		if use.Total() <= m.cfg.DiskQuota {
			if use.Total() >= m.cfg.DiskQuota/5*4 {
				m.warnDisk(s.ID, use)
			}
			continue
		}
		if m.endOverQuota(ctx, s.ID, use) {
			n++
		}
	}
	return n, nil
}

// diskWarnEvery spaces the warnings of a session that stays near its
// quota.
const diskWarnEvery = 10 * time.Minute

// warnDisk tells the people at a session's terminals that it nears its
// disk quota, at most every diskWarnEvery.
func (m *Manager) warnDisk(id string, use DiskUse) {
	now := m.now()
	m.mu.Lock()
	last, warned := m.diskWarned[id]
	if warned && now.Sub(last) < diskWarnEvery {
		m.mu.Unlock()
		return
	}
	if m.diskWarned == nil {
		m.diskWarned = map[string]time.Time{}
	}
	m.diskWarned[id] = now
	m.mu.Unlock()
	m.terms().NotifySession(id, terminal.Notice{Text: fmt.Sprintf(
		"This lab uses %s of its %s disk quota (%s). At the quota the lab session ends (your progress is kept): delete big files you do not need.",
		use.format(use.Total()), formatSize(m.cfg.DiskQuota), use.breakdown())})
}

// forgetDiskWarnings drops the warnings of sessions no longer live.
func (m *Manager) forgetDiskWarnings(live []opsdojo.LabSession) {
	keep := make(map[string]bool, len(live))
	for _, s := range live {
		keep[s.ID] = true
	}
	m.mu.Lock()
	for id := range m.diskWarned {
		if !keep[id] {
			delete(m.diskWarned, id)
		}
	}
	m.mu.Unlock()
	m.quota.mu.Lock()
	for id := range m.quota.images {
		if !keep[id] {
			delete(m.quota.images, id)
		}
	}
	m.quota.mu.Unlock()
}

func (m *Manager) endOverQuota(ctx context.Context, id string, use DiskUse) bool {
	return m.endForDisk(ctx, id, func(s opsdojo.LabSession) string {
		m.log.Warn("session over its disk quota; ending it", "session", s.ID, "user", s.UserID, "lab", s.LabID,
			"bytes", use.Total(), "files", use.Files, "volumes", use.Volumes, "images", use.Images, "recordings", use.Recordings, "quota", m.cfg.DiskQuota)
		return fmt.Sprintf("it used %s of disk, past the %s disk quota (%s)", use.format(use.Total()), formatSize(m.cfg.DiskQuota), use.breakdown())
	})
}

// endUnmeasurable ends a session whose disk use cannot be measured
// because of what its learner did (err says what).
func (m *Manager) endUnmeasurable(ctx context.Context, id string, err error) bool {
	return m.endForDisk(ctx, id, func(s opsdojo.LabSession) string {
		m.log.Warn("session's disk use cannot be measured; ending it", "session", s.ID, "user", s.UserID, "lab", s.LabID, "err", err)
		return fmt.Sprintf("its disk use could not be measured against the %s disk quota: %s", formatSize(m.cfg.DiskQuota), opsdojo.ErrorMessage(err))
	})
}

func (m *Manager) endForDisk(ctx context.Context, id string, reason func(opsdojo.LabSession) string) bool {
	s, err := m.store.LabSession(ctx, id)
	if err != nil {
		return false
	}
	// Under the learner's lock, and re-read: they may have ended or
	// restarted it meanwhile.
	defer m.lock(strconv.FormatInt(s.UserID, 10))()
	if s, err = m.store.LabSession(ctx, id); err != nil || s.State != opsdojo.SessionRunning {
		return false
	}
	s.EndReason = reason(s)
	m.finish(ctx, s, opsdojo.SessionEnded)
	m.mx.SessionEnds.WithLabelValues("disk_quota").Inc()
	return true
}

// runQuota sweeps every ReapInterval, when a build kicks it, and when the
// disk watch sees the disks grow past the threshold since the last sweep.
// Triggered sweeps are spaced so that they take at most a quarter of the
// time: a busy disk (other writers, builds) cannot keep the engine busy
// measuring.
func (m *Manager) runQuota(ctx context.Context) {
	if m.cfg.DiskQuota <= 0 {
		return
	}
	regular := time.NewTicker(m.cfg.ReapInterval)
	defer regular.Stop()
	var watch *diskWatch
	var polls <-chan time.Time
	if m.cfg.DiskWatchInterval > 0 && len(m.cfg.DiskWatchPaths) > 0 {
		used := m.quota.used
		if used == nil {
			used = statfsUsed
		}
		watch = newDiskWatch(m.cfg.DiskWatchPaths, m.cfg.DiskWatchThreshold, used)
		if err := watch.start(); err != nil {
			m.log.Warn("the disk watch cannot read the disks' use; quotas are checked every reap interval only", "paths", m.cfg.DiskWatchPaths, "err", err)
			watch = nil
		} else {
			polls = m.quota.polls
			if polls == nil {
				t := time.NewTicker(m.cfg.DiskWatchInterval)
				defer t.Stop()
				polls = t.C
			}
			m.log.Info("disk watch on", "paths", m.cfg.DiskWatchPaths, "every", m.cfg.DiskWatchInterval, "threshold_bytes", m.cfg.DiskWatchThreshold)
		}
	}
	var notBefore time.Time
	sweep := func(why string) {
		start := time.Now()
		if watch != nil {
			watch.rebase()
		}
		n, err := m.EnforceDiskQuota(ctx)
		if watch != nil {
			// Count on from what the sweep left: the space of the sessions
			// it ended is free now, and may be filled again before the
			// next poll.
			_, _ = watch.poll()
		}
		took := time.Since(start)
		notBefore = time.Now().Add(sweepDuty * took)
		if err != nil && ctx.Err() == nil {
			m.log.Error("check the disk use of sessions", "err", err)
		}
		if why != "regular" {
			m.log.Debug("quota sweep", "why", why, "took", took, "ended", n)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-regular.C:
			sweep("regular")
		case <-m.kicks():
			sweep("build")
		case <-polls:
			grew, err := watch.poll()
			if err != nil {
				m.log.Debug("disk watch", "err", err)
				continue
			}
			if grew > m.cfg.DiskWatchThreshold && !time.Now().Before(notBefore) {
				sweep(fmt.Sprintf("disks grew %s", formatMB(grew)))
			}
		}
	}
}

// diskWatch follows the used space of a few filesystems.
type diskWatch struct {
	paths     []string
	threshold int64
	used      func(paths []string) (int64, error)
	low       int64 // the least used space seen since the last sweep
}

func newDiskWatch(paths []string, threshold int64, used func([]string) (int64, error)) *diskWatch {
	return &diskWatch{paths: paths, threshold: threshold, used: used}
}

func (w *diskWatch) start() error {
	u, err := w.used(w.paths)
	w.low = u
	return err
}

// poll returns how much the used space grew since the last sweep (from
// the lowest point since: space freed and then filled again counts).
func (w *diskWatch) poll() (int64, error) {
	u, err := w.used(w.paths)
	if err != nil {
		return 0, err
	}
	w.low = min(w.low, u)
	return u - w.low, nil
}

// rebase starts counting growth from now: a sweep is about to measure.
func (w *diskWatch) rebase() {
	if u, err := w.used(w.paths); err == nil {
		w.low = u
	}
}

// statfsUsed sums the used bytes of the distinct filesystems holding
// paths.
func statfsUsed(paths []string) (int64, error) {
	var total int64
	seen := map[uint64]bool{}
	var errs []error
	for _, p := range paths {
		used, dev, err := fsUsed(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		if !seen[dev] {
			seen[dev] = true
			total += used
		}
	}
	if len(seen) == 0 {
		return 0, errors.Join(append(errs, fs.ErrNotExist)...)
	}
	return total, nil
}
