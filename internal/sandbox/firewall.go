package sandbox

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// EnsureHostIsolation installs the host firewall rule that stops learner
// containers from opening connections to the host itself: the opsdojo
// server's port, the Docker API if it listens on TCP, anything else bound on
// the host. Containers still reach the outside world (apt mirrors) through
// FORWARD, and Docker's embedded DNS lives inside each container's own
// network namespace, so neither needs INPUT. Idempotent.
func EnsureHostIsolation(ctx context.Context) error {
	for _, bin := range []string{"iptables", "ip6tables"} {
		rule := []string{"INPUT", "-i", BridgePrefix + "+", "-j", "REJECT"}
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
