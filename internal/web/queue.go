package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// queuedJSON answers a lab start that waits for admission: 202, so the
// page shows the learner's place and asks again (which keeps the place)
// rather than spinning until a proxy times out.
type queuedJSON struct {
	Queued   bool   `json:"queued"`
	Position int    `json:"position"`
	Message  string `json:"message"`
}

func queued(c echo.Context, q *opsdojo.QueuedError) error {
	return c.JSON(http.StatusAccepted, queuedJSON{Queued: true, Position: q.Position, Message: q.Error()})
}

func asQueued(err error) (*opsdojo.QueuedError, bool) {
	var q *opsdojo.QueuedError
	return q, errors.As(err, &q)
}
