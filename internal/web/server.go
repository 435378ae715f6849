// Package web is opsdojo's HTTP layer: the JSON API, the server-rendered
// pages and the terminal websocket endpoint. Handlers are thin; the work is
// done by the session manager and the store.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/loginlimit"
	"github.com/opsdojo/opsdojo/internal/markdown"
	"github.com/opsdojo/opsdojo/internal/metrics"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/session"
	assets "github.com/opsdojo/opsdojo/web"
)

// Users is what the web layer needs from the store.
type Users interface {
	CreateUser(ctx context.Context, username, passwordHash string, admin bool) (opsdojo.User, error)
	UserByUsername(ctx context.Context, username string) (opsdojo.User, string, error)
	CreateLogin(ctx context.Context, userID int64, tokenHash, csrf string, expires time.Time) error
	Login(ctx context.Context, tokenHash string) (opsdojo.User, string, error)
	DeleteLogin(ctx context.Context, tokenHash string) error
	ValidLogins(ctx context.Context, tokenHashes []string) (map[string]time.Time, error)
	Ping(ctx context.Context) error
}

// Passwords hashes and checks passwords (auth.Passwords; tests count
// verifications through it).
type Passwords interface {
	Hash(password string) (string, error)
	Check(encoded, password string) bool
}

// Pinger reports whether the Docker engine answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config holds the server's settings.
type Config struct {
	// PublicURL is where browsers reach the server: it decides the allowed
	// websocket Origin and whether cookies are Secure. Nil: same-origin.
	PublicURL *url.URL
	// Registration lets anyone create an account.
	Registration bool
	// LoginTTL is how long a sign-in lasts.
	LoginTTL time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For /
	// X-Real-IP is believed; none: the socket peer is the client.
	TrustedProxies []netip.Prefix
	// DeviceKey signs device cookies (store.Secret keeps it across
	// restarts); nil: a random key for this process.
	DeviceKey []byte
	// LoginRecheck is how often open terminal websockets are re-checked
	// against their login (default 10 s).
	LoginRecheck time.Duration
	// Limits tunes the sign-in limits; zero fields take the defaults.
	Limits loginlimit.Config
	// Preview makes web preview links; nil: no preview (issue 11).
	Preview Previewer
	// Linter lints editor buffers; nil: no lint as you type (issue 11).
	Linter Linter
	// Metrics receives the web layer's observations (terminal
	// connections); nil: collectors nobody serves.
	Metrics *metrics.Metrics
	// Cohorts serves roles, cohorts, invites and "my labs" (roles.go);
	// nil: those routes do not exist.
	Cohorts CohortStore
	// WarmSeats keeps cohorts' warm seats (cohortpool.go); nil: none.
	WarmSeats WarmSeats
}

// Server serves HTTP.
type Server struct {
	cfg      Config
	users    Users
	sessions *session.Manager
	engine   Pinger
	log      *slog.Logger
	echo     *echo.Echo
	pages    map[string]*template.Template
	nobundle []byte
	views    map[string]*labView
	upgrader websocket.Upgrader

	passwords     Passwords
	dummyHash     string // checked for unknown usernames
	guard         *loginlimit.Guard
	registrations *loginlimit.Buckets
	deviceKey     []byte
	sockets       *loginSockets
	hashSlots     chan struct{} // bounds concurrent argon2id work
	lintBusy      sync.Map      // users with an editor lint running (workspace.go)

	// Websockets outlive their request; this context ends them on shutdown.
	wsCtx    context.Context
	wsCancel context.CancelFunc
	wsWG     sync.WaitGroup

	instructor // instructor.go: boards, exports, tokens, audit
}

// New builds the server and renders every lab's instructions once.
func New(cfg Config, users Users, sessions *session.Manager, engine Pinger, log *slog.Logger) (*Server, error) {
	if cfg.LoginTTL <= 0 {
		cfg.LoginTTL = 14 * 24 * time.Hour
	}
	if cfg.LoginRecheck <= 0 {
		cfg.LoginRecheck = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(metrics.Version{})
	}
	s := &Server{cfg: cfg, users: users, sessions: sessions, engine: engine, log: log,
		passwords: auth.Passwords{}, guard: loginlimit.New(cfg.Limits), sockets: newLoginSockets(), deviceKey: cfg.DeviceKey,
		// Sign-ups count every attempt: ten a minute per address.
		registrations: loginlimit.NewBuckets(loginlimit.Budget{Burst: 10, Every: 6 * time.Second}, 20000, nil),
		hashSlots:     make(chan struct{}, max(2, runtime.NumCPU()))}
	dummy, err := auth.NewDummyHash()
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	if len(s.deviceKey) == 0 {
		if s.deviceKey, err = auth.NewDeviceKey(); err != nil {
			return nil, err
		}
	}
	s.wsCtx, s.wsCancel = context.WithCancel(context.Background())
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  32 << 10,
		WriteBufferSize: 32 << 10,
		CheckOrigin:     s.originAllowed,
	}
	if err := s.loadTemplates(); err != nil {
		return nil, err
	}
	if err := s.renderLabs(sessions.Labs()); err != nil {
		return nil, err
	}
	if err := s.setupInstructor(); err != nil {
		return nil, err
	}
	s.routes()
	s.wsWG.Add(1)
	go func() { defer s.wsWG.Done(); s.sockets.watch(s.wsCtx, cfg.LoginRecheck, users, log) }()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// CloseWebsockets closes every terminal websocket with "going away" and
// waits for their bridges to finish. Containers keep running.
func (s *Server) CloseWebsockets(ctx context.Context) error {
	s.wsCancel()
	done := make(chan struct{})
	go func() { s.wsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) loadTemplates() error {
	tfs := assets.Templates()
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"login", "signup", "labs", "lab", "message"} {
		t, err := template.ParseFS(tfs, "layout.html", name+".html")
		if err != nil {
			return fmt.Errorf("parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	b, err := fs.ReadFile(tfs, "nobundle.html")
	if err != nil {
		return fmt.Errorf("read nobundle page: %w", err)
	}
	s.nobundle = b
	return nil
}

type labView struct {
	ID, Title, Summary, Difficulty string
	Minutes                        int
	Steps                          []stepView
	Passed                         int
	Score, MaxScore                float64
	// Recorded: the lab's terminals are recorded (the page says so).
	Recorded bool
	// Preview: the server has a web preview (the editor bar offers it).
	Preview bool
	// HintsUsed counts the hints the learner asked for (hints.go).
	HintsUsed int
}

type stepView struct {
	Number       int
	ID, Title    string
	Instructions template.HTML
	// Hints holds every hint; Shown how many the learner has asked for.
	Hints  []template.HTML
	Shown  []template.HTML
	Left   int
	Passed bool
}

func (s *Server) renderLabs(catalog *labs.Catalog) error {
	md := markdown.New()
	s.views = map[string]*labView{}
	for _, l := range catalog.All() {
		v := &labView{ID: l.ID, Title: l.Title, Summary: l.Summary, Difficulty: l.Difficulty, Minutes: l.Minutes}
		for i, st := range l.Steps {
			html, err := md.Render(previewContainerLinks(l.ID, previewLinks(l.ID, dropTitle(st.Instructions))))
			if err != nil {
				return fmt.Errorf("lab %s step %s: %w", l.ID, st.ID, err)
			}
			sv := stepView{Number: i + 1, ID: st.ID, Title: st.Title, Instructions: html}
			for _, h := range st.Hints {
				hh, err := md.Render(previewContainerLinks(l.ID, previewLinks(l.ID, h)))
				if err != nil {
					return fmt.Errorf("lab %s step %s hint: %w", l.ID, st.ID, err)
				}
				sv.Hints = append(sv.Hints, hh)
			}

			v.Steps = append(v.Steps, sv)
		}
		s.views[l.ID] = v
	}
	return nil
}

func (s *Server) routes() {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	e.Use(s.recoverer, s.securityHeaders, s.authenticate)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", s.static)
	e.GET("/favicon.ico", s.favicon)

	e.GET("/", s.pageHome)
	e.GET("/login", s.pageLogin)
	e.GET("/signup", s.pageSignup)
	e.GET("/labs", s.pageCatalog, s.pageUser)
	e.GET("/labs/:lab", s.pageLab, s.pageUser)

	api := e.Group("/api/v1", limitBody(64<<10))
	api.POST("/auth/register", s.register)
	api.POST("/auth/login", s.login)
	api.POST("/auth/logout", s.logout, s.apiUser, s.csrf)
	api.GET("/auth/me", s.me, s.apiUser)
	api.GET("/labs", s.listLabs)
	api.POST("/labs/:lab/session", s.startSession, s.apiUser, s.csrf)
	api.GET("/sessions/:id", s.getSession, s.apiUser)
	api.DELETE("/sessions/:id", s.endSession, s.apiUser, s.csrf)
	api.POST("/sessions/:id/steps/:step/check", s.check, s.apiUser, s.csrf)
	api.GET("/sessions/:id/steps/:step/progress", s.checkProgress, s.apiUser)
	api.POST("/labs/:lab/steps/:step/hints", s.revealHint, s.apiUser, s.csrf)
	api.POST("/labs/:lab/steps/:step/checks/:check/hint", s.revealCheckHint, s.apiUser, s.csrf)
	api.GET("/sessions/:id/terminal", s.terminal, s.apiUser)
	s.terminalRoutes(e, api)   // terminal.go: tabs, recordings, admin and watching
	s.cohortRoutes(e, api)     // roles.go: users, cohorts, invites, my labs
	s.cohortPoolRoutes(api)    // cohortpool.go: a cohort's warm seats
	s.instructorRoutes(e, api) // instructor.go: boards, exports, actions, tokens, audit
	s.homeRoutes(api)          // homes.go: saved homes and their downloads
	s.workspaceRoutes(e)       // workspace.go: the editor pane and the web preview
	// preview_docker.go: the learner's docker containers in the web preview
	s.previewDockerRoutes(e, api)
	s.echo = e
}

// handleError writes errors as JSON under /api and as a page elsewhere.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := http.StatusInternalServerError, opsdojo.EINTERNAL, "internal error"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status = he.Code
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		msg = fmt.Sprint(he.Message)
		if status == http.StatusRequestEntityTooLarge {
			code, msg = opsdojo.EINVALID, "the request body is too large"
		}
	default:
		code = opsdojo.ErrorCode(err)
		msg = opsdojo.ErrorMessage(err)
		status = statusOf(code)
	}
	if status >= 500 && code != opsdojo.EUNAVAILABLE {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	} else if status >= 500 {
		s.log.Warn("engine unavailable", "path", c.Request().URL.Path, "err", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") || c.Request().URL.Path == "/readyz" {
		_ = c.JSON(status, errorBody{Error: errorDetail{Code: code, Message: msg}})
		return
	}
	_ = s.render(c, status, "message", page{Title: http.StatusText(status), MessageTitle: http.StatusText(status), Message: msg})
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func statusOf(code string) int {
	switch code {
	case opsdojo.ENOTFOUND:
		return http.StatusNotFound
	case opsdojo.EINVALID:
		return http.StatusBadRequest
	case opsdojo.ECONFLICT:
		return http.StatusConflict
	case opsdojo.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case opsdojo.EFORBIDDEN:
		return http.StatusForbidden
	case opsdojo.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case opsdojo.ETOOMANY:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", "path", c.Request().URL.Path, "panic", p)
				err = opsdojo.Errorf(opsdojo.EINTERNAL, "internal error")
			}
		}()
		return next(c)
	}
}

func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		return next(c)
	}
}

func limitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return opsdojo.Errorf(opsdojo.EINVALID, "the request body is too large")
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "docker": "ok"}
	ready := true
	if err := s.users.Ping(ctx); err != nil {
		checks["database"], ready = err.Error(), false
	}
	if err := s.engine.Ping(ctx); err != nil {
		checks["docker"], ready = opsdojo.ErrorMessage(err), false
	}
	if !ready {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": checks,
			"error": errorDetail{Code: opsdojo.EUNAVAILABLE, Message: "not ready: see checks"}})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": checks})
}

func (s *Server) static(c echo.Context) error {
	name := strings.TrimPrefix(c.Param("*"), "/")
	f, err := fs.ReadFile(assets.Static(), name)
	if err != nil {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such file")
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".map"):
		ct = "application/json"
	case strings.HasSuffix(name, ".svg"):
		ct = "image/svg+xml"
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, ct, f)
}

// dropTitle removes a leading "# heading" from step instructions: the page
// already shows the step's title from lab.yaml above them.
func dropTitle(src string) string {
	trimmed := strings.TrimLeft(src, "\n\r\t ")
	if !strings.HasPrefix(trimmed, "# ") {
		return src
	}
	if i := strings.IndexByte(trimmed, '\n'); i >= 0 {
		return trimmed[i+1:]
	}
	return ""
}
