package loginlimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testConfig(clock *fakeClock) Config {
	return Config{
		AccountFree:       3,
		AccountBackoff:    time.Second,
		AccountMaxBackoff: 8 * time.Second,
		AccountForget:     time.Hour,
		Address:           Budget{Burst: 5, Every: 10 * time.Second},
		Global:            Budget{Burst: 8, Every: time.Second},
		Device:            Budget{Burst: 2, Every: time.Minute},
		MaxEntries:        100,
		Now:               clock.Now,
	}
}

// step is one sign-in attempt in a scenario: who, from where, with which
// device cookie, whether the password is right, and what must happen.
type step struct {
	advance  time.Duration
	addr     string
	user     string
	device   string
	right    bool
	repeat   int
	refused  Reason // "" : allowed
	retry    time.Duration
	trusted  bool
	describe string
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"one account: free failures, then doubling backoff up to the cap", []step{
			{addr: "10.0.0.1", user: "ada", repeat: 3},
			{addr: "10.0.0.1", user: "ada", refused: ReasonAccount, retry: time.Second, describe: "after 3 failures: 1 s"},
			{advance: time.Second, addr: "10.0.0.2", user: "ADA", describe: "another address and case: same account"},
			{addr: "10.0.0.3", user: "ada", refused: ReasonAccount, retry: 2 * time.Second},
			{advance: 2 * time.Second, addr: "10.0.0.3", user: "ada"},
			{addr: "10.0.0.3", user: "ada", refused: ReasonAccount, retry: 4 * time.Second},
			{advance: 4 * time.Second, addr: "10.0.0.4", user: "ada"},
			{advance: 8 * time.Second, addr: "10.0.0.4", user: "ada", describe: "capped at 8 s"},
			{addr: "10.0.0.4", user: "ada", refused: ReasonAccount, retry: 8 * time.Second},
		}},
		{"the right password is never limited by earlier failures of other accounts below the budget", []step{
			{addr: "10.0.0.1", user: "bob", repeat: 3},
			{addr: "10.0.0.1", user: "ada", right: true},
			{addr: "10.0.0.1", user: "ada", right: true},
		}},
		{"success clears an account's failures", []step{
			{addr: "10.0.0.1", user: "ada", repeat: 2},
			{addr: "10.0.0.1", user: "ada", right: true},
			{addr: "10.0.0.2", user: "ada", repeat: 3, describe: "three free failures again"},
			{addr: "10.0.0.2", user: "ada", refused: ReasonAccount, retry: time.Second},
		}},
		{"spraying many accounts from one address spends its budget", []step{
			{addr: "10.0.0.1", user: "u1"}, {addr: "10.0.0.1", user: "u2"}, {addr: "10.0.0.1", user: "u3"},
			{addr: "10.0.0.1", user: "u4"}, {addr: "10.0.0.1", user: "u5"},
			{addr: "10.0.0.1", user: "u6", refused: ReasonAddress, retry: 10 * time.Second},
			{addr: "10.0.0.1", user: "ada", right: true, refused: ReasonAddress, retry: 10 * time.Second,
				describe: "without a device cookie even the right password waits"},
			{addr: "10.0.0.2", user: "ada", right: true, describe: "another address is not affected"},
			{advance: 10 * time.Second, addr: "10.0.0.1", user: "u7", describe: "one failure refilled"},
			{addr: "10.0.0.1", user: "u8", refused: ReasonAddress, retry: 10 * time.Second},
		}},
		{"IPv6 counts by /64", []step{
			{addr: "2001:db8::1", user: "u1"}, {addr: "2001:db8::2", user: "u2"}, {addr: "2001:db8::3", user: "u3"},
			{addr: "2001:db8::4", user: "u4"}, {addr: "2001:db8::5", user: "u5"},
			{addr: "2001:db8::ffff:6", user: "u6", refused: ReasonAddress, retry: 10 * time.Second},
			{addr: "2001:db8:0:1::1", user: "u6", describe: "the next /64 is someone else"},
		}},
		{"spraying from many addresses spends the global budget", []step{
			{addr: "10.0.0.1", user: "u1"}, {addr: "10.0.0.2", user: "u2"}, {addr: "10.0.0.3", user: "u3"},
			{addr: "10.0.0.4", user: "u4"}, {addr: "10.0.0.5", user: "u5"}, {addr: "10.0.0.6", user: "u6"},
			{addr: "10.0.0.7", user: "u7"}, {addr: "10.0.0.8", user: "u8"},
			{addr: "10.0.0.9", user: "u9", refused: ReasonGlobal, retry: time.Second},
			{advance: time.Second, addr: "10.0.0.9", user: "u9"},
		}},
		{"a victim's device cookie gets through an address and account lockout", []step{
			{addr: "10.0.0.1", user: "ada", repeat: 3, describe: "an attacker on the classroom's address"},
			{addr: "10.0.0.1", user: "u2"}, {addr: "10.0.0.1", user: "u3"},
			{addr: "10.0.0.1", user: "ada", right: true, refused: ReasonAddress, retry: 10 * time.Second},
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", right: true, trusted: true},
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", right: true, trusted: true, repeat: 5,
				describe: "successes do not spend the device budget"},
		}},
		{"a device cookie has its own small failure budget, then counts for nothing", []step{
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", trusted: true, repeat: 2},
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", trusted: false, describe: "budget spent: an ordinary attempt"},
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", trusted: false, repeat: 2},
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", refused: ReasonAccount, retry: time.Second},
			{advance: time.Minute, addr: "10.0.0.1", user: "ada", device: "dev-ada", trusted: true, right: true},
		}},
		{"trusted successes do not reset the attacker's backoff on the account", []step{
			{addr: "10.0.0.9", user: "ada", repeat: 3},
			{addr: "10.0.0.1", user: "ada", device: "dev-ada", right: true, trusted: true},
			{addr: "10.0.0.9", user: "ada", refused: ReasonAccount, retry: time.Second},
		}},
		{"refused attempts are not charged", []step{
			{addr: "10.0.0.1", user: "ada", repeat: 3},
			{addr: "10.0.0.1", user: "ada", refused: ReasonAccount, retry: time.Second, repeat: 50},
			{addr: "10.0.0.1", user: "bob", repeat: 2, describe: "the address still has 2 of 5"},
			{addr: "10.0.0.1", user: "cy", refused: ReasonAddress, retry: 10 * time.Second},
		}},
		{"the longest wait wins when several limits refuse", []step{
			{addr: "10.0.0.1", user: "ada", repeat: 3},
			{addr: "10.0.0.1", user: "bob", repeat: 2},
			{addr: "10.0.0.1", user: "ada", refused: ReasonAddress, retry: 10 * time.Second, describe: "account 1 s, address 10 s"},
		}},
		{"failures are forgotten after an hour", []step{
			{addr: "10.0.0.1", user: "ada", repeat: 3},
			{advance: time.Hour, addr: "10.0.0.2", user: "ada", repeat: 3},
			{addr: "10.0.0.2", user: "ada", refused: ReasonAccount, retry: time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			g := New(testConfig(clock))
			for i, st := range tt.steps {
				clock.Advance(st.advance)
				for r := 0; r < max(1, st.repeat); r++ {
					a, refusal := g.Begin(st.addr, st.user, st.device)
					where := fmt.Sprintf("step %d (%s) #%d", i, st.describe, r+1)
					if st.refused != "" {
						if refusal == nil {
							t.Fatalf("%s: allowed, want refused by %s", where, st.refused)
						}
						if refusal.Reason != st.refused || refusal.RetryAfter != st.retry {
							t.Fatalf("%s: refused %+v, want %s after %s", where, *refusal, st.refused, st.retry)
						}
						continue
					}
					if refusal != nil {
						t.Fatalf("%s: refused %+v, want allowed", where, *refusal)
					}
					if a.Trusted() != st.trusted {
						t.Fatalf("%s: trusted %v, want %v", where, a.Trusted(), st.trusted)
					}
					if st.right {
						g.Succeeded(a)
					}
				}
			}
		})
	}
}

// Concurrent attempts cannot overrun a budget: each is charged before it
// is tried.
func TestGuardConcurrent(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	g := New(testConfig(clock))
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, r := g.Begin("10.0.0.1", fmt.Sprintf("u%d", i), ""); r == nil {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d concurrent attempts allowed, want the address budget of 5", allowed)
	}
}

// Tables never hold more than MaxEntries, whatever the input.
func TestGuardBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	cfg := testConfig(clock)
	cfg.Global = Budget{Burst: 1 << 30, Every: time.Second}
	cfg.MaxEntries = 50
	g := New(cfg)
	for i := 0; i < 10000; i++ {
		g.Begin(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("user-%d-%0300d", i, 0), fmt.Sprintf("dev-%d", i))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.accounts.len() > 50 || g.address.t.len() > 50 || g.devices.t.len() > 50 {
		t.Fatalf("tables grew: %d accounts, %d addresses, %d devices", g.accounts.len(), g.address.t.len(), g.devices.t.len())
	}
	for el := g.accounts.lru.Front(); el != nil; el = el.Next() {
		if k := el.Value.(*entry[accountState]).key; len(k) > 64 {
			t.Fatalf("account key of %d bytes kept", len(k))
		}
	}
}

// Full buckets are forgotten, so an idle table empties itself.
func TestBucketsExpire(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	bs := NewBuckets(Budget{Burst: 2, Every: time.Second}, 10, clock.Now)
	for _, want := range []bool{true, true, false} {
		if ok, _ := bs.Take("a"); ok != want {
			t.Fatalf("take: %v, want %v", ok, want)
		}
	}
	if ok, wait := bs.Take("a"); ok || wait != time.Second {
		t.Fatalf("empty bucket: %v %s", ok, wait)
	}
	bs.Refund("a")
	if ok, _ := bs.Take("a"); !ok {
		t.Fatal("refunded token not there")
	}
	clock.Advance(3 * time.Second)
	bs.Take("b") // meets "a" at the back: full again, so dropped
	if n := bs.Len(); n != 1 {
		t.Fatalf("%d keys kept, want 1", n)
	}
}

func TestKeys(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not-an-ip":            "?not-an-ip",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
	if AccountKey(" Ada ") != "ada" {
		t.Error("account keys are case-insensitive")
	}
}
