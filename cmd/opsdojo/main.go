// Command opsdojo is the self-hosted DevOps learning sandbox: one binary
// that serves the web app, builds lab images and manages users.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/promeval"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/web"
)

const usage = `opsdojo: a self-hosted, hands-on DevOps learning sandbox

Usage:
  opsdojo serve [flags]                     run the web server
  opsdojo images build [--labs-dir D] [lab...]   build the base image and lab images
  opsdojo labs validate [dir]               check lab folders; prints file:line: message
  opsdojo labs test [lab...]                prove labs solvable: checks fail before each solution, pass after
  opsdojo grade --lab LAB [--step S] [--json] DIR   grade a local folder with a lab's checks
  opsdojo user add --username U --password-stdin [--admin | --role R] [--data-dir D]
  opsdojo healthcheck [--addr A]            exit 0 when the server at A answers /healthz
  opsdojo bench terminal [--json F]         measure the terminal against the real engine
  opsdojo backup --to F [--data-dir D]      copy the database, recordings and saved homes into F (tar.gz), online
  opsdojo restore --from F [--data-dir D] [--force]   restore a backup into an empty data dir
  opsdojo doctor [--data-dir D]             check the host: engine, seccomp, cgroups, firewall, disk, images
  opsdojo version                           print the version, commit and Go version
  opsdojo bench start [--burst N] [--idle N] measure lab starts (pool, queue, idle sessions) through the API

Run "opsdojo COMMAND -h" for a command's flags.
`

func main() {
	// A promrules check evaluates in a copy of this binary (killable); be
	// that copy when asked.
	promeval.RunWorkerIfAsked()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log, err := newLogger(os.Getenv("OPSDOJO_LOG_FORMAT"), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "opsdojo: OPSDOJO_LOG_FORMAT:", err)
		os.Exit(2)
	}
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, log)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch {
	case args[0] == "serve":
		err = cmdServe(ctx, args[1:], log)
	case args[0] == "images" && len(args) > 1 && args[1] == "build":
		err = cmdImagesBuild(ctx, args[2:], stdout, log)
	case args[0] == "labs" && len(args) > 1 && args[1] == "test":
		err = cmdLabsTest(ctx, args[2:], stdout, log)
	case args[0] == "grade":
		err = cmdGrade(ctx, args[1:], stdout, log)
	case args[0] == "labs" && len(args) > 1 && args[1] == "validate":
		return cmdLabsValidate(args[2:], stdout, stderr)
	case args[0] == "user" && len(args) > 1 && args[1] == "add":
		err = cmdUserAdd(ctx, args[2:], stdin, stdout)
	case args[0] == "bench" && len(args) > 1 && args[1] == "terminal":
		err = cmdBenchTerminal(ctx, args[2:], stdout, log)
	case args[0] == "bench" && len(args) > 1 && args[1] == "start":
		err = cmdBenchStart(ctx, args[2:], stdout, log)
	case args[0] == "healthcheck":
		err = cmdHealthcheck(ctx, args[1:])
	case args[0] == "version" || args[0] == "--version":
		err = cmdVersion(stdout)
	case args[0] == "backup":
		err = cmdBackup(ctx, args[1:], stdout, log)
	case args[0] == "restore":
		err = cmdRestore(ctx, args[1:], stdout)
	case args[0] == "doctor":
		err = cmdDoctor(ctx, args[1:], stdout, log)
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "opsdojo: unknown command %q\n\n%s", strings.Join(args, " "), usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errChecksFailed) {
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "opsdojo: %v\n", err)
		return 1
	}
	return 0
}

// env returns the environment value of key, or def.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envInt(key string, def int64) int64 {
	if v := os.Getenv(key); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

func cmdServe(ctx context.Context, args []string, log *slog.Logger) (err error) {
	cfg := app.DefaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", env("OPSDOJO_ADDR", cfg.Addr), "listen address (OPSDOJO_ADDR)")
	fs.StringVar(&cfg.DataDir, "data-dir", env("OPSDOJO_DATA_DIR", cfg.DataDir), "folder for the SQLite database (OPSDOJO_DATA_DIR)")
	fs.StringVar(&cfg.PublicURL, "public-url", env("OPSDOJO_PUBLIC_URL", ""), "URL browsers use to reach the server, for origin checks and links (OPSDOJO_PUBLIC_URL)")
	fs.StringVar(&cfg.LabsDir, "labs-dir", env("OPSDOJO_LABS_DIR", cfg.LabsDir), "folder of lab folders (OPSDOJO_LABS_DIR)")
	registration := fs.String("registration", env("OPSDOJO_REGISTRATION", "open"), "open: anyone may sign up; closed: admins add users (OPSDOJO_REGISTRATION)")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", envDuration("OPSDOJO_SESSION_TTL", cfg.SessionTTL), "idle time after which a lab container is removed (OPSDOJO_SESSION_TTL)")
	fs.DurationVar(&cfg.ReapInterval, "reap-interval", envDuration("OPSDOJO_REAP_INTERVAL", cfg.ReapInterval), "how often expired sessions are removed (OPSDOJO_REAP_INTERVAL)")
	memMB := fs.Int64("memory-mb", envInt("OPSDOJO_MEMORY_MB", cfg.Sandbox.Memory>>20), "memory limit of a learner container in MiB (OPSDOJO_MEMORY_MB)")
	cpus := fs.Float64("cpus", float64(envInt("OPSDOJO_MILLICPUS", cfg.Sandbox.NanoCPUs/1e6))/1000, "CPU limit of a learner container (OPSDOJO_MILLICPUS in thousandths)")
	diskMB := fs.Int64("disk-quota-mb", envInt("OPSDOJO_DISK_QUOTA_MB", cfg.DiskQuota>>20), "disk a lab session may use in MiB (its container's files, build images, recordings); over it the session ends; 0: no quota (OPSDOJO_DISK_QUOTA_MB)")
	fs.DurationVar(&cfg.DiskWatchInterval, "disk-watch-interval", envDuration("OPSDOJO_DISK_WATCH_INTERVAL", cfg.DiskWatchInterval), "how often the disks are polled for jumps that trigger a disk-quota check at once; 0: off (OPSDOJO_DISK_WATCH_INTERVAL)")
	fs.Int64Var(&cfg.Sandbox.PidsLimit, "pids-limit", envInt("OPSDOJO_PIDS_LIMIT", cfg.Sandbox.PidsLimit), "process limit of a learner container (OPSDOJO_PIDS_LIMIT)")
	fs.StringVar(&cfg.Sandbox.Runtime, "runtime", env("OPSDOJO_RUNTIME", ""), "OCI runtime for learner containers, empty for the engine's default (OPSDOJO_RUNTIME)")
	pool := fs.String("subnet-pool", env("OPSDOJO_SUBNET_POOL", cfg.Sandbox.SubnetPool.String()), "address pool split into one /28 network per session (OPSDOJO_SUBNET_POOL)")
	fs.IntVar(&cfg.MaxBuilds, "max-builds", int(envInt("OPSDOJO_MAX_BUILDS", int64(cfg.MaxBuilds))), "learner image builds that may run at once, one per learner (OPSDOJO_MAX_BUILDS)")
	fs.StringVar(&cfg.Sandbox.BuildLimits, "build-limits", env("OPSDOJO_BUILD_LIMITS", "auto"), "how build steps are bounded: auto (a parent cgroup when the engine uses cgroupfs and the server can write it, else watch) or watch (limit each step container as it starts) (OPSDOJO_BUILD_LIMITS)")
	fs.DurationVar(&cfg.TerminalGrace, "terminal-grace", envDuration("OPSDOJO_TERMINAL_GRACE", cfg.TerminalGrace), "how long a shell outlives its last browser connection (OPSDOJO_TERMINAL_GRACE)")
	fs.IntVar(&cfg.TerminalBuffer, "terminal-buffer", int(envInt("OPSDOJO_TERMINAL_BUFFER", int64(cfg.TerminalBuffer))), "bytes of output kept per terminal for reconnects (OPSDOJO_TERMINAL_BUFFER)")
	fs.Int64Var(&cfg.RecordingMax, "recording-max", envInt("OPSDOJO_RECORDING_MAX", cfg.RecordingMax), "size cap of one terminal recording in bytes; -1 records nothing (OPSDOJO_RECORDING_MAX)")
	fs.Int64Var(&cfg.RecordingUserMax, "recording-user-max", envInt("OPSDOJO_RECORDING_USER_MAX", cfg.RecordingUserMax), "bytes cap of one learner's recordings together; 0: no cap; -1 records nothing (OPSDOJO_RECORDING_USER_MAX)")
	fs.DurationVar(&cfg.RecordingRetention, "recording-retention", envDuration("OPSDOJO_RECORDING_RETENTION", cfg.RecordingRetention), "how long terminal recordings are kept after they end; 0 keeps them forever (OPSDOJO_RECORDING_RETENTION)")
	fs.BoolVar(&cfg.SkipFirewall, "skip-firewall", os.Getenv("OPSDOJO_SKIP_FIREWALL") == "1", "do not install the host firewall rule (OPSDOJO_SKIP_FIREWALL=1)")
	homeMB := fs.Int64("home-max-mb", envInt("OPSDOJO_HOME_MAX_MB", cfg.HomeMax>>20), "size cap in MiB of the files of a learner's saved home folder (saved when a session ends, restored at the next start); a bigger home is not saved; 0: homes are not saved (OPSDOJO_HOME_MAX_MB)")
	fs.DurationVar(&cfg.HomeRetention, "home-retention", envDuration("OPSDOJO_HOME_RETENTION", cfg.HomeRetention), "how long a saved home folder is kept after its last save; 0 keeps them forever (OPSDOJO_HOME_RETENTION)")
	expiryWarn := fs.String("expiry-warnings", env("OPSDOJO_EXPIRY_WARNINGS", "10m,2m"), "comma-separated times before an idle session expires at which its terminals are warned; empty: none (OPSDOJO_EXPIRY_WARNINGS)")
	poolSizes := fs.String("pool", env("OPSDOJO_POOL", ""), "warm pool: ready containers kept per lab, e.g. git-basics=5,ci-pipeline=2 (OPSDOJO_POOL)")
	fs.DurationVar(&cfg.PoolLead, "pool-lead", envDuration("OPSDOJO_POOL_LEAD", cfg.PoolLead), "how long before a cohort's class starts its warm seats are made (OPSDOJO_POOL_LEAD)")
	fs.DurationVar(&cfg.PoolHold, "pool-hold", envDuration("OPSDOJO_POOL_HOLD", cfg.PoolHold), "how long after a cohort's class starts its warm seats are kept for learners who have not started yet (OPSDOJO_POOL_HOLD)")
	fs.IntVar(&cfg.PoolMax, "pool-max", int(envInt("OPSDOJO_POOL_MAX", int64(cfg.PoolMax))), "warm boxes of all labs together that cohorts' warm seats may raise the pool to (the --pool sizes are always kept); also the most warm seats a cohort may ask for; 0: cohorts get none (OPSDOJO_POOL_MAX)")
	fs.IntVar(&cfg.MaxSessions, "max-sessions", int(envInt("OPSDOJO_MAX_SESSIONS", 0)), "live lab sessions the server runs at most; further starts wait in a queue; 0: no cap (OPSDOJO_MAX_SESSIONS)")
	fs.IntVar(&cfg.MaxCreates, "max-creates", int(envInt("OPSDOJO_MAX_CREATES", 4)), "lab containers created at once (live starts and pool refills); further starts wait in a queue (OPSDOJO_MAX_CREATES)")
	proxies := fs.String("trusted-proxies", env("OPSDOJO_TRUSTED_PROXIES", ""), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / X-Real-IP is believed; empty: none (OPSDOJO_TRUSTED_PROXIES)")
	fs.StringVar(&cfg.PreviewAddr, "preview-addr", env("OPSDOJO_PREVIEW_ADDR", ""), "listen address of the web preview of learners' ports, a separate origin; empty: no listener of its own (OPSDOJO_PREVIEW_ADDR)")
	fs.StringVar(&cfg.PreviewURL, "preview-url", env("OPSDOJO_PREVIEW_URL", ""), "wildcard origin of the web preview, e.g. https://*.preview.example.org; default with a loopback --preview-addr: http://*.localhost:PORT (OPSDOJO_PREVIEW_URL)")
	ops := opsFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if log, err = ops.apply(&cfg, log); err != nil {
		return err
	}
	trusted, err := web.ParseTrustedProxies(*proxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	cfg.TrustedProxies = trusted
	if cfg.HomeMax = *homeMB << 20; *homeMB <= 0 {
		cfg.HomeMax = -1
	}
	if cfg.ExpiryWarnings, err = parseDurations(*expiryWarn); err != nil {
		return fmt.Errorf("--expiry-warnings: %w", err)
	}
	if cfg.Pool, err = session.ParsePoolSizes(*poolSizes); err != nil {
		return fmt.Errorf("--pool: %w", err)
	}
	if cfg.PoolLead < 0 || cfg.PoolHold < 0 || cfg.PoolMax < 0 || cfg.PoolMax > session.MaxPoolSize {
		return fmt.Errorf("--pool-lead and --pool-hold must not be negative and --pool-max must be from 0 to %d", session.MaxPoolSize)
	}
	if cfg.MaxSessions < 0 || cfg.MaxCreates < 1 {
		return fmt.Errorf("--max-sessions must be 0 (no cap) or more and --max-creates 1 or more, not %d and %d", cfg.MaxSessions, cfg.MaxCreates)
	}
	if cfg.Sandbox.BuildLimits != "auto" && cfg.Sandbox.BuildLimits != sandbox.BuildLimitsWatch {
		return fmt.Errorf("--build-limits must be auto or watch, not %q", cfg.Sandbox.BuildLimits)
	}
	switch *registration {
	case "open":
		cfg.Registration = true
	case "closed":
		cfg.Registration = false
	default:
		return fmt.Errorf("--registration must be open or closed, not %q", *registration)
	}
	p, err := netip.ParsePrefix(*pool)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
		return fmt.Errorf("--subnet-pool %q must be an IPv4 prefix of /28 or larger", *pool)
	}
	cfg.Sandbox.SubnetPool = p
	cfg.Sandbox.Memory = *memMB << 20
	if *diskMB < 0 {
		return fmt.Errorf("--disk-quota-mb must be 0 (no quota) or more, not %d", *diskMB)
	}
	cfg.DiskQuota = *diskMB << 20
	cfg.Sandbox.NanoCPUs = int64(*cpus * 1e9)
	if cfg.Sandbox.Memory < 64<<20 || cfg.Sandbox.NanoCPUs < 1e8 || cfg.Sandbox.PidsLimit < 32 {
		return errors.New("limits too small: at least 64 MiB memory, 0.1 CPU and 32 processes")
	}
	return app.Serve(ctx, cfg, log)
}

func cmdImagesBuild(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("images build", flag.ContinueOnError)
	labsDir := fs.String("labs-dir", env("OPSDOJO_LABS_DIR", "./labs"), "folder of lab folders")
	mirror := fs.String("mirror", env("OPSDOJO_DEBIAN_MIRROR", ""), "Debian mirror for debootstrap (default: debootstrap's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	list, problems := labs.LoadAll(*labsDir, grading.NewRunner(log))
	if len(problems) > 0 {
		return fmt.Errorf("invalid labs:\n%s", problems.Error())
	}
	want := map[string]bool{}
	for _, id := range fs.Args() {
		want[id] = true
	}
	engine, err := sandbox.New(sandbox.DefaultConfig(), log)
	if err != nil {
		return err
	}
	defer engine.Close()
	if err := engine.Ping(ctx); err != nil {
		return fmt.Errorf("%s (is dockerd running? `make docker` starts it)", opsdojo.ErrorMessage(err))
	}
	b := images.New(engine.Client(), log)
	b.Mirror = *mirror
	start := time.Now()
	if _, err := b.EnsureBase(ctx, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "base image %s ready (%s)\n", b.Base, time.Since(start).Round(time.Millisecond))
	built := 0
	// Found labs leave want (what is left is unknown), so decide whether
	// to filter once, before the loop empties it.
	filtered := len(want) > 0
	for _, l := range list {
		if filtered && !want[l.ID] {
			continue
		}
		delete(want, l.ID)
		start := time.Now()
		tag, did, err := b.BuildLab(ctx, l, stdout)
		if err != nil {
			return err
		}
		state := "up to date"
		if did {
			state = "built"
		}
		built++
		fmt.Fprintf(stdout, "lab %s: %s %s (%s)\n", l.ID, tag, state, time.Since(start).Round(time.Millisecond))
	}
	for id := range want {
		return fmt.Errorf("no lab %q in %s", id, *labsDir)
	}
	return nil
}

func cmdLabsValidate(args []string, stdout, stderr io.Writer) int {
	dir := "./labs"
	if len(args) > 0 {
		dir = args[0]
	}
	var problems labs.Problems
	var count int
	if _, err := os.Stat(dir + "/lab.yaml"); err == nil {
		lab, ps := labs.Load(dir, grading.NewRunner(slog.New(slog.DiscardHandler)))
		problems = ps
		if lab != nil {
			count = 1
		}
	} else {
		list, ps := labs.LoadAll(dir, grading.NewRunner(slog.New(slog.DiscardHandler)))
		problems, count = ps, len(list)
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p.String())
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Fprintf(stdout, "%d lab(s) valid\n", count)
	return 0
}

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	username := fs.String("username", "", "the new user's name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	admin := fs.Bool("admin", false, "make the user an administrator (the same as --role admin)")
	roleFlag := fs.String("role", "", "admin, instructor or learner (default: learner for a new user; an existing admin becomes a learner unless --admin)")
	dataDir := fs.String("data-dir", env("OPSDOJO_DATA_DIR", "./data"), "folder of the SQLite database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var role opsdojo.Role
	if *roleFlag != "" {
		r, err := opsdojo.ParseRole(*roleFlag)
		if err != nil {
			return errors.New(opsdojo.ErrorMessage(err))
		}
		if *admin && r != opsdojo.RoleAdmin {
			return fmt.Errorf("--admin and --role %s contradict each other", r)
		}
		role = r
		*admin = r == opsdojo.RoleAdmin
	}
	if !*fromStdin {
		return errors.New("pass --password-stdin and the password on standard input (never on the command line)")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if err := auth.ValidateCredentials(*username, password); err != nil {
		return errors.New(opsdojo.ErrorMessage(err))
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, app.DBPath(*dataDir))
	if err != nil {
		return err
	}
	defer st.Close()
	verb := "added"
	u, err := st.CreateUser(ctx, *username, hash, *admin)
	if err != nil {
		if opsdojo.ErrorCode(err) != opsdojo.ECONFLICT {
			return err
		}
		verb = "updated"
		if u, _, err = st.UserByUsername(ctx, *username); err != nil {
			return err
		}
	}
	if role == opsdojo.RoleInstructor || role == opsdojo.RoleLearner {
		// The same rule as the admin page (the last admin keeps the role),
		// before anything changes.
		if err := st.SetUserRole(ctx, u.ID, role); err != nil {
			return errors.New(opsdojo.ErrorMessage(err))
		}
	}
	if verb == "updated" {
		if err := st.SetUserPassword(ctx, *username, hash, *admin); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "user %s %s\n", *username, verb)
	return nil
}

func cmdHealthcheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", env("OPSDOJO_ADDR", "127.0.0.1:8080"), "the server's listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host := *addr
	if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "127.0.0.1:" + host[strings.LastIndexByte(host, ':')+1:]
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthz: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}

// parseDurations reads "10m,2m".
func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q is not a positive duration", f)
		}
		out = append(out, d)
	}
	return out, nil
}
