// Package app wires opsdojo's packages into a running server. cmd/opsdojo
// and the integration tests both start the server through it.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"time"

	"github.com/opsdojo/opsdojo/internal/cohort"

	"github.com/opsdojo/opsdojo/internal/dockerproxy"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/metrics"
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
	// DiskQuota ends a session that uses more than this many bytes of disk
	// (container files, build images, recordings); zero: no quota. Where
	// the engine supports `--storage-opt size`, it also caps each
	// container's writable layer.
	DiskQuota int64
	// DiskWatchInterval is how often the engine's and the data dir's disks
	// are polled for jumps that call for a quota sweep at once; zero or
	// negative: no watch.
	DiskWatchInterval time.Duration
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
	// RecordingUserMax caps one learner's recordings together (bytes);
	// zero: no cap; negative: do not record.
	RecordingUserMax int64
	// Terminal tunes terminals further (tests and benchmarks); zero fields
	// take the defaults.
	Terminal terminal.Config
	// TrustedProxies: only requests from these may name the client
	// address in X-Forwarded-For / X-Real-IP.
	TrustedProxies []netip.Prefix
	// HomeMax caps the file content of a learner's saved home folder
	// (bytes); negative: homes are not saved. HomeRetention deletes a
	// saved home not saved again for so long (zero: kept).
	// ExpiryWarnings: how long before an idle session expires its
	// terminals are warned.
	HomeMax        int64
	HomeRetention  time.Duration
	ExpiryWarnings []time.Duration
	// PreviewAddr is the web preview's own listen address, PreviewURL its
	// wildcard origin (https://*.preview.example.org); PreviewListener
	// replaces PreviewAddr (tests). All empty: no preview (preview.go).
	PreviewAddr     string
	PreviewURL      string
	PreviewListener net.Listener
	// MetricsAddr serves /metrics on a listen address of its own
	// (MetricsListener instead, for tests); MetricsToken requires
	// "Authorization: Bearer TOKEN" there and, when set, also serves
	// /metrics on the public address. Neither: no /metrics.
	MetricsAddr     string
	MetricsListener net.Listener
	MetricsToken    string
	// Version names the build in opsdojo_build_info.
	Version metrics.Version
	// TLS makes the public listener speak https (tls.go).
	TLS TLSConfig
	// Pool is each lab's warm-pool size (ready containers waiting for
	// learners); MaxSessions caps live sessions (0: no cap); MaxCreates
	// bounds container creates at once (0: the default).
	Pool        map[string]int
	MaxSessions int
	MaxCreates  int
	// PoolLead and PoolHold bound a cohort's warm seats around its class
	// start (before, after); PoolMax caps the warm boxes of all labs that
	// cohorts may bring the pool to (cohort.PoolConfig).
	PoolLead, PoolHold time.Duration
	PoolMax            int
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
		// `yes > file` is stopped within seconds (the disk watch).
		DiskQuota:         4000 << 20,
		DiskWatchInterval: time.Second,

		TerminalGrace:   10 * time.Minute,
		TerminalBuffer:  1 << 20,
		TerminalMaxTabs: 5,
		RecordingMax:    20 << 20,
		// A bootcamp cohort runs for weeks; an instructor reviews a
		// learner's terminal within a term, not years later.
		RecordingRetention: 90 * 24 * time.Hour,
		// Ten full-size recordings: opening more tabs gives no more.
		RecordingUserMax: 200 << 20,
		// A course's work, not a learner's downloads folder.
		HomeMax:        200 << 20,
		HomeRetention:  90 * 24 * time.Hour,
		ExpiryWarnings: []time.Duration{10 * time.Minute, 2 * time.Minute},
		// A class's warm seats: ready a quarter hour early, kept for late
		// learners; 30 boxes idle in about 300 MB.
		PoolLead: 15 * time.Minute,
		PoolHold: 30 * time.Minute,
		PoolMax:  30,
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
	var err error
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public URL %q must look like https://opsdojo.example.org", cfg.PublicURL)
		}
		public = u
	}
	var tc *tls.Config
	if cfg.TLS.Enabled() {
		if tc, err = cfg.TLS.ServerTLS(cfg.DataDir, log); err != nil {
			return err
		}
		if public == nil && len(cfg.TLS.ACMEDomains) > 0 {
			// Origin checks and Secure cookies follow the name the
			// certificate is for.
			public = &url.URL{Scheme: "https", Host: cfg.TLS.ACMEDomains[0]}
		}
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
	buildChecker := grading.NewDockerBuildChecker(cfg.MaxBuilds)
	grader.Register("docker-build", buildChecker)
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
	sessCfg := session.Config{TTL: cfg.SessionTTL, ReapInterval: cfg.ReapInterval, DiskQuota: cfg.DiskQuota, DiskWatchInterval: cfg.DiskWatchInterval}
	if cfg.DiskWatchInterval <= 0 {
		sessCfg.DiskWatchInterval = -1 // off
	}
	if cfg.DiskQuota > 0 {
		sessCfg.DiskWatchPaths, sessCfg.StorageSize = diskQuotaSetup(ctx, engine, builder.Base, cfg, log)
	}
	mx := newMetrics(cfg, st, engine, log)
	mgr := session.New(st, observeSandbox(engine, mx), builder, labs.NewCatalog(list), grader, sessCfg, log)
	mgr.SetMetrics(mx)
	termCfg := session.TerminalConfig{Grace: cfg.TerminalGrace, BufferSize: cfg.TerminalBuffer, MaxTabs: cfg.TerminalMaxTabs,
		MaxRecording: cfg.RecordingMax, RecordingRetention: cfg.RecordingRetention, RecordingUserMax: cfg.RecordingUserMax, Terminal: cfg.Terminal}
	if cfg.RecordingMax >= 0 && cfg.RecordingUserMax >= 0 {
		termCfg.RecordDir = filepath.Join(cfg.DataDir, "recordings")
	}
	mgr.SetTerminals(termCfg)
	mgr.SetPolicy(cohort.Policy{Store: st}) // cohort windows and session time limits
	homesCfg := session.HomesConfig{Retention: cfg.HomeRetention, ExpiryWarnings: cfg.ExpiryWarnings}
	if cfg.HomeMax >= 0 {
		homesCfg.Dir, homesCfg.Limits.MaxBytes = filepath.Join(cfg.DataDir, "homes"), cfg.HomeMax
		// A home bigger than the disk quota would end the next session
		// as soon as it is restored: such a home is not saved.
		if cfg.DiskQuota > 0 && (homesCfg.Limits.MaxBytes == 0 || homesCfg.Limits.MaxBytes > cfg.DiskQuota) {
			homesCfg.Limits.MaxBytes = cfg.DiskQuota
		}
	}
	if err := mgr.SetHomes(homesCfg); err != nil {
		return err
	}
	for id := range cfg.Pool {
		if _, ok := mgr.Labs().Get(id); !ok {
			return fmt.Errorf("--pool names lab %q, which is not loaded from %s", id, cfg.LabsDir)
		}
	}
	// Cohorts' warm seats raise the --pool sizes around a class start.
	warmSeats := cohort.NewPool(st, cohort.PoolConfig{Base: cfg.Pool, Lead: cfg.PoolLead, Hold: cfg.PoolHold, Max: cfg.PoolMax,
		Poolable: func(id string) error {
			if _, ok := mgr.Labs().Get(id); !ok {
				return fmt.Errorf("lab %q is not loaded", id)
			}
			return nil // docker-CLI labs too: session/pooldocker.go
		}}, time.Now, log)
	mgr.SetPool(st, session.PoolConfig{Sizes: cfg.Pool, Targets: warmSeats.Targets}, session.AdmissionConfig{MaxLive: cfg.MaxSessions, MaxCreates: cfg.MaxCreates})

	proxies, err := dockerProxies(cfg, sbCfg, engine, mgr, buildChecker.Queue(), log)
	if err != nil {
		return err
	}
	defer proxies.CloseAll()
	deviceKey, err := st.Secret(ctx, "device-cookie")
	if err != nil {
		return err
	}
	pv, pvLn, err := previewSetup(ctx, cfg, st, mgr, public, log)
	if err != nil {
		return err
	}
	if pvLn != nil {
		defer pvLn.Close()
	}
	var previewer web.Previewer
	if pv != nil {
		previewer = pv
	}
	srv, err := web.New(web.Config{PublicURL: public, Registration: cfg.Registration, TrustedProxies: cfg.TrustedProxies,
		DeviceKey: deviceKey, Preview: previewer, Linter: grading.NewLinter(1), Metrics: mx, Cohorts: st, WarmSeats: warmSeats}, st, mgr, engine, log)
	if err != nil {
		return err
	}
	var handler http.Handler = srv
	var pvSrv *http.Server
	switch {
	case pvLn != nil:
		pvSrv = previewServer(pv, log)
		go func() { _ = pvSrv.Serve(pvLn) }()
	case pv != nil:
		handler = withPreviewHosts(pv, srv)
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	done := make(chan struct{})
	go func() { defer close(done); mgr.Run(bg) }()
	swept := make(chan struct{})
	go func() { defer close(swept); sweepLogins(bg, st, time.Hour, log) }()
	defer func() { stopBG(); <-swept }()

	stopMetrics, err := serveMetrics(ctx, cfg, mx, log)
	if err != nil {
		stopBG()
		<-done
		return err
	}
	defer stopMetrics()
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	hs := &http.Server{Handler: withMetricsRoute(handler, mx, cfg.MetricsToken, log), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	hs.RegisterOnShutdown(srv.CloseStreams) // live boards are requests Shutdown would wait for
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("opsdojo serving", "addr", ln.Addr().String(), "url", displayURL(public, ln.Addr(), tc != nil))

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
	if pvSrv != nil {
		// Preview websockets are hijacked: Close ends them too.
		err = errors.Join(err, pvSrv.Close())
	}
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

// diskQuotaSetup finds what the disk quota can use: the disks to watch for
// jumps (the engine's data root when this process can see it, and the
// data dir, where recordings go), and whether the engine can cap a
// container's writable layer, in which case it returns the cap.
func diskQuotaSetup(ctx context.Context, engine *sandbox.Engine, image string, cfg Config, log *slog.Logger) (watch []string, storageSize int64) {
	root, ok, err := engine.DataRoot(ctx)
	switch {
	case err != nil:
		log.Warn("the engine's data root is unknown; the disk watch sees the data dir's disk only", "err", err)
	case !ok:
		log.Info("the engine is not local; the disk watch sees the data dir's disk only")
	default:
		watch = append(watch, root)
	}
	watch = append(watch, cfg.DataDir)
	supported, reason, err := engine.StorageSizeSupport(ctx, image)
	switch {
	case err != nil:
		log.Warn("could not tell whether the engine can cap a container's disk (--storage-opt size); learner containers are not capped, the quota is enforced by measuring", "err", err)
	case supported:
		log.Info("the engine caps each learner container's writable layer at the disk quota (--storage-opt size)", "bytes", cfg.DiskQuota)
		storageSize = cfg.DiskQuota
	default:
		log.Info("the engine cannot cap a container's disk (--storage-opt size needs overlay2 on XFS mounted with pquota); the disk quota is enforced by measuring", "engine", reason)
	}
	return watch, storageSize
}

func displayURL(public *url.URL, addr net.Addr, https bool) string {
	if public != nil {
		return public.String()
	}
	if https {
		return "https://" + addr.String()
	}
	return "http://" + addr.String()
}

// dockerProxies gives the sessions of labs with `docker_cli: true` their
// own Docker API proxy, with the learner container's limits and seccomp
// profile, sharing the build checks' queue.
func dockerProxies(cfg Config, sb sandbox.Config, engine *sandbox.Engine, mgr *session.Manager, queue *grading.BuildQueue, log *slog.Logger) (*dockerproxy.Manager, error) {
	profile, err := sandbox.SeccompProfile()
	if err != nil {
		return nil, err
	}
	pc := dockerproxy.Config{Dir: filepath.Join(cfg.DataDir, "docker"), Instance: sb.InstanceID, BuildBases: sb.BuildBases,
		Budget: dockerproxy.Budget{Memory: sb.Memory, NanoCPUs: sb.NanoCPUs, PidsLimit: sb.PidsLimit, Runtime: sb.Runtime, Seccomp: string(profile)}}
	if cfg.DiskQuota > 0 {
		pc.MaxImageBytes = cfg.DiskQuota / 2
	}
	p := dockerproxy.NewManager(pc, engine.Client(), mgr.Builds(), queue, mgr.ImageBytes, log)
	mgr.SetDockerProxies(p)
	return p, nil
}
