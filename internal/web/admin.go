package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/board"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	assets "github.com/opsdojo/opsdojo/web"
)

// pager is a page's data: the layout's fields (page) and the page's own.
type pager interface{ base() *page }

func (p *page) base() *page { return p }

// loadTerminalPages parses the pages of issue 4 into s.pages.
func (s *Server) loadTerminalPages() error {
	for _, name := range []string{"admin", "watch", "recordings", "recording"} {
		t, err := template.ParseFS(assets.Templates(), "layout.html", name+".html")
		if err != nil {
			return fmt.Errorf("parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// renderPage is render for pages with data of their own.
func (s *Server) renderPage(c echo.Context, status int, name string, data pager) error {
	if !assets.BundleBuilt() {
		return c.HTMLBlob(http.StatusServiceUnavailable, s.nobundle)
	}
	p := data.base()
	if u, ok := currentUser(c); ok {
		p.User = &u
		p.CSRF = csrfToken(c)
	}
	p.Registration = s.cfg.Registration
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// admin returns the signed-in admin; anyone else gets a 404, as if the
// page did not exist.
func admin(c echo.Context) (opsdojo.User, error) {
	u, ok := currentUser(c)
	if !ok || !u.IsAdmin {
		return u, opsdojo.Errorf(opsdojo.ENOTFOUND, "there is no such page")
	}
	return u, nil
}

type adminView struct {
	page
	Sessions any
}

// pageAdmin lists the live lab sessions and their terminals.
func (s *Server) pageAdmin(c echo.Context) error {
	u, err := admin(c)
	if err != nil {
		return err
	}
	list, err := s.sessions.LiveSessions(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "admin", &adminView{page: page{Title: "Admin"}, Sessions: list})
}

type watchView struct {
	page
	Session, Tab string
}

// pageWatch shows a learner's terminal read-only, to admins and to the
// instructors of the learner's cohorts; opening it is audited.
func (s *Server) pageWatch(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	id, tab := c.Param("session"), c.Param("tab")
	if err := s.board.Watch(c.Request().Context(), board.Actor{User: u, Via: "browser"}, id, tab); err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "watch", &watchView{page: page{Title: "Watching " + tab}, Session: id, Tab: tab})
}
