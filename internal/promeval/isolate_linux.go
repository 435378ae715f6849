//go:build linux

package promeval

import (
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr {
	// The worker dies with the server.
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// setResourceLimits caps the worker's own address space and CPU time: the
// backstops behind the heap watchdog and the deadline.
func setResourceLimits(lim Limits) {
	if !raceEnabled {
		// Go reserves address space well beyond its heap; leave room for it.
		as := uint64(lim.MaxMemory)*2 + 2<<30
		_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as})
	}
	cpu := uint64(lim.Timeout.Seconds()) + 3
	_ = syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpu, Max: cpu + 1})
}
