package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const unitFile = "../../deploy/systemd/opsdojo.service"

// unitDirectives returns the unit's directives, continuation lines joined.
func unitDirectives(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if cur == "" && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[")) {
			continue
		}
		cont := strings.HasSuffix(line, "\\")
		cur += strings.TrimSuffix(line, "\\")
		if cont {
			cur += " "
			continue
		}
		k, v, _ := strings.Cut(cur, "=")
		out[k] = append(out[k], v)
		cur = ""
	}
	return out
}

func TestSystemdUnitHardening(t *testing.T) {
	d := unitDirectives(t)
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ProtectKernelModules": "yes", "RestrictSUIDSGID": "yes", "UMask": "0077",
		"StateDirectoryMode": "0700", "CapabilityBoundingSet": "CAP_NET_ADMIN CAP_NET_RAW", "MemoryDenyWriteExecute": "yes",
		"LockPersonality": "yes", "RestrictNamespaces": "yes", "SystemCallArchitectures": "native",
	} {
		if got := d[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%v, want %s", k, got, want)
		}
	}
	// What opsdojo needs must stay possible: cgroup writes for build
	// limits, setrlimit for the promrules helper.
	for _, k := range []string{"ProtectControlGroups", "ProtectKernelTunables"} {
		if len(d[k]) > 0 {
			t.Errorf("%s makes /sys/fs/cgroup read-only: the build limits' parent cgroup could not be made", k)
		}
	}
	for _, f := range d["SystemCallFilter"] {
		if strings.HasPrefix(f, "~") && strings.Contains(f, "@resources") {
			t.Error("SystemCallFilter denies @resources: the promrules helper could not bound itself")
		}
	}
}

// Every flag ExecStart passes is one serve knows.
func TestSystemdUnitExecStartFlags(t *testing.T) {
	d := unitDirectives(t)
	if len(d["ExecStart"]) != 1 {
		t.Fatalf("ExecStart: %v", d["ExecStart"])
	}
	args := strings.Fields(d["ExecStart"][0])
	if len(args) < 2 || filepath.Base(args[0]) != "opsdojo" || args[1] != "serve" {
		t.Fatalf("ExecStart %v", args)
	}
	code, _, errOut := runCmd(t, "", append(args[1:], "-h")...)
	if code != 0 {
		t.Fatalf("serve rejects the unit's flags: exit %d\n%s", code, errOut)
	}
}

// systemd's own parser accepts the unit (when systemd-analyze is
// installed).
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Any executable stands in for the installed binary.
	unit := filepath.Join(t.TempDir(), "opsdojo.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/opsdojo", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
