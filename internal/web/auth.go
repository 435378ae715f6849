package web

import (
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const cookieName = "opsdojo_login"

// authenticate loads the signed-in user, if any, for every request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(cookieName); err == nil && ck.Value != "" {
			user, csrf, err := s.users.Login(c.Request().Context(), auth.HashToken(ck.Value))
			if err == nil {
				c.Set("user", user)
				c.Set("csrf", csrf)
			} else if opsdojo.ErrorCode(err) != opsdojo.EUNAUTHORIZED {
				return err
			}
		}
		return next(c)
	}
}

func currentUser(c echo.Context) (opsdojo.User, bool) {
	u, ok := c.Get("user").(opsdojo.User)
	return u, ok
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get("csrf").(string)
	return t
}

// apiUser rejects API requests that are not signed in.
func (s *Server) apiUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := currentUser(c); !ok {
			return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "sign in first")
		}
		return next(c)
	}
}

// pageUser sends visitors who are not signed in to the sign-in page.
func (s *Server) pageUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := currentUser(c); !ok {
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.Path))
		}
		return next(c)
	}
}

// csrf requires the login's CSRF token on state-changing requests: a
// cookie alone, which a cross-site form would also send, is not enough.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		want := csrfToken(c)
		got := c.Request().Header.Get("X-CSRF-Token")
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return opsdojo.Errorf(opsdojo.EFORBIDDEN, "missing or wrong X-CSRF-Token header")
		}
		return next(c)
	}
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type authResponse struct {
	User      opsdojo.User `json:"user"`
	CSRFToken string       `json:"csrf_token"`
}

func decodeJSON(c echo.Context, v any) error {
	// JSON only: a cross-site HTML form cannot send this content type
	// without a CORS preflight, which this server never grants.
	if ct := c.Request().Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return opsdojo.Errorf(opsdojo.EINVALID, "send a JSON body with Content-Type: application/json")
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return opsdojo.Errorf(opsdojo.EINVALID, "malformed JSON body: %v", err)
	}
	return nil
}

func (s *Server) register(c echo.Context) error {
	if !s.cfg.Registration {
		return opsdojo.Errorf(opsdojo.EFORBIDDEN, "sign-up is closed on this server")
	}
	if !s.limiter.allow("register:" + clientIP(c)) {
		return opsdojo.Errorf(opsdojo.ETOOMANY, "too many attempts; wait a minute")
	}
	var cr credentials
	if err := decodeJSON(c, &cr); err != nil {
		return err
	}
	cr.Username = strings.TrimSpace(cr.Username)
	if err := auth.ValidateCredentials(cr.Username, cr.Password); err != nil {
		return err
	}
	hash, err := auth.HashPassword(cr.Password)
	if err != nil {
		return err
	}
	user, err := s.users.CreateUser(c.Request().Context(), cr.Username, hash, false)
	if err != nil {
		return err
	}
	s.log.Info("user registered", "user", user.ID, "username", user.Username)
	return s.startLogin(c, user, http.StatusCreated)
}

func (s *Server) login(c echo.Context) error {
	var cr credentials
	if err := decodeJSON(c, &cr); err != nil {
		return err
	}
	cr.Username = strings.TrimSpace(cr.Username)
	key := "login:" + clientIP(c) + ":" + strings.ToLower(cr.Username)
	if !s.limiter.allow(key) {
		return opsdojo.Errorf(opsdojo.ETOOMANY, "too many failed sign-ins; wait a minute")
	}
	user, hash, err := s.users.UserByUsername(c.Request().Context(), cr.Username)
	if err != nil && opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		return err
	}
	if err != nil || !auth.CheckPassword(hash, cr.Password) {
		return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "wrong username or password")
	}
	s.limiter.reset(key)
	return s.startLogin(c, user, http.StatusOK)
}

func (s *Server) startLogin(c echo.Context, user opsdojo.User, status int) error {
	token, err := auth.NewToken()
	if err != nil {
		return err
	}
	csrf, err := auth.NewToken()
	if err != nil {
		return err
	}
	expires := time.Now().Add(s.cfg.LoginTTL)
	if err := s.users.CreateLogin(c.Request().Context(), user.ID, auth.HashToken(token), csrf, expires); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name:     cookieName,
		Value:    token,
		Path:     "/",
		Expires:  expires,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		Secure:   s.secure(c),
	})
	return c.JSON(status, authResponse{User: user, CSRFToken: csrf})
}

func (s *Server) secure(c echo.Context) bool {
	if s.cfg.PublicURL != nil {
		return s.cfg.PublicURL.Scheme == "https"
	}
	return c.Request().TLS != nil
}

func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(cookieName); err == nil {
		if err := s.users.DeleteLogin(c.Request().Context(), auth.HashToken(ck.Value)); err != nil {
			return err
		}
	}
	c.SetCookie(&http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(c)})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c echo.Context) error {
	u, _ := currentUser(c)
	return c.JSON(http.StatusOK, authResponse{User: u, CSRFToken: csrfToken(c)})
}

// originAllowed refuses cross-site websocket upgrades: the cookie would be
// sent along, so without this any page could drive a learner's terminal.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser: browsers always send Origin on websockets
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if s.cfg.PublicURL != nil {
		return strings.EqualFold(u.Scheme, s.cfg.PublicURL.Scheme) && strings.EqualFold(u.Host, s.cfg.PublicURL.Host)
	}
	return strings.EqualFold(u.Host, r.Host)
}

func clientIP(c echo.Context) string {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

// limiter counts attempts per key in a fixed window.
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	hits   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newLimiter(max int, per time.Duration) *limiter {
	return &limiter{max: max, window: per, hits: map[string]*window{}}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.hits) > 10000 {
		for k, w := range l.hits {
			if now.Sub(w.start) > l.window {
				delete(l.hits, k)
			}
		}
	}
	w, ok := l.hits[key]
	if !ok || now.Sub(w.start) > l.window {
		w = &window{start: now}
		l.hits[key] = w
	}
	w.n++
	return w.n <= l.max
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	delete(l.hits, key)
	l.mu.Unlock()
}
