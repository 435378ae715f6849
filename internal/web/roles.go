package web

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/auth"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	assets "github.com/opsdojo/opsdojo/web"
)

// CohortStore is what the roles, cohorts and "my labs" pages need from
// the store (the SQLite store has it all).
type CohortStore interface {
	ListUsers(ctx context.Context) ([]opsdojo.User, error)
	UserByID(ctx context.Context, id int64) (opsdojo.User, error)
	SetUserRole(ctx context.Context, userID int64, role opsdojo.Role) error
	ResetUserPassword(ctx context.Context, userID int64, passwordHash string) ([]string, error)
	DisableUser(ctx context.Context, userID int64, at time.Time) ([]string, error)
	EnableUser(ctx context.Context, userID int64) error

	CreateCohort(ctx context.Context, c opsdojo.Cohort) (opsdojo.Cohort, error)
	UpdateCohort(ctx context.Context, c opsdojo.Cohort) error
	Cohort(ctx context.Context, id int64) (opsdojo.Cohort, error)
	AllCohorts(ctx context.Context) ([]opsdojo.Cohort, error)
	CohortsOwnedBy(ctx context.Context, userID int64) ([]opsdojo.Cohort, error)
	CohortsOfMember(ctx context.Context, userID int64) ([]opsdojo.Cohort, error)
	CohortMembers(ctx context.Context, cohortID int64) ([]opsdojo.CohortMember, error)
	RemoveCohortMember(ctx context.Context, cohortID, userID int64) error
	SetCohortInvite(ctx context.Context, cohortID int64, tokenHash string, expires time.Time) error
	RevokeCohortInvite(ctx context.Context, cohortID int64) error
	CohortByInvite(ctx context.Context, tokenHash string, now time.Time) (opsdojo.Cohort, error)
	JoinCohort(ctx context.Context, tokenHash string, userID int64, now time.Time) (opsdojo.Cohort, error)
	CreateUserWithInvite(ctx context.Context, tokenHash, username, passwordHash string, now time.Time) (opsdojo.User, opsdojo.Cohort, error)
}

// cohortRoutes registers the pages and API of roles, cohorts, invites and
// "my labs" (issue 8). Every route states who may use it; the others get
// a 404, as if it did not exist.
func (s *Server) cohortRoutes(e *echo.Echo, api *echo.Group) {
	if s.cfg.Cohorts == nil {
		return
	}
	for _, name := range []string{"users", "cohorts", "cohort", "join"} {
		t, err := template.ParseFS(assets.Templates(), "layout.html", name+".html")
		if err != nil {
			panic(err) // the templates are embedded: a parse error is a bug
		}
		s.pages[name] = t
	}
	admins := s.requireRole(opsdojo.RoleAdmin)
	teachers := s.requireRole(opsdojo.RoleAdmin, opsdojo.RoleInstructor)

	e.GET("/admin/users", s.pageUsers, admins)
	api.POST("/admin/users/:id/role", s.setRole, admins, s.csrf)
	api.POST("/admin/users/:id/password", s.resetPassword, admins, s.csrf)
	api.POST("/admin/users/:id/disable", s.disableUser, admins, s.csrf)
	api.POST("/admin/users/:id/enable", s.enableUser, admins, s.csrf)

	e.GET("/cohorts", s.pageCohorts, teachers)
	e.GET("/cohorts/:id", s.pageCohort, teachers)
	api.GET("/cohorts", s.listCohorts, teachers)
	api.POST("/cohorts", s.createCohort, teachers, s.csrf)
	api.PUT("/cohorts/:id", s.updateCohort, teachers, s.csrf)
	api.GET("/cohorts/:id/members", s.cohortMembers, teachers)
	api.DELETE("/cohorts/:id/members/:user", s.removeCohortMember, teachers, s.csrf)
	api.POST("/cohorts/:id/invite", s.newInvite, teachers, s.csrf)
	api.DELETE("/cohorts/:id/invite", s.revokeInvite, teachers, s.csrf)

	e.GET("/join/:token", s.pageJoin)
	api.POST("/join/:token", s.joinCohort, s.apiUser, s.csrf)
	api.POST("/auth/register-invite/:token", s.registerWithInvite)

	api.GET("/me/sessions", s.mySessions, s.apiUser)
	api.GET("/me/cohorts", s.myCohorts, s.apiUser)
	api.POST("/sessions/:id/restart", s.restartSession, s.apiUser, s.csrf)
}

// requireRole lets through only signed-in users with one of roles;
// everyone else gets a 404, pages and API alike, so the routes' existence
// tells nothing.
func (s *Server) requireRole(roles ...opsdojo.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u, ok := currentUser(c)
			if ok {
				for _, r := range roles {
					if u.Role == r {
						return next(c)
					}
				}
			}
			return opsdojo.Errorf(opsdojo.ENOTFOUND, "there is no such page")
		}
	}
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, opsdojo.Errorf(opsdojo.ENOTFOUND, "there is no such page")
	}
	return id, nil
}

type usersView struct {
	page
	Users []opsdojo.User
	Roles []opsdojo.Role
}

func (s *Server) pageUsers(c echo.Context) error {
	list, err := s.cfg.Cohorts.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "users", &usersView{page: page{Title: "Users"}, Users: list, Roles: opsdojo.Roles})
}

// targetUser reads the user an admin acts on.
func (s *Server) targetUser(c echo.Context) (opsdojo.User, error) {
	id, err := pathID(c)
	if err != nil {
		return opsdojo.User{}, err
	}
	return s.cfg.Cohorts.UserByID(c.Request().Context(), id)
}

func (s *Server) setRole(c echo.Context) error {
	var body struct {
		Role string `json:"role"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	role, err := opsdojo.ParseRole(body.Role)
	if err != nil {
		return err
	}
	target, err := s.targetUser(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Cohorts.SetUserRole(c.Request().Context(), target.ID, role); err != nil {
		return err
	}
	me, _ := currentUser(c)
	s.log.Info("role changed", "by", me.ID, "user", target.ID, "from", target.Role, "to", role)
	return c.JSON(http.StatusOK, map[string]any{"id": target.ID, "role": role})
}

func (s *Server) resetPassword(c echo.Context) error {
	var body struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	target, err := s.targetUser(c)
	if err != nil {
		return err
	}
	if err := auth.ValidateCredentials(target.Username, body.Password); err != nil {
		return err
	}
	var hash string
	var herr error
	if err := s.hashing(c.Request().Context(), func() { hash, herr = s.passwords.Hash(body.Password) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	ended, err := s.cfg.Cohorts.ResetUserPassword(c.Request().Context(), target.ID, hash)
	if err != nil {
		return err
	}
	n := s.closeLogins(ended)
	me, _ := currentUser(c)
	s.log.Info("password reset by an admin", "by", me.ID, "user", target.ID, "logins_ended", len(ended), "sockets_closed", n)
	return c.JSON(http.StatusOK, map[string]any{"id": target.ID, "logins_ended": len(ended)})
}

// closeLogins closes at once the terminal sockets of logins the store
// just ended (the periodic re-check would, but only within its interval).
func (s *Server) closeLogins(hashes []string) int {
	n := 0
	for _, h := range hashes {
		n += s.sockets.close(h, errLoginEnded)
	}
	return n
}

// disabledReason is what a disabled user's terminals and lab pages say.
const disabledReason = "your account was disabled by an administrator"

func (s *Server) disableUser(c echo.Context) error {
	target, err := s.targetUser(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ended, err := s.cfg.Cohorts.DisableUser(ctx, target.ID, time.Now())
	if err != nil {
		return err
	}
	closed := s.closeLogins(ended)
	// The logins are gone first, so the user cannot start another lab
	// while these end.
	sessions, err := s.sessions.EndAllOf(context.WithoutCancel(ctx), target.ID, disabledReason)
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	s.log.Info("user disabled", "by", me.ID, "user", target.ID, "logins_ended", len(ended), "sockets_closed", closed, "sessions_ended", sessions)
	return c.JSON(http.StatusOK, map[string]any{"id": target.ID, "logins_ended": len(ended), "sessions_ended": sessions})
}

func (s *Server) enableUser(c echo.Context) error {
	target, err := s.targetUser(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Cohorts.EnableUser(c.Request().Context(), target.ID); err != nil {
		return err
	}
	me, _ := currentUser(c)
	s.log.Info("user enabled", "by", me.ID, "user", target.ID)
	return c.JSON(http.StatusOK, map[string]any{"id": target.ID})
}

// disabledRefusal is the sign-in answer for a disabled account, given
// only after the password checked out.
func disabledRefusal(u opsdojo.User) error {
	if u.Disabled {
		return opsdojo.Errorf(opsdojo.EFORBIDDEN, "this account is disabled; ask an administrator")
	}
	return nil
}
