package dockerproxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
)

func limitsOf(t *testing.T, plan CreatePlan) Limits {
	t.Helper()
	var got container.CreateRequest
	if err := json.Unmarshal(plan.Body, &got); err != nil {
		t.Fatal(err)
	}
	h := got.HostConfig
	if h.PidsLimit == nil {
		t.Fatal("no pids limit")
	}
	if h.MemorySwap != h.Memory {
		t.Errorf("swap %d beside memory %d", h.MemorySwap, h.Memory)
	}
	return Limits{Memory: h.Memory, NanoCPUs: h.NanoCPUs, Pids: *h.PidsLimit}
}

func askFor(t *testing.T, mem, cpus, pids int64) []byte {
	return createBody(t, func(_ *container.Config, h *container.HostConfig) {
		h.Memory, h.NanoCPUs = mem, cpus
		if pids != 0 {
			h.PidsLimit = &pids
		}
	})
}

// TestBudgetSharedByTheSessionsContainers: the learner's containers share
// one budget. What is asked within what is left is given as asked; a
// container that asks for nothing gets its part of what is left (so the
// remaining slots still get some); asks beyond what is left are refused
// with what is left and how to free some.
func TestBudgetSharedByTheSessionsContainers(t *testing.T) {
	b := testBudget // 512 MiB, 1 CPU, 256 pids
	// Nothing held, five slots: a fifth of everything.
	plan, err := RewriteCreateShared(askFor(t, 0, 0, 0), testOwner, b, Share{Slots: 5})
	if err != nil {
		t.Fatal(err)
	}
	first := limitsOf(t, plan)
	if first.Memory != 102<<20 || first.NanoCPUs != 2e8 || first.Pids != 51 {
		t.Fatalf("a fifth of the budget: %+v", first)
	}
	// An explicit ask within what is left is kept as asked.
	plan, err = RewriteCreateShared(askFor(t, 300<<20, 5e8, 100), testOwner, b, Share{Taken: first, Slots: 4})
	if err != nil {
		t.Fatal(err)
	}
	second := limitsOf(t, plan)
	if second != (Limits{Memory: 300 << 20, NanoCPUs: 5e8, Pids: 100}) {
		t.Fatalf("asked within what is left: %+v", second)
	}
	held := first.Add(second) // 402 MiB, 0.7 CPU, 151 pids
	// Beyond what is left: refused, saying what is left.
	_, err = RewriteCreateShared(askFor(t, 200<<20, 0, 0), testOwner, b, Share{Taken: held, Slots: 3})
	ref, ok := err.(*Refusal)
	if !ok || ref.Status != 403 || !strings.Contains(ref.Message, "--memory 200 MiB: more memory than is left") ||
		!strings.Contains(ref.Message, "share 512 MiB") || !strings.Contains(ref.Message, "hold 402 MiB, so 110 MiB is left") ||
		!strings.Contains(ref.Message, "-m 110m") || !strings.Contains(ref.Message, "docker rm") {
		t.Fatalf("memory beyond what is left: %v", err)
	}
	_, err = RewriteCreateShared(askFor(t, 0, 4e8, 0), testOwner, b, Share{Taken: held, Slots: 3})
	if err == nil || !strings.Contains(err.Error(), "--cpus 0.40 CPUs: more CPU than is left") || !strings.Contains(err.Error(), "0.30 CPUs is left") {
		t.Fatalf("CPU beyond what is left: %v", err)
	}
	_, err = RewriteCreateShared(askFor(t, 0, 0, 200), testOwner, b, Share{Taken: held, Slots: 3})
	if err == nil || !strings.Contains(err.Error(), "--pids-limit 200 processes") || !strings.Contains(err.Error(), "105 processes is left") {
		t.Fatalf("pids beyond what is left: %v", err)
	}
	// Asking for more than the whole budget is refused too, not lowered.
	_, err = RewriteCreateShared(askFor(t, 8<<30, 0, 0), testOwner, b, Share{Slots: 5})
	if err == nil || !strings.Contains(err.Error(), "--memory 8 GiB") {
		t.Fatalf("beyond the whole budget: %v", err)
	}
	// No ask: a third of what is left.
	plan, err = RewriteCreateShared(askFor(t, 0, 0, -1), testOwner, b, Share{Taken: held, Slots: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := limitsOf(t, plan); got != (Limits{Memory: 36 << 20, NanoCPUs: 1e8, Pids: 35}) {
		t.Fatalf("a third of what is left: %+v", got)
	}
	// The last slot takes all that is left, whatever it is.
	plan, err = RewriteCreateShared(askFor(t, 0, 0, 0), testOwner, b, Share{Taken: held, Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := limitsOf(t, plan); got != (Limits{Memory: 110 << 20, NanoCPUs: 3e8, Pids: 105}) {
		t.Fatalf("the last slot: %+v", got)
	}
}

// TestBudgetNothingLeft: when the containers hold it all, a create is
// refused with the sentence, whether or not it asks for a limit; and
// little left still gives a usable floor, never more than is left.
func TestBudgetNothingLeft(t *testing.T) {
	b := testBudget
	all := Limits{Memory: b.Memory, NanoCPUs: b.NanoCPUs, Pids: b.PidsLimit}
	_, err := RewriteCreateShared(askFor(t, 0, 0, 0), testOwner, b, Share{Taken: all, Slots: 4})
	if err == nil || !strings.Contains(err.Error(), "no memory is left for another container") || !strings.Contains(err.Error(), "docker rm NAME") {
		t.Fatalf("nothing left, no ask: %v", err)
	}
	_, err = RewriteCreateShared(askFor(t, 64<<20, 0, 0), testOwner, b, Share{Taken: all, Slots: 4})
	if err == nil || !strings.Contains(err.Error(), "--memory 64 MiB: no memory is left") {
		t.Fatalf("nothing left, an ask: %v", err)
	}
	// More held than the budget (a container made before the budget
	// shrank): still nothing left, no negative limits.
	over := all.Add(all)
	if _, err := RewriteCreateShared(askFor(t, 0, 0, 0), testOwner, b, Share{Taken: over, Slots: 4}); err == nil {
		t.Fatal("a create passed with more than the budget held")
	}
	// 20 MiB left over 4 slots: the 16 MiB floor, not 5 MiB.
	some := Limits{Memory: b.Memory - 20<<20, NanoCPUs: 0, Pids: 0}
	plan, err := RewriteCreateShared(askFor(t, 0, 0, 0), testOwner, b, Share{Taken: some, Slots: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := limitsOf(t, plan); got.Memory != minMemory {
		t.Fatalf("floor: %+v", got)
	}
}

// TestHeldBy: a container without a limit holds the whole budget.
func TestHeldBy(t *testing.T) {
	b := testBudget
	if got := HeldBy(&container.HostConfig{}, b); got != (Limits{Memory: b.Memory, NanoCPUs: b.NanoCPUs, Pids: b.PidsLimit}) {
		t.Fatalf("no limits: %+v", got)
	}
	p := int64(-1)
	h := &container.HostConfig{Resources: container.Resources{Memory: 64 << 20, NanoCPUs: 1e8, PidsLimit: &p}}
	if got := HeldBy(h, b); got != (Limits{Memory: 64 << 20, NanoCPUs: 1e8, Pids: b.PidsLimit}) {
		t.Fatalf("unlimited pids: %+v", got)
	}
	if got := HeldBy(nil, b); got.Memory != b.Memory {
		t.Fatalf("nil: %+v", got)
	}
}

// TestCPUSharesCapped: a learner's --cpu-shares cannot outweigh the
// session containers of other learners.
func TestCPUSharesCapped(t *testing.T) {
	plan, err := RewriteCreateShared(createBody(t, func(_ *container.Config, h *container.HostConfig) { h.CPUShares = 262144 }), testOwner, testBudget, Share{Slots: 5})
	if err != nil {
		t.Fatal(err)
	}
	var got container.CreateRequest
	_ = json.Unmarshal(plan.Body, &got)
	if got.HostConfig.CPUShares != maxCPUShares {
		t.Fatalf("cpu shares %d", got.HostConfig.CPUShares)
	}
}

// FuzzRewriteShared: whatever the body and whatever the containers hold,
// a container that passes keeps the sum of the session's limits within
// the budget, with positive limits.
func FuzzRewriteShared(f *testing.F) {
	f.Add([]byte(`{"Image":"a","HostConfig":{"Memory":104857600,"NanoCPUs":500000000,"PidsLimit":20}}`), int64(400<<20), int64(5e8), int64(200), 3)
	f.Add([]byte(`{"Image":"a","HostConfig":{}}`), int64(0), int64(0), int64(0), 5)
	f.Add([]byte(`{"Image":"a","HostConfig":{"PidsLimit":-1,"Memory":-5}}`), int64(512<<20), int64(1e9), int64(256), 0)
	f.Fuzz(func(t *testing.T, body []byte, mem, cpu, pids int64, slots int) {
		b := testBudget
		// What containers can hold: 0..twice the budget.
		taken := Limits{Memory: mod(mem, 2*b.Memory), NanoCPUs: mod(cpu, 2*b.NanoCPUs), Pids: mod(pids, 2*b.PidsLimit)}
		plan, err := RewriteCreateShared(body, testOwner, b, Share{Taken: taken, Slots: slots % 10})
		if err != nil {
			if _, ok := err.(*Refusal); !ok {
				t.Fatalf("error is not a refusal: %v", err)
			}
			return
		}
		got := limitsOf(t, plan)
		sum := taken.Add(got)
		if got.Memory <= 0 || got.NanoCPUs <= 0 || got.Pids <= 0 || sum.Memory > b.Memory || sum.NanoCPUs > b.NanoCPUs || sum.Pids > b.PidsLimit {
			t.Fatalf("held %+v + new %+v is outside the budget %+v", taken, got, b)
		}
	})
}

func mod(v, m int64) int64 {
	if v < 0 {
		v = -(v + 1)
	}
	return v % (m + 1)
}
