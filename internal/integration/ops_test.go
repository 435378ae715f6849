//go:build integration

package integration

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/opsdojo/opsdojo/internal/app"
	"github.com/opsdojo/opsdojo/internal/backup"
	"github.com/opsdojo/opsdojo/internal/doctor"
	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/images"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/store"
)

// scrapeMetrics GETs url with the token (if any) and parses the text
// exposition; a status other than 200 is returned with no families.
func scrapeMetrics(t *testing.T, url, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return resp.StatusCode, fams
}

// metricSum adds up the values (counts, for histograms) of every series of
// name whose labels include want.
func metricSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

func TestOpsMetrics(t *testing.T) {
	const token = "metrics-token-0123456789"
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsURL := "http://" + mln.Addr().String() + "/metrics"
	srv := startServer(t, t.TempDir(), func(c *app.Config) { c.MetricsListener, c.MetricsToken = mln, token })

	// The token guards both addresses.
	for _, u := range []string{metricsURL, srv.url + "/metrics"} {
		if code, _ := scrapeMetrics(t, u, ""); code != http.StatusUnauthorized {
			t.Fatalf("%s without the token: %d", u, code)
		}
		if code, _ := scrapeMetrics(t, u, "wrong-token-0123456789"); code != http.StatusUnauthorized {
			t.Fatalf("%s with a wrong token: %d", u, code)
		}
	}

	alice := newLearner(t, srv, "alice")
	sess := alice.startLab("git-basics")
	cleanupSession(t, sess.ID)
	alice.check(sess.ID, "init") // fails: nothing done yet
	tm := alice.terminal(sess.ID)
	tm.typeLine("echo metrics-$((6*7))")
	tm.expect("metrics-42", 30*time.Second)

	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(30 * time.Second)
	for {
		var code int
		code, fams = scrapeMetrics(t, metricsURL, token)
		if code != http.StatusOK {
			t.Fatalf("scrape: %d", code)
		}
		conns, _ := metricSum(fams, "opsdojo_terminal_connections", map[string]string{"role": "driver"})
		reaps, _ := metricSum(fams, "opsdojo_reaper_duration_seconds", nil)
		if conns == 1 && reaps > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("terminal connections %v, reaper ticks %v", conns, reaps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	expect := func(name string, labels map[string]string, ok func(float64) bool, what string) {
		t.Helper()
		v, found := metricSum(fams, name, labels)
		if !found || !ok(v) {
			t.Errorf("%s%v = %v (found %v), want %s", name, labels, v, found, what)
		}
	}
	eq := func(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
	positive := func(v float64) bool { return v > 0 }
	expect("opsdojo_sessions", map[string]string{"lab": "git-basics", "state": "running"}, eq(1), "1")
	expect("opsdojo_session_start_duration_seconds", map[string]string{"lab": "git-basics", "result": "created"}, eq(1), "1 start")
	expect("opsdojo_check_duration_seconds", map[string]string{"kind": "exec", "result": "fail"}, positive, "the failed checks")
	expect("opsdojo_terminal_bytes_total", map[string]string{"direction": "output"}, positive, "> 0")
	expect("opsdojo_terminal_bytes_total", map[string]string{"direction": "input"}, func(v float64) bool { return v >= float64(len("echo metrics-$((6*7))\r")) }, "the typed line")
	expect("opsdojo_engine_up", nil, eq(1), "1")
	if v, _ := metricSum(fams, "opsdojo_engine_errors_total", nil); v != 0 {
		t.Errorf("engine errors: %v", v)
	}
	expect("opsdojo_build_info", nil, eq(1), "1")

	// Another start of the same lab returns the live session.
	alice.startLab("git-basics")
	_, fams = scrapeMetrics(t, srv.url+"/metrics", token)
	expect("opsdojo_session_start_duration_seconds", map[string]string{"lab": "git-basics", "result": "existing"}, eq(1), "1")

	// Ending it moves it from the live gauge to the ends counter.
	if status := alice.do("DELETE", "/api/v1/sessions/"+sess.ID, nil, nil); status != http.StatusOK && status != http.StatusNoContent {
		t.Fatalf("end session: %d", status)
	}
	_, fams = scrapeMetrics(t, metricsURL, token)
	if v, _ := metricSum(fams, "opsdojo_sessions", map[string]string{"lab": "git-basics"}); v != 0 {
		t.Errorf("live sessions after the end: %v", v)
	}
	expect("opsdojo_session_ends_total", map[string]string{"reason": "learner"}, eq(1), "1")
}

// Without --metrics-addr or --metrics-token there is no /metrics.
func TestOpsMetricsOffByDefault(t *testing.T) {
	srv := startServer(t, t.TempDir(), nil)
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the public address: %d, want 404", resp.StatusCode)
	}
}

// TestOpsBackupWhileBusy backs up a data dir while two learners run
// checks and type into recorded terminals, restores it into an empty
// folder, checks the database and serves it.
func TestOpsBackupWhileBusy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir, nil)
	var checks atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sessions []string
	for _, name := range []string{"alice", "bob"} {
		l := newLearner(t, srv, name)
		sess := l.startLab("git-basics")
		sessions = append(sessions, sess.ID)
		tm := l.terminal(sess.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tm.typeLine("seq 1 200")
				var c checkJSON
				if status := l.do("POST", "/api/v1/sessions/"+sess.ID+"/steps/init/check", nil, &c); status != http.StatusOK {
					t.Errorf("check: %d", status)
					return
				}
				checks.Add(1)
			}
		}()
	}
	t.Cleanup(func() {
		for _, id := range sessions {
			cleanupByLabel(t, sandbox.LabelSession+"="+id)
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for checks.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatal("the learners' checks did not run")
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := checks.Load()
	file := filepath.Join(t.TempDir(), "opsdojo.tar.gz")
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := backup.Create(ctx, dir, "test", f)
	f.Close()
	during := checks.Load() - before
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup while busy: %v", err)
	}
	t.Logf("backup: %d attempts in it, %d committed before it began, %d checks finished while it ran; %d files, %d bytes",
		sum.DB.Attempts, before, during, sum.Files, sum.Bytes)
	// Each check records one attempt; those finished before the backup
	// began are all in it.
	if int64(sum.DB.Attempts) < before {
		t.Fatalf("backup holds %d attempts, %d were committed before it began", sum.DB.Attempts, before)
	}
	if sum.DB.Users != 2 || sum.DB.Recordings < 2 {
		t.Fatalf("backup: %+v", sum.DB)
	}
	srv.stop()

	restored := filepath.Join(t.TempDir(), "restored")
	rf, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := backup.Restore(ctx, rf, restored, false)
	rf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got.DB != sum.DB {
		t.Fatalf("restored %+v, backed up %+v", got.DB, sum.DB)
	}
	st, err := store.Verify(ctx, filepath.Join(restored, backup.DBName))
	if err != nil || st != sum.DB {
		t.Fatalf("restored database: %+v, %v", st, err)
	}
	casts, _ := filepath.Glob(filepath.Join(restored, "recordings", "*", "*"))
	if len(casts) < 2 {
		t.Fatalf("restored recordings: %v", casts)
	}
	for _, c := range casts {
		if b, err := os.ReadFile(c); err != nil || !strings.Contains(string(b), `"version": 2`) && !strings.Contains(string(b), `"version":2`) {
			t.Errorf("recording %s: %.80q, %v", c, b, err)
		}
	}
	// A server on the restored data dir signs alice in with her password
	// and lists her recordings.
	srv2 := startServer(t, restored, nil)
	alice := login(t, srv2, "alice")
	var recs struct {
		Recordings []map[string]any `json:"recordings"`
	}
	if status := alice.do("GET", "/api/v1/recordings", nil, &recs); status != http.StatusOK || len(recs.Recordings) == 0 {
		t.Fatalf("recordings after restore: %d, %d", status, len(recs.Recordings))
	}
	// Restoring over it again is refused.
	rf, _ = os.Open(file)
	defer rf.Close()
	if _, err := backup.Restore(ctx, rf, restored, false); err == nil {
		t.Fatal("restore into a non-empty data dir was not refused")
	}
}

// TestOpsDoctor runs the doctor against this host's engine: the engine,
// seccomp and images are fine (TestMain built them); a lab whose files
// changed since its image was built is reported outdated.
func TestOpsDoctor(t *testing.T) {
	ctx := context.Background()
	labsDir := t.TempDir()
	if err := os.CopyFS(labsDir, os.DirFS(filepath.Join(repoRoot, "labs"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(labsDir, "git-basics", "image", "doctor-was-here"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, problems := labs.LoadAll(labsDir, grading.NewRunner(slog.New(slog.DiscardHandler)))
	if len(problems) > 0 {
		t.Fatal(problems.Error())
	}
	engine, err := sandbox.New(sandbox.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	host := doctor.RealHost{Engine: engine, Builder: images.New(engine.Client(), slog.New(slog.DiscardHandler)), Labs: list}
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	rs := doctor.Run(ctx, host, doctor.Config{DataDir: dataDir})
	var out strings.Builder
	doctor.Write(&out, rs)
	t.Logf("doctor:\n%s", out.String())
	v, err := docker.ServerVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]doctor.Status{}
	for _, r := range rs {
		key := r.Check
		if r.Check == "images" {
			key += " " + strings.SplitN(r.Detail, ":", 2)[0]
		}
		status[key] = r.Status
		if r.Check == "engine" && !strings.Contains(r.Detail, "Docker "+v.Version) {
			t.Errorf("engine line %q lacks the version %s", r.Detail, v.Version)
		}
	}
	want := map[string]doctor.Status{"engine": doctor.OK, "seccomp": doctor.OK, "cgroups": doctor.OK, "data dir": doctor.OK,
		"images lab git-basics": doctor.Warn, "images lab prometheus-alerting": doctor.OK}
	for k, s := range want {
		if status[k] != s {
			t.Errorf("%s: %q, want %s", k, status[k], s)
		}
	}
	for _, k := range []string{"build-limits", "disk-quota", "firewall", "disk (data dir)", "disk (engine root)"} {
		if status[k] == "" {
			t.Errorf("no %s line", k)
		}
	}
}
