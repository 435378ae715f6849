package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/cohort"
	"github.com/opsdojo/opsdojo/internal/loginlimit"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// cohortForm is a cohort as the create/edit form sends it: every field a
// string, as typed.
type cohortForm struct {
	Name string `json:"name"`
	// Labs are lab ids in order, separated by commas, spaces or lines.
	Labs  string `json:"labs"`
	Seats string `json:"seats"`
	// OpensAt and ClosesAt are "2006-01-02T15:04" in UTC (a datetime-local
	// input), or empty for no bound.
	OpensAt  string `json:"opens_at"`
	ClosesAt string `json:"closes_at"`
	// SessionMinutes is the session time limit; empty or 0: none.
	SessionMinutes string `json:"session_minutes"`
	// Owners are the instructors' usernames, separated like Labs.
	Owners string `json:"owners"`
	// InviteDays is how long the first invite link works (create only).
	InviteDays string `json:"invite_days,omitempty"`
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' })
}

func parseFormTime(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, opsdojo.Errorf(opsdojo.EINVALID, "%s: write a date and time like 2026-09-01T09:00 (UTC)", field)
}

func parseFormInt(field, v string, def, lo, hi int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, opsdojo.Errorf(opsdojo.EINVALID, "%s must be a whole number from %d to %d", field, lo, hi)
	}
	return n, nil
}

// toCohort turns a form into a cohort: labs must exist in the catalog,
// owners must be instructors or admins (the store checks the roles), and
// an instructor who saves the form always stays an owner.
func (s *Server) toCohort(ctx context.Context, me opsdojo.User, f cohortForm) (opsdojo.Cohort, error) {
	var c opsdojo.Cohort
	c.Name = strings.TrimSpace(f.Name)
	for _, id := range splitList(f.Labs) {
		if _, ok := s.sessions.Labs().Get(id); !ok {
			return c, opsdojo.Errorf(opsdojo.EINVALID, "there is no lab %q", id)
		}
		c.Labs = append(c.Labs, id)
	}
	var err error
	if c.Seats, err = parseFormInt("seats", f.Seats, 0, 1, 100000); err != nil {
		return c, err
	}
	if c.OpensAt, err = parseFormTime("opens at", f.OpensAt); err != nil {
		return c, err
	}
	if c.ClosesAt, err = parseFormTime("closes at", f.ClosesAt); err != nil {
		return c, err
	}
	minutes, err := parseFormInt("the session time limit (minutes)", f.SessionMinutes, 0, 0, 30*24*60)
	if err != nil {
		return c, err
	}
	c.SessionLimit = time.Duration(minutes) * time.Minute
	seen := map[int64]bool{}
	if me.Role == opsdojo.RoleInstructor {
		c.Owners, seen[me.ID] = append(c.Owners, me.ID), true
	}
	for _, name := range splitList(f.Owners) {
		u, _, err := s.users.UserByUsername(ctx, name)
		if err != nil {
			if opsdojo.ErrorCode(err) == opsdojo.ENOTFOUND {
				return c, opsdojo.Errorf(opsdojo.EINVALID, "there is no user %q to make an instructor of this cohort", name)
			}
			return c, err
		}
		if !seen[u.ID] {
			c.Owners, seen[u.ID] = append(c.Owners, u.ID), true
		}
	}
	if len(c.Owners) == 0 {
		c.Owners = []int64{me.ID}
	}
	return c, nil
}

// visibleCohort returns a cohort the user may run: an admin any, an
// instructor only one they own; anything else is a 404.
func (s *Server) visibleCohort(c echo.Context) (opsdojo.Cohort, error) {
	id, err := pathID(c)
	if err != nil {
		return opsdojo.Cohort{}, err
	}
	co, err := s.cfg.Cohorts.Cohort(c.Request().Context(), id)
	if err != nil {
		return co, err
	}
	me, _ := currentUser(c)
	if me.Role != opsdojo.RoleAdmin && !co.OwnedBy(me.ID) {
		return opsdojo.Cohort{}, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	return co, nil
}

func (s *Server) cohortsFor(ctx context.Context, me opsdojo.User) ([]opsdojo.Cohort, error) {
	if me.Role == opsdojo.RoleAdmin {
		return s.cfg.Cohorts.AllCohorts(ctx)
	}
	return s.cfg.Cohorts.CohortsOwnedBy(ctx, me.ID)
}

func (s *Server) listCohorts(c echo.Context) error {
	me, _ := currentUser(c)
	list, err := s.cohortsFor(c.Request().Context(), me)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"cohorts": list})
}

type inviteJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// issueInvite makes a new invite link for a cohort (the old one stops
// working) and returns it: the only time the token is seen.
func (s *Server) issueInvite(c echo.Context, cohortID int64, days int) (inviteJSON, error) {
	token, hash, err := cohort.NewInvite()
	if err != nil {
		return inviteJSON{}, err
	}
	expires := time.Now().UTC().Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
	if err := s.cfg.Cohorts.SetCohortInvite(c.Request().Context(), cohortID, hash, expires); err != nil {
		return inviteJSON{}, err
	}
	return inviteJSON{URL: s.baseURL(c) + "/join/" + token, ExpiresAt: expires}, nil
}

// baseURL is where browsers reach this server: --public-url, else the
// request's own scheme and host.
func (s *Server) baseURL(c echo.Context) string {
	if s.cfg.PublicURL != nil {
		return strings.TrimRight((&url.URL{Scheme: s.cfg.PublicURL.Scheme, Host: s.cfg.PublicURL.Host, Path: s.cfg.PublicURL.Path}).String(), "/")
	}
	scheme := "http"
	if c.Request().TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}

func (s *Server) createCohort(c echo.Context) error {
	var f cohortForm
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	days, err := parseFormInt("the invite's days", f.InviteDays, 7, 1, 90)
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	co, err := s.toCohort(c.Request().Context(), me, f)
	if err != nil {
		return err
	}
	co, err = s.cfg.Cohorts.CreateCohort(c.Request().Context(), co)
	if err != nil {
		return err
	}
	inv, err := s.issueInvite(c, co.ID, days)
	if err != nil {
		return err
	}
	co.HasInvite, co.InviteExpiresAt = true, inv.ExpiresAt
	s.log.Info("cohort created", "by", me.ID, "cohort", co.ID, "seats", co.Seats, "labs", len(co.Labs))
	return c.JSON(http.StatusCreated, map[string]any{"cohort": co, "invite": inv})
}

func (s *Server) updateCohort(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	var f cohortForm
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	me, _ := currentUser(c)
	next, err := s.toCohort(c.Request().Context(), me, f)
	if err != nil {
		return err
	}
	next.ID = co.ID
	if strings.TrimSpace(f.Owners) == "" {
		// No owners in the form: keep the cohort's (an admin's edit
		// must not take the cohort from its instructors).
		next.Owners = co.Owners
	}
	if err := s.cfg.Cohorts.UpdateCohort(c.Request().Context(), next); err != nil {
		return err
	}
	s.log.Info("cohort updated", "by", me.ID, "cohort", co.ID)
	co, err = s.cfg.Cohorts.Cohort(c.Request().Context(), co.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"cohort": co})
}

func (s *Server) cohortMembers(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	members, err := s.cfg.Cohorts.CohortMembers(c.Request().Context(), co.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"members": members})
}

// removeCohortMember takes a learner out of a cohort: their seat is free
// again and they leave its board, but their progress, attempts and any
// running lab session stay (ending those is the board's End and Reset).
func (s *Server) removeCohortMember(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.Param("user"), 10, 64)
	if err != nil || uid <= 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such member")
	}
	ctx := c.Request().Context()
	members, err := s.cfg.Cohorts.CohortMembers(ctx, co.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(members, func(m opsdojo.CohortMember) bool { return m.UserID == uid })
	if i < 0 {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "%s has no such member", co.Name)
	}
	if err := s.cfg.Cohorts.RemoveCohortMember(ctx, co.ID, uid); err != nil {
		return err
	}
	s.board.Audit(ctx, actor(c), opsdojo.AuditEntry{Action: opsdojo.AuditRemove, TargetUserID: uid,
		TargetName: members[i].Username, CohortID: co.ID, Detail: "removed from " + strconv.Quote(co.Name)})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) newInvite(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	var body struct {
		Days string `json:"days"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	days, err := parseFormInt("the invite's days", body.Days, 7, 1, 90)
	if err != nil {
		return err
	}
	inv, err := s.issueInvite(c, co.ID, days)
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	s.log.Info("cohort invite regenerated", "by", me.ID, "cohort", co.ID, "expires", inv.ExpiresAt)
	return c.JSON(http.StatusOK, map[string]any{"invite": inv})
}

func (s *Server) revokeInvite(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Cohorts.RevokeCohortInvite(c.Request().Context(), co.ID); err != nil {
		return err
	}
	me, _ := currentUser(c)
	s.log.Info("cohort invite revoked", "by", me.ID, "cohort", co.ID)
	return c.NoContent(http.StatusNoContent)
}

// inviteCohort reads the cohort of the path's invite token.
func (s *Server) inviteCohort(c echo.Context) (opsdojo.Cohort, string, error) {
	hash := cohort.HashInvite(c.Param("token"))
	co, err := s.cfg.Cohorts.CohortByInvite(c.Request().Context(), hash, time.Now())
	return co, hash, err
}

// chargeBadInvite counts a request with an invalid invite token against
// the per-address sign-up budget: guessing tokens is hopeless at 256 bits,
// and this keeps it costly too. Valid tokens are not counted, so a class
// behind one address joins at once.
func (s *Server) chargeBadInvite(c echo.Context, err error) error {
	if opsdojo.ErrorCode(err) != opsdojo.ENOTFOUND {
		return err
	}
	if ok, wait := s.registrations.Take(loginlimit.AddressKey(clientIP(c))); !ok {
		setRetryAfter(c, wait)
		return opsdojo.Errorf(opsdojo.ETOOMANY, "too many invalid invite links from your network; try again in %s", humanWait(wait))
	}
	return err
}

// registerWithInvite creates an account through a valid invite link and
// joins its cohort: open sign-up need not be on, and the per-address
// sign-up limit does not apply (seats and the invite's expiry bound it).
func (s *Server) registerWithInvite(c echo.Context) error {
	co, hash, err := s.inviteCohort(c)
	if err != nil {
		return s.chargeBadInvite(c, err)
	}
	if err := co.WindowError(time.Now(), "join it"); err != nil {
		return err
	}
	cr, pwHash, err := s.newCredentials(c)
	if err != nil {
		return err
	}
	user, co, err := s.cfg.Cohorts.CreateUserWithInvite(c.Request().Context(), hash, cr.Username, pwHash, time.Now())
	if err != nil {
		return err
	}
	s.log.Info("user registered through an invite", "user", user.ID, "username", user.Username, "cohort", co.ID)
	return s.startLogin(c, user, http.StatusCreated)
}

// joinCohort adds the signed-in user to the invite's cohort.
func (s *Server) joinCohort(c echo.Context) error {
	me, _ := currentUser(c)
	_, hash, err := s.inviteCohort(c)
	if err != nil {
		return s.chargeBadInvite(c, err)
	}
	co, err := s.cfg.Cohorts.JoinCohort(c.Request().Context(), hash, me.ID, time.Now())
	if err != nil {
		return err
	}
	s.log.Info("joined a cohort", "user", me.ID, "cohort", co.ID)
	return c.JSON(http.StatusOK, map[string]any{"cohort": map[string]any{"id": co.ID, "name": co.Name, "labs": co.Labs}})
}

type joinView struct {
	page
	Token  string
	Cohort opsdojo.Cohort
	// Problem is why joining would be refused now (window, seats).
	Problem string
	Member  bool
}

// pageJoin is where an invite link leads: a sign-up form, or for a
// signed-in user a Join button.
func (s *Server) pageJoin(c echo.Context) error {
	co, _, err := s.inviteCohort(c)
	if err != nil {
		return s.chargeBadInvite(c, err)
	}
	v := &joinView{page: page{Title: "Join " + co.Name}, Token: c.Param("token"), Cohort: co}
	if err := co.WindowError(time.Now(), "join it"); err != nil {
		v.Problem = opsdojo.ErrorMessage(err)
	} else if co.Members >= co.Seats {
		v.Problem = "This cohort is full; ask your instructor."
	}
	if me, ok := currentUser(c); ok {
		mine, err := s.cfg.Cohorts.CohortsOfMember(c.Request().Context(), me.ID)
		if err != nil {
			return err
		}
		for _, m := range mine {
			if m.ID == co.ID {
				v.Member, v.Problem = true, ""
			}
		}
	}
	// The token must not travel on in a Referer.
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return s.renderPage(c, http.StatusOK, "join", v)
}

type cohortsView struct {
	page
	Cohorts []cohortRow
	Labs    []labChoice
	// The new-cohort form's fields, empty.
	Name, LabsText, Owners, OpensAt, ClosesAt string
	Seats, SessionMinutes                     int
}

type cohortRow struct {
	opsdojo.Cohort
	OwnerNames []string
	LabTitles  []string
}

type labChoice struct{ ID, Title string }

func (s *Server) labChoices() []labChoice {
	var out []labChoice
	for _, l := range s.sessions.Labs().All() {
		out = append(out, labChoice{ID: l.ID, Title: l.Title})
	}
	return out
}

func (s *Server) cohortRows(ctx context.Context, list []opsdojo.Cohort) ([]cohortRow, error) {
	names := map[int64]string{}
	out := make([]cohortRow, 0, len(list))
	for _, co := range list {
		r := cohortRow{Cohort: co}
		for _, o := range co.Owners {
			if _, ok := names[o]; !ok {
				u, err := s.cfg.Cohorts.UserByID(ctx, o)
				if err != nil {
					return nil, err
				}
				names[o] = u.Username
			}
			r.OwnerNames = append(r.OwnerNames, names[o])
		}
		for _, l := range co.Labs {
			title := l
			if lab, ok := s.sessions.Labs().Get(l); ok {
				title = lab.Title
			}
			r.LabTitles = append(r.LabTitles, title)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Server) pageCohorts(c echo.Context) error {
	me, _ := currentUser(c)
	list, err := s.cohortsFor(c.Request().Context(), me)
	if err != nil {
		return err
	}
	rows, err := s.cohortRows(c.Request().Context(), list)
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "cohorts", &cohortsView{page: page{Title: "Cohorts"}, Cohorts: rows, Labs: s.labChoices()})
}

type cohortView struct {
	page
	Cohort            cohortRow
	Members           []opsdojo.CohortMember
	Labs              []labChoice
	LabsText, Owners  string
	OpensAt, ClosesAt string
	SessionMinutes    int
	Open              bool
	Pool              *cohortPoolView // cohortpool.go; nil: no warm seats
}

func formTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func (s *Server) pageCohort(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rows, err := s.cohortRows(ctx, []opsdojo.Cohort{co})
	if err != nil {
		return err
	}
	members, err := s.cfg.Cohorts.CohortMembers(ctx, co.ID)
	if err != nil {
		return err
	}
	v := &cohortView{page: page{Title: co.Name}, Cohort: rows[0], Members: members, Labs: s.labChoices(),
		LabsText: strings.Join(co.Labs, ", "), Owners: strings.Join(rows[0].OwnerNames, ", "),
		OpensAt: formTime(co.OpensAt), ClosesAt: formTime(co.ClosesAt), SessionMinutes: int(co.SessionLimit / time.Minute),
		Open: co.OpenAt(time.Now())}
	if v.Pool, err = s.cohortPoolView(ctx, co); err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "cohort", v)
}
