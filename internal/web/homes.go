package web

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// homeRoutes registers the saved-home status and downloads (issue 9).
// Only the learner (or an admin) gets a home; anyone else gets 404.
func (s *Server) homeRoutes(api *echo.Group) {
	api.GET("/labs/:lab/home", s.homeStatus, s.apiUser)
	api.GET("/labs/:lab/home.tar.gz", s.downloadSavedHome, s.apiUser)
	api.GET("/sessions/:id/home.tar.gz", s.downloadLiveHome, s.apiUser)
	api.GET("/admin/homes", s.homesUsage, s.apiUser)
}

// homeStatus: the caller's saved home of a lab, the last save attempt
// when it did not save, and (?session=ID) how that session restored it.
func (s *Server) homeStatus(c echo.Context) error {
	u, _ := currentUser(c)
	st, err := s.sessions.HomeStatus(c.Request().Context(), u, c.Param("lab"), c.QueryParam("session"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}

// downloadSavedHome sends the caller's saved home of a lab; admins may
// name another learner with ?user=NAME.
func (s *Server) downloadSavedHome(c echo.Context) error {
	u, _ := currentUser(c)
	f, saved, err := s.sessions.SavedHome(c.Request().Context(), u, c.Param("lab"), c.QueryParam("user"))
	if err != nil {
		return err
	}
	defer f.Close()
	name := fmt.Sprintf("%s-home-%s.tar.gz", saved.LabID, saved.At.Format("20060102-150405"))
	return sendHome(c, f, name)
}

// downloadLiveHome sends a snapshot of a running session's home folder.
func (s *Server) downloadLiveHome(c echo.Context) error {
	u, _ := currentUser(c)
	f, sess, err := s.sessions.HomeSnapshot(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	defer f.Close()
	return sendHome(c, f, fmt.Sprintf("%s-home-live.tar.gz", sess.LabID))
}

func sendHome(c echo.Context, f *os.File, name string) error {
	h := c.Response().Header()
	h.Set("Content-Type", "application/gzip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	h.Set("Cache-Control", "no-store")
	if st, err := f.Stat(); err == nil {
		h.Set("Content-Length", fmt.Sprint(st.Size()))
	}
	c.Response().WriteHeader(http.StatusOK)
	_, err := io.Copy(c.Response(), f)
	return err
}

// homesUsage: what saved homes hold on disk. Admins only.
func (s *Server) homesUsage(c echo.Context) error {
	u, _ := currentUser(c)
	if !u.IsAdmin {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "not found")
	}
	n, b, err := s.sessions.HomesUsage(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"homes": n, "bytes": b})
}
