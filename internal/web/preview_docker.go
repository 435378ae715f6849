package web

import (
	"context"
	"net/http"
	"net/netip"
	"regexp"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/sandbox"
)

// ContainerPreviewer makes links into the web preview for a container the
// learner started with their docker CLI (preview.Service).
type ContainerPreviewer interface {
	LinkContainer(sessionID, container string, port uint16, loginHash, path string) (string, error)
}

// previewDockerRoutes registers the preview of learners' docker
// containers (issue 11): the links, and the list the preview form offers.
func (s *Server) previewDockerRoutes(e *echo.Echo, api *echo.Group) {
	api.GET("/sessions/:id/preview/containers", s.previewContainers, s.apiUser)
	e.GET("/labs/:lab/docker-preview/:container/:port", s.previewLabContainer, s.pageUser)
	e.GET("/labs/:lab/docker-preview/:container/:port/*", s.previewLabContainer, s.pageUser)
	e.GET("/sessions/:id/docker-preview/:container/:port", s.previewSessionContainer, s.pageUser)
	e.GET("/sessions/:id/docker-preview/:container/:port/*", s.previewSessionContainer, s.pageUser)
}

// previewContainers lists the session's running containers that its
// learner started with the docker CLI (and the ports their images expose).
func (s *Server) previewContainers(c echo.Context) error {
	u, _ := currentUser(c)
	list, err := s.sessions.PreviewContainers(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	if list == nil {
		list = []sandbox.CLIContainer{}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"containers": list})
}

// previewLabContainer: `[text](preview:web:8080/path)` in lab markdown.
func (s *Server) previewLabContainer(c echo.Context) error {
	u, _ := currentUser(c)
	sess, err := s.sessions.LiveSessionFor(c.Request().Context(), u, c.Param("lab"))
	if err != nil {
		if opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND {
			return opsdojo.Errorf(opsdojo.ENOTFOUND, "start the lab first: the preview shows a container you started in your lab session")
		}
		return err
	}
	return s.previewContainerRedirect(c, sess.ID)
}

func (s *Server) previewSessionContainer(c echo.Context) error {
	return s.previewContainerRedirect(c, c.Param("id"))
}

// previewContainerRedirect checks that the caller may see the running
// session, not that the container runs now: the preview origin itself
// says so (404) until the learner starts it, and reloading then works.
func (s *Server) previewContainerRedirect(c echo.Context, sessionID string) error {
	pv, ok := s.cfg.Preview.(ContainerPreviewer)
	if s.cfg.Preview == nil || !ok {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "the web preview is not enabled on this server (see --preview-addr and --preview-url)")
	}
	u, _ := currentUser(c)
	port, rest, err := previewPort(c)
	if err != nil {
		return err
	}
	if _, err := s.sessions.PreviewSession(c.Request().Context(), u, sessionID); err != nil {
		return err
	}
	link, err := pv.LinkContainer(sessionID, c.Param("container"), port, loginID(c), rest)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusSeeOther, link)
}

// ContainerTarget implements preview.ContainerAccess: the sign-in must
// still see the session, and the name must resolve among the session's
// learner's own running CLI containers.
func (a PreviewAccess) ContainerTarget(ctx context.Context, loginHash, sessionID, container string, port uint16) (netip.AddrPort, error) {
	user, _, err := a.Users.Login(ctx, loginHash)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return a.Sessions.PreviewContainerAddr(ctx, user, sessionID, container, port)
}

// previewContainerLinkRE matches `](preview:NAME:PORT)` and
// `](preview:NAME:PORT/path)` in lab markdown: NAME is a container the
// learner starts with their docker CLI.
var previewContainerLinkRE = regexp.MustCompile(`\]\(preview:([a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}):([0-9]{1,5})(/[^)\s]*)?\)`)

// previewContainerLinks turns `[open it](preview:web:8080/healthz)` into a
// link to /labs/LAB/docker-preview/web/8080/healthz.
func previewContainerLinks(labID, src string) string {
	return previewContainerLinkRE.ReplaceAllString(src, "](/labs/"+labID+"/docker-preview/$1/$2$3)")
}
