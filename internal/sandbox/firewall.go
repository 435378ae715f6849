package sandbox

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// isolationRule stops learner containers from opening connections to the
// host itself: the opsdojo server's port, a TCP Docker API, anything else
// bound on the host. Replies to connections the host opened (the probes
// of build checks) are let through. Containers still reach the outside
// (apt mirrors) through FORWARD, and Docker's embedded DNS lives in each
// container's own network namespace, so neither needs INPUT.
func isolationRule() []string {
	return []string{"INPUT", "-i", BridgePrefix + "+", "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED", "-j", "REJECT"}
}

// metadataRule stops learner containers from reaching link-local
// addresses through the host: on a cloud VM that is the instance metadata
// service, which hands out the VM's credentials. DOCKER-USER is the chain
// Docker leaves to administrators, evaluated before its own FORWARD rules.
func metadataRule() []string {
	return []string{"DOCKER-USER", "-i", BridgePrefix + "+", "-d", "169.254.0.0/16", "-j", "REJECT"}
}

// EnsureHostIsolation installs the isolation rules (host and link-local).
// Idempotent.
func EnsureHostIsolation(ctx context.Context) error {
	if err := ensureRule(ctx, "iptables", metadataRule()); err != nil {
		return err
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		// An earlier version rejected replies too; drop it if present.
		_ = exec.CommandContext(ctx, bin, "-w", "5", "-D", "INPUT", "-i", BridgePrefix+"+", "-j", "REJECT").Run()
		rule := isolationRule()
		if err := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-C"}, rule...)...).Run(); err == nil {
			continue
		}
		out, err := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-I"}, rule...)...).CombinedOutput()
		if err != nil {
			if bin == "ip6tables" {
				continue // learner networks are IPv4-only; IPv6 may be absent
			}
			return fmt.Errorf("%s: %v: %s", bin, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

func ensureRule(ctx context.Context, bin string, rule []string) error {
	if err := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-C"}, rule...)...).Run(); err == nil {
		return nil
	}
	out, err := exec.CommandContext(ctx, bin, append([]string{"-w", "5", "-I"}, rule...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", bin, strings.Join(rule, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
