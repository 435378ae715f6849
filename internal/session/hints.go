package session

import (
	"context"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// RevealCheckHint records that the learner asked for the hints of one
// check of a step and returns them: what the check said in the learner's
// latest attempt (its script's HINT: lines and the lab's hint), or the
// lab's hint alone before any attempt. A failed check's result never
// carries its hints until the learner asks, so every hint used is counted.
func (m *Manager) RevealCheckHint(ctx context.Context, user opsdojo.User, labID, stepID, checkID string) ([]string, error) {
	lab, ok := m.labs.Get(labID)
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "no lab %q", labID)
	}
	step, ok := lab.Step(stepID)
	if !ok {
		return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "lab %s has no step %q", labID, stepID)
	}
	for pos, c := range step.Checks {
		if c.ID != checkID {
			continue
		}
		hints, err := m.store.LastCheckHints(ctx, user.ID, labID, stepID, checkID)
		if err != nil {
			return nil, err
		}
		if len(hints) == 0 && c.Hint != "" {
			hints = []string{c.Hint}
		}
		if len(hints) == 0 {
			return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "this check has no hint")
		}
		if err := m.store.RevealCheckHint(ctx, user.ID, labID, stepID, pos, m.now()); err != nil {
			return nil, err
		}
		return hints, nil
	}
	return nil, opsdojo.Errorf(opsdojo.ENOTFOUND, "step %s has no check %q", stepID, checkID)
}
