package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/tarball"
)

// Spec describes a learner container to create.
type Spec struct {
	SessionID string
	// UserID is who the container is for (zero for a warm-pool box). It
	// is not put on the container: Docker labels cannot change after
	// create, so a pool box claimed later could not carry its learner's
	// id, and fresh and pooled containers must look the same. Ownership
	// is in the database (lab_sessions.user_id).
	UserID int64
	LabID  string
	Image  string
	CapAdd []string
	// HomeDir, when set, is copied into the learner's home before start.
	HomeDir string
	// StorageSize caps the container's writable layer (`--storage-opt
	// size`) when above zero; only engines that support it (see
	// StorageSizeSupport) may be asked.
	StorageSize int64
	// DockerDir, when set, is the host folder holding the session's Docker
	// proxy socket (internal/dockerproxy). It is the only host folder a
	// learner container ever mounts: read-only, at DockerMountDir, with
	// DOCKER_HOST pointing at the socket in it; and the session network
	// lets its containers talk to each other, so the learner can reach
	// the containers they run.
	DockerDir string
}

// DockerMountDir is where a session's Docker proxy folder appears in its
// container; lab images link /var/run/docker.sock to the socket in it.
const DockerMountDir = "/run/opsdojo-docker"

// Box names what Create made.
type Box struct {
	ContainerID string
	NetworkID   string
}

// InitUser runs a learner container's init and its `sleep` child. It is
// not the learner's uid, so the learner (no CAP_KILL, no CAP_SYS_PTRACE)
// can neither signal nor trace the two processes that keep the container
// alive: before, `kill -9 -1` or a ptrace attach to PID 1 stopped the
// container. Root here has no capabilities and no-new-privileges, and the
// two processes run fixed binaries and read nothing the learner writes. A
// dedicated unprivileged uid would do as well, but could end up shared
// with a lab's service or the graders. Every exec names its user (Exec
// refuses one without), so nothing else runs as this user by accident.
const InitUser = "0:0"

// Name returns the container and network name of a session.
func Name(sessionID string) string { return "opsdojo-" + sessionID }

// Create makes the session's network and container, copies the starter files
// in, starts it and returns once a shell exec works. On failure it removes
// whatever it made.
func (e *Engine) Create(ctx context.Context, spec Spec) (box Box, err error) {
	labels := map[string]string{
		LabelInstance: e.cfg.InstanceID,
		LabelSession:  spec.SessionID,
		LabelLab:      spec.LabID,
	}
	defer func() {
		if err != nil {
			// A fresh context: the caller's may be what failed.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if rerr := e.Remove(cctx, box); rerr != nil {
				e.log.Warn("cleanup after failed create", "session", spec.SessionID, "user", spec.UserID, "err", rerr)
			}
		}
	}()
	box.NetworkID, err = e.createNetwork(ctx, spec.SessionID, labels, spec.DockerDir != "")
	if err != nil {
		return box, err
	}
	profile, err := SeccompProfile()
	if err != nil {
		return box, err
	}
	pids := e.cfg.PidsLimit
	init := true
	capAdd := make([]string, 0, len(spec.CapAdd))
	for _, c := range spec.CapAdd {
		capAdd = append(capAdd, "CAP_"+strings.TrimPrefix(c, "CAP_"))
	}
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(Name(spec.SessionID)),
		CapDrop:     []string{"ALL"},
		CapAdd:      capAdd,
		SecurityOpt: []string{"no-new-privileges:true", "seccomp=" + string(profile)},
		Privileged:  false,
		Init:        &init,
		IpcMode:     container.IPCModePrivate,
		Runtime:     e.cfg.Runtime,
		LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "1"}},
		Resources: container.Resources{
			Memory:     e.cfg.Memory,
			MemorySwap: e.cfg.Memory, // no swap on top
			NanoCPUs:   e.cfg.NanoCPUs,
			PidsLimit:  &pids,
		},
	}
	cc := &container.Config{
		Image:      spec.Image,
		Hostname:   spec.LabID,
		User:       InitUser,
		WorkingDir: LearnerHome,
		Env:        []string{"HOME=" + LearnerHome, "LANG=C.UTF-8"},
		Cmd:        []string{"sleep", "infinity"},
		Labels:     labels,
	}
	hc.StorageOpt = StorageOpt(spec.StorageSize)
	if spec.DockerDir != "" {
		// A folder, not the socket file: a restarted server makes a new
		// socket in it, which a file bind mount would not see.
		hc.Mounts = []mount.Mount{{Type: mount.TypeBind, Source: spec.DockerDir, Target: DockerMountDir, ReadOnly: true}}
		cc.Env = append(cc.Env, "DOCKER_HOST=unix://"+DockerMountDir+"/docker.sock")
	}
	created, err := e.cli.ContainerCreate(ctx, cc, hc, &network.NetworkingConfig{}, nil, Name(spec.SessionID))
	if err != nil {
		if strings.Contains(err.Error(), "No such image") {
			return box, opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the lab image %s is not built; run `opsdojo images build`", spec.Image)
		}
		return box, engineErr(err, "create container")
	}
	box.ContainerID = created.ID
	if spec.HomeDir != "" {
		if err := e.copyHome(ctx, box.ContainerID, spec.HomeDir); err != nil {
			return box, err
		}
	}
	if err := e.cli.ContainerStart(ctx, box.ContainerID, container.StartOptions{}); err != nil {
		return box, startErr(err)
	}
	if err := e.waitReady(ctx, box.ContainerID); err != nil {
		return box, err
	}
	return box, nil
}

func (e *Engine) createNetwork(ctx context.Context, sessionID string, labels map[string]string, icc bool) (string, error) {
	name := Name(sessionID)
	// Start probing the pool at a place derived from the session id so that
	// concurrent starts rarely race for the same subnet.
	sum := sha256.Sum256([]byte(sessionID))
	pool := e.cfg.SubnetPool
	slots := 1 << max(0, 28-pool.Bits())
	start := int(binary.BigEndian.Uint32(sum[:4]) % uint32(slots))
	bridge := BridgePrefix + sessionID
	if len(bridge) > 15 {
		bridge = bridge[:15] // the kernel's limit for interface names
	}
	var lastErr error
	for i := 0; i < min(slots, 64); i++ {
		subnet, gateway := nthSubnet(pool, (start+i)%slots)
		resp, err := e.cli.NetworkCreate(ctx, name, network.CreateOptions{
			Driver: "bridge",
			Labels: labels,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet:  subnet.String(),
				Gateway: gateway.String(),
			}}},
			Options: map[string]string{
				"com.docker.network.bridge.name":                 bridge,
				"com.docker.network.bridge.enable_icc":           strconv.FormatBool(icc),
				"com.docker.network.bridge.host_binding_ipv4":    "127.0.0.1",
				"com.docker.network.driver.mtu":                  "1500",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
			},
		})
		if err == nil {
			return resp.ID, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "overlap") {
			return "", engineErr(err, "create network")
		}
	}
	return "", engineErr(fmt.Errorf("no free /28 in %s: %w", pool, lastErr), "create network")
}

// nthSubnet returns the n-th /28 of pool and its first host as the gateway.
func nthSubnet(pool netip.Prefix, n int) (netip.Prefix, netip.Addr) {
	base := pool.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(base[:]) + uint32(n)*16
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	subnet := netip.PrefixFrom(netip.AddrFrom4(b), 28)
	binary.BigEndian.PutUint32(b[:], v+1)
	return subnet, netip.AddrFrom4(b)
}

// copyHome streams dir into the learner's home, owned by the learner.
func (e *Engine) copyHome(ctx context.Context, containerID, dir string) error {
	pr, pw := io.Pipe()
	go func() {
		err := tarball.WriteDir(ctx, pw, dir, tarball.Options{Owner: &[2]int{LearnerUID, LearnerGID}, DirSlash: true})
		if err != nil {
			err = fmt.Errorf("pack starter files: %w", err)
		}
		pw.CloseWithError(err)
	}()
	err := e.cli.CopyToContainer(ctx, containerID, LearnerHome, pr, container.CopyToContainerOptions{})
	pr.CloseWithError(err)
	if err != nil {
		return engineErr(err, "copy starter files")
	}
	return nil
}

func (e *Engine) waitReady(ctx context.Context, containerID string) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.StartTimeout)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		res, err := e.Exec(ctx, containerID, ExecRequest{Cmd: []string{"bash", "-c", "true"}, User: LearnerUser})
		if err == nil && res.ExitCode == 0 {
			return nil
		}
		if opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE {
			return err
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("bash exited %d", res.ExitCode)
			}
			return fmt.Errorf("container did not answer a shell exec within %s: %w", e.cfg.StartTimeout, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// Remove force-removes a session's container and network. Missing objects
// are not an error.
func (e *Engine) Remove(ctx context.Context, box Box) error {
	var errs []error
	if box.ContainerID != "" {
		err := e.cli.ContainerRemove(ctx, box.ContainerID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && opsdojo.ErrorCode(engineErr(err, "")) != opsdojo.ENOTFOUND {
			errs = append(errs, engineErr(err, "remove container"))
		}
	}
	if box.NetworkID != "" {
		// Containers the learner ran on the network (their docker CLI)
		// would keep it from being removed.
		if list, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
			filters.Arg("network", box.NetworkID), filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID))}); err == nil {
			for _, c := range list {
				_ = e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
		err := e.cli.NetworkRemove(ctx, box.NetworkID)
		if err != nil && opsdojo.ErrorCode(engineErr(err, "")) != opsdojo.ENOTFOUND {
			errs = append(errs, engineErr(err, "remove network"))
		}
	}
	return errors.Join(errs...)
}

// ErrWontRun marks a container that stopped and could not be started
// again (its network or image is gone, it will not start, or no shell
// answers): the session it served is lost, while other errors (an engine
// outage, a cancelled request) may pass.
var ErrWontRun = errors.New("the container stopped and could not be started again")

// EnsureRunning starts a container that exists but stopped (after a host
// reboot or an engine restart, say: the learner's files in it are kept).
// It returns ENOTFOUND when the container is gone, an error wrapping
// ErrWontRun when it does not come back, and ECONFLICT while it is paused.
func (e *Engine) EnsureRunning(ctx context.Context, containerID string) error {
	info, err := e.cli.ContainerInspect(ctx, containerID)
	if err != nil {
		return engineErr(err, "inspect container")
	}
	if info.State != nil && info.State.Paused {
		return opsdojo.Errorf(opsdojo.ECONFLICT, "the lab's container is paused; try again once an administrator resumes it")
	}
	if info.State != nil && info.State.Running {
		return nil
	}
	if info.State != nil && e.log != nil {
		e.log.Warn("restarting a stopped session container", "container", containerID, "status", info.State.Status, "exit_code", info.State.ExitCode, "oom_killed", info.State.OOMKilled, "finished_at", info.State.FinishedAt)
	}
	if err := e.cli.ContainerStart(ctx, containerID, container.StartOptions{}); err != nil {
		err = startErr(err)
		if ctx.Err() != nil || opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE {
			return err
		}
		return fmt.Errorf("%w: %w", ErrWontRun, err)
	}
	if err := e.waitReady(ctx, containerID); err != nil {
		if ctx.Err() != nil || opsdojo.ErrorCode(err) == opsdojo.EUNAVAILABLE {
			return err
		}
		return fmt.Errorf("%w: %w", ErrWontRun, err)
	}
	return nil
}

// startErr explains a failed container start. An engine without seccomp
// refuses the custom profile: learner containers are not started without
// one (Docker's own default would be gone too), so the operator has to
// fix the engine or kernel.
func startErr(err error) error {
	// Engines before 20.10 capitalise the message.
	if strings.Contains(strings.ToLower(err.Error()), "seccomp is not enabled") {
		return opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the Docker engine runs without seccomp support; opsdojo does not start learner containers without a seccomp filter")
	}
	return engineErr(err, "start container")
}

// DiskUsage returns the bytes a container has written on top of its image
// (its writable layer). overlay2 on ext4 has no per-container quota, so
// the session manager watches this instead. The engine walks the layer to
// answer, so it is not for hot paths.
func (e *Engine) DiskUsage(ctx context.Context, containerID string) (int64, error) {
	info, _, err := e.cli.ContainerInspectWithRaw(ctx, containerID, true)
	if err != nil {
		return 0, engineErr(err, "inspect container size")
	}
	if info.SizeRw == nil {
		return 0, nil
	}
	return *info.SizeRw, nil
}

// Owned is a container or network this server created, found by label.
type Owned struct {
	ID        string
	SessionID string
	Running   bool
	// LearnerCLI: a container the session's learner ran with their docker
	// CLI, not the session's own.
	LearnerCLI bool
}

// Containers lists this instance's containers, running or not.
func (e *Engine) Containers(ctx context.Context) ([]Owned, error) {
	list, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID))})
	if err != nil {
		return nil, engineErr(err, "list containers")
	}
	out := make([]Owned, 0, len(list))
	for _, c := range list {
		out = append(out, Owned{ID: c.ID, SessionID: c.Labels[LabelSession], Running: c.State == "running", LearnerCLI: c.Labels[LabelCreatedBy] == CreatedByCLI})
	}
	return out, nil
}

// Networks lists this instance's networks.
func (e *Engine) Networks(ctx context.Context) ([]Owned, error) {
	list, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelInstance+"="+e.cfg.InstanceID))})
	if err != nil {
		return nil, engineErr(err, "list networks")
	}
	out := make([]Owned, 0, len(list))
	for _, n := range list {
		out = append(out, Owned{ID: n.ID, SessionID: n.Labels[LabelSession]})
	}
	return out, nil
}
