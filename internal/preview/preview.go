// Package preview serves a learner's web service (a port of their lab
// container) to a browser, from an origin of its own: one host per session
// and port under a preview domain (`<session>-<port>.preview.example`), on
// its own listen address or host names. A learner's page therefore never
// runs on opsdojo's origin and never sees opsdojo's cookies, and one
// learner's page is not same-origin with another's.
//
// Access: opsdojo's origin signs a short-lived, single-use token for a
// signed-in user who may see the session (its learner, or an admin); the
// preview origin exchanges it for a cookie of its own host, tied to that
// sign-in, and checks on every request (cached for a few seconds) that the
// sign-in is still valid and may still see the session. Cookies whose name
// starts with opsdojo_ are stripped from what reaches the learner's service,
// and the service may not set them.
//
// A preview shows either a port of the session's own container or, with
// ContainerAccess, a port of a container the learner started with their
// docker CLI (container.go: `<session>-<port>--<name>` hosts).
package preview

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// CookieName is the preview origin's own cookie.
const CookieName = "opsdojo_preview"

// ExchangePath is where a token is exchanged for the cookie.
const ExchangePath = "/__opsdojo/preview"

// reservedPrefix: cookies of opsdojo, never forwarded to or set by a
// learner's service.
const reservedPrefix = "opsdojo_"

// Access decides who may see a session's port and where it is.
type Access interface {
	// Target returns the address of port in the session's container when
	// the sign-in (the hash of its login token) may see the session;
	// ENOTFOUND or EUNAUTHORIZED otherwise.
	Target(ctx context.Context, loginHash, sessionID string, port uint16) (netip.AddrPort, error)
}

// Config sets up the preview origin.
type Config struct {
	// URL is the preview origin pattern: scheme and a host whose first
	// label is "*", e.g. http://*.localhost:8081 or
	// https://*.preview.example.org. "*" becomes "<session>-<port>".
	URL *url.URL
	// Key signs tokens and cookies.
	Key []byte
	// TokenTTL is how long a link from opsdojo's page may wait to be
	// opened (default 60 s); CookieTTL how long a preview stays signed in
	// (default 12 h, and never longer than the sign-in behind it).
	TokenTTL, CookieTTL time.Duration
	// CacheTTL is how long an access decision is reused (default 5 s).
	CacheTTL time.Duration
}

// Service is the preview origin's HTTP handler and opsdojo's link maker.
type Service struct {
	cfg    Config
	suffix string // host after "*."
	access Access
	// containers previews learners' docker containers; nil: not offered.
	containers ContainerAccess
	log        *slog.Logger
	proxy      *httputil.ReverseProxy
	now        func() time.Time

	mu    sync.Mutex
	used  map[string]time.Time // token nonces spent, until they expire
	cache map[string]cached
}

type cached struct {
	addr  netip.AddrPort
	err   error
	until time.Time
}

// ParseURL checks a preview origin pattern.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasPrefix(u.Host, "*.") || len(u.Host) < 3 ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("preview URL %q must look like https://*.preview.example.org (a wildcard host: one origin per session and port)", raw)
	}
	return u, nil
}

// New returns the service.
func New(cfg Config, access Access, log *slog.Logger) (*Service, error) {
	if cfg.URL == nil {
		return nil, errors.New("preview: no URL pattern")
	}
	if len(cfg.Key) < 16 {
		return nil, errors.New("preview: the signing key is too short")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Minute
	}
	if cfg.CookieTTL <= 0 {
		cfg.CookieTTL = 12 * time.Hour
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Second
	}
	s := &Service{cfg: cfg, suffix: strings.ToLower(hostOnly(cfg.URL.Host[2:])), access: access, log: log,
		now: time.Now, used: map[string]time.Time{}, cache: map[string]cached{}}
	s.containers, _ = access.(ContainerAccess)
	s.proxy = &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		ModifyResponse: modifyResponse,
		ErrorHandler:   s.proxyError,
		Transport: &http.Transport{
			// Never an environment proxy: the learner's container is
			// reached directly on its session network.
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
		},
	}
	return s, nil
}

// hostOnly drops a port from host.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// Origin returns the preview origin of a session's port.
func (s *Service) Origin(sessionID string, port uint16) string {
	o, _ := s.TargetOrigin(Target{Session: sessionID, Port: port})
	return o
}

// Matches reports whether host is a preview host (for servers that take
// preview requests on opsdojo's own listener by host name).
func (s *Service) Matches(host string) bool {
	_, ok := s.parseHost(host)
	return ok
}

// parseHost reads "<session>-<port>.<suffix>", or
// "<session>-<port>--<container>.<suffix>" (container.go).
func (s *Service) parseHost(host string) (Target, bool) {
	h := strings.ToLower(hostOnly(host))
	lbl, ok := strings.CutSuffix(h, "."+s.suffix)
	if !ok || strings.Contains(lbl, ".") {
		return Target{}, false
	}
	var t Target
	if i := strings.Index(lbl, containerSep); i >= 0 {
		if t.Container, ok = decodeContainer(lbl[i+len(containerSep):]); !ok {
			return Target{}, false
		}
		lbl = lbl[:i]
	}
	i := strings.LastIndexByte(lbl, '-')
	if i <= 0 {
		return Target{}, false
	}
	port, err := strconv.ParseUint(lbl[i+1:], 10, 16)
	if err != nil || port == 0 || strconv.FormatUint(port, 10) != lbl[i+1:] {
		return Target{}, false
	}
	t.Session, t.Port = lbl[:i], uint16(port)
	return t, true
}

// claims are what tokens and cookies carry.
type claims struct {
	Kind    string `json:"k"` // "t": token, "c": cookie
	Session string `json:"s"`
	Port    uint16 `json:"p"`
	// Container is the learner's docker container the claims are for;
	// "" is the session's own container.
	Container string `json:"d,omitempty"`
	Login     string `json:"l"`
	Expires   int64  `json:"e"`
	Nonce     string `json:"n,omitempty"`
}

func (s *Service) sign(c claims) string {
	b, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Service) verify(v, kind string) (claims, bool) {
	var c claims
	if len(v) > 1024 {
		return c, false
	}
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return c, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return c, false
	}
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte(p))
	if !hmac.Equal(got, m.Sum(nil)) {
		return c, false
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, false
	}
	if c.Kind != kind || s.now().Unix() >= c.Expires {
		return c, false
	}
	return c, true
}

// Link returns the URL that opens path of a session's port in the preview
// origin, for the sign-in whose token hash is loginHash (the caller has
// checked that it may see the session).
func (s *Service) Link(sessionID string, port uint16, loginHash, path string) (string, error) {
	return s.link(Target{Session: sessionID, Port: port}, loginHash, path)
}

func (s *Service) link(t Target, loginHash, path string) (string, error) {
	origin, err := s.TargetOrigin(t)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("preview token: %w", err)
	}
	tok := s.sign(claims{Kind: "t", Session: t.Session, Port: t.Port, Container: t.Container, Login: loginHash,
		Expires: s.now().Add(s.cfg.TokenTTL).Unix(), Nonce: hex.EncodeToString(nonce)})
	q := url.Values{"token": {tok}, "next": {localPath(path)}}
	return origin + ExchangePath + "?" + q.Encode(), nil
}

// localPath keeps a path on the preview host: one leading "/", no "//",
// no backslash or control characters; anything else is "/".
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || len(p) > 2048 {
		return "/"
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	return p
}

type ctxKey struct{}

// ServeHTTP serves the preview origin.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, ok := s.parseHost(r.Host)
	if !ok {
		plain(w, http.StatusNotFound, "This is opsdojo's web preview. Open a preview from your lab page.")
		return
	}
	sessionID := t.Session
	if r.URL.Path == ExchangePath {
		s.exchange(w, r, t)
		return
	}
	ck, err := r.Cookie(CookieName)
	if err != nil {
		plain(w, http.StatusForbidden, "Open this preview from your lab page in opsdojo: the link there signs you in to it.")
		return
	}
	c, ok := s.verify(ck.Value, "c")
	if !ok || c.target() != t {
		plain(w, http.StatusForbidden, "This preview's sign-in expired or is for another preview. Open it again from your lab page in opsdojo.")
		return
	}
	addr, err := s.target(r.Context(), c.Login, t)
	if err != nil {
		switch opsdojo.ErrorCode(err) {
		case opsdojo.ENOTFOUND, opsdojo.EUNAUTHORIZED:
			if t.Container != "" {
				plain(w, http.StatusNotFound, noContainer(t))
				return
			}
			plain(w, http.StatusNotFound, "There is no such preview, or you are signed out of opsdojo.")
		case opsdojo.ECONFLICT:
			plain(w, http.StatusConflict, "This lab session is not running. Start the lab again in opsdojo.")
		default:
			s.log.Warn("preview: access check failed", "session", sessionID, "err", err)
			plain(w, http.StatusServiceUnavailable, "The preview is not available right now; try again shortly.")
		}
		return
	}
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, addr)))
}

// exchange turns a token from opsdojo's page into this host's cookie and
// sends the browser on to the page the link named, without the token.
func (s *Service) exchange(w http.ResponseWriter, r *http.Request, t Target) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	c, ok := s.verify(r.URL.Query().Get("token"), "t")
	if !ok || c.target() != t || !s.spend(c.Nonce, time.Unix(c.Expires, 0)) {
		plain(w, http.StatusForbidden, "This preview link expired or was used already. Open the preview again from your lab page in opsdojo.")
		return
	}
	exp := s.now().Add(s.cfg.CookieTTL)
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    s.sign(claims{Kind: "c", Session: t.Session, Port: t.Port, Container: t.Container, Login: c.Login, Expires: exp.Unix()}),
		Path:     "/",
		Expires:  exp,
		HttpOnly: true,
		Secure:   s.cfg.URL.Scheme == "https",
		SameSite: http.SameSiteLaxMode,
	})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// spend marks a token's nonce used; false when it was used before.
func (s *Service) spend(nonce string, until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for n, t := range s.used {
		if now.After(t) {
			delete(s.used, n)
		}
	}
	if nonce == "" {
		return false
	}
	if _, ok := s.used[nonce]; ok {
		return false
	}
	s.used[nonce] = until
	return true
}

// target asks Access, reusing a decision for CacheTTL.
func (s *Service) target(ctx context.Context, login string, t Target) (netip.AddrPort, error) {
	key := login + "/" + t.Session + "/" + strconv.Itoa(int(t.Port)) + "/" + t.Container
	now := s.now()
	s.mu.Lock()
	if c, ok := s.cache[key]; ok && now.Before(c.until) {
		s.mu.Unlock()
		return c.addr, c.err
	}
	s.mu.Unlock()
	addr, err := s.lookup(ctx, login, t)
	if err != nil && ctx.Err() != nil {
		return addr, err // the request went away: nothing to remember
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		s.cache = map[string]cached{}
	}
	s.cache[key] = cached{addr: addr, err: err, until: now.Add(s.cfg.CacheTTL)}
	s.mu.Unlock()
	return addr, err
}

func (s *Service) rewrite(pr *httputil.ProxyRequest) {
	addr, _ := pr.In.Context().Value(ctxKey{}).(netip.AddrPort)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = addr.String()
	// The learner's service sees the host the browser asked for, so
	// absolute links it makes point back at the preview.
	pr.Out.Host = pr.In.Host
	pr.SetXForwarded()
	stripCookies(pr.Out.Header)
}

// stripCookies removes opsdojo's cookies (the preview cookie; and the
// sign-in cookie, which browsers send to every port of opsdojo's host)
// from a request to a learner's service.
func stripCookies(h http.Header) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var keep []string
	for _, line := range lines {
		for _, part := range strings.Split(line, ";") {
			part = strings.TrimSpace(part)
			name, _, _ := strings.Cut(part, "=")
			if part == "" || strings.HasPrefix(strings.ToLower(strings.TrimSpace(name)), reservedPrefix) {
				continue
			}
			keep = append(keep, part)
		}
	}
	h.Del("Cookie")
	if len(keep) > 0 {
		h.Set("Cookie", strings.Join(keep, "; "))
	}
}

// modifyResponse drops cookies a learner's service may not set: opsdojo's
// names, and any cookie with a Domain attribute (which would reach other
// hosts under the preview domain, or a parent domain).
func modifyResponse(resp *http.Response) error {
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) == 0 {
		return nil
	}
	var keep []string
	for _, line := range lines {
		c, err := http.ParseSetCookie(line)
		if err != nil || strings.HasPrefix(strings.ToLower(c.Name), reservedPrefix) || c.Domain != "" {
			continue
		}
		keep = append(keep, line)
	}
	resp.Header.Del("Set-Cookie")
	for _, l := range keep {
		resp.Header.Add("Set-Cookie", l)
	}
	return nil
}

func (s *Service) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	t, _ := s.parseHost(r.Host)
	port := t.Port
	if r.Context().Err() == nil {
		s.log.Debug("preview: the learner's service did not answer", "host", r.Host, "err", err)
	}
	where := "your lab container"
	if t.Container != "" {
		where = fmt.Sprintf("your container %q", t.Container)
	}
	plain(w, http.StatusBadGateway, fmt.Sprintf("Nothing answers on port %d in %s. Start your service there, listening on 0.0.0.0 (not 127.0.0.1) port %d, and reload this page.", port, where, port))
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}
