package web

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/session"
	assets "github.com/opsdojo/opsdojo/web"
)

type page struct {
	Title        string
	User         *opsdojo.User
	CSRF         string
	Registration bool
	Next         string
	Labs         []labCard
	Lab          *labView
	MessageTitle string
	Message      string
	// Mine is the catalog's "My labs" and "My cohorts" (mylabs.go).
	Mine *myLabsView
}

type labCard struct {
	ID, Title, Summary, Difficulty string
	Minutes, Steps, Passed         int
}

func (s *Server) render(c echo.Context, status int, name string, p page) error {
	if !assets.BundleBuilt() {
		return c.HTMLBlob(http.StatusServiceUnavailable, s.nobundle)
	}
	if u, ok := currentUser(c); ok {
		p.User = &u
		p.CSRF = csrfToken(c)
	}
	p.Registration = s.cfg.Registration
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

func (s *Server) pageHome(c echo.Context) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect(http.StatusSeeOther, "/labs")
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) pageLogin(c echo.Context) error {
	// Only paths on this site: no open redirect to another one.
	return s.render(c, http.StatusOK, "login", page{Title: "Sign in", Next: safeNext(c.QueryParam("next"))})
}

func (s *Server) pageSignup(c echo.Context) error {
	return s.render(c, http.StatusOK, "signup", page{Title: "Sign up"})
}

func (s *Server) pageCatalog(c echo.Context) error {
	u, _ := currentUser(c)
	var cards []labCard
	for _, l := range s.sessions.Labs().All() {
		p, err := s.sessions.Progress(c.Request().Context(), u, l.ID)
		if err != nil {
			return err
		}
		cards = append(cards, labCard{ID: l.ID, Title: l.Title, Summary: l.Summary, Difficulty: l.Difficulty,
			Minutes: l.Minutes, Steps: len(l.Steps), Passed: p.Count(l.StepIDs())})
	}
	mine, err := s.myLabs(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "labs", page{Title: "Labs", Labs: cards, Mine: mine})
}

func (s *Server) pageLab(c echo.Context) error {
	u, _ := currentUser(c)
	id := c.Param("lab")
	base, ok := s.views[id]
	lab, _ := s.sessions.Labs().Get(id)
	if !ok || lab == nil {
		return opsdojo.Errorf(opsdojo.ENOTFOUND, "there is no lab %q", id)
	}
	p, err := s.sessions.Progress(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	v := *base
	v.Steps = append([]stepView(nil), base.Steps...)
	for i := range v.Steps {
		st := &v.Steps[i]
		st.Passed = p.Passed[st.ID]
		n := min(p.HintsShown[st.ID], len(st.Hints))
		st.Shown, st.Left = st.Hints[:n], len(st.Hints)-n
	}
	v.Passed = p.Count(lab.StepIDs())
	v.Score, v.MaxScore = p.Score(lab.StepIDs()), session.MaxPoints(lab)
	v.Recorded = s.sessions.Records(lab)
	v.Preview = s.cfg.Preview != nil
	v.HintsUsed = p.HintsUsed()
	return s.render(c, http.StatusOK, "lab", page{Title: lab.Title, Lab: &v})
}

type labJSON struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Summary    string     `json:"summary"`
	Difficulty string     `json:"difficulty"`
	Minutes    int        `json:"minutes"`
	Steps      []stepJSON `json:"steps"`
}

type stepJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

func (s *Server) listLabs(c echo.Context) error {
	out := []labJSON{}
	for _, l := range s.sessions.Labs().All() {
		lj := labJSON{ID: l.ID, Title: l.Title, Summary: l.Summary, Difficulty: l.Difficulty, Minutes: l.Minutes, Steps: []stepJSON{}}
		for _, st := range l.Steps {
			lj.Steps = append(lj.Steps, stepJSON{ID: st.ID, Title: st.Title})
		}
		out = append(out, lj)
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) startSession(c echo.Context) error {
	u, _ := currentUser(c)
	sess, err := s.sessions.Start(c.Request().Context(), u, c.Param("lab"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

func (s *Server) getSession(c echo.Context) error {
	u, _ := currentUser(c)
	sess, err := s.sessions.Get(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

func (s *Server) endSession(c echo.Context) error {
	u, _ := currentUser(c)
	sess, err := s.sessions.End(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}

type checkResponse struct {
	Status    opsdojo.CheckStatus `json:"status"`
	Messages  []string            `json:"messages"`
	Hints     []string            `json:"hints"`
	Checks    []checkView         `json:"checks"`
	Points    float64             `json:"points"`
	MaxPoints float64             `json:"max_points"`
	Progress  progressJSON        `json:"progress"`
}

type progressJSON struct {
	Passed   int     `json:"passed"`
	Total    int     `json:"total"`
	Score    float64 `json:"score"`
	MaxScore float64 `json:"max_score"`
	// HintsUsed counts the hints the learner asked for in the lab.
	HintsUsed int `json:"hints_used"`
}

func (s *Server) check(c echo.Context) error {
	u, _ := currentUser(c)
	res, p, err := s.sessions.Check(c.Request().Context(), u, c.Param("id"), c.Param("step"))
	if err != nil {
		return err
	}
	sess, err := s.sessions.Get(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	lab, _ := s.sessions.Labs().Get(sess.LabID)
	step, _ := lab.Step(c.Param("step"))
	checks, hints := gateHints(step, res, p)
	resp := checkResponse{Status: res.Status, Messages: res.Messages(), Hints: hints, Checks: checks,
		Points: res.Points, MaxPoints: res.Max, Progress: progressJSON{Passed: p.Count(lab.StepIDs()), Total: len(lab.Steps),
			Score: p.Score(lab.StepIDs()), MaxScore: session.MaxPoints(lab), HintsUsed: p.HintsUsed()}}
	if resp.Messages == nil {
		resp.Messages = []string{}
	}
	if resp.Hints == nil {
		resp.Hints = []string{}
	}
	return c.JSON(http.StatusOK, resp)
}

// checkProgress returns the output of a check that is still running (a
// build log), so the page can show it while the learner waits.
func (s *Server) checkProgress(c echo.Context) error {
	u, _ := currentUser(c)
	log, running, err := s.sessions.CheckProgress(c.Request().Context(), u, c.Param("id"), c.Param("step"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"running": running, "log": log})
}

type hintsResponse struct {
	// Hints are the step's hints revealed so far, as sanitized HTML.
	Hints []template.HTML `json:"hints"`
	Left  int             `json:"left"`
	// HintsUsed counts every hint the learner asked for in the lab.
	HintsUsed int `json:"hints_used"`
}

// revealHint shows the learner the next hint of a step and records it.
func (s *Server) revealHint(c echo.Context) error {
	u, _ := currentUser(c)
	labID, stepID := c.Param("lab"), c.Param("step")
	shown, err := s.sessions.RevealHint(c.Request().Context(), u, labID, stepID)
	if err != nil {
		return err
	}
	p, err := s.sessions.Progress(c.Request().Context(), u, labID)
	if err != nil {
		return err
	}
	v := s.views[labID]
	for _, st := range v.Steps {
		if st.ID == stepID {
			n := min(shown, len(st.Hints))
			return c.JSON(http.StatusOK, hintsResponse{Hints: st.Hints[:n], Left: len(st.Hints) - n, HintsUsed: p.HintsUsed()})
		}
	}
	return opsdojo.Errorf(opsdojo.ENOTFOUND, "no such step")
}
