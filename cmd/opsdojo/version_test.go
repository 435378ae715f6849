package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "", "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "opsdojo ") || !strings.HasPrefix(lines[1], "commit ") ||
		lines[2] != "go "+runtime.Version() {
		t.Fatalf("version output:\n%s", out)
	}
}

// The Makefile's -ldflags reach `opsdojo version`.
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "opsdojo")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=v9.8.7-test -X main.commit=0123abc", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	want := "opsdojo v9.8.7-test\ncommit 0123abc\ngo " + runtime.Version() + "\n"
	if string(out) != want {
		t.Fatalf("version output %q, want %q", out, want)
	}
}

func TestLogFormatJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger("json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("opsdojo serving", "addr", "127.0.0.1:8080")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %q: %v", buf.String(), err)
	}
	if rec["msg"] != "opsdojo serving" || rec["addr"] != "127.0.0.1:8080" || rec["level"] != "INFO" {
		t.Fatalf("record %v", rec)
	}
	if _, err := newLogger("xml", &buf); err == nil {
		t.Fatal("xml accepted")
	}
	// serve refuses an unknown format before doing anything.
	if code, _, errOut := runCmd(t, "", "serve", "--log-format", "xml", "--data-dir", t.TempDir()); code == 0 || !strings.Contains(errOut, "text or json") {
		t.Fatalf("serve --log-format xml: exit %d, %s", code, errOut)
	}
}
