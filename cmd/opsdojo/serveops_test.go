package main

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/app"
)

func applyOps(t *testing.T, args ...string) (app.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o := opsFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg := app.DefaultConfig()
	_, err := o.apply(&cfg, slog.New(slog.DiscardHandler))
	return cfg, err
}

func TestServeOpsFlags(t *testing.T) {
	t.Setenv("OPSDOJO_METRICS_TOKEN", "")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("  0123456789abcdef-from-file\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)

	cfg, err := applyOps(t, "--metrics-addr", "127.0.0.1:9464", "--metrics-token-file", tokenFile,
		"--acme-domain", "a.example.org, b.example.org", "--acme-directory", "https://ca.example/dir")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr != "127.0.0.1:9464" || cfg.MetricsToken != "0123456789abcdef-from-file" ||
		strings.Join(cfg.TLS.ACMEDomains, "|") != "a.example.org|b.example.org" || cfg.TLS.ACMEDirectory != "https://ca.example/dir" {
		t.Fatalf("config %+v", cfg)
	}
	if cfg.Version.GoVersion == "" || cfg.Version.Version == "" {
		t.Fatalf("version %+v", cfg.Version)
	}

	t.Setenv("OPSDOJO_METRICS_TOKEN", "0123456789abcdef-from-env")
	if cfg, err := applyOps(t); err != nil || cfg.MetricsToken != "0123456789abcdef-from-env" {
		t.Fatalf("token from the environment: %q, %v", cfg.MetricsToken, err)
	}
	t.Setenv("OPSDOJO_METRICS_TOKEN", "")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-token", "short"}, "at least 16"},
		{[]string{"--metrics-token-file", empty}, "is empty"},
		{[]string{"--metrics-token-file", filepath.Join(dir, "missing")}, "--metrics-token-file"},
		{[]string{"--metrics-token", "0123456789abcdefgh", "--metrics-token-file", tokenFile}, "either"},
		{[]string{"--acme-directory", "https://ca.example/dir"}, "need --acme-domain"},
		{[]string{"--log-format", "yaml"}, "text or json"},
	} {
		if _, err := applyOps(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
}
