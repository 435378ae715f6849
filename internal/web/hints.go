package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// checkView is a check's result as the learner's page gets it: a failed
// check's hints (its script's HINT: lines, the lab's hint) stay out of it
// until the learner asks for them (revealCheckHint), so a failed check
// never gives every answer away and every hint used is counted. Once the
// learner asked for a check's hints, later results of it carry them.
type checkView struct {
	opsdojo.CheckResult
	// HintAvailable: the check has hints the learner has not asked for.
	HintAvailable bool `json:"hint_available"`
}

// gateHints turns a step's check results into what the learner sees and
// collects the hints already revealed (the response's step-level list).
func gateHints(step labs.Step, res opsdojo.StepResult, p opsdojo.Progress) ([]checkView, []string) {
	out := make([]checkView, 0, len(res.Checks))
	open := []string{}
	for _, cr := range res.Checks {
		cv := checkView{CheckResult: cr}
		pos := -1
		for i, c := range step.Checks {
			if c.ID == cr.CheckID {
				pos = i
				break
			}
		}
		switch {
		case len(cr.Hints) == 0:
			cv.Hints = []string{}
		case pos >= 0 && p.CheckHintShown(step.ID, pos):
			if cr.Status != opsdojo.StatusPass {
				for _, h := range cr.Hints {
					open = appendOnce(open, h)
				}
			}
		default:
			// A passed check needs no hint: nothing to offer.
			cv.Hints, cv.HintAvailable = []string{}, cr.Status != opsdojo.StatusPass
		}
		out = append(out, cv)
	}
	return out, open
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

type checkHintResponse struct {
	Hints     []string `json:"hints"`
	HintsUsed int      `json:"hints_used"`
}

// revealCheckHint shows the learner the hints of one check and counts them.
func (s *Server) revealCheckHint(c echo.Context) error {
	u, _ := currentUser(c)
	labID := c.Param("lab")
	hints, err := s.sessions.RevealCheckHint(c.Request().Context(), u, labID, c.Param("step"), c.Param("check"))
	if err != nil {
		return err
	}
	p, err := s.sessions.Progress(c.Request().Context(), u, labID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, checkHintResponse{Hints: hints, HintsUsed: p.HintsUsed()})
}
