package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/board"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/store"
	assets "github.com/opsdojo/opsdojo/web"
)

// instructor is the Server's state for the instructor side.
type instructor struct {
	board  *board.Service
	hub    *board.Hub
	tokens TokenStore
	// streams ends every board stream on shutdown (CloseStreams).
	streams      context.Context
	closeStreams context.CancelFunc
}

// instructorStore is what the instructor side needs of the store.
type instructorStore interface {
	board.Store
	board.CohortStore
	TokenStore
}

// Bounds of live board streams: in all, and per instructor.
const (
	maxBoardStreams     = 200
	maxBoardStreamsUser = 8
	// boardRefresh re-renders an open board this often even without
	// events, for "stuck for N minutes", which no event announces; and
	// re-checks a token's validity.
	boardRefresh = 30 * time.Second
)

func (s *Server) setupInstructor() error {
	st, ok := s.users.(instructorStore)
	if !ok {
		return fmt.Errorf("the store cannot keep boards, tokens and the audit log")
	}
	s.tokens = st
	s.hub = board.NewHub(maxBoardStreams, maxBoardStreamsUser)
	s.board = board.NewService(st, s.sessions, board.CohortAccess{Store: st, Labs: s.sessions.Labs()}, s.log)
	s.sessions.SetEvents(s.hub.Publish)
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	for _, name := range []string{"board", "attempts", "audit", "tokens", "instructor"} {
		t, err := template.New(name).Funcs(boardFuncs).ParseFS(assets.Templates(), "layout.html", name+".html")
		if err != nil {
			return fmt.Errorf("parse template %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

// CloseStreams ends the live board streams (server shutdown: they are
// requests, which http.Server.Shutdown would otherwise wait for).
func (s *Server) CloseStreams() { s.closeStreams() }

func (s *Server) instructorRoutes(e *echo.Echo, api *echo.Group) {
	read, export, manage := s.staffAPI(opsdojo.ScopeReadProgress), s.staffAPI(opsdojo.ScopeExport), s.staffAPI(opsdojo.ScopeManageSessions)
	// Pages: not behind pageUser; everyone but staff gets a plain 404.
	e.GET("/instructor", s.pageInstructor)
	e.GET("/instructor/cohorts/:id", s.pageCohortBoard)
	e.GET("/instructor/labs/:lab", s.pageLabBoard)
	e.GET("/instructor/learners/:user/labs/:lab/steps/:step", s.pageAttempts)
	e.GET("/instructor/tokens", s.pageTokens)
	e.GET("/instructor/audit", s.pageAudit)
	// The API scripts may call with a token (staffAPI).
	api.GET("/cohorts/:id/board", s.boardJSON, read)
	api.GET("/cohorts/:id/board/events", s.boardEvents, read)
	api.GET("/cohorts/:id/grades", s.grades, export)
	api.GET("/labs/:lab/board", s.boardJSON, read)
	api.GET("/labs/:lab/board/events", s.boardEvents, read)
	api.GET("/labs/:lab/grades", s.grades, export)
	api.GET("/learners/:user/labs/:lab/steps/:step/attempts", s.attemptsJSON, read)
	api.POST("/staff/sessions/:id/message", s.staffMessage, manage)
	api.POST("/staff/sessions/:id/extend", s.staffExtend, manage)
	api.POST("/staff/sessions/:id/end", s.staffEnd, manage)
	api.POST("/learners/:user/labs/:lab/reset", s.staffReset, manage)
	// Browser only: tokens cannot read the audit log or mint tokens.
	api.GET("/audit", s.auditJSON, s.apiUser)
	api.GET("/tokens", s.listTokens, s.apiUser)
	api.POST("/tokens", s.createToken, s.apiUser, s.csrf)
	api.DELETE("/tokens/:id", s.revokeToken, s.apiUser, s.csrf)
}

var boardFuncs = template.FuncMap{
	"pts": func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) },
	"ago": func(t, now time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := now.Sub(t)
		switch {
		case d < time.Minute:
			return "just now"
		case d < time.Hour:
			return strconv.Itoa(int(d/time.Minute)) + " min ago"
		case d < 48*time.Hour:
			return strconv.Itoa(int(d/time.Hour)) + " h ago"
		}
		return t.UTC().Format("2006-01-02")
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"json": func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) },
}

// boardSettings reads ?stuck_minutes= and ?stuck_fails=.
func boardSettings(c echo.Context) (board.Settings, error) {
	var set board.Settings
	if v := c.QueryParam("stuck_minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1440 {
			return set, opsdojo.Errorf(opsdojo.EINVALID, "stuck_minutes is 1 to 1440")
		}
		set.StuckAfter = time.Duration(n) * time.Minute
	}
	if v := c.QueryParam("stuck_fails"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return set, opsdojo.Errorf(opsdojo.EINVALID, "stuck_fails is 1 to 100")
		}
		set.StuckFails = n
	}
	return set, nil
}

func cohortParam(c echo.Context, name string) (int64, error) {
	v := c.Param(name)
	if v == "" {
		v = c.QueryParam(name)
		if v == "" {
			return 0, nil
		}
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 0 {
		return 0, opsdojo.Errorf(opsdojo.ENOTFOUND, "no such cohort")
	}
	return id, nil
}

// scope returns the board scope of the route: a cohort (:id) or a lab.
func (s *Server) scope(c echo.Context, u opsdojo.User) (board.Scope, error) {
	if lab := c.Param("lab"); lab != "" {
		return s.board.LabScope(c.Request().Context(), u, lab)
	}
	id, err := cohortParam(c, "id")
	if err != nil {
		return board.Scope{}, err
	}
	return s.board.CohortScope(c.Request().Context(), u, id)
}

type boardView struct {
	page
	Scope    board.Scope
	Board    board.Board
	Query    string // the stuck settings, for links and the stream
	Stream   string // the events URL
	Export   string // the grades URL (without ?format)
	StuckMin int
}

type rowView struct {
	Row      board.Row
	CohortID int64
	Labs     []board.LabGroup
	At       time.Time
}

func (v *boardView) RowView(r board.Row) rowView {
	return rowView{Row: r, CohortID: v.Scope.CohortID, Labs: v.Board.LabGroups, At: v.Board.At}
}

// CellsHTML renders a row's cells. A board is thousands of cells: written
// here, each value escaped once, it renders several times faster than
// through template calls per cell (BenchmarkBoard).
func (v rowView) CellsHTML() template.HTML {
	var b strings.Builder
	b.Grow(len(v.Row.Cells) * 260)
	esc := template.HTMLEscapeString
	user := strconv.FormatInt(v.Row.UserID, 10)
	for _, c := range v.Row.Cells {
		status := string(c.Status)
		b.WriteString(`<td class="cell st-`)
		b.WriteString(strings.ReplaceAll(status, " ", "-"))
		if c.Stuck {
			b.WriteString(" stuck")
		}
		b.WriteString(`" data-lab="`)
		b.WriteString(esc(c.LabID))
		b.WriteString(`" data-step="`)
		b.WriteString(esc(c.StepID))
		b.WriteString(`" data-status="`)
		b.WriteString(status)
		b.WriteString(`" data-attempts="`)
		b.WriteString(strconv.Itoa(c.Attempts))
		b.WriteString(`" title="`)
		b.WriteString(status)
		if c.Stuck {
			b.WriteString(", stuck: ")
			b.WriteString(esc(c.StuckWhy))
		}
		if c.FirstPassedAt != nil {
			b.WriteString(", passed ")
			b.WriteString(c.FirstPassedAt.UTC().Format(time.RFC3339))
		}
		b.WriteString(`"><a href="/instructor/learners/`)
		b.WriteString(user)
		b.WriteString("/labs/")
		b.WriteString(esc(url.PathEscape(c.LabID)))
		b.WriteString("/steps/")
		b.WriteString(esc(url.PathEscape(c.StepID)))
		if v.CohortID != 0 {
			b.WriteString("?cohort=")
			b.WriteString(strconv.FormatInt(v.CohortID, 10))
		}
		b.WriteString(`">`)
		b.WriteString(boardSymbol(c.Status))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(c.Points, 'f', -1, 64))
		b.WriteString(" · ")
		b.WriteString(strconv.Itoa(c.Attempts))
		b.WriteString("× · ")
		b.WriteString(strconv.Itoa(c.Hints))
		b.WriteString("h</a></td>")
	}
	return template.HTML(b.String())
}

func boardSymbol(s opsdojo.StepStatus) string {
	switch s {
	case opsdojo.StepPassed:
		return "✓"
	case opsdojo.StepFailed:
		return "✗"
	case opsdojo.StepWorking:
		return "…"
	}
	return "·"
}

func (s *Server) boardPage(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	sc, err := s.scope(c, u)
	if err != nil {
		return err
	}
	set, err := boardSettings(c)
	if err != nil {
		return err
	}
	b, err := s.board.Board(c.Request().Context(), sc, set, nil)
	if err != nil {
		return err
	}
	v := &boardView{page: page{Title: "Board · " + sc.Title}, Scope: sc, Board: b, Query: c.QueryString(), StuckMin: int(b.Settings.StuckAfter / time.Minute)}
	if sc.CohortID != 0 {
		v.Stream = "/api/v1/cohorts/" + strconv.FormatInt(sc.CohortID, 10) + "/board/events"
		v.Export = "/api/v1/cohorts/" + strconv.FormatInt(sc.CohortID, 10) + "/grades"
	} else {
		v.Stream = "/api/v1/labs/" + sc.Labs[0].ID + "/board/events"
		v.Export = "/api/v1/labs/" + sc.Labs[0].ID + "/grades"
	}
	if v.Query != "" {
		v.Stream += "?" + v.Query
	}
	return s.renderPage(c, http.StatusOK, "board", v)
}

func (s *Server) pageCohortBoard(c echo.Context) error { return s.boardPage(c) }
func (s *Server) pageLabBoard(c echo.Context) error    { return s.boardPage(c) }

type instructorView struct {
	page
	Cohorts []opsdojo.Cohort
	Labs    []labCard
}

// pageInstructor lists the boards the caller may open.
func (s *Server) pageInstructor(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	cohorts, err := s.board.Cohorts(c.Request().Context(), u)
	if err != nil {
		return err
	}
	v := &instructorView{page: page{Title: "Instructor"}, Cohorts: cohorts}
	if u.IsAdmin {
		for _, l := range s.sessions.Labs().All() {
			v.Labs = append(v.Labs, labCard{ID: l.ID, Title: l.Title, Steps: len(l.Steps)})
		}
	}
	return s.renderPage(c, http.StatusOK, "instructor", v)
}

type boardJSONRow struct {
	UserID     int64             `json:"user_id"`
	Username   string            `json:"username"`
	Points     float64           `json:"points"`
	Passed     int               `json:"passed"`
	Stuck      bool              `json:"stuck"`
	LastActive *time.Time        `json:"last_active"`
	Live       map[string]string `json:"live_sessions"`
	Cells      []boardJSONCell   `json:"cells"`
}

type boardJSONCell struct {
	Lab           string             `json:"lab"`
	Step          string             `json:"step"`
	Status        opsdojo.StepStatus `json:"status"`
	Points        float64            `json:"points"`
	Attempts      int                `json:"attempts"`
	HintsUsed     int                `json:"hints_used"`
	FailStreak    int                `json:"fails_in_a_row"`
	FirstPassedAt *time.Time         `json:"first_passed_at"`
	Stuck         bool               `json:"stuck"`
	StuckWhy      string             `json:"stuck_why,omitempty"`
}

func (s *Server) boardJSON(c echo.Context) error {
	a := actor(c)
	sc, err := s.scope(c, a.User)
	if err != nil {
		return err
	}
	set, err := boardSettings(c)
	if err != nil {
		return err
	}
	b, err := s.board.Board(c.Request().Context(), sc, set, nil)
	if err != nil {
		return err
	}
	rows := make([]boardJSONRow, 0, len(b.Rows))
	for _, r := range b.Rows {
		jr := boardJSONRow{UserID: r.UserID, Username: r.Username, Points: r.Points, Passed: r.Passed, Stuck: r.Stuck, Live: r.Live}
		if !r.LastActive.IsZero() {
			t := r.LastActive
			jr.LastActive = &t
		}
		for _, cl := range r.Cells {
			jr.Cells = append(jr.Cells, boardJSONCell{Lab: cl.LabID, Step: cl.StepID, Status: cl.Status, Points: cl.Points, Attempts: cl.Attempts,
				HintsUsed: cl.Hints, FailStreak: cl.FailStreak, FirstPassedAt: cl.FirstPassedAt, Stuck: cl.Stuck, StuckWhy: cl.StuckWhy})
		}
		rows = append(rows, jr)
	}
	return c.JSON(http.StatusOK, map[string]any{"title": sc.Title, "cohort_id": sc.CohortID, "at": b.At, "rows": rows,
		"stuck_minutes": int(b.Settings.StuckAfter / time.Minute), "stuck_fails": b.Settings.StuckFails})
}

// renderRows renders board rows with the page's own row template.
func (s *Server) renderRows(v *boardView, rows []board.Row) (map[int64]string, error) {
	out := make(map[int64]string, len(rows))
	var buf bytes.Buffer
	for _, r := range rows {
		buf.Reset()
		if err := s.pages["board"].ExecuteTemplate(&buf, "board-row", v.RowView(r)); err != nil {
			return nil, err
		}
		out[r.UserID] = buf.String()
	}
	return out, nil
}

// boardEvents streams a board's changes as server-sent events: "row"
// events carry a learner's re-rendered row ({"user", "html"}) within
// moments of their Check; "reload" asks the page to reload (the lab
// board gained a learner, or too much changed at once). The stream reads
// the database only when an event concerns its board (plus a re-render
// every boardRefresh for time-based "stuck"), never per client per second.
func (s *Server) boardEvents(c echo.Context) error {
	a := actor(c)
	sc, err := s.scope(c, a.User)
	if err != nil {
		return err
	}
	set, err := boardSettings(c)
	if err != nil {
		return err
	}
	sub, err := s.hub.Subscribe(a.User.ID, sc.Wants)
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx := s.streams
	if login := loginID(c); login != "" && a.Via == "browser" {
		var remove func()
		ctx, remove = s.sockets.add(s.streams, login) // logout ends the stream
		defer remove()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.Request().Context().Done():
		case <-ctx.Done():
		}
		cancel()
	}()
	w := c.Response()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	v := &boardView{Scope: sc}
	known := map[int64]bool{}
	for _, l := range sc.Learners {
		known[l.ID] = true
	}
	send := func(event string, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send("ready", map[string]any{"learners": len(sc.Learners)}); err != nil {
		return nil
	}
	refresh := time.NewTicker(boardRefresh)
	defer refresh.Stop()
	for {
		var only map[int64]bool
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			if a.Via != "browser" {
				// A token stream stops once the token is revoked or expires.
				if err := s.tokenUser(c, c.Request().Header.Get("Authorization"), opsdojo.ScopeReadProgress); err != nil {
					_ = send("end", map[string]string{"reason": opsdojo.ErrorMessage(err)})
					return nil
				}
			}
		case <-sub.C:
			users, all := sub.Take()
			if !all {
				only = map[int64]bool{}
				for _, id := range users {
					if !known[id] {
						all = true // a new learner on a lab board
					}
					only[id] = true
				}
			}
			if all {
				if err := send("reload", map[string]string{}); err != nil {
					return nil
				}
				continue
			}
		}
		b, err := s.board.Board(ctx, sc, set, only)
		if err != nil {
			s.log.Warn("board stream", "err", err)
			continue
		}
		v.Board = b
		html, err := s.renderRows(v, b.Rows)
		if err != nil {
			return err
		}
		for _, r := range b.Rows {
			if err := send("row", map[string]any{"user": r.UserID, "html": html[r.UserID]}); err != nil {
				return nil
			}
		}
	}
}

// grades exports a board's grades as CSV (default) or JSON.
func (s *Server) grades(c echo.Context) error {
	a := actor(c)
	sc, err := s.scope(c, a.User)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		return opsdojo.Errorf(opsdojo.EINVALID, "format is csv or json")
	}
	rows, err := s.board.Export(c.Request().Context(), a, sc, format)
	if err != nil {
		return err
	}
	name := "grades"
	if sc.CohortID != 0 {
		name += "-cohort-" + strconv.FormatInt(sc.CohortID, 10)
	} else {
		name += "-" + sc.Labs[0].ID
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="`+name+"."+format+`"`)
	var buf bytes.Buffer
	if format == "json" {
		if err := board.WriteJSON(&buf, rows); err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/json", buf.Bytes())
	}
	if err := board.WriteCSV(&buf, rows); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

type attemptsView struct {
	page
	Learner  opsdojo.User
	LabID    string
	LabTitle string
	StepID   string
	Step     string
	CohortID int64
	Attempts []store.StoredAttempt
}

func (s *Server) attempts(c echo.Context, u opsdojo.User) (*attemptsView, error) {
	learner, err := strconv.ParseInt(c.Param("user"), 10, 64)
	if err != nil {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "not found")
	}
	cohort, err := cohortParam(c, "cohort")
	if err != nil {
		return nil, err
	}
	lu, list, err := s.board.Attempts(c.Request().Context(), u, learner, cohort, c.Param("lab"), c.Param("step"))
	if err != nil {
		return nil, err
	}
	lab, _ := s.sessions.Labs().Get(c.Param("lab"))
	st, _ := lab.Step(c.Param("step"))
	return &attemptsView{page: page{Title: lu.Username + " · " + st.Title}, Learner: lu, LabID: lab.ID, LabTitle: lab.Title, StepID: st.ID, Step: st.Title,
		CohortID: cohort, Attempts: list}, nil
}

func (s *Server) pageAttempts(c echo.Context) error {
	u, err := s.staffUser(c)
	if err != nil {
		return err
	}
	v, err := s.attempts(c, u)
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "attempts", v)
}

func (s *Server) attemptsJSON(c echo.Context) error {
	v, err := s.attempts(c, actor(c).User)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"learner": v.Learner.Username, "lab": v.LabID, "step": v.StepID, "attempts": v.Attempts})
}

type staffRequest struct {
	// Cohort the action is taken through (0: any of the caller's).
	Cohort  int64  `json:"cohort"`
	Text    string `json:"text"`
	Minutes int    `json:"minutes"`
	Confirm string `json:"confirm"`
}

func staffBody(c echo.Context) (staffRequest, error) {
	var req staffRequest
	if c.Request().ContentLength == 0 {
		return req, nil
	}
	err := decodeJSON(c, &req)
	return req, err
}

func (s *Server) staffMessage(c echo.Context) error {
	req, err := staffBody(c)
	if err != nil {
		return err
	}
	n, err := s.board.Message(c.Request().Context(), actor(c), c.Param("id"), req.Cohort, req.Text)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"terminals": n})
}

func (s *Server) staffExtend(c echo.Context) error {
	req, err := staffBody(c)
	if err != nil {
		return err
	}
	sess, err := s.board.Extend(c.Request().Context(), actor(c), c.Param("id"), req.Cohort, time.Duration(req.Minutes)*time.Minute)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

func (s *Server) staffEnd(c echo.Context) error {
	req, err := staffBody(c)
	if err != nil {
		return err
	}
	sess, err := s.board.End(c.Request().Context(), actor(c), c.Param("id"), req.Cohort)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

func (s *Server) staffReset(c echo.Context) error {
	req, err := staffBody(c)
	if err != nil {
		return err
	}
	learner, err := strconv.ParseInt(c.Param("user"), 10, 64)
	if err != nil {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "not found")
	}
	if err := s.board.Reset(c.Request().Context(), actor(c), learner, req.Cohort, c.Param("lab"), req.Confirm); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type auditView struct {
	page
	Entries []opsdojo.AuditEntry
	Older   int64
}

func (s *Server) auditEntries(c echo.Context) ([]opsdojo.AuditEntry, int64, error) {
	u, _ := currentUser(c)
	before, _ := strconv.ParseInt(c.QueryParam("before"), 10, 64)
	list, err := s.board.AuditLog(c.Request().Context(), u, before)
	if err != nil {
		return nil, 0, err
	}
	var older int64
	if len(list) > 0 {
		older = list[len(list)-1].ID
	}
	return list, older, nil
}

func (s *Server) pageAudit(c echo.Context) error {
	if _, err := s.staffUser(c); err != nil {
		return err
	}
	list, older, err := s.auditEntries(c)
	if err != nil {
		return err
	}
	return s.renderPage(c, http.StatusOK, "audit", &auditView{page: page{Title: "Audit log"}, Entries: list, Older: older})
}

func (s *Server) auditJSON(c echo.Context) error {
	list, _, err := s.auditEntries(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": list})
}
