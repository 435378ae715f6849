package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/opsdojo/opsdojo/internal/app"
)

// serveOps are the serve flags for running opsdojo in production:
// metrics, TLS and the log format.
type serveOps struct {
	metricsAddr, metricsToken, metricsTokenFile string
	tlsCert, tlsKey                             string
	acmeDomains, acmeCache, acmeDir, acmeEmail  string
	acmeCA                                      string
	logFormat                                   string
}

func opsFlags(fs *flag.FlagSet) *serveOps {
	o := &serveOps{}
	fs.StringVar(&o.metricsAddr, "metrics-addr", env("OPSDOJO_METRICS_ADDR", ""), "serve /metrics on this address of its own, e.g. 127.0.0.1:9464; empty: not served separately (OPSDOJO_METRICS_ADDR)")
	fs.StringVar(&o.metricsToken, "metrics-token", "", "require this bearer token for /metrics and also serve it on the public address; prefer OPSDOJO_METRICS_TOKEN or --metrics-token-file (a flag shows in ps)")
	fs.StringVar(&o.metricsTokenFile, "metrics-token-file", env("OPSDOJO_METRICS_TOKEN_FILE", ""), "read the metrics bearer token from this file (OPSDOJO_METRICS_TOKEN_FILE)")
	fs.StringVar(&o.tlsCert, "tls-cert", env("OPSDOJO_TLS_CERT", ""), "PEM certificate (chain) to serve https with; reloaded when it changes (OPSDOJO_TLS_CERT)")
	fs.StringVar(&o.tlsKey, "tls-key", env("OPSDOJO_TLS_KEY", ""), "PEM private key of --tls-cert (OPSDOJO_TLS_KEY)")
	fs.StringVar(&o.acmeDomains, "acme-domain", env("OPSDOJO_ACME_DOMAIN", ""), "get certificates for these comma-separated names from an ACME CA (tls-alpn-01: --addr must be reachable on port 443) (OPSDOJO_ACME_DOMAIN)")
	fs.StringVar(&o.acmeCache, "acme-cache", env("OPSDOJO_ACME_CACHE", ""), "folder for the ACME account key and certificates; default <data-dir>/acme (OPSDOJO_ACME_CACHE)")
	fs.StringVar(&o.acmeDir, "acme-directory", env("OPSDOJO_ACME_DIRECTORY", ""), "ACME directory URL; default Let's Encrypt production (OPSDOJO_ACME_DIRECTORY)")
	fs.StringVar(&o.acmeEmail, "acme-email", env("OPSDOJO_ACME_EMAIL", ""), "contact address for the ACME account, optional (OPSDOJO_ACME_EMAIL)")
	fs.StringVar(&o.acmeCA, "acme-ca", env("OPSDOJO_ACME_CA", ""), "PEM roots to trust for the ACME directory's own https (a private CA); default: the system's (OPSDOJO_ACME_CA)")
	fs.StringVar(&o.logFormat, "log-format", env("OPSDOJO_LOG_FORMAT", "text"), "text or json (OPSDOJO_LOG_FORMAT)")
	return o
}

// apply moves the flags into cfg and returns the logger to use.
func (o *serveOps) apply(cfg *app.Config, log *slog.Logger) (*slog.Logger, error) {
	l, err := newLogger(o.logFormat, os.Stderr)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(o.logFormat, "json") {
		log = l
	}
	token := o.metricsToken
	if token == "" {
		token = os.Getenv("OPSDOJO_METRICS_TOKEN")
	}
	if o.metricsTokenFile != "" {
		if token != "" {
			return nil, errors.New("use either --metrics-token or --metrics-token-file")
		}
		b, err := os.ReadFile(o.metricsTokenFile)
		if err != nil {
			return nil, fmt.Errorf("--metrics-token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return nil, fmt.Errorf("--metrics-token-file %s is empty", o.metricsTokenFile)
		}
	}
	if token != "" && len(token) < 16 {
		return nil, errors.New("the metrics token must be at least 16 characters (it guards the public address)")
	}
	cfg.MetricsAddr, cfg.MetricsToken = o.metricsAddr, token
	cfg.TLS = app.TLSConfig{CertFile: o.tlsCert, KeyFile: o.tlsKey, ACMECache: o.acmeCache,
		ACMEDirectory: o.acmeDir, ACMEEmail: o.acmeEmail, ACMECAFile: o.acmeCA}
	for _, d := range strings.Split(o.acmeDomains, ",") {
		if d = strings.TrimSpace(d); d != "" {
			cfg.TLS.ACMEDomains = append(cfg.TLS.ACMEDomains, d)
		}
	}
	if (o.acmeCache != "" || o.acmeDir != "" || o.acmeEmail != "" || o.acmeCA != "") && len(cfg.TLS.ACMEDomains) == 0 {
		return nil, errors.New("--acme-cache, --acme-directory, --acme-email and --acme-ca need --acme-domain")
	}
	if len(cfg.TLS.ACMEDomains) > 0 {
		if _, port, err := net.SplitHostPort(cfg.Addr); err == nil && port != "443" {
			log.Warn("ACME answers the tls-alpn-01 challenge on --addr: the CA must reach it on port 443 (forward 443 here, or use a reverse proxy)", "addr", cfg.Addr)
		}
	}
	cfg.Version = buildVersion()
	return log, nil
}
