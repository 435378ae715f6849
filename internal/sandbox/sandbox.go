// Package sandbox runs learners' containers on a Docker engine: one hardened
// container on its own bridge network per lab session, execs into it, and
// the bookkeeping (labels) that lets a restarted server find what it owns.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Labels put on everything opsdojo creates. There is no user label: a
// warm-pool box is made before its learner is known (see Spec.UserID).
const (
	LabelInstance = "opsdojo.instance"
	LabelSession  = "opsdojo.session"
	LabelLab      = "opsdojo.lab"
	// LabelCreatedBy marks what a learner made with their docker CLI
	// (internal/dockerproxy), as CreatedByCLI.
	LabelCreatedBy = "opsdojo.created-by"
	CreatedByCLI   = "learner-cli"
)

// LearnerUser is the account lab images provide, with this uid and gid.
const (
	LearnerUser = "learner"
	LearnerHome = "/home/learner"
	LearnerUID  = 1000
	LearnerGID  = 1000
)

// BridgePrefix starts the host interface name of every learner network, so
// one firewall rule (`-i odj+`) covers them all.
const BridgePrefix = "odj"

// Config sets the limits of learner containers.
type Config struct {
	// InstanceID tells this server's containers from another's on a shared engine.
	InstanceID string
	Memory     int64 // bytes
	NanoCPUs   int64 // 1e9 is one CPU
	PidsLimit  int64
	// Runtime is the OCI runtime (empty: the engine's default, runc).
	Runtime string
	// SubnetPool is carved into /28 networks, one per session. Docker's own
	// default pools hold about 30 bridge networks, far too few for a cohort.
	SubnetPool netip.Prefix
	// StartTimeout bounds how long a new container may take to answer an exec.
	StartTimeout time.Duration
	// BuildBases are the repositories learner Dockerfiles may start FROM
	// (path.Match patterns on the name without tag), besides their own
	// stages and images their session built: buildlimits.go.
	BuildBases []string
	// BuildLimits says how build steps are bounded: "auto" (a parent
	// cgroup when the engine uses cgroupfs and the server can write it,
	// else "watch") or "watch" (limit each step container as it starts).
	BuildLimits string
	// CgroupRoot is where the engine's cgroupfs is mounted (/sys/fs/cgroup).
	CgroupRoot string
	// BuildMemory bounds a build's steps together (0: the larger of
	// Memory and 2 GiB).
	BuildMemory int64
}

// DefaultConfig returns sane limits for a 2-core, few-GiB machine.
func DefaultConfig() Config {
	return Config{
		Memory:       768 << 20,
		NanoCPUs:     1e9,
		PidsLimit:    512,
		SubnetPool:   netip.MustParsePrefix("10.213.0.0/16"),
		StartTimeout: 30 * time.Second,
		BuildBases:   []string{"opsdojo/base", "opsdojo/lab-*"},
	}
}

// Engine is the Docker engine that runs the sandboxes.
type Engine struct {
	cli *client.Client
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	builds map[string][]string // session → images its builds made

	buildMu     sync.Mutex
	buildLimits *buildCgroups // how build steps are bounded: buildlimits.go
}

// New connects to the engine named by the standard DOCKER_HOST environment.
// It does not fail when the engine is down: every call reports that instead.
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultConfig().StartTimeout
	}
	if !cfg.SubnetPool.IsValid() {
		cfg.SubnetPool = DefaultConfig().SubnetPool
	}
	return &Engine{cli: cli, cfg: cfg, log: log}, nil
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// Client exposes the Docker client to packages that build images.
func (e *Engine) Client() *client.Client { return e.cli }

// Ping checks that the engine answers.
func (e *Engine) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := e.cli.Ping(ctx); err != nil {
		return engineErr(err, "ping engine")
	}
	return nil
}

// engineErr turns a Docker client error into a domain error: an unreachable
// engine becomes EUNAVAILABLE (HTTP 503), a missing object ENOTFOUND.
func engineErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var oe *opsdojo.Error
	if errors.As(err, &oe) {
		return err
	}
	if client.IsErrConnectionFailed(err) {
		return opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the Docker engine is not reachable; try again shortly")
	}
	if cerrdefs.IsNotFound(err) {
		return opsdojo.WrapError(opsdojo.ENOTFOUND, err, "%s: not found", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// InstanceID is the instance label this engine puts on what it creates.
func (e *Engine) InstanceID() string { return e.cfg.InstanceID }
