package opsdojo

import "time"

// CohortPool is a cohort's warm seats: how many ready containers of one of
// its labs the warm pool keeps for the class around its start, so the
// whole class gets a prompt at once instead of queueing for creates.
type CohortPool struct {
	CohortID int64 `json:"cohort_id"`
	// Warm is how many boxes to keep warm for the class; 0: off.
	Warm int `json:"warm"`
	// LabID is the lab warmed; empty: the cohort's first lab.
	LabID string `json:"lab_id"`
	// StartsAt is when the class starts; zero: the cohort's window opens.
	StartsAt time.Time `json:"starts_at"`
}

// Lab is the lab the warm seats are for: the one set, else the cohort's
// first lab ("" when the cohort has none).
func (p CohortPool) Lab(c Cohort) string {
	if p.LabID != "" {
		return p.LabID
	}
	if len(c.Labs) > 0 {
		return c.Labs[0]
	}
	return ""
}

// ClassStart is when the class starts: the time set, else the opening of
// the cohort's window (zero when neither is set).
func (p CohortPool) ClassStart(c Cohort) time.Time {
	if !p.StartsAt.IsZero() {
		return p.StartsAt
	}
	return c.OpensAt
}

// CohortPoolPlan is a cohort with warm seats switched on, as the pool's
// sizing reads it.
type CohortPoolPlan struct {
	Pool   CohortPool
	Cohort Cohort
}
