package session

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/homes"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// homeBox is the fake engine with home folders: ExportHome serves the
// engine-style archive of a container's files, ImportHome records what
// a restore unpacked.
type homeBox struct {
	*fakeSandbox
	hmu      sync.Mutex
	files    map[string]map[string]string // container → name → content
	imported map[string]map[string]*tar.Header
	bodies   map[string]map[string]string
	exports  int
}

func newHomeBox() *homeBox {
	return &homeBox{fakeSandbox: newFakeSandbox(), files: map[string]map[string]string{},
		imported: map[string]map[string]*tar.Header{}, bodies: map[string]map[string]string{}}
}

func (b *homeBox) setFiles(containerID string, files map[string]string) {
	b.hmu.Lock()
	defer b.hmu.Unlock()
	b.files[containerID] = files
}

func (b *homeBox) ExportHome(ctx context.Context, containerID string) (io.ReadCloser, error) {
	b.fakeSandbox.mu.Lock()
	_, ok := b.containers[containerID]
	b.fakeSandbox.mu.Unlock()
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such container")
	}
	b.hmu.Lock()
	defer b.hmu.Unlock()
	b.exports++
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "learner/", Typeflag: tar.TypeDir, Mode: 0o755})
	// Like the engine, list a folder before what it holds (sorted names
	// do: "repo/" < "repo/notes.md"); map order would not, and the
	// packer skips an entry whose folder it has not seen.
	names := slices.Sorted(maps.Keys(b.files[containerID]))
	for _, name := range names {
		body := b.files[containerID][name]
		if strings.HasSuffix(name, "/") {
			tw.WriteHeader(&tar.Header{Name: "learner/" + name, Typeflag: tar.TypeDir, Mode: 0o755})
			continue
		}
		tw.WriteHeader(&tar.Header{Name: "learner/" + name, Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(body)), Uid: 1000})
		tw.Write([]byte(body))
	}
	tw.Close()
	return io.NopCloser(&buf), nil
}

func (b *homeBox) ImportHome(ctx context.Context, containerID string, r io.Reader) error {
	hdrs, bodies := map[string]*tar.Header{}, map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(tr)
		hdrs[h.Name], bodies[h.Name] = h, string(body)
	}
	b.hmu.Lock()
	defer b.hmu.Unlock()
	b.imported[containerID], b.bodies[containerID] = hdrs, bodies
	return nil
}

type homeEnv struct {
	*env
	hb      *homeBox
	dir     string
	mu      sync.Mutex
	notices []string
}

func newHomeEnv(t *testing.T, cfg Config, hc HomesConfig) *homeEnv {
	t.Helper()
	e := newEnv(t, cfg)
	hb := newHomeBox()
	e.box = hb.fakeSandbox
	e.m = New(e.st, hb, e.images, testCatalog(), e.grader, cfg, e.m.log)
	e.m.now = e.clock.now
	he := &homeEnv{env: e, hb: hb, dir: filepath.Join(t.TempDir(), "homes")}
	if hc.Dir == "-" {
		hc.Dir = ""
	} else {
		hc.Dir = he.dir
	}
	if err := e.m.SetHomes(hc); err != nil {
		t.Fatal(err)
	}
	e.m.homes.notify = func(id string, n terminal.Notice) {
		he.mu.Lock()
		defer he.mu.Unlock()
		he.notices = append(he.notices, id+": "+n.Text)
	}
	return he
}

func (he *homeEnv) takeNotices() []string {
	he.mu.Lock()
	defer he.mu.Unlock()
	n := he.notices
	he.notices = nil
	return n
}

func (he *homeEnv) savedFiles(t *testing.T, u opsdojo.User, lab string) map[string]string {
	t.Helper()
	f, err := homes.Dir{Root: he.dir}.Open(u.ID, lab)
	if err != nil {
		t.Fatalf("open saved home: %v", err)
	}
	defer f.Close()
	var out bytes.Buffer
	if _, err := homes.Restore(&out, f, homes.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg {
			files[h.Name] = string(b)
		}
	}
	return files
}

// End saves the home; the next start of the lab unpacks it, owned by the
// learner with its modes.
func TestHomeSavedOnEndRestoredOnStart(t *testing.T) {
	he := newHomeEnv(t, Config{}, HomesConfig{})
	ctx := context.Background()
	s := he.start(t, he.alice, "git")
	if got := len(he.hb.imported); got != 0 {
		t.Fatalf("restore on a first start: %d", got)
	}
	he.hb.setFiles(s.ContainerID, map[string]string{"repo/": "", "repo/notes.md": "my work"})
	if _, err := he.m.End(ctx, he.alice, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := he.savedFiles(t, he.alice, "git"); got["repo/notes.md"] != "my work" {
		t.Fatalf("saved %v", got)
	}
	rec, err := he.st.Home(ctx, he.alice.ID, "git")
	if err != nil || rec.Files != 1 || rec.Content != int64(len("my work")) || rec.Bytes == 0 {
		t.Fatalf("recorded %+v %v", rec, err)
	}

	s2 := he.start(t, he.alice, "git")
	hdrs := he.hb.imported[s2.ContainerID]
	h := hdrs["repo/notes.md"]
	if h == nil || he.hb.bodies[s2.ContainerID]["repo/notes.md"] != "my work" || h.Uid != sandbox.LearnerUID || h.Gid != sandbox.LearnerGID || h.Mode != 0o640 {
		t.Fatalf("restored %+v", hdrs)
	}
	st, err := he.m.HomeStatus(ctx, he.alice, "git", s2.ID)
	if err != nil || st.Restored == nil || st.Restored.Files != 1 || st.Saved == nil {
		t.Fatalf("status %+v %v", st, err)
	}
	// Another lab, another learner: nothing restored.
	s3 := he.start(t, he.bob, "git")
	if _, ok := he.hb.imported[s3.ContainerID]; ok {
		t.Fatal("bob got alice's home")
	}
}

// Expiry, the disk quota and a lost (stopped) container save the home
// too; a session left "starting" does not (it may hold half a restore).
func TestHomeSavedOnExpiryQuotaAndLost(t *testing.T) {
	he := newHomeEnv(t, Config{TTL: time.Hour}, HomesConfig{})
	ctx := context.Background()

	s := he.start(t, he.alice, "git")
	he.hb.setFiles(s.ContainerID, map[string]string{"expired.txt": "1"})
	he.clock.advance(2 * time.Hour)
	if n, err := he.m.Reap(ctx); err != nil || n != 1 {
		t.Fatalf("reap %d %v", n, err)
	}
	if got := he.savedFiles(t, he.alice, "git"); got["expired.txt"] != "1" {
		t.Fatalf("after expiry: %v", got)
	}

	s = he.start(t, he.alice, "docker")
	he.hb.setFiles(s.ContainerID, map[string]string{"quota.txt": "2"})
	if !he.m.endOverQuota(ctx, s.ID, DiskUse{Files: 1 << 40}) {
		t.Fatal("not ended over quota")
	}
	if got := he.savedFiles(t, he.alice, "docker"); got["quota.txt"] != "2" {
		t.Fatalf("after quota: %v", got)
	}

	s = he.start(t, he.alice, "k8s")
	he.hb.setFiles(s.ContainerID, map[string]string{"lost.txt": "3"})
	he.hb.fakeSandbox.mu.Lock()
	he.hb.ensureErr[s.ContainerID] = sandbox.ErrWontRun
	he.hb.fakeSandbox.mu.Unlock()
	if _, _, err := he.m.Check(ctx, he.alice, s.ID, "init"); err == nil {
		t.Fatal("check of a lost container worked")
	}
	if got := he.savedFiles(t, he.alice, "k8s"); got["lost.txt"] != "3" {
		t.Fatalf("after loss: %v", got)
	}

	before := he.hb.exports
	he.m.saveHome(ctx, opsdojo.LabSession{ID: "x", UserID: he.alice.ID, LabID: "ci", ContainerID: s.ContainerID, State: opsdojo.SessionStarting})
	if he.hb.exports != before {
		t.Fatal("a starting session's home was saved")
	}
}

// A home over the limits is refused whole: the previous save stays, the
// attempt is recorded with why, and the lab page can say so.
func TestHomeRefusedKeepsPreviousSave(t *testing.T) {
	he := newHomeEnv(t, Config{}, HomesConfig{Limits: homes.Limits{MaxBytes: 100}})
	ctx := context.Background()
	s := he.start(t, he.alice, "git")
	he.hb.setFiles(s.ContainerID, map[string]string{"small": "ok"})
	he.m.End(ctx, he.alice, s.ID)
	s = he.start(t, he.alice, "git")
	he.hb.setFiles(s.ContainerID, map[string]string{"small": "new", "big": strings.Repeat("x", 200)})
	he.m.End(ctx, he.alice, s.ID)
	if got := he.savedFiles(t, he.alice, "git"); got["small"] != "ok" || got["big"] != "" {
		t.Fatalf("saved %v", got)
	}
	last, err := he.st.LastHomeSave(ctx, he.alice.ID, "git")
	if err != nil || last.Outcome != opsdojo.HomeRefused || !strings.Contains(last.Reason, "more than 100 bytes") {
		t.Fatalf("last %+v %v", last, err)
	}
	st, _ := he.m.HomeStatus(ctx, he.alice, "git", "")
	if st.Last == nil || st.Saved == nil {
		t.Fatalf("status %+v", st)
	}
	ents, _ := os.ReadDir(filepath.Join(he.dir, "1"))
	if len(ents) != 1 {
		t.Fatalf("files beside the save: %v", ents)
	}
}

// Only the owner (and admins) get a saved home or a live snapshot.
func TestHomeDownloadScoped(t *testing.T) {
	he := newHomeEnv(t, Config{}, HomesConfig{})
	ctx := context.Background()
	s := he.start(t, he.alice, "git")
	he.hb.setFiles(s.ContainerID, map[string]string{"a": "alice's"})

	f, _, err := he.m.HomeSnapshot(ctx, he.alice, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, _, err = he.m.HomeSnapshot(ctx, he.bob, s.ID)
	wantCode(t, err, opsdojo.ENOTFOUND)

	he.m.End(ctx, he.alice, s.ID)
	f, _, err = he.m.SavedHome(ctx, he.alice, "git", "")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, _, err = he.m.SavedHome(ctx, he.bob, "git", "")
	wantCode(t, err, opsdojo.ENOTFOUND)
	_, _, err = he.m.SavedHome(ctx, he.bob, "git", "alice")
	wantCode(t, err, opsdojo.ENOTFOUND)
	admin, err := he.st.CreateUser(ctx, "root", "x", true)
	if err != nil {
		t.Fatal(err)
	}
	f, saved, err := he.m.SavedHome(ctx, admin, "git", "alice")
	if err != nil || saved.UserID != he.alice.ID {
		t.Fatalf("admin: %+v %v", saved, err)
	}
	f.Close()
}

// A save that cannot be restored is set aside, not replaced by the next
// save of a home without it.
func TestHomeRestoreFailureSetsAside(t *testing.T) {
	he := newHomeEnv(t, Config{}, HomesConfig{})
	ctx := context.Background()
	s := he.start(t, he.alice, "git")
	he.hb.setFiles(s.ContainerID, map[string]string{"a": "1"})
	he.m.End(ctx, he.alice, s.ID)
	p, _ := homes.Dir{Root: he.dir}.Path(he.alice.ID, "git")
	if err := os.WriteFile(p, []byte("not a tar.gz"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = he.start(t, he.alice, "git")
	st, _ := he.m.HomeStatus(ctx, he.alice, "git", s.ID)
	if st.Restored == nil || st.Restored.Error == "" {
		t.Fatalf("restore failure not shown: %+v", st)
	}
	he.m.End(ctx, he.alice, s.ID)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "git.unrestored-*.tar.gz"))
	if len(matches) != 1 {
		t.Fatalf("set-aside save: %v", matches)
	}
	if b, _ := os.ReadFile(matches[0]); string(b) != "not a tar.gz" {
		t.Fatalf("set-aside content %q", b)
	}
}

// Saved homes past the retention are deleted, file and row.
func TestPruneHomes(t *testing.T) {
	he := newHomeEnv(t, Config{}, HomesConfig{Retention: 24 * time.Hour})
	ctx := context.Background()
	s := he.start(t, he.alice, "git")
	he.m.End(ctx, he.alice, s.ID)
	if n, _ := he.m.PruneHomes(ctx); n != 0 {
		t.Fatal("fresh save pruned")
	}
	if n, b, _ := he.m.HomesUsage(ctx); n != 1 || b == 0 {
		t.Fatalf("usage %d %d", n, b)
	}
	he.clock.advance(25 * time.Hour)
	if n, err := he.m.PruneHomes(ctx); n != 1 || err != nil {
		t.Fatalf("pruned %d %v", n, err)
	}
	if _, err := (homes.Dir{Root: he.dir}).Open(he.alice.ID, "git"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file kept: %v", err)
	}
	if n, _, _ := he.m.HomesUsage(ctx); n != 0 {
		t.Fatal("row kept")
	}
}

// The people at an idle session's terminals are warned once per
// threshold; activity starts the warnings over.
func TestExpiryWarnings(t *testing.T) {
	he := newHomeEnv(t, Config{TTL: 30 * time.Minute}, HomesConfig{ExpiryWarnings: []time.Duration{2 * time.Minute, 10 * time.Minute, time.Hour}})
	ctx := context.Background()
	s := he.start(t, he.alice, "git")
	tick := func() []string {
		t.Helper()
		if err := he.m.warnExpiry(ctx); err != nil {
			t.Fatal(err)
		}
		return he.takeNotices()
	}
	if n := tick(); len(n) != 0 {
		t.Fatalf("warned with 30 minutes left: %v", n)
	}
	he.clock.advance(21 * time.Minute)
	n := tick()
	if len(n) != 1 || !strings.Contains(n[0], "ends in 9 minutes") || !strings.HasPrefix(n[0], s.ID) {
		t.Fatalf("10-minute warning: %v", n)
	}
	if n := tick(); len(n) != 0 {
		t.Fatalf("warned twice: %v", n)
	}
	he.clock.advance(8*time.Minute + 30*time.Second)
	if n := tick(); len(n) != 1 || !strings.Contains(n[0], "30 seconds") {
		t.Fatalf("2-minute warning: %v", n)
	}
	he.m.Touch(ctx, s)
	if n := tick(); len(n) != 0 {
		t.Fatalf("warned after activity: %v", n)
	}
	he.clock.advance(25 * time.Minute)
	if n := tick(); len(n) != 1 || !strings.Contains(n[0], "5 minutes") {
		t.Fatalf("warning after activity: %v", n)
	}
}
