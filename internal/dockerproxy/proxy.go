package dockerproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// Builder builds a learner's image with the build checks' vetting and
// limits (sandbox.Engine.Build: base-image vetting, a parent cgroup, the
// session network, the legacy builder), recording the images it makes.
type Builder interface {
	Build(ctx context.Context, req grading.BuildRequest) (grading.BuildResult, error)
}

// Config tunes every session's proxy.
type Config struct {
	// Dir holds one folder per session with its socket in it.
	Dir string
	// Instance is this server's instance id (the owner label).
	Instance string
	Budget   Budget
	// MaxContainers a session's learner may have at once (running or not).
	MaxContainers int
	// MaxImageBytes: past this, the session's builds are refused (the disk
	// quota ends the session at its own limit anyway).
	MaxImageBytes int64
	// MaxBuildTime is the build time a session may use in all.
	MaxBuildTime time.Duration
	// MaxBody caps a JSON request body; MaxContext a build context.
	MaxBody    int64
	MaxContext int64
	// BuildBases are the lab images (path.Match patterns) a learner may run
	// and build on, besides their own images.
	BuildBases []string
}

// Defaults fills zero fields.
func (c *Config) defaults() {
	if c.MaxContainers <= 0 {
		c.MaxContainers = 5
	}
	if c.MaxImageBytes <= 0 {
		c.MaxImageBytes = 2 << 30
	}
	if c.MaxBuildTime <= 0 {
		c.MaxBuildTime = 30 * time.Minute
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxContext <= 0 {
		c.MaxContext = 200 << 20
	}
}

// SocketName is the socket's name inside the session's folder; the folder
// is mounted read-only at MountDir in the session's container.
const (
	SocketName = "docker.sock"
	MountDir   = "/run/opsdojo-docker"
)

// Manager runs one proxy per session.
type Manager struct {
	cfg     Config
	cli     *client.Client
	builder Builder
	queue   *grading.BuildQueue
	// imageBytes measures what a session's images hold (the disk quota's
	// own measure).
	imageBytes func(ctx context.Context, session string) (int64, error)
	log        *slog.Logger

	mu      sync.Mutex
	servers map[string]*server
}

// NewManager returns a manager. queue is the build checks' queue, so CLI
// builds and Check builds share the same slots.
func NewManager(cfg Config, cli *client.Client, builder Builder, queue *grading.BuildQueue,
	imageBytes func(ctx context.Context, session string) (int64, error), log *slog.Logger) *Manager {
	cfg.defaults()
	return &Manager{cfg: cfg, cli: cli, builder: builder, queue: queue, imageBytes: imageBytes, log: log, servers: map[string]*server{}}
}

// Open starts the proxy of a lab session (session.DockerProxies).
func (m *Manager) Open(_ context.Context, s opsdojo.LabSession) (string, error) {
	return m.OpenOwner(Owner{Instance: m.cfg.Instance, Session: s.ID, User: strconv.FormatInt(s.UserID, 10), Lab: s.LabID,
		Network: sandbox.Name(s.ID)}, sandbox.LearnerUID, sandbox.LearnerGID)
}

// OpenOwner starts (or restarts, after a server restart) the session's proxy
// and returns the folder that holds its socket, to mount in the session's
// container. The folder and socket belong to uid:gid (the learner), mode
// 0700/0600, so only the learner's processes can connect inside.
func (m *Manager) OpenOwner(o Owner, uid, gid int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.servers[o.Session]; ok {
		return s.dir, nil
	}
	base, err := filepath.Abs(m.cfg.Dir)
	if err != nil {
		return "", fmt.Errorf("docker proxy folder: %w", err)
	}
	if err := os.MkdirAll(base, 0o711); err != nil {
		return "", fmt.Errorf("docker proxy folder: %w", err)
	}
	dir := filepath.Join(base, o.Session)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("docker proxy folder: %w", err)
	}
	sock := filepath.Join(dir, SocketName)
	_ = os.Remove(sock) // a previous run's
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return "", fmt.Errorf("docker proxy socket: %w", err)
	}
	if err := ownSocket(dir, sock, uid, gid); err != nil {
		ln.Close()
		return "", err
	}
	s := &server{m: m, o: o, dir: dir, ln: ln, execs: map[string]string{}, conns: map[net.Conn]bool{}}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelDebug)}
	m.servers[o.Session] = s
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Warn("docker proxy stopped", "session", o.Session, "err", err)
		}
	}()
	return dir, nil
}

func ownSocket(dir, sock string, uid, gid int) error {
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("give the docker proxy folder to the learner: %w", err)
	}
	if err := os.Chown(sock, uid, gid); err != nil {
		return fmt.Errorf("give the docker proxy socket to the learner: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		return fmt.Errorf("docker proxy socket mode: %w", err)
	}
	return nil
}

// Close stops the session's proxy, removes everything its learner made
// (containers with their volumes, volumes; images go with the session's
// build images, which carry the same labels) and its socket.
func (m *Manager) Close(ctx context.Context, session string) error {
	m.mu.Lock()
	s := m.servers[session]
	delete(m.servers, session)
	m.mu.Unlock()
	if s != nil {
		s.close()
	}
	err := m.removeObjects(ctx, session)
	base, aerr := filepath.Abs(m.cfg.Dir)
	if aerr == nil && session != "" && !strings.ContainsAny(session, "/.") {
		_ = os.RemoveAll(filepath.Join(base, session))
	}
	return err
}

// CloseAll stops every proxy (server shutdown), leaving the learners'
// objects: their sessions live on.
func (m *Manager) CloseAll() {
	m.mu.Lock()
	all := m.servers
	m.servers = map[string]*server{}
	m.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}

func (m *Manager) ownFilter(session string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelSession+"="+session), filters.Arg("label", LabelCreator+"="+CreatorCLI))
}

func (m *Manager) removeObjects(ctx context.Context, session string) error {
	var errs []error
	list, err := m.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: m.ownFilter(session)})
	if err != nil {
		return fmt.Errorf("list the learner's containers: %w", err)
	}
	for _, c := range list {
		if err := m.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove the learner's container: %w", err))
		}
	}
	vols, err := m.cli.VolumeList(ctx, volume.ListOptions{Filters: m.ownFilter(session)})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list the learner's volumes: %w", err))...)
	}
	for _, v := range vols.Volumes {
		if err := m.cli.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove the learner's volume: %w", err))
		}
	}
	return errors.Join(errs...)
}

// server is one session's proxy.
type server struct {
	m    *Manager
	o    Owner
	dir  string
	ln   net.Listener
	http *http.Server

	mu        sync.Mutex
	execs     map[string]string // exec id → container id: the learner's execs
	conns     map[net.Conn]bool // hijacked streams, closed with the proxy
	buildUsed time.Duration
	building  bool // one build at a time: build.go
	closed    bool

	createMu sync.Mutex // container creates, one at a time (budget.go)
}

func (s *server) close() {
	_ = s.http.Close()
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// writeError answers in the engine's error format, which the CLI prints.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) fail(w http.ResponseWriter, err error) {
	var ref *Refusal
	if errors.As(err, &ref) {
		writeError(w, ref.Status, ref.Message)
		return
	}
	if cerrdefs.IsNotFound(err) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	s.m.log.Warn("docker proxy", "session", s.o.Session, "err", err)
	writeError(w, http.StatusInternalServerError, "opsdojo: the Docker engine failed: "+firstLine(err.Error()))
}

// readBody reads a JSON body up to the cap; more is refused, not cut.
func (s *server) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.m.cfg.MaxBody+1))
	if err != nil {
		return nil, badRequest("reading the request body: %s", firstLine(err.Error()))
	}
	if int64(len(b)) > s.m.cfg.MaxBody {
		return nil, &Refusal{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("opsdojo: the request body is larger than %d bytes; nothing was done", s.m.cfg.MaxBody)}
	}
	return b, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, ok := Match(r.Method, r.URL.Path)
	if !ok {
		writeError(w, http.StatusForbidden, fmt.Sprintf("opsdojo: %s %s is not available through this lab's Docker proxy", r.Method, StripVersion(r.URL.Path)))
		return
	}
	if err := s.serve(w, r, route); err != nil {
		s.fail(w, err)
	}
}

func (s *server) serve(w http.ResponseWriter, r *http.Request, route Route) error {
	ctx := r.Context()
	q := r.URL.Query()
	switch route.Op {
	case OpPing, OpVersion:
		return s.forward(w, r, StripVersion(r.URL.Path), url.Values{}, nil)
	case OpInfo:
		return s.info(ctx, w)
	case OpImageList:
		q2, err := s.ownQuery(q, "label", LabelSession+"="+s.o.Session)
		if err != nil {
			return err
		}
		return s.forward(w, r, "/images/json", keep(q2, "all", "digests", "filters", "shared-size"), nil)
	case OpContainerList:
		q2, err := s.ownQuery(q, "label", LabelSession+"="+s.o.Session, "label", LabelCreator+"="+CreatorCLI)
		if err != nil {
			return err
		}
		return s.forward(w, r, "/containers/json", keep(q2, "all", "limit", "size", "filters"), nil)
	case OpNetworkList:
		q2, err := s.ownQuery(q, "label", LabelSession+"="+s.o.Session)
		if err != nil {
			return err
		}
		return s.forward(w, r, "/networks", keep(q2, "filters"), nil)
	case OpVolumeList:
		q2, err := s.ownQuery(q, "label", LabelSession+"="+s.o.Session, "label", LabelCreator+"="+CreatorCLI)
		if err != nil {
			return err
		}
		return s.forward(w, r, "/volumes", keep(q2, "filters"), nil)
	case OpContainerCreate:
		return s.create(w, r)
	case OpBuild:
		return s.build(w, r)
	case OpVolumeCreate:
		return s.volumeCreate(w, r)
	case OpExecCreate:
		return s.execCreate(w, r, route.Ref)
	case OpNetworkInspect:
		id, err := s.ownNetwork(ctx, route.Ref)
		if err != nil {
			return err
		}
		return s.forward(w, r, "/networks/"+id, keep(q, "verbose"), nil)
	}
	switch route.Kind() {
	case "image":
		id, err := s.ownImage(ctx, route.Ref)
		if err != nil {
			return err
		}
		switch route.Op {
		case OpImageInspect:
			return s.forward(w, r, "/images/"+id+"/json", url.Values{}, nil)
		case OpImageHistory:
			return s.forward(w, r, "/images/"+id+"/history", url.Values{}, nil)
		case OpImageRemove:
			// By the name the learner gave: untagging one of several names
			// must not delete the image.
			return s.forward(w, r, "/images/"+route.Ref, keep(q, "force", "noprune"), nil)
		case OpImageTag:
			if err := s.vetTag(ctx, q.Get("repo"), q.Get("tag")); err != nil {
				return err
			}
			return s.forward(w, r, "/images/"+id+"/tag", keep(q, "repo", "tag"), nil)
		}
	case "container":
		id, err := s.ownContainer(ctx, route.Ref)
		if err != nil {
			return err
		}
		switch route.Op {
		case OpContainerInspect:
			return s.forward(w, r, "/containers/"+id+"/json", keep(q, "size"), nil)
		case OpContainerStart:
			return s.forward(w, r, "/containers/"+id+"/start", keep(q, "detachKeys"), nil)
		case OpContainerStop:
			return s.forward(w, r, "/containers/"+id+"/stop", keep(q, "t", "signal"), nil)
		case OpContainerRestart:
			return s.forward(w, r, "/containers/"+id+"/restart", keep(q, "t", "signal"), nil)
		case OpContainerKill:
			return s.forward(w, r, "/containers/"+id+"/kill", keep(q, "signal"), nil)
		case OpContainerRemove:
			// Always with its anonymous volumes (named ones stay): left
			// behind they would carry no owner labels, so neither the disk
			// quota nor the session's end would find them, and the learner
			// could not reach them any more.
			q2 := keep(q, "force")
			q2.Set("v", "1")
			return s.forward(w, r, "/containers/"+id, q2, nil)
		case OpContainerLogs:
			return s.forward(w, r, "/containers/"+id+"/logs", keep(q, "follow", "stdout", "stderr", "since", "until", "timestamps", "tail", "details"), nil)
		case OpContainerWait:
			return s.forward(w, r, "/containers/"+id+"/wait", keep(q, "condition"), nil)
		case OpContainerTop:
			if ps := q.Get("ps_args"); ps != "" && strings.Trim(ps, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,-=") != "" {
				return badRequest("top: options may hold letters, digits, spaces, commas, = and - only")
			}
			return s.forward(w, r, "/containers/"+id+"/top", keep(q, "ps_args"), nil)
		case OpContainerStats:
			return s.forward(w, r, "/containers/"+id+"/stats", keep(q, "stream", "one-shot"), nil)
		case OpContainerResize:
			return s.forward(w, r, "/containers/"+id+"/resize", keep(q, "h", "w"), nil)
		case OpContainerAttach:
			return s.hijack(w, r, "/containers/"+id+"/attach", keep(q, "stream", "stdin", "stdout", "stderr", "logs", "detachKeys"), nil)
		}
	case "exec":
		id, err := s.ownExec(route.Ref)
		if err != nil {
			return err
		}
		switch route.Op {
		case OpExecInspect:
			return s.forward(w, r, "/exec/"+id+"/json", url.Values{}, nil)
		case OpExecResize:
			return s.forward(w, r, "/exec/"+id+"/resize", keep(q, "h", "w"), nil)
		case OpExecStart:
			body, err := s.readBody(r)
			if err != nil {
				return err
			}
			var opts container.ExecStartOptions
			if err := decodeStrict(body, &opts); err != nil {
				return err
			}
			out, _ := json.Marshal(opts)
			if opts.Detach {
				return s.forward(w, r, "/exec/"+id+"/start", url.Values{}, out)
			}
			return s.hijack(w, r, "/exec/"+id+"/start", url.Values{}, out)
		}
	case "volume":
		name, err := s.ownVolume(ctx, route.Ref)
		if err != nil {
			return err
		}
		if route.Op == OpVolumeInspect {
			return s.forward(w, r, "/volumes/"+name, url.Values{}, nil)
		}
		return s.forward(w, r, "/volumes/"+name, keep(q, "force"), nil)
	}
	return refuse("%s %s is not available through this lab's Docker proxy", r.Method, StripVersion(r.URL.Path))
}

// keep returns only the named query parameters: nothing the proxy has not
// thought about reaches the engine.
func keep(q url.Values, names ...string) url.Values {
	out := url.Values{}
	for _, n := range names {
		if v, ok := q[n]; ok {
			out[n] = v
		}
	}
	return out
}

// ownQuery adds label filters to a list request, so the engine lists the
// session's objects only, whatever filters the learner passed.
func (s *server) ownQuery(q url.Values, kv ...string) (url.Values, error) {
	args := filters.NewArgs()
	if raw := q.Get("filters"); raw != "" {
		var err error
		if args, err = filters.FromJSON(raw); err != nil {
			return nil, badRequest("the list filters do not parse: %s", firstLine(err.Error()))
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		args.Add(kv[i], kv[i+1])
	}
	args.Add("label", LabelInstance+"="+s.o.Instance)
	enc, err := filters.ToJSON(args)
	if err != nil {
		return nil, badRequest("list filters: %s", err)
	}
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("filters", enc)
	return out, nil
}

func notFound(kind, ref string) error {
	return &Refusal{Status: http.StatusNotFound, Message: fmt.Sprintf("No such %s: %s", kind, ref)}
}

// ownContainer resolves a name, ID or unique ID prefix among the
// learner's own containers only. Anything else is "No such container",
// the engine's own answer, so other sessions' names and IDs cannot be
// probed.
func (s *server) ownContainer(ctx context.Context, ref string) (string, error) {
	list, err := s.m.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: s.ownArgs()})
	if err != nil {
		return "", fmt.Errorf("list containers: %w", err)
	}
	var match []string
	for _, c := range list {
		if !s.ownsLabels(c.Labels) {
			continue
		}
		if c.ID == ref {
			return c.ID, nil
		}
		for _, n := range c.Names {
			if strings.TrimPrefix(n, "/") == ref {
				return c.ID, nil
			}
		}
		if len(ref) >= 1 && strings.HasPrefix(c.ID, ref) {
			match = append(match, c.ID)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	if len(match) > 1 {
		return "", badRequest("%s matches more than one of your containers; give more of its ID", quote(ref))
	}
	return "", notFound("container", ref)
}

func (s *server) ownArgs() filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelSession+"="+s.o.Session), filters.Arg("label", LabelCreator+"="+CreatorCLI),
		filters.Arg("label", LabelInstance+"="+s.o.Instance))
}

// ownsLabels double-checks what the engine's filter returned.
func (s *server) ownsLabels(l map[string]string) bool {
	return l[LabelSession] == s.o.Session && l[LabelInstance] == s.o.Instance && l[LabelCreator] == CreatorCLI
}

// ownImage resolves an image the session built (it carries the session's
// labels, which the builder sets and learners cannot).
func (s *server) ownImage(ctx context.Context, ref string) (string, error) {
	info, err := s.m.cli.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", notFound("image", ref)
		}
		return "", fmt.Errorf("inspect image: %w", err)
	}
	if info.Config == nil || info.Config.Labels[LabelSession] != s.o.Session || info.Config.Labels[LabelInstance] != s.o.Instance {
		return "", notFound("image", ref)
	}
	return info.ID, nil
}

func (s *server) ownExec(id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.execs[id]; !ok {
		return "", notFound("exec instance", id)
	}
	return id, nil
}

func (s *server) ownVolume(ctx context.Context, name string) (string, error) {
	v, err := s.m.cli.VolumeInspect(ctx, name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", notFound("volume", name)
		}
		return "", fmt.Errorf("inspect volume: %w", err)
	}
	if !s.ownsLabels(v.Labels) {
		return "", notFound("volume", name)
	}
	return v.Name, nil
}

func (s *server) ownNetwork(ctx context.Context, ref string) (string, error) {
	n, err := s.m.cli.NetworkInspect(ctx, ref, network.InspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", notFound("network", ref)
		}
		return "", fmt.Errorf("inspect network: %w", err)
	}
	if n.Labels[LabelSession] != s.o.Session || n.Labels[LabelInstance] != s.o.Instance {
		return "", notFound("network", ref)
	}
	return n.ID, nil
}

// info answers `docker info` with what a learner needs, not the host's
// inventory (other sessions' container counts, the host's name, paths,
// registries, proxies, swarm, plugins).
func (s *server) info(ctx context.Context, w http.ResponseWriter) error {
	in, err := s.m.cli.Info(ctx)
	if err != nil {
		return fmt.Errorf("engine info: %w", err)
	}
	own, err := s.m.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: s.ownArgs()})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	running := 0
	for _, c := range own {
		if c.State == "running" {
			running++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ID": "opsdojo", "Name": "opsdojo-" + s.o.Lab, "ServerVersion": in.ServerVersion,
		"OperatingSystem": "opsdojo lab sandbox", "OSType": in.OSType, "Architecture": in.Architecture,
		"Containers": len(own), "ContainersRunning": running, "ContainersStopped": len(own) - running,
		"Driver": in.Driver, "NCPU": in.NCPU, "MemTotal": in.MemTotal, "CgroupVersion": in.CgroupVersion,
		"Warnings": []string{"This is a lab sandbox: you see and manage only the containers, images and volumes of this lab session."},
	})
	return nil
}

// create vets and rewrites a container create, checks the image and
// volumes it uses and the session's container count, then sends the
// rewritten body.
func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	// One create at a time: two at once would both fit in what is left.
	s.createMu.Lock()
	defer s.createMu.Unlock()
	own, err := s.m.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: s.ownArgs()})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	if len(own) >= s.m.cfg.MaxContainers {
		return refuse("this lab allows %d containers at once and you have %d; remove one first (`docker ps -a`, `docker rm NAME`)", s.m.cfg.MaxContainers, len(own))
	}
	share, err := s.share(ctx, own)
	if err != nil {
		return err
	}
	plan, err := RewriteCreateShared(body, s.o, s.m.cfg.Budget, share)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if name := q.Get("name"); name != "" {
		if strings.HasPrefix(strings.ToLower(strings.TrimPrefix(name, "/")), LabelPrefix) {
			return refuse("container names starting with %q are reserved", LabelPrefix)
		}
	}
	if p := q.Get("platform"); p != "" {
		return refuse("--platform is not available here")
	}
	if err := s.usableImage(ctx, plan.Image); err != nil {
		return err
	}
	for _, v := range plan.Volumes {
		if _, err := s.ownVolume(ctx, v); err != nil {
			return refuse("volume %s: use a volume you created with `docker volume create %s` first", quote(v), v)
		}
	}
	return s.forward(w, r, "/containers/create", keep(q, "name"), plan.Body)
}

// usableImage: the session's own images and the lab images, never a pull.
func (s *server) usableImage(ctx context.Context, ref string) error {
	info, err := s.m.cli.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return &Refusal{Status: http.StatusNotFound, Message: fmt.Sprintf("No such image: %s (this server does not pull images: build one with `docker build -t NAME .`, or use a lab image such as opsdojo/base:bookworm)", ref)}
		}
		return fmt.Errorf("inspect image: %w", err)
	}
	if info.Config != nil && info.Config.Labels[LabelSession] == s.o.Session && info.Config.Labels[LabelInstance] == s.o.Instance {
		return nil
	}
	if labImage(ref, s.m.cfg.BuildBases) {
		return nil
	}
	return notFound("image", ref)
}

func (s *server) execCreate(w http.ResponseWriter, r *http.Request, ref string) error {
	ctx := r.Context()
	id, err := s.ownContainer(ctx, ref)
	if err != nil {
		return err
	}
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	if _, err := CheckExec(body); err != nil {
		return err
	}
	var opts container.ExecOptions
	_ = json.Unmarshal(body, &opts)
	resp, err := s.m.cli.ContainerExecCreate(ctx, id, opts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.execs[resp.ID] = id
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"Id": resp.ID})
	return nil
}

func (s *server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	opts, out, err := RewriteVolumeCreate(body, s.o)
	if err != nil {
		return err
	}
	if opts.Name != "" {
		// Create is idempotent in the engine: it would hand back another
		// session's volume of that name.
		if v, err := s.m.cli.VolumeInspect(ctx, opts.Name); err == nil && !s.ownsLabels(v.Labels) {
			return &Refusal{Status: http.StatusConflict, Message: fmt.Sprintf("opsdojo: the volume name %s is taken; choose another", quote(opts.Name))}
		}
	}
	return s.forward(w, r, "/volumes/create", url.Values{}, out)
}

// engine path with the learner's API version, so the engine answers in
// the format the CLI negotiated.
func versioned(r *http.Request, path string) string {
	if m := versionPrefix.FindString(r.URL.Path); m != "" {
		return strings.TrimSuffix(m, "/") + path
	}
	return path
}

func (s *server) dial(ctx context.Context) (net.Conn, error) {
	return s.m.cli.Dialer()(ctx)
}

// forward sends a request the proxy built (path, query, body) to the
// engine and streams the answer back, flushing as it comes (logs -f,
// stats, wait).
func (s *server) forward(w http.ResponseWriter, r *http.Request, path string, q url.Values, body []byte) error {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &url.URL{Scheme: "http", Host: "docker", Path: versioned(r, path), RawQuery: q.Encode()}
			pr.Out.Host = "docker"
			pr.Out.Header = http.Header{"User-Agent": r.Header.Values("User-Agent")}
			if body != nil {
				pr.Out.Body = io.NopCloser(bytes.NewReader(body))
				pr.Out.ContentLength = int64(len(body))
				pr.Out.Header.Set("Content-Type", "application/json")
			} else {
				pr.Out.Body = http.NoBody
				pr.Out.ContentLength = 0
			}
		},
		Transport:     &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return s.dial(ctx) }, DisableKeepAlives: true},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			// The CLI picks BuildKit when the engine says it builds with
			// it; the proxy offers the legacy builder only.
			if resp.Header.Get("Builder-Version") != "" {
				resp.Header.Set("Builder-Version", "1")
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "opsdojo: the Docker engine did not answer: "+firstLine(err.Error()))
		},
	}
	rp.ServeHTTP(w, r)
	return nil
}

type closeWriter interface{ CloseWrite() error }

// hijack runs attach and exec start, which turn the HTTP connection into a
// raw stream both ways (`run -it`, `exec -it`). The stream is copied with
// half-closes, so `echo x | docker exec -i c cat` sees its output.
func (s *server) hijack(w http.ResponseWriter, r *http.Request, path string, q url.Values, body []byte) error {
	ctx := r.Context()
	ec, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("dial the engine: %w", err)
	}
	out, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker"+versioned(r, path)+"?"+q.Encode(), bytes.NewReader(body))
	if body != nil {
		out.Header.Set("Content-Type", "application/json")
	}
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", "tcp")
	if err := out.Write(ec); err != nil {
		ec.Close()
		return fmt.Errorf("send to the engine: %w", err)
	}
	er := bufio.NewReader(ec)
	resp, err := http.ReadResponse(er, out)
	if err != nil {
		ec.Close()
		return fmt.Errorf("read the engine's answer: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		defer ec.Close()
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		ec.Close()
		return errors.New("the connection cannot be hijacked")
	}
	cc, cbuf, err := hj.Hijack()
	if err != nil {
		ec.Close()
		return fmt.Errorf("hijack: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cc.Close()
		ec.Close()
		return nil
	}
	s.conns[cc], s.conns[ec] = true, true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, cc)
		delete(s.conns, ec)
		s.mu.Unlock()
		cc.Close()
		ec.Close()
	}()
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\n", resp.StatusCode, http.StatusText(resp.StatusCode))
	for k, vs := range resp.Header {
		for _, v := range vs {
			head += k + ": " + v + "\r\n"
		}
	}
	if _, err := io.WriteString(cc, head+"\r\n"); err != nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Learner → engine; then tell the engine stdin ended.
		_, _ = io.Copy(ec, io.MultiReader(bufReader(cbuf.Reader), cc))
		if cw, ok := ec.(closeWriter); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, _ = io.Copy(cc, io.MultiReader(bufReader(er), ec))
	if cw, ok := cc.(closeWriter); ok {
		_ = cw.CloseWrite()
	}
	// The engine's side ended (the process exited): the stream is over.
	ec.Close()
	cc.Close()
	<-done
	return nil
}

// bufReader returns what a bufio.Reader already holds.
func bufReader(b *bufio.Reader) io.Reader {
	n := b.Buffered()
	if n == 0 {
		return bytes.NewReader(nil)
	}
	p, _ := b.Peek(n)
	return bytes.NewReader(append([]byte(nil), p...))
}

// imageIDsOf lists the session's own images (for tests and tag vetting).
func (s *server) tagOwner(ctx context.Context, ref string) (owned, exists bool, err error) {
	info, err := s.m.cli.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, false, nil
		}
		return false, false, fmt.Errorf("inspect image: %w", err)
	}
	return info.Config != nil && info.Config.Labels[LabelSession] == s.o.Session && info.Config.Labels[LabelInstance] == s.o.Instance, true, nil
}
