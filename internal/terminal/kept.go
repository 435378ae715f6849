package terminal

import (
	"sync"
	"time"
)

// Bounds on what is kept for a learner who is not at their terminals: an
// instructor's messages are few, and one left for hours is stale.
const (
	maxKeptNotices = 5
	keptFor        = 2 * time.Hour
)

// keptNotices holds a session's messages while nobody is at its terminals.
// Its own lock, never held while taking another, lets a terminal take its
// session's messages under the terminal's lock.
type keptNotices struct {
	mu sync.Mutex
	by map[string][]keptNotice
}

type keptNotice struct {
	n  Notice
	at time.Time
}

func (k *keptNotices) keep(session string, n Notice, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.by == nil {
		k.by = map[string][]keptNotice{}
	}
	l := append(fresh(k.by[session], now), keptNotice{n: n, at: now})
	if len(l) > maxKeptNotices {
		l = l[len(l)-maxKeptNotices:]
	}
	k.by[session] = l
}

func (k *keptNotices) take(session string, now time.Time) []Notice {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := fresh(k.by[session], now)
	delete(k.by, session)
	out := make([]Notice, len(l))
	for i, kn := range l {
		out[i] = kn.n
	}
	return out
}

func (k *keptNotices) drop(session string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.by, session)
}

func fresh(l []keptNotice, now time.Time) []keptNotice {
	i := 0
	for i < len(l) && now.Sub(l[i].at) > keptFor {
		i++
	}
	return l[i:]
}
