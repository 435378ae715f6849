package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

func scrape(t *testing.T, h http.Handler, auth string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return rec.Code, fams
}

// value returns the value of the series of name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
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
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

func TestMetricsExposition(t *testing.T) {
	m := New(Version{Version: "v1.2.3", Commit: "abc", GoVersion: "go1.26"})
	counts := []SessionCount{{"git-basics", "running", 3}, {"git-basics", "starting", 7}}
	m.RegisterSessions(func(context.Context) ([]SessionCount, error) { return counts, nil }, slog.New(slog.DiscardHandler))
	m.ObserveStart("git-basics", "created", "cold", 1500*time.Millisecond)
	m.ObserveStep(opsdojo.StepResult{Checks: []opsdojo.CheckResult{
		{Kind: "exec", Status: opsdojo.CheckStatus("pass"), Duration: 200 * time.Millisecond},
		{Kind: "exec", Status: opsdojo.CheckStatus("fail"), Duration: time.Second},
		{Kind: "exec", Status: opsdojo.CheckStatus("pass"), Duration: time.Second},
	}})
	m.ObserveReaper(30*time.Millisecond, time.Unix(1700000000, 0))
	m.EngineError("create", errors.New("engine said 500"))
	m.EngineError("create", opsdojo.Errorf(opsdojo.EUNAVAILABLE, "down"))
	m.EngineError("create", opsdojo.Errorf(opsdojo.ENOTFOUND, "gone"))
	m.EngineError("create", context.Canceled)
	m.EngineError("create", nil)
	m.TerminalBytes.WithLabelValues("output").Add(42)

	code, fams := scrape(t, m.Handler("", slog.New(slog.DiscardHandler)), "")
	if code != http.StatusOK {
		t.Fatalf("scrape answered %d", code)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"opsdojo_sessions", map[string]string{"lab": "git-basics", "state": "running"}, 3},
		{"opsdojo_sessions", map[string]string{"lab": "git-basics", "state": "starting"}, 7},
		{"opsdojo_session_start_duration_seconds", map[string]string{"lab": "git-basics", "result": "created", "source": "cold"}, 1},
		{"opsdojo_check_duration_seconds", map[string]string{"kind": "exec", "result": "pass"}, 2},
		{"opsdojo_check_duration_seconds", map[string]string{"kind": "exec", "result": "fail"}, 1},
		{"opsdojo_reaper_duration_seconds", nil, 1},
		{"opsdojo_reaper_last_run_timestamp_seconds", nil, 1700000000},
		{"opsdojo_engine_errors_total", map[string]string{"op": "create"}, 2},
		{"opsdojo_terminal_bytes_total", map[string]string{"direction": "output"}, 42},
		{"opsdojo_terminal_bytes_total", map[string]string{"direction": "input"}, 0},
		{"opsdojo_session_ends_total", map[string]string{"reason": "disk_quota"}, 0},
		{"opsdojo_build_info", map[string]string{"version": "v1.2.3", "commit": "abc"}, 1},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

func TestMetricsTokenRequired(t *testing.T) {
	m := New(Version{})
	h := m.Handler("s3cret-token", slog.New(slog.DiscardHandler))
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret-tokenX", "s3cret-token", "Basic czNjcmV0LXRva2Vu"} {
		if code, _ := scrape(t, h, auth); code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d, want 401", auth, code)
		}
	}
	if code, fams := scrape(t, h, "Bearer s3cret-token"); code != http.StatusOK || fams["opsdojo_build_info"] == nil {
		t.Fatalf("with the token: %d", code)
	}
}

// A database error fails the scrape (Prometheus then sees up == 0) rather
// than reporting no sessions.
func TestMetricsSessionCountErrorFailsScrape(t *testing.T) {
	m := New(Version{})
	m.RegisterSessions(func(context.Context) ([]SessionCount, error) { return nil, errors.New("database is locked") },
		slog.New(slog.DiscardHandler))
	if code, _ := scrape(t, m.Handler("", slog.New(slog.DiscardHandler)), ""); code != http.StatusInternalServerError {
		t.Fatalf("scrape answered %d, want 500", code)
	}
}

func TestMetricsEngineUp(t *testing.T) {
	m := New(Version{})
	var down bool
	m.RegisterEngine(func(context.Context) error {
		if down {
			return errors.New("connection refused")
		}
		return nil
	})
	h := m.Handler("", slog.New(slog.DiscardHandler))
	for _, d := range []bool{false, true, false} {
		down = d
		_, fams := scrape(t, h, "")
		want := 1.0
		if d {
			want = 0
		}
		if got := value(t, fams, "opsdojo_engine_up", nil); got != want {
			t.Fatalf("engine down=%v: opsdojo_engine_up = %v", d, got)
		}
	}
}
