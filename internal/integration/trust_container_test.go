//go:build integration

package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// The learner's container against a hostile learner (issue 7 item 6):
// init and its child are out of the learner's reach, ptrace of PID 1 and
// io_uring are refused by the seccomp profile, and a container that stops
// anyway does not leave the session unusable.

// syscallProbe calls a syscall from perl (perl-base is in every Debian
// image; there is no strace, gdb or python) and prints "ret errno". On
// x86_64: ptrace is 101 (PTRACE_ATTACH 16, PTRACE_SEIZE 0x4206,
// PTRACE_DETACH 17), io_uring_setup 425.
func syscallProbe(args ...string) []string {
	return []string{"perl", "-e", `$! = 0; my $r = syscall(` + strings.Join(args, ", ") + `); my $e = $! + 0; print "$r $e\n";`}
}

// probeSyscall runs syscallProbe as the learner and returns its errno
// (0 when the call succeeded).
func probeSyscall(t *testing.T, id string, args ...string) int {
	t.Helper()
	code, out := execIn(t, id, sandbox.LearnerUser, syscallProbe(args...)...)
	f := strings.Fields(out)
	if code != 0 || len(f) != 2 {
		t.Fatalf("syscall(%s): exit %d: %q", strings.Join(args, ", "), code, out)
	}
	if f[0] != "-1" {
		return 0
	}
	errno, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("syscall(%s): %q", strings.Join(args, ", "), out)
	}
	return errno
}

const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

// pid1State is PID 1's state letter as the learner sees it ("S" asleep,
// "T" stopped, "t" traced).
func pid1State(t *testing.T, id string) string {
	t.Helper()
	_, out := execIn(t, id, sandbox.LearnerUser, "ps", "-o", "stat=", "-p", "1")
	return strings.TrimSpace(out)
}

// TestLearnerCannotStopTheContainer: every way a learner stopped or froze
// the container before (signals to init and its child, `kill -9 -1`,
// ptrace attach to PID 1) is refused, io_uring is not there, and the
// session works afterwards: a shell answers and a Check passes.
func TestLearnerCannotStopTheContainer(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	before := inspect(t, sess.ID)
	id := before.ID

	// Init and its child run as root; every file of the home is the
	// learner's, starter files included.
	code, out := execIn(t, id, sandbox.LearnerUser, "bash", "-c", `ps -o user= -p 1; ps -o user=,args= --ppid 1; find ~ ! -user learner | head -5; test -O ~/project/.gitignore && echo STARTER-OWNED`)
	if code != 0 || !strings.HasPrefix(out, "root\nroot") || !strings.Contains(out, "sleep infinity") || !strings.HasSuffix(out, "STARTER-OWNED\n") {
		t.Fatalf("init, its child and the home folder:\n%s", out)
	}

	// Through the terminal: a stop signal to init, then SIGKILL to
	// everything the learner may signal (the kernel spares the caller).
	tm := alice.terminal(sess.ID)
	tm.typeLine(`kill -STOP 1; echo stop-exit-$?`)
	tm.expect("stop-exit-1", 30*time.Second)
	if st := pid1State(t, id); strings.ContainsAny(st, "Tt") {
		t.Fatalf("PID 1 is stopped (%q) after the learner's kill -STOP 1", st)
	}
	tm.typeLine(`kill -9 -1; echo still-here-$((40+2))`)
	tm.expect("still-here-42", 30*time.Second)

	// The child that keeps the container alive, by its pid.
	code, out = execIn(t, id, sandbox.LearnerUser, "bash", "-c", `for p in $(ps -o pid= --ppid 1); do kill -9 "$p" || echo "refused-$p"; done; kill -TERM 1 || echo refused-init`)
	if !strings.Contains(out, "refused-init") || !strings.Contains(out, "refused-") || strings.Count(out, "refused-") < 2 {
		t.Fatalf("signals to init and its child were not refused (exit %d):\n%s", code, out)
	}

	// ptrace of PID 1, also with the pid in a long whose low 32 bits are 1
	// (the kernel truncates it to a pid_t).
	for _, args := range [][]string{{"101", "16", "1", "0", "0"}, {"101", "0x4206", "1", "0", "0"}, {"101", "16", "0x100000001", "0", "0"}} {
		if errno := probeSyscall(t, id, args...); errno != errnoEPERM {
			t.Errorf("ptrace(%s) as the learner: errno %d, want EPERM", strings.Join(args, ", "), errno)
		}
	}
	if st := pid1State(t, id); strings.ContainsAny(st, "Tt") {
		t.Fatalf("PID 1 is stopped (%q) after ptrace attempts", st)
	}
	// io_uring: not there.
	if errno := probeSyscall(t, id, "425", "1", "0"); errno != errnoENOSYS {
		t.Errorf("io_uring_setup as the learner: errno %d, want ENOSYS", errno)
	}

	// The container never stopped, and the session works.
	after := inspect(t, sess.ID)
	if !after.State.Running || after.State.StartedAt != before.State.StartedAt || after.RestartCount != before.RestartCount {
		t.Fatalf("the container stopped or restarted: running %v, started %s (was %s)", after.State.Running, after.State.StartedAt, before.State.StartedAt)
	}
	tm2 := alice.terminal(sess.ID)
	tm2.typeLine(`echo alive-$((6*7))`)
	tm2.expect("alive-42", 30*time.Second)
	solution, err := os.ReadFile(filepath.Join(repoRoot, "labs", "git-basics", "solutions", "01-init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := execIn(t, id, sandbox.LearnerUser, "bash", "-c", string(solution)); code != 0 {
		t.Fatalf("solution of init: exit %d\n%s", code, out)
	}
	if res := alice.check(sess.ID, "init"); res.Status != "pass" {
		t.Fatalf("init check after the attacks: %+v", res)
	}
}

// TestLearnerCanTraceOwnProcesses: ptrace stays for the learner's own
// processes (strace, gdb, delve), with the runtime named explicitly as
// --runtime does.
func TestLearnerCanTraceOwnProcesses(t *testing.T) {
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.Sandbox.Runtime = "runc" })
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	info := inspect(t, sess.ID)
	if info.HostConfig.Runtime != "runc" {
		t.Fatalf("runtime %q, want runc", info.HostConfig.Runtime)
	}
	// Attach to an own child, wait for its stop, detach: what strace -p
	// and gdb -p do first.
	script := `
my $pid = fork(); if ($pid == 0) { sleep 60; exit 0 }
my $r = syscall(101, 16, $pid, 0, 0); my $e = $! + 0;
print "attach $r $e\n";
if ($r == 0) {
  waitpid($pid, 2); # WUNTRACED: the attach stop
  $r = syscall(101, 17, $pid, 0, 0); $e = $! + 0;
  print "detach $r $e\n";
}
kill 9, $pid; waitpid($pid, 0);`
	code, out := execIn(t, info.ID, sandbox.LearnerUser, "perl", "-e", script)
	if code != 0 || !strings.Contains(out, "attach 0 0\n") || !strings.Contains(out, "detach 0 0\n") {
		t.Fatalf("ptrace of an own child: exit %d\n%s", code, out)
	}
}

// TestSeccompProfileOnThisEngine: the profile built from the moby module
// is accepted by this engine (20.10, API 1.41), and its ptrace rule holds
// on its own: here PID 1 runs as the learner, so only the filter stands
// between them.
func TestSeccompProfileOnThisEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	profile, err := sandbox.SeccompProfile()
	if err != nil {
		t.Fatal(err)
	}
	init := true
	created, err := docker.ContainerCreate(ctx, &container.Config{
		Image: "opsdojo/lab-git-basics:latest", User: sandbox.LearnerUser, Cmd: []string{"sleep", "infinity"},
		Labels: map[string]string{"opsdojo.test": "trust-container-seccomp"},
	}, &container.HostConfig{
		NetworkMode: "none", Init: &init, CapDrop: []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true", "seccomp=" + string(profile)},
	}, nil, nil, "")
	if err != nil {
		t.Fatalf("create with the profile: %v", err)
	}
	t.Cleanup(func() {
		_ = docker.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
	})
	if err := docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("the engine refused the profile: %v", err)
	}
	for _, args := range [][]string{{"101", "16", "1", "0", "0"}, {"101", "0x4206", "1", "0", "0"}, {"101", "16", "0x100000001", "0", "0"}, {"101", "16", "-4294967295", "0", "0"}} {
		if errno := probeSyscall(t, created.ID, args...); errno != errnoEPERM {
			t.Errorf("ptrace(%s) of a same-uid PID 1: errno %d, want EPERM from the filter", strings.Join(args, ", "), errno)
		}
	}
	if st := pid1State(t, created.ID); strings.ContainsAny(st, "Tt") {
		t.Fatalf("PID 1 is stopped (%q)", st)
	}
	for _, nr := range []string{"425", "426", "427"} {
		if errno := probeSyscall(t, created.ID, nr, "0", "0", "0", "0"); errno != errnoENOSYS {
			t.Errorf("io_uring syscall %s: errno %d, want ENOSYS", nr, errno)
		}
	}
}

// TestStoppedContainerRecovers: a container stopped from outside (an
// engine restart does the same) is started again by the next Check, with
// the learner's files; the terminal works again.
func TestStoppedContainerRecovers(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	id := inspect(t, sess.ID).ID
	solution, err := os.ReadFile(filepath.Join(repoRoot, "labs", "git-basics", "solutions", "01-init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := execIn(t, id, sandbox.LearnerUser, "bash", "-c", string(solution)); code != 0 {
		t.Fatalf("solution of init: exit %d\n%s", code, out)
	}
	stopContainer(t, id)

	res := alice.check(sess.ID, "init")
	if res.Status != "pass" {
		t.Fatalf("check after the container stopped: %+v", res)
	}
	if info := inspect(t, sess.ID); !info.State.Running || info.ID != id {
		t.Fatalf("container %s running %v, want %s started again", info.ID, info.State.Running, id)
	}
	var s sessionJSON
	if st := alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s); st != http.StatusOK || s.State != "running" {
		t.Fatalf("session after recovery: %d %+v", st, s)
	}
	tm := alice.terminal(sess.ID)
	tm.typeLine(`git -C ~/project log --oneline | wc -l | sed 's/^/commits-/'`)
	tm.expect("commits-1", 30*time.Second)
}

// TestRemovedContainerLosesSession: a container removed from outside, or
// stopped with its network gone so that it cannot start again, marks the
// session lost with a reason the learner sees; starting the lab again
// makes a new session and the progress is kept.
func TestRemovedContainerLosesSession(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	for _, tc := range []struct {
		name, reason string
		breakIt      func(t *testing.T, info container.InspectResponse)
	}{
		{"removed", "removed outside opsdojo", func(t *testing.T, info container.InspectResponse) {
			if err := docker.ContainerRemove(context.Background(), info.ID, container.RemoveOptions{Force: true}); err != nil {
				t.Fatal(err)
			}
		}},
		{"unstartable", "could not be started again", func(t *testing.T, info container.InspectResponse) {
			stopContainer(t, info.ID)
			if err := docker.NetworkRemove(context.Background(), string(info.HostConfig.NetworkMode)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := alice.startLab("git-basics")
			cleanupSession(t, sess.ID)
			info := inspect(t, sess.ID)
			solution, err := os.ReadFile(filepath.Join(repoRoot, "labs", "git-basics", "solutions", "01-init.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if code, out := execIn(t, info.ID, sandbox.LearnerUser, "bash", "-c", string(solution)); code != 0 {
				t.Fatalf("solution of init: exit %d\n%s", code, out)
			}
			if res := alice.check(sess.ID, "init"); res.Status != "pass" {
				t.Fatalf("init: %+v", res)
			}
			tc.breakIt(t, info)

			var e errorJSON
			st := alice.do("POST", "/api/v1/sessions/"+sess.ID+"/steps/init/check", nil, &e)
			if st != http.StatusConflict || !strings.Contains(e.Error.Message, "lost") || !strings.Contains(e.Error.Message, tc.reason) {
				t.Fatalf("check in a broken session: %d %+v", st, e)
			}
			var s sessionJSON
			if st := alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s); st != http.StatusOK || s.State != "lost" || !strings.Contains(s.EndReason, tc.reason) {
				t.Fatalf("session: %d %+v", st, s)
			}
			if _, resp, err := alice.dial(sess.ID, http.Header{"Origin": {srv.url}}); err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
				t.Fatalf("terminal of a lost session: %v %v", err, resp)
			}
			again := alice.startLab("git-basics")
			cleanupSession(t, again.ID)
			if again.ID == sess.ID {
				t.Fatal("start returned the lost session")
			}
			res := alice.check(again.ID, "init")
			if res.Progress.Passed < 1 {
				t.Fatalf("progress lost with the session: %+v", res)
			}
			if st := alice.do("DELETE", "/api/v1/sessions/"+again.ID, nil, nil); st != http.StatusOK {
				t.Fatalf("end the new session: %d", st)
			}
		})
	}
}

func stopContainer(t *testing.T, id string) {
	t.Helper()
	timeout := 5
	if err := docker.ContainerStop(context.Background(), id, container.StopOptions{Timeout: &timeout}); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
}

// TestPausedContainerIsReported: an operator's `docker pause` is reported
// to the learner as such (exec into a paused container fails), the
// session is kept, and it works again once resumed.
func TestPausedContainerIsReported(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	id := inspect(t, sess.ID).ID
	if err := docker.ContainerPause(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = docker.ContainerUnpause(context.Background(), id) })
	var e errorJSON
	if st := alice.do("POST", "/api/v1/sessions/"+sess.ID+"/steps/init/check", nil, &e); st != http.StatusConflict || !strings.Contains(e.Error.Message, "paused") {
		t.Fatalf("check in a paused container: %d %+v", st, e)
	}
	var s sessionJSON
	if st := alice.do("GET", "/api/v1/sessions/"+sess.ID, nil, &s); st != http.StatusOK || s.State != "running" {
		t.Fatalf("session while paused: %d %+v", st, s)
	}
	if err := docker.ContainerUnpause(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if res := alice.check(sess.ID, "init"); res.Status != "fail" {
		t.Fatalf("check after resuming: %+v", res)
	}
}
