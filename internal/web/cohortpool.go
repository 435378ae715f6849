package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/cohort"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// WarmSeats keeps a cohort's warm seats and says what the warm pool does
// with them (cohort.Pool).
type WarmSeats interface {
	Settings(ctx context.Context, cohortID int64) (opsdojo.CohortPool, error)
	Set(ctx context.Context, c opsdojo.Cohort, p opsdojo.CohortPool) error
	Plan(ctx context.Context) (cohort.Plan, error)
	Window(start time.Time) (from, until time.Time)
	Max() int
}

// cohortPoolForm is the warm seats form, every field a string as typed.
type cohortPoolForm struct {
	Warm string `json:"warm"`
	// Lab is one of the cohort's labs; empty: its first lab.
	Lab string `json:"lab"`
	// StartsAt is the class start, "2006-01-02T15:04" in UTC; empty: when
	// the cohort opens.
	StartsAt string `json:"starts_at"`
}

// cohortPoolView is a cohort's warm seats and the pool's state for its
// lab, for the page and the API.
type cohortPoolView struct {
	Settings opsdojo.CohortPool `json:"settings"`
	// Lab is the lab warmed (the first lab when none is set).
	Lab string `json:"lab"`
	// StartsAt is the form's value of the class start; ClassStart the
	// start in effect (the opening when none is set), zero when neither.
	StartsAt   string    `json:"-"`
	ClassStart time.Time `json:"class_start"`
	// From and Until bound when the pool holds the warm seats.
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
	// Ready and Target are the lab's pool now (all of it, --pool and
	// every cohort warming that lab).
	Ready  int `json:"ready"`
	Target int `json:"target"`
	// Active is set inside the window; Want and Granted are this
	// cohort's part then (the server-wide cap may grant less).
	Active  bool `json:"active"`
	Want    int  `json:"want"`
	Granted int  `json:"granted"`
	// Max is the server-wide cap on warm boxes.
	Max  int         `json:"max"`
	Labs []labChoice `json:"-"`
}

func (s *Server) cohortPoolRoutes(api *echo.Group) {
	if s.cfg.Cohorts == nil || s.cfg.WarmSeats == nil {
		return
	}
	teachers := s.requireRole(opsdojo.RoleAdmin, opsdojo.RoleInstructor)
	api.GET("/cohorts/:id/pool", s.getCohortPool, teachers)
	api.PUT("/cohorts/:id/pool", s.setCohortPool, teachers, s.csrf)
}

// cohortPoolView reads a cohort's warm seats and its lab's pool; nil when
// the server has no warm seats.
func (s *Server) cohortPoolView(ctx context.Context, co opsdojo.Cohort) (*cohortPoolView, error) {
	ws := s.cfg.WarmSeats
	if ws == nil {
		return nil, nil
	}
	p, err := ws.Settings(ctx, co.ID)
	if err != nil {
		return nil, err
	}
	plan, err := ws.Plan(ctx)
	if err != nil {
		return nil, err
	}
	v := &cohortPoolView{Settings: p, Lab: p.Lab(co), StartsAt: formTime(p.StartsAt), ClassStart: p.ClassStart(co), Max: ws.Max()}
	if !v.ClassStart.IsZero() {
		v.From, v.Until = ws.Window(v.ClassStart)
	}
	if v.Lab != "" {
		v.Ready, v.Target = s.sessions.PoolReady(v.Lab), plan.Targets[v.Lab]
	}
	for _, r := range plan.Raises {
		if r.CohortID == co.ID {
			v.Active, v.Want, v.Granted = true, r.Want, r.Granted
		}
	}
	for _, id := range co.Labs {
		title := id
		if l, ok := s.sessions.Labs().Get(id); ok {
			title = l.Title
		}
		v.Labs = append(v.Labs, labChoice{ID: id, Title: title})
	}
	return v, nil
}

func (s *Server) getCohortPool(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	v, err := s.cohortPoolView(c.Request().Context(), co)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"pool": v})
}

func (s *Server) setCohortPool(c echo.Context) error {
	co, err := s.visibleCohort(c)
	if err != nil {
		return err
	}
	var f cohortPoolForm
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	p := opsdojo.CohortPool{CohortID: co.ID, LabID: strings.TrimSpace(f.Lab)}
	if p.Warm, err = parseFormInt("warm seats", f.Warm, 0, 0, 100000); err != nil {
		return err
	}
	if p.StartsAt, err = parseFormTime("class starts at", f.StartsAt); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.cfg.WarmSeats.Set(ctx, co, p); err != nil {
		return err
	}
	me, _ := currentUser(c)
	s.log.Info("cohort warm seats set", "by", me.ID, "cohort", co.ID, "warm", p.Warm, "lab", p.Lab(co), "starts", p.ClassStart(co))
	// Warm seats hold engine memory before a class: who asked is audited.
	detail := "warm seats off"
	if p.Warm > 0 {
		detail = strconv.Itoa(p.Warm) + " warm seats, class starts " + p.ClassStart(co).UTC().Format(time.RFC3339)
	}
	s.board.Audit(ctx, actor(c), opsdojo.AuditEntry{Action: opsdojo.AuditWarmSeats, CohortID: co.ID, LabID: p.Lab(co), Detail: detail})
	v, err := s.cohortPoolView(ctx, co)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"pool": v})
}
