package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// TLSConfig says how the public listener speaks TLS: a certificate and key
// from files, or certificates from an ACME CA; neither: plain HTTP (behind
// a reverse proxy that terminates TLS).
type TLSConfig struct {
	// CertFile and KeyFile are PEM files; they are read again when they
	// change on disk, so a renewal (certbot, cert-manager) needs no restart.
	CertFile, KeyFile string
	// ACMEDomains get certificates from the ACME directory, answering the
	// tls-alpn-01 challenge on the listener itself (so it must be reachable
	// on port 443 under those names).
	ACMEDomains []string
	// ACMECache keeps the account key and certificates (default
	// <data-dir>/acme, mode 0700).
	ACMECache string
	// ACMEDirectory is the CA's directory URL (default Let's Encrypt).
	ACMEDirectory string
	// ACMEEmail is the account's contact, optional.
	ACMEEmail string
	// ACMECAFile is a PEM bundle trusted for the directory's own HTTPS,
	// for private ACME CAs (step-ca, pebble); empty: the system roots.
	ACMECAFile string
}

// Enabled reports whether the listener speaks TLS.
func (c TLSConfig) Enabled() bool {
	return c.CertFile != "" || c.KeyFile != "" || len(c.ACMEDomains) > 0
}

// ServerTLS returns the tls.Config for the public listener.
func (c TLSConfig) ServerTLS(dataDir string, log *slog.Logger) (*tls.Config, error) {
	fromFiles := c.CertFile != "" || c.KeyFile != ""
	switch {
	case fromFiles && len(c.ACMEDomains) > 0:
		return nil, errors.New("use either --tls-cert/--tls-key or --acme-domain, not both")
	case fromFiles && (c.CertFile == "" || c.KeyFile == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case fromFiles:
		kp := &keyPairFiles{cert: c.CertFile, key: c.KeyFile, log: log}
		if _, err := kp.load(); err != nil {
			return nil, err
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get, NextProtos: []string{"http/1.1"}}, nil
	case len(c.ACMEDomains) == 0:
		return nil, errors.New("no TLS configured")
	}
	for _, d := range c.ACMEDomains {
		if d == "" || strings.ContainsAny(d, "/: ") || !strings.Contains(strings.Trim(d, "."), ".") {
			return nil, fmt.Errorf("--acme-domain %q must be a fully qualified host name such as opsdojo.example.org", d)
		}
	}
	cache := c.ACMECache
	if cache == "" {
		cache = filepath.Join(dataDir, "acme")
	}
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, fmt.Errorf("acme cache: %w", err)
	}
	client := &acme.Client{DirectoryURL: c.ACMEDirectory, UserAgent: "opsdojo"}
	if c.ACMECAFile != "" {
		pem, err := os.ReadFile(c.ACMECAFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca %s: no PEM certificates in it", c.ACMECAFile)
		}
		client.HTTPClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	m := &autocert.Manager{Prompt: autocert.AcceptTOS, HostPolicy: autocert.HostWhitelist(c.ACMEDomains...),
		Cache: autocert.DirCache(cache), Client: client, Email: c.ACMEEmail}
	tc := m.TLSConfig()
	tc.MinVersion = tls.VersionTLS12
	// No h2: terminal websockets need HTTP/1.1's upgrade. acme-tls/1 stays
	// for the tls-alpn-01 challenge.
	tc.NextProtos = []string{"http/1.1", acme.ALPNProto}
	get := tc.GetCertificate
	tc.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		cert, err := get(hello)
		if err != nil {
			log.Warn("acme: no certificate for a TLS handshake", "server_name", hello.ServerName, "err", err)
		}
		return cert, err
	}
	return tc, nil
}

// keyPairFiles serves a certificate from files and reloads it when either
// file's modification time changes.
type keyPairFiles struct {
	cert, key string
	log       *slog.Logger

	mu      sync.Mutex
	current *tls.Certificate
	stamp   string
}

func (k *keyPairFiles) load() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	stamp := modStamp(k.cert) + "|" + modStamp(k.key)
	if k.current != nil && stamp == k.stamp {
		return k.current, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.current != nil {
			// A renewal half-written: keep serving the old pair.
			k.log.Warn("reload TLS certificate; keeping the previous one", "err", err)
			return k.current, nil
		}
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	if k.current != nil {
		k.log.Info("TLS certificate reloaded", "cert", k.cert)
	}
	k.current, k.stamp = &c, stamp
	return k.current, nil
}

func (k *keyPairFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.load() }

func modStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d.%d", fi.ModTime().UnixNano(), fi.Size())
}
