// Package app wires opsdojo's packages into a running server. cmd/opsdojo
// and the integration tests both start the server through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"time"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/terminal"
	"github.com/opsdojo/opsdojo/internal/web"
)

// Config is everything `opsdojo serve` can be told.
type Config struct {
	Addr         string
	DataDir      string
	PublicURL    string
	LabsDir      string
	Registration bool
	SessionTTL   time.Duration
	ReapInterval time.Duration
	Sandbox      sandbox.Config
	// SkipFirewall leaves the host firewall alone (for unprivileged runs).
	SkipFirewall bool
	// DiskQuota ends a session whose container wrote more than this many
	// bytes; zero: no quota.
	DiskQuota int64
	// MaxBuilds bounds concurrent learner image builds (docker-build checks).
	MaxBuilds int
	// TerminalGrace is how long a shell outlives its last connection.
	TerminalGrace time.Duration
	// TerminalBuffer is the output kept per terminal for reconnects (bytes).
	TerminalBuffer int
	// TerminalMaxTabs caps the terminals of one lab session.
	TerminalMaxTabs int
	// RecordingMax caps one terminal recording (bytes); negative: do not
	// record.
	RecordingMax int64
	// RecordingRetention is how long recordings are kept after they end;
	// zero keeps them forever.
	RecordingRetention time.Duration
	// Terminal tunes terminals further (tests and benchmarks); zero fields
	// take the defaults.
	Terminal terminal.Config
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Addr:         "127.0.0.1:8080",
		DataDir:      "./data",
		LabsDir:      "./labs",
		Registration: true,
		SessionTTL:   2 * time.Hour,
		ReapInterval: time.Minute,
		Sandbox:      sandbox.DefaultConfig(),
		MaxBuilds:    2,
		// A Go toolchain's caches and a few builds fit; a runaway
		// `yes > file` is stopped within a minute or so.
		DiskQuota: 4000 << 20,

		TerminalGrace:   10 * time.Minute,
		TerminalBuffer:  1 << 20,
		TerminalMaxTabs: 5,
		RecordingMax:    20 << 20,
		// A bootcamp cohort runs for weeks; an instructor reviews a
		// learner's terminal within a term, not years later.
		RecordingRetention: 90 * 24 * time.Hour,
	}
}

// DBPath is where the SQLite database lives in a data dir.
func DBPath(dataDir string) string { return filepath.Join(dataDir, "opsdojo.db") }

// Serve runs the server on cfg.Addr until ctx ends.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return ServeListener(ctx, cfg, ln, log)
}

// ServeListener runs the server on ln until ctx ends, then shuts down
// gracefully: no new connections, websockets closed with "going away",
// learners' containers left running for the next start to adopt.
func ServeListener(ctx context.Context, cfg Config, ln net.Listener, log *slog.Logger) error {
	defer ln.Close()
	var public *url.URL
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public URL %q must look like https://opsdojo.example.org", cfg.PublicURL)
		}
		public = u
	}
	st, err := store.Open(ctx, DBPath(cfg.DataDir))
	if err != nil {
		return err
	}
	defer st.Close()
	instance, err := st.InstanceID(ctx)
	if err != nil {
		return err
	}
	grader := grading.NewRunner(log)
	grader.Register("docker-build", grading.NewDockerBuildChecker(cfg.MaxBuilds))
	list, problems := labs.LoadAll(cfg.LabsDir, grader)
	for _, p := range problems {
		log.Error("invalid lab skipped", "problem", p.String())
	}
	log.Info("labs loaded", "count", len(list), "invalid", len(problems), "dir", cfg.LabsDir)

	sbCfg := cfg.Sandbox
	sbCfg.InstanceID = instance
	if !sbCfg.SubnetPool.IsValid() {
		sbCfg.SubnetPool = netip.MustParsePrefix("10.213.0.0/16")
	}
	engine, err := sandbox.New(sbCfg, log)
	if err != nil {
		return err
	}
	defer engine.Close()
	if err := engine.Ping(ctx); err != nil {
		log.Warn("the Docker engine does not answer yet; lab starts will fail with 503 until it does", "err", err)
	} else if mode, why := engine.BuildLimits(ctx); mode == sandbox.BuildLimitsCgroup {
		log.Info("learner image builds run under a parent cgroup (pids, memory, cpu)", "build_limits", mode)
	} else {
		log.Warn("learner image builds are bounded by watching each step, not by a parent cgroup", "build_limits", mode, "reason", why)
	}
	if !cfg.SkipFirewall {
		if err := sandbox.EnsureHostIsolation(ctx); err != nil {
			log.Error("could not install the firewall rule that keeps learner containers off the host; run as root or add it yourself",
				"rule", "iptables -I INPUT -i "+sandbox.BridgePrefix+"+ -j REJECT", "err", err)
		}
	}
	builder := images.New(engine.Client(), log)
	mgr := session.New(st, engine, builder, labs.NewCatalog(list), grader,
		session.Config{TTL: cfg.SessionTTL, ReapInterval: cfg.ReapInterval, DiskQuota: cfg.DiskQuota}, log)
	termCfg := session.TerminalConfig{Grace: cfg.TerminalGrace, BufferSize: cfg.TerminalBuffer, MaxTabs: cfg.TerminalMaxTabs,
		MaxRecording: cfg.RecordingMax, RecordingRetention: cfg.RecordingRetention, Terminal: cfg.Terminal}
	if cfg.RecordingMax >= 0 {
		termCfg.RecordDir = filepath.Join(cfg.DataDir, "recordings")
	}
	mgr.SetTerminals(termCfg)
	srv, err := web.New(web.Config{PublicURL: public, Registration: cfg.Registration}, st, mgr, engine, log)
	if err != nil {
		return err
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	done := make(chan struct{})
	go func() { defer close(done); mgr.Run(bg) }()

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("opsdojo serving", "addr", ln.Addr().String(), "url", displayURL(public, ln.Addr()))

	select {
	case err := <-serveErr:
		stopBG()
		<-done
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = hs.Shutdown(shutCtx)
	if werr := srv.CloseWebsockets(shutCtx); werr != nil {
		err = errors.Join(err, werr)
	}
	// The shells go too: nobody could reattach to them after a restart.
	if terr := mgr.CloseTerminals(shutCtx); terr != nil {
		err = errors.Join(err, terr)
	}
	stopBG()
	<-done
	if errors.Is(<-serveErr, http.ErrServerClosed) {
		return err
	}
	return err
}

func displayURL(public *url.URL, addr net.Addr) string {
	if public != nil {
		return public.String()
	}
	return "http://" + addr.String()
}
