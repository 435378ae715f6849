// Package loginlimit decides whether a sign-in attempt may be tried, so
// that password guessing is slow whichever way an attacker spreads it:
//
//   - one account from anywhere: exponential backoff per account after a
//     few failures;
//   - many accounts from one address (spraying): a failure budget per
//     client address (IPv6 by /64, since one host owns a whole /64);
//   - many accounts from many addresses: a global failure budget.
//
// Only failures count: every attempt is charged up front (so concurrent
// attempts cannot overrun a budget) and refunded when it succeeds.
//
// A browser that has signed in as a user before carries a device cookie
// (OWASP "device cookies"); for that user it is exempt from the three
// limits above and spends a small budget of its own instead. So an
// attacker sharing a classroom's NAT address, or guessing the victim's
// account, cannot lock the victim out of their usual browser.
//
// Every table is bounded (least recently used entries go first) and
// entries expire, so no input can grow memory without bound. The package
// knows nothing about HTTP.
package loginlimit

import (
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Budget is a token bucket of failures: Burst failures at once, then one
// more every Every.
type Budget struct {
	Burst int
	Every time.Duration
}

// Config tunes a Guard. Zero fields take DefaultConfig's values.
type Config struct {
	// AccountFree failures of one account go without delay; the next
	// attempt after the n-th failure beyond that must wait
	// AccountBackoff·2^(n-AccountFree), at most AccountMaxBackoff.
	AccountFree       int
	AccountBackoff    time.Duration
	AccountMaxBackoff time.Duration
	// AccountForget: an account's failures are forgotten this long after
	// its last one.
	AccountForget time.Duration
	// Address is the failure budget of one client address.
	Address Budget
	// Global is the failure budget of the whole server.
	Global Budget
	// Device is the failure budget of one device cookie; once it is spent
	// the cookie counts for nothing until it refills.
	Device Budget
	// MaxEntries bounds each table (accounts, addresses, devices).
	MaxEntries int
	// Now is the clock (tests pass a fake one).
	Now func() time.Time
}

// DefaultConfig returns the limits opsdojo serves with. They are sized
// for a classroom of 30 behind one address: each learner may mistype a
// few times without anyone being refused.
func DefaultConfig() Config {
	return Config{
		AccountFree:       5,
		AccountBackoff:    time.Second,
		AccountMaxBackoff: 15 * time.Minute,
		AccountForget:     time.Hour,
		Address:           Budget{Burst: 50, Every: 10 * time.Second},
		Global:            Budget{Burst: 300, Every: time.Second},
		Device:            Budget{Burst: 10, Every: time.Minute},
		MaxEntries:        20000,
		Now:               time.Now,
	}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.AccountFree <= 0 {
		c.AccountFree = d.AccountFree
	}
	if c.AccountBackoff <= 0 {
		c.AccountBackoff = d.AccountBackoff
	}
	if c.AccountMaxBackoff <= 0 {
		c.AccountMaxBackoff = d.AccountMaxBackoff
	}
	if c.AccountForget <= 0 {
		c.AccountForget = d.AccountForget
	}
	if c.Address.Burst <= 0 || c.Address.Every <= 0 {
		c.Address = d.Address
	}
	if c.Global.Burst <= 0 || c.Global.Every <= 0 {
		c.Global = d.Global
	}
	if c.Device.Burst <= 0 || c.Device.Every <= 0 {
		c.Device = d.Device
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = d.MaxEntries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Reason says which limit refused an attempt.
type Reason string

const (
	ReasonAccount Reason = "account" // this account failed too often
	ReasonAddress Reason = "address" // this address failed too often
	ReasonGlobal  Reason = "global"  // the server sees too many failures
)

// Refusal is why an attempt may not be tried, and when it may.
type Refusal struct {
	Reason     Reason
	RetryAfter time.Duration
}

// Attempt is an attempt that was allowed (and charged as a failure).
// Pass it to Succeeded when the password was right.
type Attempt struct {
	account, address, device string
	trusted                  bool
}

// Trusted reports whether the attempt went through its device cookie's
// budget instead of the account, address and global limits.
func (a Attempt) Trusted() bool { return a.trusted }

// Guard holds the counters. It is safe for concurrent use.
type Guard struct {
	cfg Config

	mu       sync.Mutex
	accounts *table[accountState]
	address  *Buckets
	global   bucket
	devices  *Buckets
}

type accountState struct {
	failures    int
	last        time.Time // of the last failure
	lockedUntil time.Time
}

// New returns a Guard with cfg (zero fields: defaults).
func New(cfg Config) *Guard {
	cfg.defaults()
	g := &Guard{cfg: cfg}
	g.accounts = newTable[accountState](cfg.MaxEntries, func(a *accountState, now time.Time) bool {
		return now.Sub(a.last) >= cfg.AccountForget
	})
	g.address = NewBuckets(cfg.Address, cfg.MaxEntries, cfg.Now)
	g.devices = NewBuckets(cfg.Device, cfg.MaxEntries, cfg.Now)
	g.global = bucket{tokens: cfg.Global.Burst, last: cfg.Now()}
	return g
}

// AccountKey is how an account is counted: usernames are
// case-insensitive, and any input is cut to a bounded key. Unknown
// usernames are counted exactly like known ones, so a refusal tells an
// attacker nothing about which accounts exist.
func AccountKey(username string) string {
	k := strings.ToLower(strings.TrimSpace(username))
	if len(k) > 64 {
		k = k[:64]
	}
	return k
}

// AddressKey is how a client address is counted: IPv4 by address, IPv6
// by its /64 (one host or home gets a whole /64 and could otherwise walk
// it), anything unparseable by a bounded prefix of its text.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		if len(ip) > 64 {
			ip = ip[:64]
		}
		return "?" + ip
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Begin asks whether a sign-in to username from address may be tried.
// device is the nonce of a valid device cookie for that same username
// (empty: none). An allowed attempt is charged as a failure until
// Succeeded refunds it.
func (g *Guard) Begin(address, username, device string) (Attempt, *Refusal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	a := Attempt{account: AccountKey(username), address: AddressKey(address), device: device}
	if device != "" {
		if ok, _ := g.devices.take(device, now); ok {
			a.trusted = true
			return a, nil
		}
		// The cookie's own budget is spent: it counts for nothing.
	}
	var refusal *Refusal
	refuse := func(r Reason, wait time.Duration) {
		if refusal == nil || wait > refusal.RetryAfter {
			refusal = &Refusal{Reason: r, RetryAfter: wait}
		}
	}
	acct := g.accounts.get(a.account, now)
	if acct != nil && now.Before(acct.lockedUntil) {
		refuse(ReasonAccount, acct.lockedUntil.Sub(now))
	}
	if wait := g.address.wait(a.address, now); wait > 0 {
		refuse(ReasonAddress, wait)
	}
	if wait := g.global.wait(g.cfg.Global, now); wait > 0 {
		refuse(ReasonGlobal, wait)
	}
	if refusal != nil {
		return Attempt{}, refusal
	}
	// Charge everything at once, only now that nothing refused.
	g.address.take(a.address, now)
	g.global.take(g.cfg.Global, now)
	if acct == nil {
		acct = g.accounts.put(a.account, now)
	}
	acct.failures++
	acct.last = now
	if n := acct.failures - g.cfg.AccountFree; n >= 0 {
		acct.lockedUntil = now.Add(backoff(g.cfg.AccountBackoff, g.cfg.AccountMaxBackoff, n))
	}
	return a, nil
}

// Succeeded refunds an attempt whose password was right. An untrusted
// success also clears the account's failures (whoever knows the
// password gains nothing from guessing); a trusted one leaves them, so
// the owner's sign-ins cannot be used to reset an attacker's backoff.
func (g *Guard) Succeeded(a Attempt) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	if a.trusted {
		g.devices.refund(a.device, now)
		return
	}
	g.address.refund(a.address, now)
	g.global.refund(g.cfg.Global, now)
	g.accounts.remove(a.account)
}

func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// bucket is one token bucket of failures.
type bucket struct {
	tokens int
	last   time.Time // when tokens was last brought up to date
}

// refill brings tokens up to date at now.
func (b *bucket) refill(bg Budget, now time.Time) {
	if b.tokens >= bg.Burst {
		b.tokens, b.last = bg.Burst, now
		return
	}
	if n := int(now.Sub(b.last) / bg.Every); n > 0 {
		b.tokens = min(bg.Burst, b.tokens+n)
		b.last = b.last.Add(time.Duration(n) * bg.Every)
		if b.tokens == bg.Burst {
			b.last = now
		}
	}
}

// wait is how long until a token is there (0: now).
func (b *bucket) wait(bg Budget, now time.Time) time.Duration {
	b.refill(bg, now)
	if b.tokens > 0 {
		return 0
	}
	return bg.Every - now.Sub(b.last)
}

func (b *bucket) take(bg Budget, now time.Time) bool {
	if b.wait(bg, now) > 0 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refund(bg Budget, now time.Time) {
	b.refill(bg, now)
	b.tokens = min(bg.Burst, b.tokens+1)
}

// Buckets is a token bucket per key, in a bounded table. A key whose
// bucket is full again is forgotten.
type Buckets struct {
	budget Budget
	now    func() time.Time
	mu     sync.Mutex
	t      *table[bucket]
}

// NewBuckets returns per-key budgets; at most maxEntries keys are kept
// (the least recently used go first).
func NewBuckets(b Budget, maxEntries int, now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{budget: b, now: now, t: newTable[bucket](maxEntries, func(x *bucket, now time.Time) bool {
		x.refill(b, now)
		return x.tokens >= b.Burst
	})}
}

// Take spends one token of key's budget; when there is none it returns
// false and how long until there is.
func (bs *Buckets) Take(key string) (bool, time.Duration) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.take(key, bs.now())
}

// Refund gives key's token back.
func (bs *Buckets) Refund(key string) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.refund(key, bs.now())
}

// Len is how many keys are tracked.
func (bs *Buckets) Len() int {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.t.len()
}

// The lower-case methods expect the caller to hold what serialises
// access (bs.mu, or the Guard's mutex for the Guard's own tables).

func (bs *Buckets) wait(key string, now time.Time) time.Duration {
	b := bs.t.get(key, now)
	if b == nil {
		return 0
	}
	return b.wait(bs.budget, now)
}

func (bs *Buckets) take(key string, now time.Time) (bool, time.Duration) {
	b := bs.t.get(key, now)
	if b == nil {
		b = bs.t.put(key, now)
		*b = bucket{tokens: bs.budget.Burst, last: now}
	}
	if w := b.wait(bs.budget, now); w > 0 {
		return false, w
	}
	b.tokens--
	return true, 0
}

func (bs *Buckets) refund(key string, now time.Time) {
	if b := bs.t.get(key, now); b != nil {
		b.refund(bs.budget, now)
	}
}

// table is a map bounded to max entries: when full, the least recently
// used entry is dropped. expired entries are dropped when met.
type table[V any] struct {
	max     int
	expired func(*V, time.Time) bool
	m       map[string]*list.Element
	lru     *list.List // front: most recently used
}

type entry[V any] struct {
	key string
	v   V
}

func newTable[V any](max int, expired func(*V, time.Time) bool) *table[V] {
	return &table[V]{max: max, expired: expired, m: map[string]*list.Element{}, lru: list.New()}
}

func (t *table[V]) len() int { return len(t.m) }

// get returns key's entry, or nil when there is none or it expired.
func (t *table[V]) get(key string, now time.Time) *V {
	el, ok := t.m[key]
	if !ok {
		return nil
	}
	e := el.Value.(*entry[V])
	if t.expired(&e.v, now) {
		t.lru.Remove(el)
		delete(t.m, key)
		return nil
	}
	t.lru.MoveToFront(el)
	return &e.v
}

// put adds a zero entry under key (which must be absent).
func (t *table[V]) put(key string, now time.Time) *V {
	// Entries used least recently sit at the back: drop a few expired
	// ones from there, and the oldest live one if the table is full.
	for i := 0; i < 4 && t.lru.Len() > 0; i++ {
		back := t.lru.Back()
		e := back.Value.(*entry[V])
		if !t.expired(&e.v, now) {
			break
		}
		t.lru.Remove(back)
		delete(t.m, e.key)
	}
	for len(t.m) >= t.max {
		back := t.lru.Back()
		t.lru.Remove(back)
		delete(t.m, back.Value.(*entry[V]).key)
	}
	e := &entry[V]{key: key}
	t.m[key] = t.lru.PushFront(e)
	return &e.v
}

func (t *table[V]) remove(key string) {
	if el, ok := t.m[key]; ok {
		t.lru.Remove(el)
		delete(t.m, key)
	}
}
