package sandbox

//lint:file-ignore SA1019 old-format profiles name a syscall in the deprecated Name field; the filter must see it too

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Errnos the learner's programs get from the syscalls the profile takes
// away on top of Docker's default.
const (
	// io_uring answers ENOSYS, as on a kernel built without it: programs
	// that can use io_uring (libuv, liburing users) read ENOSYS as "not
	// here" and fall back to epoll and plain reads without a warning.
	ioURingErrno = unix.ENOSYS
	// ptrace of PID 1 answers EPERM, what the kernel answers for any
	// process one may not trace, so strace and gdb print the usual
	// "Operation not permitted".
	ptraceInitErrno = unix.EPERM
)

// ioURingSyscalls is io_uring's whole entry point: without setup there is
// no ring, and enter and register only act on one.
var ioURingSyscalls = []string{"io_uring_setup", "io_uring_enter", "io_uring_register"}

// SeccompProfile returns the seccomp profile of learner containers as the
// JSON the engine takes in `SecurityOpt: seccomp=<json>`: Docker's default
// profile (from the moby module, not a copy) with two changes.
//
//   - io_uring is refused. It is a large, young kernel interface with a
//     long list of local privilege escalations, it bypasses the syscall
//     filter for the operations it queues, and nothing a learner does
//     needs it. Docker's own default dropped it in Engine 25, but engines
//     like Debian's 20.10 still allow it, so the rule is explicit.
//   - ptrace of PID 1 is refused. The container's init runs as root, so
//     the kernel already keeps the learner from tracing it; the filter is
//     a second wall for labs that add CAP_SYS_PTRACE or any future change
//     of init's user. ptrace of the learner's own processes stays allowed
//     (strace, gdb, delve are worth learning in a DevOps sandbox).
//
// The profile keeps its conditional rules (capabilities, kernel version,
// architectures): the engine resolves them per container, so a lab's
// cap_add still unlocks what Docker's default would unlock.
func SeccompProfile() ([]byte, error) {
	p := seccomp.DefaultProfile()
	kept := p.Syscalls[:0]
	for _, sc := range p.Syscalls {
		sc.Names = slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool {
			return n == "ptrace" || slices.Contains(ioURingSyscalls, n)
		})
		if sc.Name == "ptrace" || slices.Contains(ioURingSyscalls, sc.Name) {
			sc.Name = ""
		}
		if len(sc.Names) == 0 && sc.Name == "" {
			continue
		}
		kept = append(kept, sc)
	}
	p.Syscalls = append(kept, ptraceRules()...)
	p.Syscalls = append(p.Syscalls, errnoRule(ioURingSyscalls, ioURingErrno, "opsdojo: no io_uring for learners"))
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	return b, nil
}

// ptraceRules allow ptrace unless its pid argument names PID 1.
//
// The kernel declares ptrace's pid a long and truncates it to a 32-bit
// pid_t, so a filter comparing the whole register (pid != 1) would let
// 0x100000001 through to PID 1. Every comparison here therefore looks at
// the low 32 bits only. "Low 32 bits != 1" is not one seccomp comparison;
// it is the union of "bit 0 clear" and "one of bits 1-31 set", one allow
// rule each, with no overlap with the deny rule (libseccomp and runc
// resolve rules of one syscall with different actions by order and
// subsumption, which only disjoint rules make safe).
//
// Docker allows ptrace only on kernels from 4.8 (older ones let a tracer
// slip past the filter); the allow rules keep that condition.
func ptraceRules() []*seccomp.Syscall {
	const low32 = 0xffffffff
	minKernel := &seccomp.Filter{MinKernel: &seccomp.KernelVersion{Kernel: 4, Major: 8}}
	allow := func(mask, value uint64) *seccomp.Syscall {
		return &seccomp.Syscall{
			LinuxSyscall: specs.LinuxSyscall{
				Names:  []string{"ptrace"},
				Action: specs.ActAllow,
				Args:   []specs.LinuxSeccompArg{{Index: 1, Value: mask, ValueTwo: value, Op: specs.OpMaskedEqual}},
			},
			Comment:  "opsdojo: ptrace of any pid but 1",
			Includes: minKernel,
		}
	}
	rules := []*seccomp.Syscall{allow(1, 0)}
	for bit := uint64(1); bit < 32; bit++ {
		rules = append(rules, allow(1<<bit, 1<<bit))
	}
	errno := uint(ptraceInitErrno)
	rules = append(rules, &seccomp.Syscall{
		LinuxSyscall: specs.LinuxSyscall{
			Names:    []string{"ptrace"},
			Action:   specs.ActErrno,
			ErrnoRet: &errno,
			Args:     []specs.LinuxSeccompArg{{Index: 1, Value: low32, ValueTwo: 1, Op: specs.OpMaskedEqual}},
		},
		Comment: "opsdojo: no ptrace of the container's init",
	})
	return rules
}

func errnoRule(names []string, errno unix.Errno, comment string) *seccomp.Syscall {
	e := uint(errno)
	return &seccomp.Syscall{
		LinuxSyscall: specs.LinuxSyscall{Names: slices.Clone(names), Action: specs.ActErrno, ErrnoRet: &e},
		Comment:      comment,
	}
}
