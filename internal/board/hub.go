package board

import (
	"sync"

	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// Hub fans the session manager's events out to open boards. A publisher
// never blocks: each subscriber keeps the set of learners whose rows
// changed and a one-slot wake-up channel, so a slow board coalesces many
// events into one refresh instead of queueing them. Subscribers are
// bounded in all and per user.
type Hub struct {
	mu      sync.Mutex
	subs    map[*Sub]struct{}
	perUser map[int64]int
	max     int
	maxUser int
}

// maxDirty: past this many changed learners a subscriber refreshes the
// whole board instead of remembering each.
const maxDirty = 1000

// NewHub returns a hub for at most max subscribers, maxPerUser of one user.
func NewHub(max, maxPerUser int) *Hub {
	if max <= 0 {
		max = 200
	}
	if maxPerUser <= 0 {
		maxPerUser = 8
	}
	return &Hub{subs: map[*Sub]struct{}{}, perUser: map[int64]int{}, max: max, maxUser: maxPerUser}
}

// Sub is one open board's subscription.
type Sub struct {
	hub    *Hub
	owner  int64
	wanted func(userID int64, labID string) bool
	// C is signalled (never closed) when Take has something.
	C chan struct{}

	mu    sync.Mutex
	dirty map[int64]bool
	all   bool
}

// Subscribe registers a board that cares about the events wanted accepts.
// Too many open boards is ETOOMANY.
func (h *Hub) Subscribe(owner int64, wanted func(userID int64, labID string) bool) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, opsdojo.Errorf(opsdojo.ETOOMANY, "too many live boards are open on this server; try again later")
	}
	if h.perUser[owner] >= h.maxUser {
		return nil, opsdojo.Errorf(opsdojo.ETOOMANY, "you have %d live boards open; close one", h.perUser[owner])
	}
	s := &Sub{hub: h, owner: owner, wanted: wanted, C: make(chan struct{}, 1), dirty: map[int64]bool{}}
	h.subs[s] = struct{}{}
	h.perUser[owner]++
	return s, nil
}

// Close unsubscribes; calling it twice is harmless.
func (s *Sub) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.perUser[s.owner]--; h.perUser[s.owner] <= 0 {
		delete(h.perUser, s.owner)
	}
}

// Take returns the learners whose rows changed since the last Take, or
// all=true when too many did to list.
func (s *Sub) Take() (users []int64, all bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for u := range s.dirty {
		users = append(users, u)
	}
	all = s.all
	s.dirty, s.all = map[int64]bool{}, false
	return users, all
}

// Publish tells every interested subscriber about ev.
func (h *Hub) Publish(ev opsdojo.CheckEvent) {
	h.mu.Lock()
	subs := make([]*Sub, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()
	for _, s := range subs {
		if !s.wanted(ev.UserID, ev.LabID) {
			continue
		}
		s.mu.Lock()
		if len(s.dirty) >= maxDirty {
			s.all = true
		} else {
			s.dirty[ev.UserID] = true
		}
		s.mu.Unlock()
		select {
		case s.C <- struct{}{}:
		default: // already signalled
		}
	}
}

// Count returns the open subscriptions.
func (h *Hub) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}
