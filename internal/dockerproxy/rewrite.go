package dockerproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// Owner is the session a proxy serves, and the labels that mark what it
// owns. Learners cannot set labels that start with LabelPrefix: every
// body's labels are stripped of them and these are forced.
type Owner struct {
	Instance string
	Session  string
	User     string
	Lab      string
	// Network is the session's network: every container joins it.
	Network string
}

// Labels put on every object a learner creates through the proxy. The
// session and instance labels are the ones the rest of opsdojo counts and
// cleans up by (sandbox.Label*); LabelCreator tells a learner's objects
// from the session's own container, which the learner must not touch.
const (
	LabelPrefix   = "opsdojo"
	LabelInstance = sandbox.LabelInstance
	LabelSession  = sandbox.LabelSession
	// LabelUser names the learner on their own objects (session
	// containers do not carry it: a warm-pool box has no learner yet).
	LabelUser    = "opsdojo.user"
	LabelLab     = sandbox.LabelLab
	LabelCreator = sandbox.LabelCreatedBy
	CreatorCLI   = sandbox.CreatedByCLI
)

// Labels returns the forced owner labels.
func (o Owner) Labels() map[string]string {
	return map[string]string{LabelInstance: o.Instance, LabelSession: o.Session, LabelUser: o.User, LabelLab: o.Lab, LabelCreator: CreatorCLI}
}

// OwnLabels merges a learner's labels with the forced ones: theirs that
// start with the opsdojo prefix are dropped.
func (o Owner) OwnLabels(learner map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range learner {
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(k)), LabelPrefix) {
			out[k] = v
		}
	}
	for k, v := range o.Labels() {
		out[k] = v
	}
	return out
}

// Budget bounds all the learner containers of one session together: the
// sum of their memory, CPU and pids limits stays within it (budget.go).
type Budget struct {
	Memory    int64 // bytes
	NanoCPUs  int64
	PidsLimit int64
	// Runtime is the operator's OCI runtime ("" for the engine default).
	Runtime string
	// Seccomp is the learner seccomp profile (JSON), forced on every
	// container.
	Seccomp string
}

// Refusal is a request the proxy will not pass on, with the sentence the
// learner's CLI prints.
type Refusal struct {
	Status  int
	Message string
}

func (r *Refusal) Error() string { return r.Message }

func refuse(format string, args ...any) error {
	return &Refusal{Status: 403, Message: "opsdojo: " + fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &Refusal{Status: 400, Message: "opsdojo: " + fmt.Sprintf(format, args...)}
}

// decodeStrict parses a body into v, refusing unknown fields, trailing
// data and empty bodies: what the proxy cannot read, it does not pass on.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the request has no body; this proxy needs one to check it")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("the request body does not parse (%s); nothing was done", firstLine(err.Error()))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("the request body has data after its JSON object; nothing was done")
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// volumeName is what a named volume may be called (Docker's own rule).
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// CreatePlan is a rewritten container create: the body to send and the
// objects it uses, which the proxy must find owned (or allowed) first.
type CreatePlan struct {
	Body    []byte
	Image   string
	Volumes []string
}

const portHint = "publishing ports on the host is not available here. Your container is on your lab's network: from your terminal, reach it by its name, e.g. `curl http://NAME:8080/`"

// RewriteCreate turns a learner's container create body into one that is
// safe to send: every setting that would reach the host or weaken the
// container is refused with a sentence saying why, and the rest is copied
// into a fresh configuration with the owner labels, the session network,
// the budget's limits, all capabilities dropped, no-new-privileges and
// the learner seccomp profile. The engine only ever sees what this
// function marshals, never the learner's bytes.
func RewriteCreate(body []byte, o Owner, b Budget) (CreatePlan, error) {
	return RewriteCreateShared(body, o, b, Share{})
}

// RewriteCreateShared is RewriteCreate for a session whose other
// containers already hold share.Taken of the budget (budget.go): the new
// container gets its limits from what is left.
func RewriteCreateShared(body []byte, o Owner, b Budget, share Share) (CreatePlan, error) {
	var req container.CreateRequest
	if err := decodeStrict(body, &req); err != nil {
		return CreatePlan{}, err
	}
	if req.Config == nil || strings.TrimSpace(req.Config.Image) == "" {
		return CreatePlan{}, badRequest("a container needs an image")
	}
	in := req.HostConfig
	if in == nil {
		in = &container.HostConfig{}
	}
	if err := refuseHost(in); err != nil {
		return CreatePlan{}, err
	}
	if name := string(in.NetworkMode); name != "" && !defaultNetwork(name) && name != "none" && name != o.Network {
		return CreatePlan{}, refuse("--network %s: containers here join your lab's network (%s) only", quote(name), o.Network)
	}
	plan := CreatePlan{Image: req.Config.Image}

	cfg := *req.Config
	//lint:ignore SA1019 API 1.41 clients send the MAC address here
	if cfg.MacAddress != "" {
		return CreatePlan{}, refuse("setting a MAC address is not allowed here")
	}
	cfg.Labels = o.OwnLabels(cfg.Labels)
	cfg.OnBuild = nil

	out := &container.HostConfig{
		NetworkMode:    container.NetworkMode(o.Network),
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true", "seccomp=" + b.Seccomp},
		Runtime:        b.Runtime,
		IpcMode:        container.IPCModePrivate,
		CgroupnsMode:   container.CgroupnsModePrivate,
		AutoRemove:     in.AutoRemove,
		RestartPolicy:  in.RestartPolicy,
		ConsoleSize:    in.ConsoleSize,
		DNS:            in.DNS,
		DNSOptions:     in.DNSOptions,
		DNSSearch:      in.DNSSearch,
		ExtraHosts:     in.ExtraHosts,
		GroupAdd:       in.GroupAdd,
		ReadonlyRootfs: in.ReadonlyRootfs,
		Tmpfs:          in.Tmpfs,
		LogConfig:      container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "1"}},
	}
	if in.NetworkMode == "none" {
		out.NetworkMode = "none"
	}
	init := true
	out.Init = &init
	asked := Limits{Memory: in.Memory, NanoCPUs: in.NanoCPUs}
	if in.PidsLimit != nil {
		asked.Pids = *in.PidsLimit
	}
	lim, err := share.fit(b, asked)
	if err != nil {
		return CreatePlan{}, err
	}
	out.Memory = lim.Memory
	out.MemorySwap = out.Memory // no swap on top
	if in.MemoryReservation > 0 {
		out.MemoryReservation = min(in.MemoryReservation, out.Memory)
	}
	out.NanoCPUs = lim.NanoCPUs
	// Shares weigh this container against every other one on the host
	// when the CPUs are busy: never more than a session container's.
	out.CPUShares = min(max(in.CPUShares, 0), maxCPUShares)
	pids := lim.Pids
	out.PidsLimit = &pids
	if in.ShmSize > 0 {
		out.ShmSize = min(in.ShmSize, out.Memory)
	}

	for _, bind := range in.Binds {
		name, _, _ := strings.Cut(bind, ":")
		if !volumeName.MatchString(name) {
			return CreatePlan{}, refuse("-v %s: mounting a folder of the host is not allowed here. Use a volume you created (`docker volume create NAME`, then `-v NAME:/path`), or COPY files in with a Dockerfile", quote(bind))
		}
		if err := checkBindOptions(bind); err != nil {
			return CreatePlan{}, err
		}
		plan.Volumes = append(plan.Volumes, name)
	}
	out.Binds = in.Binds
	for _, m := range in.Mounts {
		switch m.Type {
		case mount.TypeVolume:
			if m.BindOptions != nil || m.TmpfsOptions != nil || m.ImageOptions != nil {
				return CreatePlan{}, refuse("--mount: a volume mount takes only volume options")
			}
			if m.VolumeOptions != nil {
				if m.VolumeOptions.DriverConfig != nil || m.VolumeOptions.Subpath != "" {
					return CreatePlan{}, refuse("--mount: volume driver options and subpaths are not allowed here")
				}
				m.VolumeOptions.Labels = o.OwnLabels(m.VolumeOptions.Labels)
			} else {
				m.VolumeOptions = &mount.VolumeOptions{Labels: o.Labels()}
			}
			if m.Source != "" {
				if !volumeName.MatchString(m.Source) {
					return CreatePlan{}, refuse("--mount source=%s: not a volume name", quote(m.Source))
				}
				plan.Volumes = append(plan.Volumes, m.Source)
			}
		case mount.TypeTmpfs:
			if m.Source != "" || m.BindOptions != nil || m.VolumeOptions != nil || m.ImageOptions != nil {
				return CreatePlan{}, refuse("--mount type=tmpfs takes no source")
			}
		default:
			return CreatePlan{}, refuse("--mount type=%s: only volume and tmpfs mounts are allowed here; a bind mount would show the host's files", quote(string(m.Type)))
		}
		out.Mounts = append(out.Mounts, m)
	}
	out.RestartPolicy.Name = container.RestartPolicyMode(strings.TrimSpace(string(out.RestartPolicy.Name)))
	switch out.RestartPolicy.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyOnFailure:
		out.RestartPolicy.MaximumRetryCount = min(max(out.RestartPolicy.MaximumRetryCount, 0), 5)
	default:
		return CreatePlan{}, refuse("--restart %s: only `no` and `on-failure` are allowed here", quote(string(out.RestartPolicy.Name)))
	}

	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{}}
	ep := &network.EndpointSettings{}
	if req.NetworkingConfig != nil {
		for name, s := range req.NetworkingConfig.EndpointsConfig {
			if name != o.Network && !defaultNetwork(name) {
				return CreatePlan{}, refuse("--network %s: containers here join your lab's network (%s) only", quote(name), o.Network)
			}
			if s == nil {
				continue
			}
			if s.IPAMConfig != nil || len(s.Links) > 0 || s.MacAddress != "" || len(s.DriverOpts) > 0 || s.IPAddress != "" || s.NetworkID != "" {
				return CreatePlan{}, refuse("--network: fixed addresses, links and driver options are not allowed here; use --network-alias")
			}
			ep.Aliases = append(ep.Aliases, s.Aliases...)
		}
	}
	if out.NetworkMode != "none" {
		netCfg.EndpointsConfig[o.Network] = ep
	}
	// The engine would otherwise decide this from the image.
	cfg.Hostname = strings.TrimSpace(cfg.Hostname)

	plan.Body, _ = json.Marshal(container.CreateRequest{Config: &cfg, HostConfig: out, NetworkingConfig: netCfg})
	return plan, nil
}

func defaultNetwork(name string) bool {
	return name == "" || name == "default" || name == "bridge"
}

// refuseHost refuses every host setting that reaches the host or weakens
// the container, naming the CLI flag.
func refuseHost(h *container.HostConfig) error {
	switch {
	case h.Privileged:
		return refuse("--privileged is not allowed here: it would give the container the whole host")
	case len(h.CapAdd) > 0:
		return refuse("--cap-add %s: adding capabilities is not allowed here; containers run with none", strings.Join(h.CapAdd, ","))
	case len(h.Devices) > 0 || len(h.DeviceRequests) > 0 || len(h.DeviceCgroupRules) > 0:
		return refuse("--device and --gpus are not allowed here: they hand host devices to the container")
	case len(h.PortBindings) > 0 || h.PublishAllPorts:
		return refuse("-p/-P: %s", portHint)
	case len(h.VolumesFrom) > 0:
		return refuse("--volumes-from is not allowed here")
	case h.VolumeDriver != "":
		return refuse("--volume-driver is not allowed here")
	case h.PidMode != "":
		return refuse("--pid %s: sharing another process namespace is not allowed here", quote(string(h.PidMode)))
	case h.UTSMode != "":
		return refuse("--uts %s: sharing the host's namespaces is not allowed here", quote(string(h.UTSMode)))
	case h.UsernsMode != "":
		return refuse("--userns %s: sharing the host's namespaces is not allowed here", quote(string(h.UsernsMode)))
	case h.IpcMode != "" && h.IpcMode != container.IPCModePrivate && h.IpcMode != container.IPCModeShareable && h.IpcMode != container.IPCModeNone:
		return refuse("--ipc %s: sharing another IPC namespace is not allowed here", quote(string(h.IpcMode)))
	case h.CgroupnsMode != "" && h.CgroupnsMode != container.CgroupnsModePrivate:
		return refuse("--cgroupns %s: only a private cgroup namespace is allowed here", quote(string(h.CgroupnsMode)))
	case h.Cgroup != "" || h.CgroupParent != "":
		return refuse("--cgroup-parent and cgroup sharing are not allowed here")
	case len(h.Sysctls) > 0:
		return refuse("--sysctl is not allowed here")
	case h.Runtime != "":
		return refuse("--runtime %s: containers use the server's runtime", quote(h.Runtime))
	case h.Isolation != "" && h.Isolation != container.IsolationDefault:
		return refuse("--isolation is not allowed here")
	case len(h.StorageOpt) > 0:
		return refuse("--storage-opt is not allowed here")
	case h.MaskedPaths != nil || h.ReadonlyPaths != nil:
		return refuse("--security-opt systempaths=unconfined is not allowed here: it unmasks the host's /proc files")
	case len(h.Links) > 0:
		return refuse("--link is not allowed here; containers on your lab's network reach each other by name")
	case len(h.Ulimits) > 0:
		return refuse("--ulimit is not allowed here; containers get the server's limits")
	case h.OomKillDisable != nil && *h.OomKillDisable:
		return refuse("--oom-kill-disable is not allowed here")
	case h.OomScoreAdj < 0:
		return refuse("a negative --oom-score-adj is not allowed here")
	case len(h.Annotations) > 0:
		return refuse("runtime annotations are not allowed here")
	case h.CPUPeriod != 0 || h.CPUQuota != 0 || h.CPURealtimePeriod != 0 || h.CPURealtimeRuntime != 0 || h.CpusetCpus != "" || h.CpusetMems != "" || h.CPUCount != 0 || h.CPUPercent != 0:
		return refuse("use --cpus to ask for CPU; other CPU settings are not allowed here")
	case h.BlkioWeight != 0 || len(h.BlkioWeightDevice) > 0 || len(h.BlkioDeviceReadBps) > 0 || len(h.BlkioDeviceWriteBps) > 0 || len(h.BlkioDeviceReadIOps) > 0 || len(h.BlkioDeviceWriteIOps) > 0 || h.IOMaximumBandwidth != 0 || h.IOMaximumIOps != 0:
		return refuse("block I/O settings are not allowed here: they name host devices")
	case kernelMemory(h):
		return refuse("--kernel-memory is not allowed here")
	case h.LogConfig.Type != "" && h.LogConfig.Type != "json-file":
		return refuse("--log-driver %s: containers here log to json-file only", quote(h.LogConfig.Type))
	case h.ContainerIDFile != "":
		return refuse("--cidfile is the CLI's business, not the engine's")
	}
	for _, opt := range h.SecurityOpt {
		switch strings.ReplaceAll(strings.TrimSpace(opt), "=", ":") {
		case "no-new-privileges", "no-new-privileges:true":
		default:
			return refuse("--security-opt %s: only no-new-privileges is allowed here; containers get the server's seccomp profile", quote(opt))
		}
	}
	return nil
}

// checkBindOptions allows only ro/rw (and nocopy) on a named volume.
func checkBindOptions(bind string) error {
	parts := strings.Split(bind, ":")
	if len(parts) < 2 || len(parts) > 3 || !strings.HasPrefix(parts[1], "/") {
		return refuse("-v %s: write -v VOLUME:/path[:ro]", quote(bind))
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "rw", "nocopy", "z", "Z":
			default:
				return refuse("-v %s: the option %s is not allowed here", quote(bind), quote(o))
			}
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// CheckExec vets an exec create body: it must parse and must not ask for
// privileges. The user may be anyone of the learner's own container,
// which already runs with no capabilities.
func CheckExec(body []byte) ([]byte, error) {
	var opts container.ExecOptions
	if err := decodeStrict(body, &opts); err != nil {
		return nil, err
	}
	if opts.Privileged {
		return nil, refuse("exec --privileged is not allowed here")
	}
	if len(opts.Cmd) == 0 {
		return nil, badRequest("exec needs a command")
	}
	out, _ := json.Marshal(opts)
	return out, nil
}

// RewriteVolumeCreate vets a volume create: the local driver only, no
// driver options (the local driver's `o=bind,device=/` mounts any host
// folder), owner labels forced.
func RewriteVolumeCreate(body []byte, o Owner) (volume.CreateOptions, []byte, error) {
	var opts volume.CreateOptions
	if err := decodeStrict(body, &opts); err != nil {
		return opts, nil, err
	}
	if opts.Driver != "" && opts.Driver != "local" {
		return opts, nil, refuse("volume driver %s: only the local driver is allowed here", quote(opts.Driver))
	}
	if len(opts.DriverOpts) > 0 {
		return opts, nil, refuse("volume driver options (--opt) are not allowed here: the local driver's options can mount a host folder")
	}
	if opts.ClusterVolumeSpec != nil {
		return opts, nil, refuse("cluster volumes are not available here")
	}
	if opts.Name != "" && !volumeName.MatchString(opts.Name) {
		return opts, nil, badRequest("%s is not a valid volume name", quote(opts.Name))
	}
	if strings.HasPrefix(strings.ToLower(opts.Name), LabelPrefix) {
		return opts, nil, refuse("volume names starting with %q are reserved", LabelPrefix)
	}
	opts.Labels = o.OwnLabels(opts.Labels)
	opts.Driver = "local"
	out, _ := json.Marshal(opts)
	return opts, out, nil
}

// kernelMemory reports kernel memory limits, refused whatever the engine
// makes of them.
func kernelMemory(h *container.HostConfig) bool {
	//lint:ignore SA1019 older engines (API 1.41) still apply it
	return h.KernelMemory != 0 || h.KernelMemoryTCP != 0
}
