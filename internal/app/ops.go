package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/opsdojo/opsdojo/internal/metrics"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/store"
)

// newMetrics builds the collectors and their scrape-time reads.
func newMetrics(cfg Config, st *store.Store, engine *sandbox.Engine, log *slog.Logger) *metrics.Metrics {
	mx := metrics.New(cfg.Version)
	mx.RegisterEngine(engine.Ping)
	mx.RegisterSessions(func(ctx context.Context) ([]metrics.SessionCount, error) {
		counts, err := st.SessionCounts(ctx)
		out := make([]metrics.SessionCount, len(counts))
		for i, c := range counts {
			out[i] = metrics.SessionCount{Lab: c.Lab, State: c.State, Count: c.Count}
		}
		return out, err
	}, log)
	return mx
}

// withMetricsRoute serves /metrics on the public handler only when a token
// guards it; otherwise the public address does not know the path.
func withMetricsRoute(public http.Handler, mx *metrics.Metrics, token string, log *slog.Logger) http.Handler {
	if token == "" {
		return public
	}
	guarded := mx.Handler(token, log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			guarded.ServeHTTP(w, r)
			return
		}
		public.ServeHTTP(w, r)
	})
}

// serveMetrics serves /metrics alone on its own listener (cfg.MetricsAddr
// or cfg.MetricsListener) until ctx ends; nothing when neither is set.
func serveMetrics(ctx context.Context, cfg Config, mx *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	ln := cfg.MetricsListener
	if ln == nil {
		if cfg.MetricsAddr == "" {
			return func() {}, nil
		}
		if ln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("metrics listen on %s: %w", cfg.MetricsAddr, err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", mx.Handler(cfg.MetricsToken, log))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics serving", "addr", ln.Addr().String(), "token", cfg.MetricsToken != "")
	return func() {
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shut)
		<-done
	}, nil
}
