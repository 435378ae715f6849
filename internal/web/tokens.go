package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/board"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// TokenStore keeps instructors' API tokens (the SQLite store does).
type TokenStore interface {
	CreateAPIToken(ctx context.Context, t opsdojo.APIToken, hash string) (opsdojo.APIToken, error)
	APIToken(ctx context.Context, hash string) (opsdojo.APIToken, opsdojo.User, error)
	APITokens(ctx context.Context, userID int64) ([]opsdojo.APIToken, error)
	RevokeAPIToken(ctx context.Context, userID, id int64, at time.Time) (opsdojo.APIToken, error)
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error
}

// tokenPrefix marks opsdojo API tokens, so secret scanners and people can
// tell them apart from other strings.
const tokenPrefix = "odj_"

// maxTokenDays bounds a token's life: every token expires.
const maxTokenDays = 366

// staffAPI guards the instructor API routes that scripts may call. With an
// Authorization header the request is the token's and nothing else: the
// token must be valid, unexpired, unrevoked, carry scope, and its owner
// must still be an instructor or admin; the login cookie is ignored, and
// no CSRF token is asked (a browser never attaches an Authorization
// header by itself, and a cross-site page cannot add one without a CORS
// preflight this server never grants). Without the header it is the
// browser's login as everywhere else, with the CSRF token on anything but
// GET. Routes outside the instructor API never look at the header.
func (s *Server) staffAPI(scope opsdojo.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if h := c.Request().Header.Get("Authorization"); h != "" {
				if err := s.tokenUser(c, h, scope); err != nil {
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="opsdojo"`)
					return err
				}
				return next(c)
			}
			if _, ok := currentUser(c); !ok {
				return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "sign in first, or send Authorization: Bearer <API token>")
			}
			if m := c.Request().Method; m != http.MethodGet && m != http.MethodHead {
				want, got := csrfToken(c), c.Request().Header.Get("X-CSRF-Token")
				if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
					return opsdojo.Errorf(opsdojo.EFORBIDDEN, "missing or wrong X-CSRF-Token header")
				}
			}
			c.Set("via", "browser")
			return next(c)
		}
	}
}

func (s *Server) tokenUser(c echo.Context, header string, scope opsdojo.Scope) error {
	scheme, tok, ok := strings.Cut(header, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(tok, tokenPrefix) || len(tok) > 200 {
		return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "send Authorization: Bearer <API token>")
	}
	ctx := c.Request().Context()
	t, u, err := s.tokens.APIToken(ctx, auth.HashToken(tok))
	if err != nil {
		return err
	}
	now := time.Now()
	if !t.Usable(now) {
		return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "this API token is revoked or expired")
	}
	if !t.Has(scope) {
		return opsdojo.Errorf(opsdojo.EFORBIDDEN, "this API token lacks the %s scope", scope)
	}
	if staff, err := s.board.IsStaff(ctx, u); err != nil {
		return err
	} else if !staff {
		return opsdojo.Errorf(opsdojo.EFORBIDDEN, "the token's owner is no longer an instructor")
	}
	c.Set("user", u)
	c.Set("csrf", "")
	c.Set("login", "")
	c.Set("via", "token:"+strconv.FormatInt(t.ID, 10))
	if err := s.tokens.TouchAPIToken(ctx, t.ID, now); err != nil {
		s.log.Warn("record API token use", "token", t.ID, "err", err)
	}
	return nil
}

// actor is who calls a staffAPI route, and how.
func actor(c echo.Context) board.Actor {
	u, _ := currentUser(c)
	via, _ := c.Get("via").(string)
	return board.Actor{User: u, Via: via}
}

// staffUser returns the signed-in instructor or admin; anyone else gets
// a 404, as if the page did not exist.
func (s *Server) staffUser(c echo.Context) (opsdojo.User, error) {
	u, ok := currentUser(c)
	if !ok {
		return u, opsdojo.Errorf(opsdojo.ENOTFOUND, "there is no such page")
	}
	staff, err := s.board.IsStaff(c.Request().Context(), u)
	if err != nil {
		return u, err
	}
	if !staff {
		return u, opsdojo.Errorf(opsdojo.ENOTFOUND, "there is no such page")
	}
	return u, nil
}

type tokenRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// Days until it expires (1 to 366; default 30).
	Days int `json:"days"`
}

type tokenCreated struct {
	opsdojo.APIToken
	// Token is the secret, shown this once.
	Token string `json:"token"`
}

// createToken makes an API token for the signed-in instructor. Browser
// only (cookie + CSRF): a token cannot mint tokens.
func (s *Server) createToken(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 80 {
		return opsdojo.Errorf(opsdojo.EINVALID, "name the token (1 to 80 characters), e.g. what script uses it")
	}
	scopes, err := opsdojo.ParseScopes(req.Scopes)
	if err != nil {
		return err
	}
	if req.Days == 0 {
		req.Days = 30
	}
	if req.Days < 1 || req.Days > maxTokenDays {
		return opsdojo.Errorf(opsdojo.EINVALID, "a token lives 1 to %d days", maxTokenDays)
	}
	secret, err := auth.NewToken()
	if err != nil {
		return err
	}
	secret = tokenPrefix + secret
	now := time.Now().UTC()
	t, err := s.tokens.CreateAPIToken(c.Request().Context(), opsdojo.APIToken{UserID: u.ID, Name: req.Name, Prefix: secret[:len(tokenPrefix)+6],
		Scopes: scopes, CreatedAt: now, ExpiresAt: now.Add(time.Duration(req.Days) * 24 * time.Hour)}, auth.HashToken(secret))
	if err != nil {
		return err
	}
	s.board.Audit(c.Request().Context(), board.Actor{User: u, Via: "browser"}, opsdojo.AuditEntry{Action: opsdojo.AuditTokenCreate,
		Detail: "token " + strconv.FormatInt(t.ID, 10) + " " + strconv.Quote(t.Name) + " " + scopeList(t.Scopes) + ", expires " + t.ExpiresAt.Format(time.RFC3339)})
	return c.JSON(http.StatusCreated, tokenCreated{APIToken: t, Token: secret})
}

func scopeList(sc []opsdojo.Scope) string {
	names := make([]string, len(sc))
	for i, x := range sc {
		names[i] = string(x)
	}
	return strings.Join(names, ",")
}

func (s *Server) listTokens(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	list, err := s.tokens.APITokens(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": list})
}

// revokeToken revokes one of the caller's tokens at once.
func (s *Server) revokeToken(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such token")
	}
	t, err := s.tokens.RevokeAPIToken(c.Request().Context(), u.ID, id, time.Now().UTC())
	if err != nil {
		return err
	}
	s.board.Audit(c.Request().Context(), board.Actor{User: u, Via: "browser"}, opsdojo.AuditEntry{Action: opsdojo.AuditTokenRevoke,
		Detail: "token " + strconv.FormatInt(t.ID, 10) + " " + strconv.Quote(t.Name)})
	return c.JSON(http.StatusOK, t)
}

type tokensView struct {
	page
	Tokens []opsdojo.APIToken
	Scopes []opsdojo.Scope
}

func (s *Server) pageTokens(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	list, err := s.tokens.APITokens(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "tokens", &tokensView{page: page{Title: "API tokens"}, Tokens: list, Scopes: opsdojo.AllScopes})
}
