package web

import (
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	assets "github.com/opsdojo/opsdojo/web"
)

// favicon answers browsers that ask for /favicon.ico before (or without)
// reading the page's <link rel="icon">: the same embedded SVG.
func (s *Server) favicon(c echo.Context) error {
	b, err := fs.ReadFile(assets.Static(), "favicon.svg")
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	c.Response().Header().Set("Cache-Control", "max-age=86400")
	return c.Blob(http.StatusOK, "image/svg+xml", b)
}
