package session

import (
	"context"
	"time"

	"github.com/opsdojo/opsdojo/internal/metrics"
)

// SetMetrics makes the manager observe into mx (starts, checks, the
// reaper, sessions it ends). Call before Run; without it the manager
// observes into collectors nobody serves.
func (m *Manager) SetMetrics(mx *metrics.Metrics) { m.mx = mx }

// observeStart records a Start that began at began: result is created
// when it gave the learner a new container (source: "pool" when it was a
// warm one, "cold" when it was created for them), existing when it
// returned the live one. For a pooled lab a new container is a pool hit
// or miss, and the pool's ready count and the queue are read again.
func (m *Manager) observeStart(labID string, began time.Time, created bool, source string, err error) {
	result := "existing"
	switch {
	case err != nil:
		result = "error"
	case created:
		result = "created"
	}
	m.mx.ObserveStart(labID, result, source, m.now().Sub(began))
	if m.pool != nil && created {
		if source == "pool" {
			m.mx.PoolHits.WithLabelValues(labID).Inc()
		} else if m.pool.cfg.Targets(context.Background())[labID] > 0 {
			m.mx.PoolMisses.WithLabelValues(labID).Inc()
		}
	}
	m.observePool(labID)
}

// observePool sets the gauges of the pool and the admission queue.
func (m *Manager) observePool(labID string) {
	if m.pool != nil {
		m.mx.PoolReady.WithLabelValues(labID).Set(float64(m.PoolReady(labID)))
	}
	m.mx.QueueLength.Set(float64(m.QueueLength()))
}
