package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opsdojo/opsdojo/internal/preview"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
	"github.com/opsdojo/opsdojo/internal/web"
)

// The engine serves the editor and the preview (session.WorkspaceBox).
var _ session.WorkspaceBox = (*sandbox.Engine)(nil)

// previewSetup builds the web preview (issue 11) when it is configured:
// its own listener (PreviewListener, else PreviewAddr), or, with only
// PreviewURL, host names that opsdojo's own listener hands to it. It
// returns a nil service when the preview is off.
func previewSetup(ctx context.Context, cfg Config, st *store.Store, mgr *session.Manager, public *url.URL, log *slog.Logger) (*preview.Service, net.Listener, error) {
	if cfg.PreviewURL == "" && cfg.PreviewAddr == "" && cfg.PreviewListener == nil {
		return nil, nil, nil
	}
	ln := cfg.PreviewListener
	if ln == nil && cfg.PreviewAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", cfg.PreviewAddr); err != nil {
			return nil, nil, fmt.Errorf("listen on the preview address %s: %w", cfg.PreviewAddr, err)
		}
	}
	closeLn := func() {
		if ln != nil && cfg.PreviewListener == nil {
			ln.Close()
		}
	}
	raw := cfg.PreviewURL
	if raw == "" {
		// A loopback listener gets *.localhost, which browsers resolve to
		// loopback by themselves; anything else needs a wildcard DNS name.
		host, port, _ := net.SplitHostPort(ln.Addr().String())
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			closeLn()
			return nil, nil, fmt.Errorf("--preview-addr %s is not a loopback address: set --preview-url to a wildcard origin such as https://*.preview.example.org", cfg.PreviewAddr)
		}
		raw = "http://*.localhost:" + port
	}
	u, err := preview.ParseURL(raw)
	if err != nil {
		closeLn()
		return nil, nil, err
	}
	if err := separateOrigin(u, public); err != nil {
		closeLn()
		return nil, nil, err
	}
	key, err := st.Secret(ctx, "preview-token")
	if err != nil {
		closeLn()
		return nil, nil, err
	}
	svc, err := preview.New(preview.Config{URL: u, Key: key}, web.PreviewAccess{Users: st, Sessions: mgr}, log)
	if err != nil {
		closeLn()
		return nil, nil, err
	}
	where := "opsdojo's own listener, by host name"
	if ln != nil {
		where = ln.Addr().String()
	}
	log.Info("web preview on", "url", u.String(), "listen", where)
	return svc, ln, nil
}

// separateOrigin refuses a preview domain that is opsdojo's own host or a
// parent of it: a learner's page there could set cookies opsdojo reads.
func separateOrigin(preview, public *url.URL) error {
	if public == nil {
		return nil
	}
	suffix := strings.ToLower(strings.TrimPrefix(preview.Hostname(), "*."))
	host := strings.ToLower(public.Hostname())
	if host == suffix || strings.HasSuffix(host, "."+suffix) {
		return fmt.Errorf("the preview domain *.%s contains opsdojo's own host %s: use a domain of its own, such as *.opsdojo-preview.example", suffix, host)
	}
	return nil
}

// withPreviewHosts sends requests for preview hosts to the preview and
// everything else to opsdojo (the preview without a listener of its own).
func withPreviewHosts(pv *preview.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pv.Matches(r.Host) {
			pv.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// previewServer serves the preview origin on its own listener.
func previewServer(pv *preview.Service, log *slog.Logger) *http.Server {
	return &http.Server{Handler: pv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}
