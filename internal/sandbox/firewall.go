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

// EnsureHostIsolation installs the isolation rule for IPv4 and IPv6.
// Idempotent.
func EnsureHostIsolation(ctx context.Context) error {
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
