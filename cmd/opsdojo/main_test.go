package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, slog.New(slog.DiscardHandler))
	return code, out.String(), errOut.String()
}

// brokenLab has a missing instructions file, a solution outside the lab
// folder and a missing check script (lines 9, 10 and 15).
const brokenLab = `id: broken
title: Broken
summary: A lab with mistakes.
difficulty: beginner
minutes: 5
steps:
  - id: one
    title: One
    instructions: steps/missing.md
    solution: ../../etc/passwd
    checks:
      - id: c
        title: C
        kind: exec
        script: checks/c.sh
`

func TestLabsValidate(t *testing.T) {
	code, out, errOut := runCmd(t, "", "labs", "validate", filepath.Join("..", "..", "labs"))
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("repository labs: exit %d\n%s%s", code, out, errOut)
	}

	dir := t.TempDir()
	lab := filepath.Join(dir, "broken")
	os.MkdirAll(filepath.Join(lab, "image"), 0o755)
	os.WriteFile(filepath.Join(lab, "image", "Dockerfile"), []byte("FROM x\n"), 0o644)
	os.WriteFile(filepath.Join(lab, "lab.yaml"), []byte(brokenLab+"        flavour: vanilla\n"), 0o644)
	code, _, errOut = runCmd(t, "", "labs", "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := "broken/lab.yaml:16: unknown field \"flavour\" in a check"
	if !strings.Contains(errOut, want) {
		t.Fatalf("output lacks %q:\n%s", want, errOut)
	}

	// Without the unknown field the remaining problems each get a line.
	os.WriteFile(filepath.Join(lab, "lab.yaml"), []byte(brokenLab), 0o644)
	code, _, errOut = runCmd(t, "", "labs", "validate", lab)
	for _, w := range []string{
		"lab.yaml:9: steps/missing.md does not exist",
		"lab.yaml:10: ../../etc/passwd",
		"lab.yaml:15: checks/c.sh does not exist",
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("output lacks %q:\n%s", w, errOut)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

func TestUserAdd(t *testing.T) {
	dataDir := t.TempDir()
	code, out, errOut := runCmd(t, "s3cret-password\n", "user", "add", "--username", "admin", "--password-stdin", "--admin", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	st, err := store.Open(context.Background(), app.DBPath(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	u, hash, err := st.UserByUsername(context.Background(), "admin")
	st.Close()
	if err != nil || !u.IsAdmin || !auth.CheckPassword(hash, "s3cret-password") {
		t.Fatalf("user: %+v err %v", u, err)
	}
	// Again: the password is replaced, not a second user made.
	if code, out, _ := runCmd(t, "another-password\n", "user", "add", "--username", "admin", "--password-stdin", "--data-dir", dataDir); code != 0 || !strings.Contains(out, "updated") {
		t.Fatalf("update: exit %d %s", code, out)
	}
	if code, _, errOut := runCmd(t, "short\n", "user", "add", "--username", "bob", "--password-stdin", "--data-dir", dataDir); code != 1 || !strings.Contains(errOut, "8 characters") {
		t.Fatalf("short password: exit %d %s", code, errOut)
	}
	if code, _, _ := runCmd(t, "", "user", "add", "--username", "bob", "--data-dir", dataDir); code != 1 {
		t.Fatalf("without --password-stdin: exit %d", code)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errOut := runCmd(t, "", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("exit %d %s", code, errOut)
	}
	if code, out, _ := runCmd(t, "", "help"); code != 0 || !strings.Contains(out, "opsdojo serve") {
		t.Fatalf("help: exit %d", code)
	}
}

// A self-hoster makes an instructor from the command line; a role the
// server does not know, or one that contradicts --admin, is refused.
func TestUserAddRole(t *testing.T) {
	data := t.TempDir()
	add := func(args ...string) (int, string, string) {
		return runCmd(t, "a-long-password\n", append([]string{"user", "add", "--password-stdin", "--data-dir", data}, args...)...)
	}
	if code, out, errOut := add("--username", "teacher", "--role", "instructor"); code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("add instructor: exit %d %s%s", code, out, errOut)
	}
	if code, out, errOut := add("--username", "boss", "--role", "ADMIN"); code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("add admin: exit %d %s%s", code, out, errOut)
	}
	if code, _, errOut := add("--username", "x", "--role", "root"); code == 0 || !strings.Contains(errOut, "unknown role") {
		t.Fatalf("--role root: exit %d %s", code, errOut)
	}
	if code, _, errOut := add("--username", "x", "--admin", "--role", "learner"); code == 0 || !strings.Contains(errOut, "contradict") {
		t.Fatalf("--admin --role learner: exit %d %s", code, errOut)
	}
	if code, _, errOut := add("--username", "teacher", "--role", "learner"); code != 0 {
		t.Fatalf("instructor to learner: %s", errOut)
	}
	// The last admin cannot be made a learner this way either, and keeps
	// their password.
	if code, _, errOut := runCmd(t, "another-long-password\n", "user", "add", "--password-stdin", "--data-dir", data, "--username", "boss", "--role", "learner"); code == 0 || !strings.Contains(errOut, "admin") {
		t.Fatalf("last admin to learner: exit %d %s", code, errOut)
	}
	st, err := store.Open(context.Background(), app.DBPath(data))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name, want := range map[string]opsdojo.Role{"teacher": opsdojo.RoleLearner, "boss": opsdojo.RoleAdmin} {
		u, _, err := st.UserByUsername(context.Background(), name)
		if err != nil || u.Role != want {
			t.Errorf("%s: role %q (%v), want %q", name, u.Role, err, want)
		}
	}
	if _, hash, err := st.UserByUsername(context.Background(), "boss"); err != nil || !auth.CheckPassword(hash, "a-long-password") {
		t.Errorf("a refused role change changed the password (%v)", err)
	}
	if _, _, err := st.UserByUsername(context.Background(), "x"); err == nil {
		t.Error("a refused user add created the user")
	}
}
