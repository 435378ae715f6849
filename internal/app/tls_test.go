package app

import (
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSConfigRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		cfg  TLSConfig
		want string
	}{
		"cert without key":      {TLSConfig{CertFile: garbage}, "go together"},
		"files and acme":        {TLSConfig{CertFile: garbage, KeyFile: garbage, ACMEDomains: []string{"a.example.org"}}, "not both"},
		"unreadable pair":       {TLSConfig{CertFile: garbage, KeyFile: garbage}, "--tls-cert"},
		"missing files":         {TLSConfig{CertFile: filepath.Join(dir, "nope"), KeyFile: filepath.Join(dir, "nope")}, "no such file"},
		"bare host name":        {TLSConfig{ACMEDomains: []string{"localhost"}}, "fully qualified"},
		"url as domain":         {TLSConfig{ACMEDomains: []string{"https://a.example.org"}}, "fully qualified"},
		"acme ca not pem":       {TLSConfig{ACMEDomains: []string{"a.example.org"}, ACMECAFile: garbage}, "no PEM certificates"},
		"acme ca missing":       {TLSConfig{ACMEDomains: []string{"a.example.org"}, ACMECAFile: filepath.Join(dir, "nope")}, "--acme-ca"},
		"nothing but called":    {TLSConfig{}, "no TLS"},
		"domain with a port":    {TLSConfig{ACMEDomains: []string{"a.example.org:443"}}, "fully qualified"},
		"domain with a space":   {TLSConfig{ACMEDomains: []string{"a.example .org"}}, "fully qualified"},
		"empty domain in a set": {TLSConfig{ACMEDomains: []string{"a.example.org", ""}}, "fully qualified"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.cfg.ServerTLS(filepath.Join(t.TempDir(), "data"), slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
		})
	}
}

// The ACME setup offers HTTP/1.1 (websockets need its upgrade) and the
// tls-alpn-01 protocol, never h2, and keeps its cache private.
func TestTLSConfigACMEProtocols(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	tc, err := TLSConfig{ACMEDomains: []string{"opsdojo.example.org"}}.ServerTLS(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tc.NextProtos, ",") != "http/1.1,acme-tls/1" || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("NextProtos %v, MinVersion %x", tc.NextProtos, tc.MinVersion)
	}
	fi, err := os.Stat(filepath.Join(data, "acme"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("acme cache: %v, %v", fi, err)
	}
	// A name it was not configured for gets no certificate, without
	// asking any CA.
	if _, err := tc.GetCertificate(&tls.ClientHelloInfo{ServerName: "evil.example.org"}); err == nil {
		t.Fatal("a certificate for a foreign name")
	}
}
