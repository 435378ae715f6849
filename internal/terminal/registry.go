package terminal

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Key names a terminal: its lab session and its tab.
type Key struct {
	Session string
	Tab     string
}

// ValidTab reports whether name can name a tab: 1 to 32 letters, digits
// and '-'.
func ValidTab(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Registry holds the live terminals of every session.
type Registry struct {
	cfg     Config
	maxTabs int

	mu     sync.Mutex
	terms  map[Key]*Term
	closed bool

	kept keptNotices
}

// NewRegistry returns an empty registry; maxTabs caps a session's
// terminals (default 5).
func NewRegistry(cfg Config, maxTabs int) *Registry {
	cfg.defaults()
	if maxTabs <= 0 {
		maxTabs = 5
	}
	return &Registry{cfg: cfg, maxTabs: maxTabs, terms: map[Key]*Term{}}
}

// MaxTabs is the cap on a session's terminals.
func (r *Registry) MaxTabs() int { return r.maxTabs }

// Get returns the live terminal under key, or nil.
func (r *Registry) Get(key Key) *Term {
	r.mu.Lock()
	t := r.terms[key]
	r.mu.Unlock()
	if t == nil || t.Finished() {
		return nil
	}
	return t
}

// Count returns how many live terminals a session has.
func (r *Registry) Count(session string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for k, t := range r.terms {
		if k.Session == session && !t.Finished() {
			n++
		}
	}
	return n
}

// Start makes a terminal of tty under key. It fails (and leaves tty to the
// caller) when the session has its maximum of terminals, the key is taken
// or the registry is closed.
func (r *Registry) Start(key Key, tty TTY, opts Options) (*Term, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, opsdojo.Errorf(opsdojo.EUNAVAILABLE, "the server is shutting down")
	}
	n := 0
	for k, t := range r.terms {
		if k.Session != key.Session || t.Finished() {
			continue
		}
		if k == key {
			return nil, opsdojo.Errorf(opsdojo.ECONFLICT, "the terminal %q is already open", key.Tab)
		}
		n++
	}
	if n >= r.maxTabs {
		return nil, opsdojo.Errorf(opsdojo.ETOOMANY, "a lab can have at most %d terminals; close one first", r.maxTabs)
	}
	opts.Tab = key.Tab
	userClose := opts.OnClose
	opts.OnClose = func(t *Term) {
		r.mu.Lock()
		if r.terms[key] == t {
			delete(r.terms, key)
		}
		r.mu.Unlock()
		if userClose != nil {
			userClose(t)
		}
	}
	opts.TakeKept = func() []Notice { return r.kept.take(key.Session, time.Now()) }
	t := New(tty, r.cfg, opts)
	r.terms[key] = t
	return t, nil
}

// List returns a session's live terminals by tab name.
func (r *Registry) List(session string) []Info {
	r.mu.Lock()
	var ts []*Term
	for k, t := range r.terms {
		if k.Session == session {
			ts = append(ts, t)
		}
	}
	r.mu.Unlock()
	out := []Info{}
	for _, t := range ts {
		if !t.Finished() {
			out = append(out, t.Info())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tab < out[j].Tab })
	return out
}

// CloseTab closes one terminal; false if there was none.
func (r *Registry) CloseTab(key Key, code int, text string) bool {
	t := r.Get(key)
	if t == nil {
		return false
	}
	t.Close(code, text)
	return true
}

// CloseSession closes every terminal of a session and forgets what was
// kept for it.
func (r *Registry) CloseSession(session string, code int, text string) {
	for _, t := range r.sessionTerms(session) {
		t.Close(code, text)
	}
	r.kept.drop(session)
}

func (r *Registry) sessionTerms(session string) []*Term {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []*Term
	for k, t := range r.terms {
		if k.Session == session {
			ts = append(ts, t)
		}
	}
	return ts
}

// NotifySession sends a notice to everyone at the session's terminals.
func (r *Registry) NotifySession(session string, n Notice) {
	for _, t := range r.sessionTerms(session) {
		t.Notify(n)
	}
}

// MessageSession sends n to everyone at the session's terminals. When no
// learner is at any of them (the lab page is closed, or the learner is
// between reconnects) it is also kept, bounded, for the next terminal the
// learner opens or reconnects to. It reports how many terminals had their
// learner at them.
func (r *Registry) MessageSession(session string, n Notice) int {
	drivers := 0
	for _, t := range r.sessionTerms(session) {
		if t.notifyHasDriver(n) {
			drivers++
		}
	}
	if drivers == 0 {
		r.kept.keep(session, n, time.Now())
	}
	return drivers
}

// CloseAll closes every terminal, refuses new ones, and waits until they
// have finished (their shells hung up) or ctx ends.
func (r *Registry) CloseAll(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	ts := make([]*Term, 0, len(r.terms))
	for _, t := range r.terms {
		ts = append(ts, t)
	}
	r.mu.Unlock()
	for _, t := range ts {
		t.Close(CloseGoingAway, "server shutting down")
	}
	for _, t := range ts {
		select {
		case <-t.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
