package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBackupRestoreCommands(t *testing.T) {
	data := t.TempDir()
	if code, _, errOut := runCmd(t, "a-long-password\n", "user", "add", "--username", "admin", "--password-stdin", "--admin", "--data-dir", data); code != 0 {
		t.Fatalf("user add: %s", errOut)
	}
	if err := os.MkdirAll(filepath.Join(data, "homes", "1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "homes", "1", "git-basics.tar.gz"), []byte("home"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "backup.tar.gz")
	code, out, errOut := runCmd(t, "", "backup", "--to", file, "--data-dir", data)
	if code != 0 || !strings.Contains(out, "1 users") {
		t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600 (it holds password hashes)", fi.Mode(), err)
	}
	if code, _, errOut := runCmd(t, "", "backup", "--data-dir", data); code == 0 || !strings.Contains(errOut, "usage") {
		t.Fatalf("backup without --to: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "", "backup", "--to", file+"2", "--data-dir", t.TempDir()); code == 0 || !strings.Contains(errOut, "database") {
		t.Fatalf("backup of an empty dir: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(file + "2"); err == nil {
		t.Fatal("a failed backup left a file behind")
	}

	target := filepath.Join(t.TempDir(), "new")
	code, out, errOut = runCmd(t, "", "restore", "--from", file, "--data-dir", target)
	if code != 0 || !strings.Contains(out, "1 users") {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(target, "homes", "1", "git-basics.tar.gz")); err != nil || string(b) != "home" {
		t.Fatalf("restored home: %q %v", b, err)
	}
	// The restored password works.
	if code, out, _ := runCmd(t, "a-long-password\n", "user", "add", "--username", "admin", "--password-stdin", "--data-dir", target); code != 0 || !strings.Contains(out, "updated") {
		t.Fatalf("restored user: %s", out)
	}
	if code, _, errOut := runCmd(t, "", "restore", "--from", file, "--data-dir", target); code == 0 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("restore into a used dir: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "", "restore", "--from", file, "--data-dir", target, "--force"); code != 0 {
		t.Fatalf("restore --force: %s", errOut)
	}
	if code, _, errOut := runCmd(t, "", "restore", "--from", filepath.Join(data, "opsdojo.db"), "--data-dir", t.TempDir()); code == 0 || !strings.Contains(errOut, "not an opsdojo backup") {
		t.Fatalf("restore of a non-backup: exit %d %s", code, errOut)
	}
}
