package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// runningLab is one of the learner's live sessions, for "My labs".
type runningLab struct {
	ID        string    `json:"id"`
	LabID     string    `json:"lab"`
	Title     string    `json:"title"`
	State     string    `json:"state"`
	ExpiresAt time.Time `json:"expires_at"`
	// Deadline is set when a cohort's time limit ends the session then,
	// whatever the activity.
	Deadline time.Time `json:"deadline,omitzero"`
	// Left is the time left as the page shows it ("42 min left").
	Left string `json:"left"`
}

// cohortCard is one of the learner's cohorts with its labs in order.
type cohortCard struct {
	ID     int64       `json:"id"`
	Name   string      `json:"name"`
	Open   bool        `json:"open"`
	Window string      `json:"window,omitempty"`
	Labs   []labChoice `json:"labs"`
}

// myLabsView is the catalog's "My labs" and "My cohorts" sections.
type myLabsView struct {
	Running []runningLab
	Cohorts []cohortCard
}

// humanLeft says how long until t, in whole minutes (rounded down, never
// negative): the page shows it, a script (cohorts.js) keeps it current.
func humanLeft(now, t time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "ending now"
	}
	m := int(d / time.Minute)
	switch {
	case m < 1:
		return "under a minute left"
	case m < 60:
		return fmt.Sprintf("%d min left", m)
	default:
		return fmt.Sprintf("%d h %02d min left", m/60, m%60)
	}
}

func (s *Server) running(ctx context.Context, u opsdojo.User) ([]runningLab, error) {
	list, err := s.sessions.Running(ctx, u)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]runningLab, 0, len(list))
	for _, ls := range list {
		title := ls.LabID
		if lab, ok := s.sessions.Labs().Get(ls.LabID); ok {
			title = lab.Title
		}
		out = append(out, runningLab{ID: ls.ID, LabID: ls.LabID, Title: title, State: string(ls.State),
			ExpiresAt: ls.ExpiresAt, Deadline: ls.Deadline, Left: humanLeft(now, ls.ExpiresAt)})
	}
	return out, nil
}

func (s *Server) myCohortCards(ctx context.Context, u opsdojo.User) ([]cohortCard, error) {
	list, err := s.cfg.Cohorts.CohortsOfMember(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]cohortCard, 0, len(list))
	for _, co := range list {
		card := cohortCard{ID: co.ID, Name: co.Name, Open: co.OpenAt(now), Labs: []labChoice{}}
		if err := co.WindowError(now, "start its labs"); err != nil {
			card.Window = opsdojo.ErrorMessage(err)
		}
		for _, l := range co.Labs {
			if lab, ok := s.sessions.Labs().Get(l); ok {
				card.Labs = append(card.Labs, labChoice{ID: l, Title: lab.Title})
			}
		}
		out = append(out, card)
	}
	return out, nil
}

// myLabs gathers the catalog's sections for the signed-in user.
func (s *Server) myLabs(ctx context.Context, u opsdojo.User) (*myLabsView, error) {
	if s.cfg.Cohorts == nil {
		return nil, nil
	}
	run, err := s.running(ctx, u)
	if err != nil {
		return nil, err
	}
	cards, err := s.myCohortCards(ctx, u)
	if err != nil {
		return nil, err
	}
	return &myLabsView{Running: run, Cohorts: cards}, nil
}

func (s *Server) mySessions(c echo.Context) error {
	u, _ := currentUser(c)
	run, err := s.running(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": run})
}

func (s *Server) myCohorts(c echo.Context) error {
	u, _ := currentUser(c)
	cards, err := s.myCohortCards(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"cohorts": cards})
}

// restartSession ends one of the learner's sessions and starts its lab
// afresh (progress is kept: it lives in the database, not the container).
func (s *Server) restartSession(c echo.Context) error {
	u, _ := currentUser(c)
	sess, err := s.sessions.Restart(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
}
