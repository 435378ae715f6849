package sandbox

import (
	"context"
	"net/netip"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// CLIContainer is a running container that a session's learner started
// with their docker CLI (internal/dockerproxy), as the web preview sees it.
type CLIContainer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Ports are the TCP ports its image exposes (EXPOSE): a hint for the
	// preview form, not a limit.
	Ports []uint16 `json:"ports"`
	// Addr is its address on the session's network.
	Addr netip.Addr `json:"-"`
}

// CLIContainers lists the running containers that sessionID's learner
// started with their docker CLI, with an address on the session's network.
func (e *Engine) CLIContainers(ctx context.Context, sessionID string) ([]CLIContainer, error) {
	list, err := e.cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelSession+"="+sessionID),
		filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID),
		filters.Arg("label", LabelCreatedBy+"="+CreatedByCLI))})
	if err != nil {
		return nil, engineErr(err, "list the learner's containers")
	}
	return ownCLIContainers(list, e.cfg.InstanceID, sessionID), nil
}

// CLIContainerAddr resolves ref, the name, full ID or unique ID prefix of
// one of sessionID's learner's running CLI containers (the order the docker
// CLI uses), to its address on the session's network. Any other container
// of the engine (another session's, the session's own lab container, a
// warm-pool box, anything else) is ENOTFOUND, as is a stopped one.
func (e *Engine) CLIContainerAddr(ctx context.Context, sessionID, ref string) (netip.Addr, error) {
	list, err := e.CLIContainers(ctx, sessionID)
	if err != nil {
		return netip.Addr{}, err
	}
	c, err := ResolveCLIContainer(list, ref)
	if err != nil {
		return netip.Addr{}, err
	}
	return c.Addr, nil
}

// ownCLIContainers keeps, of what the engine's label filter returned, the
// running containers whose labels say the session's learner made them with
// the CLI and that have an address on the session's network. It checks
// the labels again rather than trusting the filter alone.
func ownCLIContainers(list []container.Summary, instance, sessionID string) []CLIContainer {
	var out []CLIContainer
	for _, c := range list {
		l := c.Labels
		if sessionID == "" || l[LabelSession] != sessionID || l[LabelInstance] != instance || l[LabelCreatedBy] != CreatedByCLI ||
			c.State != "running" || c.NetworkSettings == nil {
			continue
		}
		n, ok := c.NetworkSettings.Networks[Name(sessionID)]
		if !ok || n == nil {
			continue
		}
		addr, err := netip.ParseAddr(n.IPAddress)
		if err != nil {
			continue
		}
		cc := CLIContainer{ID: c.ID, Addr: addr, Ports: []uint16{}}
		for _, name := range c.Names {
			// The engine lists "/name"; links from other containers
			// ("/other/alias") are not names of this container.
			if n := strings.TrimPrefix(name, "/"); n != "" && !strings.Contains(n, "/") {
				cc.Name = n
				break
			}
		}
		seen := map[uint16]bool{}
		for _, p := range c.Ports {
			if p.Type == "tcp" && p.PrivatePort != 0 && !seen[p.PrivatePort] {
				seen[p.PrivatePort] = true
				cc.Ports = append(cc.Ports, p.PrivatePort)
			}
		}
		sort.Slice(cc.Ports, func(i, j int) bool { return cc.Ports[i] < cc.Ports[j] })
		out = append(out, cc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ResolveCLIContainer finds ref among a session's own CLI containers: a
// full ID, then an exact name, then a unique ID prefix, as the docker CLI
// does. Nothing else is searched, so a name or ID of a container that is
// not in list can never resolve.
func ResolveCLIContainer(list []CLIContainer, ref string) (CLIContainer, error) {
	if ref == "" {
		return CLIContainer{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no container named")
	}
	for _, c := range list {
		if c.ID == ref {
			return c, nil
		}
	}
	for _, c := range list {
		if c.Name == ref {
			return c, nil
		}
	}
	var match []CLIContainer
	for _, c := range list {
		if strings.HasPrefix(c.ID, ref) {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return CLIContainer{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no running container %q in this lab session", ref)
	default:
		return CLIContainer{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "%q matches more than one of your containers; give more of its ID or its name", ref)
	}
}
