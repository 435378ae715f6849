package web

import (
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// listRecordings returns the caller's recordings; admins get everyone's,
// or one user's with ?user=NAME.
func (s *Server) listRecordings(c echo.Context) error {
	u, _ := currentUser(c)
	list, err := s.sessions.Recordings(c.Request().Context(), u, c.QueryParam("user"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"recordings": list})
}

// downloadRecording sends an asciicast file to its owner or an admin.
func (s *Server) downloadRecording(c echo.Context) error {
	u, _ := currentUser(c)
	rec, err := s.sessions.Recording(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	f, err := os.Open(rec.Path)
	if err != nil {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "the recording's file is gone")
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("Content-Type", "application/x-asciicast")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%s.cast"`, rec.LabID, rec.Tab, rec.ID))
	h.Set("Cache-Control", "no-store") // a live terminal's recording grows
	c.Response().WriteHeader(http.StatusOK)
	_, err = io.Copy(c.Response(), f)
	return err
}

type recordingsView struct {
	page
	Recordings any
	Recording  any
	Player     playerView
}

type playerView struct {
	Src, Title string
}

func (s *Server) pageRecordings(c echo.Context) error {
	u, _ := currentUser(c)
	list, err := s.sessions.Recordings(c.Request().Context(), u, c.QueryParam("user"))
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "recordings", &recordingsView{page: page{Title: "Recordings"}, Recordings: list})
}

func (s *Server) pageRecording(c echo.Context) error {
	u, _ := currentUser(c)
	rec, err := s.sessions.Recording(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s · %s · %s · %s", rec.LabID, rec.Tab, rec.Username, rec.StartedAt.Format("2006-01-02 15:04 MST"))
	return s.renderPage(c, http.StatusOK, "recording", &recordingsView{page: page{Title: "Recording"}, Recording: rec,
		Player: playerView{Src: "/api/v1/recordings/" + rec.ID, Title: title}})
}
