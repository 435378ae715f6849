package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/terminal"
)

// terminalRoutes registers the terminal tabs, recordings and admin pages
// (issue 4) and loads their templates.
func (s *Server) terminalRoutes(e *echo.Echo, api *echo.Group) {
	api.GET("/sessions/:id/terminals", s.listTerminals, s.apiUser)
	api.DELETE("/sessions/:id/terminals/:tab", s.closeTerminal, s.apiUser, s.csrf)
	api.GET("/recordings", s.listRecordings, s.apiUser)
	api.GET("/recordings/:id", s.downloadRecording, s.apiUser)
	e.GET("/recordings", s.pageRecordings, s.pageUser)
	e.GET("/recordings/:id", s.pageRecording, s.pageUser)
	// Not behind pageUser: everyone but an admin gets a plain 404.
	e.GET("/admin", s.pageAdmin)
	e.GET("/admin/watch/:session/:tab", s.pageWatch)
	if err := s.loadTerminalPages(); err != nil {
		panic(err) // the templates are embedded: a parse error is a bug
	}
}

// wsWriteBuffers lends terminal websockets a write buffer only while they
// write, so idle connections hold none.
var wsWriteBuffers sync.Pool

// terminal upgrades to a websocket attached to a terminal of the session:
// ?tab=NAME (default main), ?watch=1 for a read-only view, ?cols=&rows=
// for the window size. Everything that can fail is checked before the
// upgrade so the client gets a proper status code.
func (s *Server) terminal(c echo.Context) error {
	u, _ := currentUser(c)
	r := c.Request()
	if !s.originAllowed(r) {
		return opsdojo.Errorf(opsdojo.EFORBIDDEN, "cross-origin terminal connections are refused")
	}
	cols, _ := strconv.ParseUint(c.QueryParam("cols"), 10, 16)
	rows, _ := strconv.ParseUint(c.QueryParam("rows"), 10, 16)
	if cols == 0 || rows == 0 || cols > 1000 || rows > 1000 {
		cols, rows = 0, 0
	}
	watch := c.QueryParam("watch") == "1"
	staff := false
	if watch && !u.IsAdmin {
		// An instructor of the learner's cohort may watch too.
		if ok, err := s.board.MayWatch(r.Context(), u, c.Param("id")); err == nil && ok {
			staff = true
		}
	}
	sess, term, err := s.sessions.OpenTerminal(r.Context(), u, c.Param("id"), session.TerminalRequest{
		Tab: c.QueryParam("tab"), Watch: watch, Cols: uint(cols), Rows: uint(rows), Staff: staff})
	if err != nil {
		return err
	}
	// The socket lives only as long as the login that opened it: logout
	// and the periodic re-check close it through this registration. A
	// logout that ran between authenticate and here deleted the row
	// first, so looking again closes that gap.
	login := loginID(c)
	ctx, remove := s.sockets.add(s.wsCtx, login)
	valid, err := s.users.ValidLogins(r.Context(), []string{login})
	if err != nil {
		remove()
		return err
	}
	expires, ok := valid[login]
	if !ok {
		remove()
		return opsdojo.Errorf(opsdojo.EUNAUTHORIZED, "sign in first")
	}
	s.sockets.expireAt(login, expires)
	up := s.upgrader
	// Small buffers: client frames are small but for pastes, which are
	// read past the buffer anyway; idle connections hold no write buffer.
	up.ReadBufferSize = 512
	up.WriteBufferPool = &wsWriteBuffers
	conn, err := up.Upgrade(c.Response(), r, nil)
	if err != nil {
		remove()
		return nil // the upgrader has written the error response
	}
	opts := terminal.ServeOptions{Role: terminal.Driver, Cols: uint(cols), Rows: uint(rows)}
	if watch {
		opts.Role = terminal.Viewer
	} else {
		opts.OnActivity = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.sessions.Touch(ctx, sess)
		}
	}
	log := s.log.With("session", sess.ID, "user", u.ID, "tab", term.Tab(), "role", opts.Role)
	log.Info("terminal connected")
	// The connection is the terminal package's now. Serving it from a
	// goroutine of its own lets this handler's (deep, grown) stack and the
	// request go: an idle connection costs little.
	s.wsWG.Add(1)
	go func() {
		defer s.wsWG.Done()
		defer remove()
		conns := s.cfg.Metrics.TerminalConnections.WithLabelValues(string(opts.Role))
		conns.Inc()
		defer conns.Dec()
		err := term.Serve(ctx, conn, opts)
		log.Info("terminal disconnected", "err", err, "cause", context.Cause(ctx))
	}()
	return nil
}

// listTerminals returns the session's open terminals.
func (s *Server) listTerminals(c echo.Context) error {
	u, _ := currentUser(c)
	list, err := s.sessions.Terminals(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"terminals": list})
}

// closeTerminal hangs up one terminal of the learner's session.
func (s *Server) closeTerminal(c echo.Context) error {
	u, _ := currentUser(c)
	if err := s.sessions.CloseTerminal(c.Request().Context(), u, c.Param("id"), c.Param("tab")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
