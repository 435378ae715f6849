package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/loginlimit"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

const cookieName = "opsdojo_login"

// deviceCookieName holds the device cookie (internal/auth/device.go);
// deviceCookieAge is how long a browser stays trusted after a sign-in.
const (
	deviceCookieName = "opsdojo_device"
	deviceCookieAge  = 90 * 24 * time.Hour
)

// authenticate loads the signed-in user, if any, for every request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ck, err := c.Cookie(cookieName); err == nil && ck.Value != "" {
			hash := auth.HashToken(ck.Value)
			user, csrf, err := s.users.Login(c.Request().Context(), hash)
			if err == nil {
				c.Set("user", user)
				c.Set("csrf", csrf)
				c.Set("login", hash)
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

// loginID is the signed-in login's token hash: the key its websockets
// are registered under.
func loginID(c echo.Context) string {
	h, _ := c.Get("login").(string)
	return h
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
	if ok, wait := s.registrations.Take(loginlimit.AddressKey(clientIP(c))); !ok {
		setRetryAfter(c, wait)
		return opsdojo.Errorf(opsdojo.ETOOMANY, "too many sign-ups from your network; try again in %s", humanWait(wait))
	}
	cr, hash, err := s.newCredentials(c)
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

// login checks a username and password. Attempts go through the sign-in
// limits (internal/loginlimit) first; an unknown username costs the same
// password check as a wrong password, so neither the answer nor its
// timing tells whether an account exists.
func (s *Server) login(c echo.Context) error {
	var cr credentials
	if err := decodeJSON(c, &cr); err != nil {
		return err
	}
	cr.Username = strings.TrimSpace(cr.Username)
	ip := clientIP(c)
	attempt, refusal := s.guard.Begin(ip, cr.Username, s.deviceNonce(c, cr.Username))
	if refusal != nil {
		// Debug: refusals cost an attacker nothing, so they are not bounded.
		s.log.Debug("sign-in refused by the limits", "reason", refusal.Reason, "ip", ip, "retry_after", refusal.RetryAfter)
		setRetryAfter(c, refusal.RetryAfter)
		return opsdojo.Errorf(opsdojo.ETOOMANY, "%s", refusalMessage(refusal))
	}
	user, ok, err := s.checkCredentials(c.Request().Context(), cr.Username, cr.Password)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Info("sign-in failed", "ip", ip, "trusted_device", attempt.Trusted())
		return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "wrong username or password")
	}
	if err := disabledRefusal(user); err != nil {
		return err
	}
	s.guard.Succeeded(attempt)
	return s.startLogin(c, user, http.StatusOK)
}

// checkCredentials does the same work whether or not the user exists:
// one lookup and one argon2id verification (against the dummy hash when
// there is no such user).
func (s *Server) checkCredentials(ctx context.Context, username, password string) (opsdojo.User, bool, error) {
	user, hash, err := s.users.UserByUsername(ctx, username)
	found := err == nil
	if err != nil && opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		return opsdojo.User{}, false, err
	}
	if !found {
		hash = s.dummyHash
	}
	var ok bool
	if err := s.hashing(ctx, func() { ok = s.passwords.Check(hash, password) }); err != nil {
		return opsdojo.User{}, false, err
	}
	return user, ok && found, nil
}

// hashing runs f (an argon2id hash or check, 19 MiB and tens of
// milliseconds each) when one of a few slots is free: a burst of sign-ins
// queues instead of taking memory without bound.
func (s *Server) hashing(ctx context.Context, f func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for a password check: %w", ctx.Err())
	}
	defer func() { <-s.hashSlots }()
	f()
	return nil
}

// deviceNonce returns the nonce of the request's device cookie when it is
// valid for username, else "".
func (s *Server) deviceNonce(c echo.Context, username string) string {
	ck, err := c.Cookie(deviceCookieName)
	if err != nil {
		return ""
	}
	nonce, ok := auth.VerifyDevice(s.deviceKey, ck.Value, username, time.Now(), deviceCookieAge)
	if !ok {
		return ""
	}
	return nonce
}

func refusalMessage(r *loginlimit.Refusal) string {
	wait := humanWait(r.RetryAfter)
	switch r.Reason {
	case loginlimit.ReasonAccount:
		return "too many failed sign-ins for this username; try again in " + wait
	case loginlimit.ReasonAddress:
		return "too many failed sign-ins from your network; try again in " + wait +
			" (a browser you have signed in with before can still sign in)"
	default:
		return "this server is seeing too many failed sign-ins; try again in " + wait
	}
}

// setRetryAfter sets Retry-After in whole seconds, rounded up.
func setRetryAfter(c echo.Context, d time.Duration) {
	c.Response().Header().Set("Retry-After", strconv.Itoa(retrySeconds(d)))
}

func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func humanWait(d time.Duration) string {
	n := retrySeconds(d)
	switch {
	case n == 1:
		return "1 second"
	case n < 120:
		return strconv.Itoa(n) + " seconds"
	default:
		return strconv.Itoa((n+59)/60) + " minutes"
	}
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
	// A fresh device cookie on every sign-in (a new nonce, so an old
	// cookie's spent budget does not follow it). Only the sign-in
	// endpoint ever sees it.
	if dev, err := auth.NewDeviceCookie(s.deviceKey, user.Username, time.Now()); err == nil {
		c.SetCookie(&http.Cookie{
			Name:     deviceCookieName,
			Value:    dev,
			Path:     "/api/v1/auth/login",
			MaxAge:   int(deviceCookieAge / time.Second),
			HttpOnly: true,
			SameSite: http.SameSiteStrictMode,
			Secure:   s.secure(c),
		})
	}
	return c.JSON(status, authResponse{User: user, CSRFToken: csrf})
}

func (s *Server) secure(c echo.Context) bool {
	if s.cfg.PublicURL != nil {
		return s.cfg.PublicURL.Scheme == "https"
	}
	return c.Request().TLS != nil
}

// logout ends the login and closes every websocket it opened. The row
// goes first: a socket registering meanwhile re-checks the row and finds
// it gone.
func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(cookieName); err == nil {
		hash := auth.HashToken(ck.Value)
		if err := s.users.DeleteLogin(c.Request().Context(), hash); err != nil {
			return err
		}
		s.sockets.close(hash, errSignedOut)
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

// clientIP is the address sign-in limits count by: the socket peer, or
// what a trusted proxy says (see ipExtractor).
func clientIP(c echo.Context) string { return c.RealIP() }

// safeNext returns raw when it is a path on this site, else "/". Browsers
// drop tabs and newlines from URLs and read "\\" as "/", so "/\t/evil" or
// "/\\evil" would leave the site as "//evil": anything unusual is refused
// outright, not cleaned up. The check runs on the value and once more on
// its percent-decoded form.
func safeNext(raw string) string {
	if !localPath(raw) {
		return "/"
	}
	dec, err := url.PathUnescape(raw)
	if err != nil || !localPath(dec) {
		return "/"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	return raw
}

// localPath: one leading "/" (not "//" or "/\\"), valid UTF-8, and no
// whitespace, control, format characters or backslashes anywhere.
func localPath(p string) bool {
	if p == "" || len(p) > 2048 || p[0] != '/' || !utf8.ValidString(p) {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for _, r := range p {
		if r <= ' ' || r == 0x7f || r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// newCredentials reads a sign-up's username and password, checks them and
// hashes the password (through the bounded hashing pool).
func (s *Server) newCredentials(c echo.Context) (credentials, string, error) {
	var cr credentials
	if err := decodeJSON(c, &cr); err != nil {
		return cr, "", err
	}
	cr.Username = strings.TrimSpace(cr.Username)
	if err := auth.ValidateCredentials(cr.Username, cr.Password); err != nil {
		return cr, "", err
	}
	var hash string
	var herr error
	if err := s.hashing(c.Request().Context(), func() { hash, herr = s.passwords.Hash(cr.Password) }); err != nil {
		return cr, "", err
	}
	return cr, hash, herr
}
