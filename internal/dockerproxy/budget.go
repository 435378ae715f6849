package dockerproxy

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
)

// One session budget for all of a learner's containers. A per-container
// limit would let five containers use five times the session's memory
// and pids, so the limits of the learner's containers (running or
// stopped: a stopped container starts again with its limits, and
// `docker update` is not offered) add up to at most the Budget. A create
// that asks for more than is left is refused with a sentence the CLI
// prints; one that asks for nothing gets a fair part of what is left, so
// that the rest of the container slots can still get some; removing a
// container gives its part back. The session's own container is not in
// this budget: it has its own limits beside it (docs/security.md).

// Limits are the memory (bytes), CPU (billionths of a CPU) and pids a
// container holds, or asks for (0: no ask).
type Limits struct {
	Memory   int64
	NanoCPUs int64
	Pids     int64
}

// Share is what a new container shares the budget with: the limits the
// session's learner containers hold already, and how many more
// containers the session may make (this one included; below 1 counts as
// 1).
type Share struct {
	Taken Limits
	Slots int
}

// The least a container is given when it asks for no limit: less memory
// or pids than this and hardly a shell starts; the engine refuses fewer
// than 0.01 CPUs.
const (
	minMemory   = 16 << 20
	minNanoCPUs = 1e7
	minPids     = 16
	// maxCPUShares is the engine's default weight, a session container's.
	maxCPUShares = 1024
)

// HeldBy returns the budget a learner container holds, from its
// HostConfig. A limit the engine reports as none (0, or negative pids)
// holds the whole budget: such a container could use it all.
func HeldBy(h *container.HostConfig, b Budget) Limits {
	if h == nil {
		return Limits{Memory: b.Memory, NanoCPUs: b.NanoCPUs, Pids: b.PidsLimit}
	}
	l := Limits{Memory: h.Memory, NanoCPUs: h.NanoCPUs}
	if h.PidsLimit != nil {
		l.Pids = *h.PidsLimit
	}
	if l.Memory <= 0 {
		l.Memory = b.Memory
	}
	if l.NanoCPUs <= 0 {
		l.NanoCPUs = b.NanoCPUs
	}
	if l.Pids <= 0 {
		l.Pids = b.PidsLimit
	}
	return l
}

// Add sums two holdings.
func (l Limits) Add(o Limits) Limits {
	return Limits{Memory: l.Memory + o.Memory, NanoCPUs: l.NanoCPUs + o.NanoCPUs, Pids: l.Pids + o.Pids}
}

// fit gives the new container its limits out of what the budget has
// left, or refuses it.
func (s Share) fit(b Budget, asked Limits) (Limits, error) {
	slots := int64(max(s.Slots, 1))
	var out Limits
	var err error
	if out.Memory, err = fitOne(resource{name: "memory", flag: "--memory", total: b.Memory, taken: s.Taken.Memory, asked: asked.Memory,
		least: minMemory, round: 1 << 20, format: formatBytes, hint: func(v int64) string { return fmt.Sprintf("-m %dm", v>>20) }}, slots); err != nil {
		return Limits{}, err
	}
	if out.NanoCPUs, err = fitOne(resource{name: "CPU", flag: "--cpus", total: b.NanoCPUs, taken: s.Taken.NanoCPUs, asked: asked.NanoCPUs,
		least: minNanoCPUs, round: 1e7, format: formatCPUs, hint: func(v int64) string { return fmt.Sprintf("--cpus %.2f", float64(v)/1e9) }}, slots); err != nil {
		return Limits{}, err
	}
	if out.Pids, err = fitOne(resource{name: "process (pids)", flag: "--pids-limit", total: b.PidsLimit, taken: s.Taken.Pids, asked: asked.Pids,
		least: minPids, round: 1, format: formatPids, hint: func(v int64) string { return fmt.Sprintf("--pids-limit %d", v) }}, slots); err != nil {
		return Limits{}, err
	}
	return out, nil
}

type resource struct {
	name, flag          string
	total, taken, asked int64
	least, round        int64
	format              func(int64) string
	hint                func(int64) string
}

func fitOne(r resource, slots int64) (int64, error) {
	if r.total <= 0 {
		// No budget configured for this resource: the engine's default.
		return max(r.asked, 0), nil
	}
	left := max(r.total-r.taken, 0)
	if r.asked > 0 {
		if r.asked > left {
			if left < r.round {
				return 0, refuse("%s %s: no %s is left for another container. Your containers share %s and the ones you have (running or stopped) hold all of it; remove one you do not need (`docker ps -a`, `docker rm NAME`)",
					r.flag, r.format(r.asked), r.name, r.format(r.total))
			}
			return 0, refuse("%s %s: more %s than is left. Your containers share %s and the ones you have (running or stopped) hold %s, so %s is left; ask for less (%s) or remove a container you do not need (`docker ps -a`, `docker rm NAME`)",
				r.flag, r.format(r.asked), r.name, r.format(r.total), r.format(min(r.taken, r.total)), r.format(left), r.hint(left/r.round*r.round))
		}
		return r.asked, nil
	}
	if left < r.least {
		return 0, refuse("no %s is left for another container: your containers share %s and the ones you have (running or stopped) hold %s. Remove one you do not need (`docker ps -a`, `docker rm NAME`)",
			r.name, r.format(r.total), r.format(min(r.taken, r.total)))
	}
	part := left / slots / r.round * r.round
	return min(max(part, r.least), left), nil
}

func formatBytes(b int64) string {
	if b >= 1<<30 && b%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", b>>30)
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

func formatCPUs(n int64) string { return fmt.Sprintf("%.2f CPUs", float64(n)/1e9) }

func formatPids(n int64) string { return fmt.Sprintf("%d processes", n) }

// share sums what the learner's containers (own, just listed) hold of the
// budget. A container removed meanwhile holds nothing.
func (s *server) share(ctx context.Context, own []container.Summary) (Share, error) {
	var taken Limits
	for _, c := range own {
		if !s.ownsLabels(c.Labels) {
			continue
		}
		info, err := s.m.cli.ContainerInspect(ctx, c.ID)
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue
			}
			return Share{}, fmt.Errorf("inspect container: %w", err)
		}
		taken = taken.Add(HeldBy(info.HostConfig, s.m.cfg.Budget))
	}
	return Share{Taken: taken, Slots: s.m.cfg.MaxContainers - len(own)}, nil
}
