package opsdojo

import (
	"fmt"
	"time"
)

// PoolBoxState is where a warm-pool container is in its life.
type PoolBoxState string

const (
	// PoolCreating: the row was written before the container was asked
	// for, so a server that dies mid-create finds (and removes) it.
	PoolCreating PoolBoxState = "creating"
	// PoolReady: started, shell-verified, waiting for a learner.
	PoolReady PoolBoxState = "ready"
)

// PoolBox is a pre-created, started and shell-verified container (with its
// network) waiting in a lab's warm pool. Its ID becomes the session's ID
// when a learner claims it, so its container and network names and labels
// are exactly those of a container created for that session. A claim
// removes the row in the same transaction that writes the running
// session: a box is never handed out twice and never goes back to the pool.
type PoolBox struct {
	ID          string
	LabID       string
	Image       string // the content-hashed lab image it runs
	ContainerID string
	NetworkID   string
	State       PoolBoxState
	CreatedAt   time.Time
}

// QueuedError says a lab start waits for admission: the server is at its
// live-session cap or its create concurrency. Position counts from 1. The
// learner asks again (the start is idempotent) to keep their place.
type QueuedError struct {
	Position int
	// Reason says what is full, in words for the learner.
	Reason string
}

func (e *QueuedError) Error() string {
	return fmt.Sprintf("you are number %d in the queue to start this lab (%s)", e.Position, e.Reason)
}
