//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/app"
)

// testCA makes a CA and a certificate it signs for the given names, as
// PEM files in dir: ca.pem, NAME.pem and NAME-key.pem.
func testCA(t *testing.T, dir, name string, hosts ...string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opsdojo test CA " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, name+"-ca.pem"), filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(caFile, "CERTIFICATE", caDER)
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "EC PRIVATE KEY", keyDER)
	return caFile, certFile, keyFile
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serveTLS runs a server with cfg.TLS set and returns its address. The
// listener is bound before it returns, so early requests wait in its
// backlog until the server accepts them.
func serveTLS(t *testing.T, mutate func(*app.Config)) (addr string, stop func()) {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.LabsDir = filepath.Join(repoRoot, "labs")
	cfg.SkipFirewall = true
	mutate(&cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.ServeListener(ctx, cfg, ln, slog.New(slog.NewTextHandler(logs, nil))) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("server: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("server did not stop")
			}
			if t.Failed() {
				t.Logf("server log:\n%s", logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func httpsClient(roots *x509.CertPool, serverName string) *http.Client {
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName}}}
}

// getHealthz fetches /healthz over https and returns the certificate the
// server presented.
func getHealthz(t *testing.T, c *http.Client, addr string) *x509.Certificate {
	t.Helper()
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("https: %v", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatalf("https /healthz: %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
	return resp.TLS.PeerCertificates[0]
}

func TestOpsTLSFromFiles(t *testing.T) {
	dir := t.TempDir()
	caFile, cert, key := testCA(t, dir, "server", "opsdojo.test", "127.0.0.1")
	addr, _ := serveTLS(t, func(c *app.Config) { c.TLS = app.TLSConfig{CertFile: cert, KeyFile: key} })
	roots := x509.NewCertPool()
	pemCA, _ := os.ReadFile(caFile)
	roots.AppendCertsFromPEM(pemCA)
	got := getHealthz(t, httpsClient(roots, "opsdojo.test"), addr)
	if got.Subject.CommonName != "opsdojo.test" {
		t.Fatalf("served %q", got.Subject.CommonName)
	}
	// Plain http on the TLS port gets no page.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain http answered 200 on the TLS listener")
		}
	}
	// A renewed certificate is served without a restart.
	_, cert2, key2 := testCA(t, dir, "renewed", "opsdojo.test")
	for _, p := range [][2]string{{cert2, cert}, {key2, key}} {
		b, _ := os.ReadFile(p[0])
		if err := os.WriteFile(p[1]+".tmp", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p[1]+".tmp", p[1]); err != nil {
			t.Fatal(err)
		}
	}
	insecure := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "opsdojo.test"}}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := insecure.Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if strings.Contains(resp.TLS.PeerCertificates[0].Issuer.CommonName, "renewed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOpsTLSACMEWithPebble gets a certificate from pebble, Let's Encrypt's
// ACME test server, run on loopback, and serves https with it. Pebble is
// told to consider every challenge valid: no challenge port is reachable
// from a test, and what is tested is opsdojo's side of ACME.
func TestOpsTLSACMEWithPebble(t *testing.T) {
	dir := t.TempDir()
	pebble := filepath.Join(dir, "pebble")
	build := exec.Command("go", "build", "-o", pebble, "github.com/letsencrypt/pebble/v2/cmd/pebble")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build pebble: %v\n%s", err, out)
	}
	caFile, cert, key := testCA(t, dir, "pebble-https", "127.0.0.1")
	port, mgmt := freePort(t), freePort(t)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress":           fmt.Sprintf("127.0.0.1:%d", port),
		"managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":             cert, "privateKey": key,
		"httpPort": freePort(t), "tlsPort": freePort(t),
		"externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(conf)
	confFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pebble, "-config", confFile)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	pebbleLog := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = pebbleLog, pebbleLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pebble log:\n%s", pebbleLog.String())
		}
	})
	pebbleRoots := x509.NewCertPool()
	pemCA, _ := os.ReadFile(caFile)
	pebbleRoots.AppendCertsFromPEM(pemCA)
	pc := httpsClient(pebbleRoots, "127.0.0.1")
	directory := fmt.Sprintf("https://127.0.0.1:%d/dir", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := pc.Get(directory)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	const domain = "opsdojo.test"
	cache := filepath.Join(dir, "acme-cache")
	addr, stopFirst := serveTLS(t, func(c *app.Config) {
		c.TLS = app.TLSConfig{ACMEDomains: []string{domain}, ACMEDirectory: directory, ACMECAFile: caFile, ACMECache: cache}
	})

	// The CA's root, to check the served chain against.
	resp, err := pc.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	acmeRoots := x509.NewCertPool()
	if !acmeRoots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebble root: %q", rootPEM)
	}
	got := getHealthz(t, httpsClient(acmeRoots, domain), addr)
	if len(got.DNSNames) != 1 || got.DNSNames[0] != domain {
		t.Fatalf("certificate for %v, want %s", got.DNSNames, domain)
	}
	// A name the server was not told about gets no certificate.
	if resp, err := httpsClient(acmeRoots, "other.test").Get("https://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a certificate was served for other.test")
	}
	// The certificate is cached, with private modes, and the next start
	// serves it without asking the CA (pebble is gone by then).
	fi, err := os.Stat(filepath.Join(cache, domain))
	if err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("cached certificate: %v, %v", fi, err)
	}
	stopFirst()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	addr2, _ := serveTLS(t, func(c *app.Config) {
		c.TLS = app.TLSConfig{ACMEDomains: []string{domain}, ACMEDirectory: directory, ACMECAFile: caFile, ACMECache: cache}
	})
	again := getHealthz(t, httpsClient(acmeRoots, domain), addr2)
	if !again.Equal(got) {
		t.Fatalf("after a restart the server serves another certificate (serial %v, was %v)", again.SerialNumber, got.SerialNumber)
	}
}
