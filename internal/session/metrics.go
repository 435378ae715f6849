package session

import (
	"time"

	"github.com/opsdojo/opsdojo/internal/metrics"
)

// SetMetrics makes the manager observe into mx (starts, checks, the
// reaper, sessions it ends). Call before Run; without it the manager
// observes into collectors nobody serves.
func (m *Manager) SetMetrics(mx *metrics.Metrics) { m.mx = mx }

// observeStart records a Start that began at began: result is created
// when it made a container, existing when it returned the live one.
func (m *Manager) observeStart(labID string, began time.Time, created bool, err error) {
	result := "existing"
	switch {
	case err != nil:
		result = "error"
	case created:
		result = "created"
	}
	m.mx.ObserveStart(labID, result, "cold", m.now().Sub(began))
}
