package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/terminal"
)

// loginSockets tracks, per login (its token hash), the terminal
// websockets it opened, drivers and viewers alike, so that ending the
// login ends them: logout calls close directly, and watch re-checks
// every login with sockets against the store, which catches logins that
// expired or were ended by another process (a password reset through
// `opsdojo user add`).
type loginSockets struct {
	mu     sync.Mutex
	logins map[string]*loginConns
}

type loginConns struct {
	cancels map[*context.CancelCauseFunc]struct{}
	expiry  *time.Timer
	expires time.Time
}

func newLoginSockets() *loginSockets {
	return &loginSockets{logins: map[string]*loginConns{}}
}

var (
	errSignedOut    = &terminal.CloseError{Code: terminal.CloseSignedOut, Text: "signed out"}
	errLoginExpired = &terminal.CloseError{Code: terminal.CloseSignedOut, Text: "your sign-in expired; sign in again"}
	errLoginEnded   = &terminal.CloseError{Code: terminal.CloseSignedOut, Text: "your sign-in ended; sign in again"}
)

// add registers a socket of login, served under a context derived from
// parent; remove must be called when the socket is done.
func (r *loginSockets) add(parent context.Context, login string) (ctx context.Context, remove func()) {
	ctx, cancel := context.WithCancelCause(parent)
	key := &cancel
	r.mu.Lock()
	lc := r.logins[login]
	if lc == nil {
		lc = &loginConns{cancels: map[*context.CancelCauseFunc]struct{}{}}
		r.logins[login] = lc
	}
	lc.cancels[key] = struct{}{}
	r.mu.Unlock()
	return ctx, func() {
		cancel(nil)
		r.mu.Lock()
		defer r.mu.Unlock()
		if lc := r.logins[login]; lc != nil {
			delete(lc.cancels, key)
			if len(lc.cancels) == 0 {
				if lc.expiry != nil {
					lc.expiry.Stop()
				}
				delete(r.logins, login)
			}
		}
	}
}

// close ends every socket of login with cause (a *terminal.CloseError).
// Once it returns, none of them passes input to a shell any more.
func (r *loginSockets) close(login string, cause error) int {
	r.mu.Lock()
	lc := r.logins[login]
	var cancels []context.CancelCauseFunc
	if lc != nil {
		for c := range lc.cancels {
			cancels = append(cancels, *c)
		}
		if lc.expiry != nil {
			lc.expiry.Stop()
		}
		delete(r.logins, login)
	}
	r.mu.Unlock()
	for _, cancel := range cancels {
		cancel(cause)
	}
	return len(cancels)
}

// expireAt closes login's sockets when it expires.
func (r *loginSockets) expireAt(login string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lc := r.logins[login]
	if lc == nil || lc.expires.Equal(at) {
		return
	}
	if lc.expiry != nil {
		lc.expiry.Stop()
	}
	lc.expires = at
	lc.expiry = time.AfterFunc(time.Until(at), func() { r.close(login, errLoginExpired) })
}

func (r *loginSockets) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.logins))
	for l := range r.logins {
		out = append(out, l)
	}
	return out
}

// check closes the sockets of every login that is no longer valid, and
// arms expiry timers for the rest.
func (r *loginSockets) check(ctx context.Context, users Users, log *slog.Logger) {
	logins := r.list()
	if len(logins) == 0 {
		return
	}
	valid, err := users.ValidLogins(ctx, logins)
	if err != nil {
		// A database hiccup must not throw every learner out: try again
		// at the next check.
		log.Warn("could not re-check the logins of open terminals", "err", err)
		return
	}
	for _, l := range logins {
		if exp, ok := valid[l]; ok {
			r.expireAt(l, exp)
		} else if n := r.close(l, errLoginEnded); n > 0 {
			log.Info("closed the terminals of an ended login", "sockets", n)
		}
	}
}

// watch runs check every interval until ctx ends.
func (r *loginSockets) watch(ctx context.Context, every time.Duration, users Users, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r.check(cctx, users, log)
			cancel()
		}
	}
}
