package sandbox

//lint:file-ignore SA1019 the tests check the deprecated Name field stays empty

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func loadProfile(t *testing.T) seccomp.Seccomp {
	t.Helper()
	b, err := SeccompProfile()
	if err != nil {
		t.Fatal(err)
	}
	var p seccomp.Seccomp
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("the profile does not read back: %v", err)
	}
	return p
}

func names(sc *seccomp.Syscall) []string {
	if sc.Name != "" {
		return append([]string{sc.Name}, sc.Names...)
	}
	return sc.Names
}

// argMatches evaluates one rule's argument conditions for a syscall
// whose arguments are args, the way libseccomp does: conditions on
// different arguments must all hold; each rule here has at most one.
func argMatches(t *testing.T, sc *seccomp.Syscall, args [6]uint64) bool {
	t.Helper()
	for _, a := range sc.Args {
		v := args[a.Index]
		switch a.Op {
		case specs.OpMaskedEqual:
			if v&a.Value != a.ValueTwo {
				return false
			}
		case specs.OpEqualTo:
			if v != a.Value {
				return false
			}
		default:
			t.Fatalf("rule %v uses %s; the test does not model it", names(sc), a.Op)
		}
	}
	return true
}

func TestSeccompProfileRefusesIOURing(t *testing.T) {
	p := loadProfile(t)
	for _, name := range ioURingSyscalls {
		var denied bool
		for _, sc := range p.Syscalls {
			if !slices.Contains(names(sc), name) {
				continue
			}
			if sc.Action != specs.ActErrno {
				t.Errorf("%s: a rule with action %s (%s)", name, sc.Action, sc.Comment)
				continue
			}
			if sc.ErrnoRet == nil || *sc.ErrnoRet != uint(unix.ENOSYS) || len(sc.Args) != 0 || sc.Includes != nil || sc.Excludes != nil {
				t.Errorf("%s: rule %+v, want ENOSYS for everyone", name, sc)
			}
			denied = true
		}
		if !denied {
			t.Errorf("%s has no rule of its own", name)
		}
	}
}

// ptrace: every pid whose low 32 bits are 1 is refused with EPERM (the
// kernel truncates the long to a pid_t, so 0x100000001 is PID 1), every
// other pid is allowed, and no rule lets ptrace through unconditionally.
func TestSeccompProfilePtraceOfInit(t *testing.T) {
	p := loadProfile(t)
	var rules []*seccomp.Syscall
	for _, sc := range p.Syscalls {
		if slices.Contains(names(sc), "ptrace") {
			if len(names(sc)) != 1 {
				t.Errorf("ptrace shares a rule with %v", names(sc))
			}
			if len(sc.Args) == 0 {
				t.Errorf("an unconditional ptrace rule (%s, %s)", sc.Action, sc.Comment)
			}
			if sc.Action == specs.ActAllow && (sc.Includes == nil || sc.Includes.MinKernel == nil || sc.Includes.MinKernel.String() != "4.8") {
				t.Errorf("a ptrace allow rule without Docker's kernel 4.8 floor: %+v", sc.Includes)
			}
			rules = append(rules, sc)
		}
	}
	pids := []uint64{0, 1, 2, 3, 7, 42, 1 << 31, 1<<31 | 1, 0xffffffff, 0x100000001, 0xffffffff00000001, 0x1_0000_0000, 0xffffffffffffffff, 0x7ffffffe}
	for _, pid := range pids {
		for _, req := range []uint64{unix.PTRACE_ATTACH, unix.PTRACE_SEIZE, unix.PTRACE_PEEKDATA} {
			args := [6]uint64{req, pid}
			var allow, deny int
			for _, sc := range rules {
				if !argMatches(t, sc, args) {
					continue
				}
				switch sc.Action {
				case specs.ActAllow:
					allow++
				case specs.ActErrno:
					if sc.ErrnoRet == nil || *sc.ErrnoRet != uint(unix.EPERM) {
						t.Errorf("ptrace deny rule errno %v, want EPERM", sc.ErrnoRet)
					}
					deny++
				default:
					t.Errorf("ptrace rule with action %s", sc.Action)
				}
			}
			init := uint32(pid) == 1
			if init && (deny != 1 || allow != 0) || !init && (deny != 0 || allow == 0) {
				t.Errorf("ptrace(%#x, pid %#x): %d allow and %d deny rules match", req, pid, allow, deny)
			}
		}
	}
}

// Everything else is Docker's default profile: the same default action
// and every other syscall allowed under the same conditions.
func TestSeccompProfileKeepsDockerDefault(t *testing.T) {
	p := loadProfile(t)
	def := seccomp.DefaultProfile()
	if p.DefaultAction != def.DefaultAction || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != *def.DefaultErrnoRet {
		t.Errorf("default action %s/%v, Docker's %s/%v", p.DefaultAction, p.DefaultErrnoRet, def.DefaultAction, *def.DefaultErrnoRet)
	}
	if len(p.Architectures) != 0 || len(p.ArchMap) == 0 {
		t.Errorf("architectures %v archMap %d: engines refuse both at once", p.Architectures, len(p.ArchMap))
	}
	key := func(sc *seccomp.Syscall, name string) string {
		b, _ := json.Marshal(struct {
			N string
			A specs.LinuxSeccompAction
			E *uint
			R []specs.LinuxSeccompArg
			I *seccomp.Filter
			X *seccomp.Filter
		}{name, sc.Action, sc.ErrnoRet, sc.Args, sc.Includes, sc.Excludes})
		return string(b)
	}
	have := map[string]bool{}
	for _, sc := range p.Syscalls {
		if sc.Name != "" && len(sc.Names) > 0 {
			t.Errorf("rule with both name and names: %+v", sc)
		}
		for _, n := range names(sc) {
			have[key(sc, n)] = true
		}
	}
	kept := 0
	for _, sc := range def.Syscalls {
		for _, n := range names(sc) {
			if n == "ptrace" || slices.Contains(ioURingSyscalls, n) {
				continue
			}
			if !have[key(sc, n)] {
				t.Errorf("Docker's rule for %s (%s) is missing", n, sc.Action)
			}
			kept++
		}
	}
	if kept < 300 {
		t.Fatalf("only %d rules of Docker's default compared; is it the default profile?", kept)
	}
}

// Exec and OpenTTY refuse a request without a user before asking the
// engine: the container's own user is root.
func TestExecRequiresUser(t *testing.T) {
	e, err := New(DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	if _, err := e.Exec(ctx, "no-such-container", ExecRequest{Cmd: []string{"id"}}); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("Exec without a user: %v", err)
	}
	if _, err := e.Exec(ctx, "no-such-container", ExecRequest{Cmd: []string{"id"}, User: "  "}); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("Exec with a blank user: %v", err)
	}
	if _, err := e.OpenTTY(ctx, "no-such-container", TTYRequest{Cmd: []string{"bash"}}); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("OpenTTY without a user: %v", err)
	}
}

// An engine without seccomp refuses the profile at start; the error says
// why in words an operator can act on, for old and new engines alike.
func TestStartErrWithoutSeccomp(t *testing.T) {
	for _, msg := range []string{
		"Error response from daemon: seccomp is not enabled in your kernel, cannot run a custom seccomp profile",
		"Error response from daemon: Seccomp is not enabled in your kernel, cannot run a custom seccomp profile.",
	} {
		err := startErr(errors.New(msg))
		if opsdojo.ErrorCode(err) != opsdojo.EUNAVAILABLE || !strings.Contains(opsdojo.ErrorMessage(err), "without seccomp support") {
			t.Errorf("%q → %v", msg, err)
		}
	}
	if err := startErr(errors.New("Error response from daemon: OCI runtime create failed")); opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE {
		t.Errorf("an unrelated start error became %v", err)
	}
}

func BenchmarkSeccompProfile(b *testing.B) {
	for b.Loop() {
		if _, err := SeccompProfile(); err != nil {
			b.Fatal(err)
		}
	}
}
