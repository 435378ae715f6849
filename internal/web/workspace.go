package web

import (
	"context"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/grading"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
	"github.com/opsdojo/opsdojo/internal/session"
)

// Previewer makes links into the web preview origin (internal/preview).
type Previewer interface {
	Link(sessionID string, port uint16, loginHash, path string) (string, error)
}

// Linter lints editor buffers (grading.Linter).
type Linter interface {
	Lint(ctx context.Context, name string, src []byte) (grading.LintResult, error)
}

// editorBodyLimit fits a 1 MiB file as a JSON string, escapes included.
const editorBodyLimit = 6*sandbox.EditorMaxFile + 4096

// workspaceRoutes registers the editor pane's API and the preview links
// (issue 11). They are outside the /api/v1 group: its 64 KiB body limit
// is too small for a file.
func (s *Server) workspaceRoutes(e *echo.Echo) {
	e.GET("/api/v1/sessions/:id/files", s.listFiles, s.apiUser)
	e.GET("/api/v1/sessions/:id/file", s.openFile, s.apiUser)
	e.PUT("/api/v1/sessions/:id/file", s.saveFile, limitBody(editorBodyLimit), s.apiUser, s.csrf)
	e.POST("/api/v1/lint", s.lint, limitBody(editorBodyLimit), s.apiUser, s.csrf)
	e.GET("/labs/:lab/preview/:port", s.previewLab, s.pageUser)
	e.GET("/labs/:lab/preview/:port/*", s.previewLab, s.pageUser)
	e.GET("/sessions/:id/preview/:port", s.previewSession, s.pageUser)
	e.GET("/sessions/:id/preview/:port/*", s.previewSession, s.pageUser)
}

func (s *Server) listFiles(c echo.Context) error {
	u, _ := currentUser(c)
	l, err := s.sessions.ListFiles(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, l)
}

func (s *Server) openFile(c echo.Context) error {
	u, _ := currentUser(c)
	f, err := s.sessions.OpenFile(c.Request().Context(), u, c.Param("id"), c.QueryParam("path"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, f)
}

type saveBody struct {
	Path       string `json:"path"`
	Content    string `json:"content"`
	BaseSHA256 string `json:"base_sha256"`
	Overwrite  bool   `json:"overwrite"`
}

func (s *Server) saveFile(c echo.Context) error {
	u, _ := currentUser(c)
	var b saveBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	f, err := s.sessions.SaveFile(c.Request().Context(), u, c.Param("id"), sandbox.SaveRequest{
		Path: b.Path, Content: []byte(b.Content), BaseSHA256: b.BaseSHA256, Overwrite: b.Overwrite})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

type lintBody struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

func (s *Server) lint(c echo.Context) error {
	if s.cfg.Linter == nil {
		return opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the editor's lint is not available on this server")
	}
	u, _ := currentUser(c)
	var b lintBody
	if err := decodeJSON(c, &b); err != nil {
		return err
	}
	name, err := grading.CleanPath(b.Path)
	if err != nil {
		return opsdojo.Errorf(opsdojo.EINVALID, "path: %v", err)
	}
	key := strconv.FormatInt(u.ID, 10)
	if _, busy := s.lintBusy.LoadOrStore(key, true); busy {
		return opsdojo.Errorf(opsdojo.ETOOMANY, "a lint of yours is still running; try again in a moment")
	}
	defer s.lintBusy.Delete(key)
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	res, err := s.cfg.Linter.Lint(ctx, name, []byte(b.Content))
	if err != nil {
		if opsdojo.ErrorCode(err) == opsdojo.EINVALID {
			return err
		}
		s.log.Warn("lint failed", "user", u.ID, "path", name, "err", err)
		return opsdojo.WrapError(opsdojo.EUNAVAILABLE, err, "the lint could not run just now; Check still grades your file")
	}
	return c.JSON(http.StatusOK, res)
}

// previewPort reads the :port and the rest of the path of a preview link.
func previewPort(c echo.Context) (uint16, string, error) {
	p, err := strconv.ParseUint(c.Param("port"), 10, 16)
	if err != nil || p == 0 {
		return 0, "", opsdojo.Errorf(opsdojo.EINVALID, "the port must be a number between 1 and 65535")
	}
	rest := "/" + strings.TrimPrefix(c.Param("*"), "/")
	if q := c.Request().URL.RawQuery; q != "" {
		rest += "?" + q
	}
	return uint16(p), rest, nil
}

// previewLab opens a port of the learner's running session of a lab: the
// target of `[text](preview:8080/path)` links in lab instructions.
func (s *Server) previewLab(c echo.Context) error {
	u, _ := currentUser(c)
	sess, err := s.sessions.LiveSessionFor(c.Request().Context(), u, c.Param("lab"))
	if err != nil {
		if opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND {
			return opsdojo.Errorf(opsdojo.ENOTFOUND, "start the lab first: the preview shows a port of your lab container")
		}
		return err
	}
	return s.previewRedirect(c, sess.ID)
}

// previewSession opens a port of a session its learner (or an admin) may see.
func (s *Server) previewSession(c echo.Context) error {
	return s.previewRedirect(c, c.Param("id"))
}

func (s *Server) previewRedirect(c echo.Context, sessionID string) error {
	if s.cfg.Preview == nil {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "the web preview is not enabled on this server (see --preview-addr and --preview-url)")
	}
	u, _ := currentUser(c)
	port, rest, err := previewPort(c)
	if err != nil {
		return err
	}
	if _, err := s.sessions.PreviewAddr(c.Request().Context(), u, sessionID, port); err != nil {
		return err
	}
	link, err := s.cfg.Preview.Link(sessionID, port, loginID(c), rest)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, link)
}

// PreviewAccess answers the preview origin's question on every request
// (cached there for seconds): may this sign-in still see the session, and
// where is its container?
type PreviewAccess struct {
	Users    Users
	Sessions *session.Manager
}

// Target implements preview.Access.
func (a PreviewAccess) Target(ctx context.Context, loginHash, sessionID string, port uint16) (netip.AddrPort, error) {
	user, _, err := a.Users.Login(ctx, loginHash)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return a.Sessions.PreviewAddr(ctx, user, sessionID, port)
}

// previewLinkRE matches `](preview:PORT)` and `](preview:PORT/path)` in
// lab markdown.
var previewLinkRE = regexp.MustCompile(`\]\(preview:([0-9]{1,5})(/[^)\s]*)?\)`)

// previewLinks turns `[open the app](preview:8080/healthz)` into a link to
// /labs/LAB/preview/8080/healthz, which opens the learner's own session's
// port; the page styles such links as buttons.
func previewLinks(labID, src string) string {
	return previewLinkRE.ReplaceAllString(src, "](/labs/"+labID+"/preview/$1$2)")
}
