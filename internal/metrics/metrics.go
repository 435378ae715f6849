// Package metrics defines opsdojo's Prometheus collectors. There is no
// global registry: app builds one Metrics, passes it to the packages that
// observe, and serves its Registry on --metrics-addr or behind
// --metrics-token. A part that wants more series adds a field here and
// registers it in New, so every series is named in one place.
package metrics

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Metrics holds every collector opsdojo exports. A zero value is not
// usable: call New.
type Metrics struct {
	Registry *prometheus.Registry

	// StartDuration is the time Manager.Start took, by lab and result
	// (created: a new container; existing: the live one was returned;
	// error). A pool claim observes "created" with source=pool.
	StartDuration *prometheus.HistogramVec
	// PoolHits and PoolMisses count starts served from the warm pool and
	// starts that had to create a container, by lab.
	PoolHits   *prometheus.CounterVec
	PoolMisses *prometheus.CounterVec
	// PoolReady is the warm containers ready to claim, by lab.
	PoolReady *prometheus.GaugeVec
	// QueueLength is the learners waiting for admission.
	QueueLength prometheus.Gauge
	// CheckDuration is the time one check took, by kind and result.
	CheckDuration *prometheus.HistogramVec
	// TerminalConnections is the open terminal websockets, by role.
	TerminalConnections *prometheus.GaugeVec
	// TerminalBytes counts bytes between shells and the server, by
	// direction (output: from the shell; input: to it).
	TerminalBytes *prometheus.CounterVec
	// EngineErrors counts Docker engine calls that failed for a reason
	// other than an expected outcome (not found, conflict), by operation.
	EngineErrors *prometheus.CounterVec
	// ReaperDuration is the time one reaper tick took (reap expired
	// sessions, prune recordings).
	ReaperDuration prometheus.Histogram
	// ReaperLastRun is when the reaper last finished a tick (unix seconds).
	ReaperLastRun prometheus.Gauge
	// SessionEnds counts ended sessions, by reason (learner: they ended
	// it; expired, disk_quota, lost: the server did).
	SessionEnds *prometheus.CounterVec
	// BuildInfo is 1, labelled with the version, commit and Go version.
	BuildInfo *prometheus.GaugeVec
}

// Version names the running build for opsdojo_build_info.
type Version struct{ Version, Commit, GoVersion string }

// New returns the collectors, registered in a fresh registry together
// with the Go runtime and process collectors.
func New(v Version) *Metrics {
	startBuckets := []float64{0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		StartDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "opsdojo_session_start_duration_seconds", Help: "Time to start a lab session (container running, shell answering), by lab, result and source.",
			Buckets: startBuckets}, []string{"lab", "result", "source"}),
		PoolHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsdojo_pool_hits_total", Help: "Lab starts served by a warm pool container."}, []string{"lab"}),
		PoolMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsdojo_pool_misses_total", Help: "Lab starts that found no warm pool container and created one."}, []string{"lab"}),
		PoolReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opsdojo_pool_ready", Help: "Warm pool containers ready to claim."}, []string{"lab"}),
		QueueLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opsdojo_admission_queue_length", Help: "Lab starts waiting for admission."}),
		CheckDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "opsdojo_check_duration_seconds", Help: "Time one check took, by kind and result (pass, fail, error, skipped).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}}, []string{"kind", "result"}),
		TerminalConnections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opsdojo_terminal_connections", Help: "Open terminal websockets, by role (driver, viewer)."}, []string{"role"}),
		TerminalBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsdojo_terminal_bytes_total", Help: "Bytes between learners' shells and the server, by direction (output, input)."}, []string{"direction"}),
		EngineErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsdojo_engine_errors_total", Help: "Docker engine calls that failed unexpectedly, by operation."}, []string{"op"}),
		ReaperDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "opsdojo_reaper_duration_seconds", Help: "Time one reaper tick took (expire sessions, prune recordings).",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}),
		ReaperLastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opsdojo_reaper_last_run_timestamp_seconds", Help: "When the reaper last finished a tick."}),
		SessionEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opsdojo_session_ends_total", Help: "Ended lab sessions, by reason (learner, expired, disk_quota, lost)."}, []string{"reason"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opsdojo_build_info", Help: "The running build: always 1."}, []string{"version", "commit", "goversion"}),
	}
	m.Registry.MustRegister(m.collectors()...)
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.BuildInfo.WithLabelValues(v.Version, v.Commit, v.GoVersion).Set(1)
	// Series that alerts use exist from the start, so rate() and absent()
	// see zeros rather than nothing.
	for _, role := range []string{"driver", "viewer"} {
		m.TerminalConnections.WithLabelValues(role)
	}
	for _, d := range []string{"output", "input"} {
		m.TerminalBytes.WithLabelValues(d)
	}
	for _, r := range []string{"learner", "expired", "disk_quota", "lost"} {
		m.SessionEnds.WithLabelValues(r)
	}
	return m
}

// collectors lists opsdojo's own collectors; a new field goes here too.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.StartDuration, m.PoolHits, m.PoolMisses, m.PoolReady, m.QueueLength, m.CheckDuration,
		m.TerminalConnections, m.TerminalBytes, m.EngineErrors, m.ReaperDuration, m.ReaperLastRun, m.SessionEnds, m.BuildInfo}
}

// ObserveStart records one Start.
func (m *Metrics) ObserveStart(lab, result, source string, took time.Duration) {
	m.StartDuration.WithLabelValues(lab, result, source).Observe(took.Seconds())
}

// ObserveStep records the duration of each check of a step.
func (m *Metrics) ObserveStep(res opsdojo.StepResult) {
	for _, c := range res.Checks {
		m.CheckDuration.WithLabelValues(c.Kind, string(c.Status)).Observe(c.Duration.Seconds())
	}
}

// ObserveReaper records one reaper tick that ended at end.
func (m *Metrics) ObserveReaper(took time.Duration, end time.Time) {
	m.ReaperDuration.Observe(took.Seconds())
	m.ReaperLastRun.Set(float64(end.UnixNano()) / 1e9)
}

// EngineError counts err against op when it is an engine failure: the
// engine unreachable, timing out or answering with an error of its own.
// Expected answers (not found, conflict, refused input) are not failures.
func (m *Metrics) EngineError(op string, err error) {
	// A caller that went away is not the engine's fault.
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	switch opsdojo.ErrorCode(err) {
	case opsdojo.ENOTFOUND, opsdojo.ECONFLICT, opsdojo.EINVALID, opsdojo.ETOOMANY, opsdojo.EFORBIDDEN:
		return
	}
	m.EngineErrors.WithLabelValues(op).Inc()
}

// SessionCount is the number of sessions of one lab in one state.
type SessionCount struct {
	Lab, State string
	Count      int
}

// SessionCounter reads the sessions by lab and state at scrape time.
type SessionCounter func(ctx context.Context) ([]SessionCount, error)

// RegisterSessions exports opsdojo_sessions{lab,state}, the live sessions
// read from count at each scrape so it can never drift from the database.
func (m *Metrics) RegisterSessions(count SessionCounter, log *slog.Logger) {
	m.Registry.MustRegister(&sessionCollector{count: count, log: log,
		desc: prometheus.NewDesc("opsdojo_sessions", "Live lab sessions (starting, running) in the database, by lab and state.", []string{"lab", "state"}, nil)})
}

type sessionCollector struct {
	count SessionCounter
	log   *slog.Logger
	desc  *prometheus.Desc
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		// An invalid metric makes the scrape fail loudly instead of
		// reporting zero sessions.
		c.log.Warn("metrics: count sessions", "err", err)
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(s.Count), s.Lab, s.State)
	}
}

// RegisterEngine exports opsdojo_engine_up: 1 when ping succeeds at
// scrape time, else 0. A scrape is when someone is looking, and an idle
// server makes no engine calls that could fail and be counted.
func (m *Metrics) RegisterEngine(ping func(context.Context) error) {
	m.Registry.MustRegister(&engineCollector{ping: ping,
		desc: prometheus.NewDesc("opsdojo_engine_up", "1 when the Docker engine answered a ping during this scrape, else 0.", nil, nil)})
}

type engineCollector struct {
	ping func(context.Context) error
	desc *prometheus.Desc
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	up := 1.0
	if err := c.ping(ctx); err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, up)
}

// Handler serves the registry. A non-empty token is required as
// "Authorization: Bearer TOKEN"; anything else answers 401.
func (m *Metrics) Handler(token string, log *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.HTTPErrorOnError, MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="opsdojo metrics"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
