package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// HostInfo is what `opsdojo doctor` asks the engine.
type HostInfo struct {
	ServerVersion, APIVersion    string
	CgroupVersion, CgroupDriver  string
	StorageDriver, DockerRootDir string
	// Seccomp is whether the engine applies seccomp profiles.
	Seccomp bool
	// SecurityOptions as the engine lists them (name=seccomp,...).
	SecurityOptions []string
}

// HostInfo asks the engine about itself.
func (e *Engine) HostInfo(ctx context.Context) (HostInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := e.cli.Info(ctx)
	if err != nil {
		return HostInfo{}, engineErr(err, "engine info")
	}
	v, err := e.cli.ServerVersion(ctx)
	if err != nil {
		return HostInfo{}, engineErr(err, "engine version")
	}
	h := HostInfo{ServerVersion: v.Version, APIVersion: v.APIVersion, CgroupVersion: info.CgroupVersion,
		CgroupDriver: info.CgroupDriver, StorageDriver: info.Driver, DockerRootDir: info.DockerRootDir,
		SecurityOptions: info.SecurityOptions}
	for _, o := range info.SecurityOptions {
		if o == "name=seccomp" || strings.HasPrefix(o, "name=seccomp,") {
			h.Seccomp = true
		}
	}
	return h, nil
}

// FirewallRule is one rule EnsureHostIsolation installs, and whether it
// is in place.
type FirewallRule struct {
	Command string // as an operator would type it
	Present bool
	// Err is set when iptables could not be asked (not root, missing).
	Err error
}

// HostIsolationRules reports whether the host firewall rules are in place
// (iptables -C; changes nothing).
func HostIsolationRules(ctx context.Context) []FirewallRule {
	var out []FirewallRule
	for _, r := range []struct {
		bin  string
		rule []string
	}{{"iptables", metadataRule()}, {"iptables", isolationRule()}} {
		fr := FirewallRule{Command: r.bin + " -I " + strings.Join(r.rule, " ")}
		cmd := exec.CommandContext(ctx, r.bin, append([]string{"-w", "5", "-C"}, r.rule...)...)
		msg, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			fr.Present = true
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			// 1: the rule (or its chain) is not there.
		default:
			fr.Err = fmt.Errorf("%s -C: %v: %s", r.bin, err, strings.TrimSpace(string(msg)))
		}
		out = append(out, fr)
	}
	return out
}
