package app

import (
	"context"
	"log/slog"
	"time"
)

// loginSweeper is the store's part the login sweep needs.
type loginSweeper interface {
	DeleteExpiredLogins(ctx context.Context, now time.Time) error
}

// sweepLogins deletes expired sign-ins at start and then every interval
// until ctx ends. An expired login is already refused on every request;
// without the sweep the table only ever grew, one row per sign-in.
func sweepLogins(ctx context.Context, st loginSweeper, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := st.DeleteExpiredLogins(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("delete expired sign-ins", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
