//go:build integration

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/app"
)

type warmSeatsJSON struct {
	Pool struct {
		Lab     string `json:"lab"`
		Ready   int    `json:"ready"`
		Target  int    `json:"target"`
		Active  bool   `json:"active"`
		Want    int    `json:"want"`
		Granted int    `json:"granted"`
	} `json:"pool"`
}

// A cohort whose class starts within --pool-lead gets its warm seats as
// ready boxes of its lab on the real engine, without any --pool flag; a
// member starting the lab claims one (a pool hit), which fills a seat
// (no refill for it); once the window is over the remaining box is
// drained and the learner's claimed box stays.
//
// The lab is prometheus-alerting: other suites remove every git-basics
// container when they end (docs/benchmarks.md, "Interference").
func TestCohortPoolWarmsBeforeClass(t *testing.T) {
	dataDir := t.TempDir()
	instance := instanceOf(t, dataDir)
	cleanupInstanceAfter(t, dataDir)
	addInstructor(t, dataDir, "cp-teacher")
	addLearner(t, dataDir, "cp-learner")
	srv := startServer(t, dataDir, func(c *app.Config) {
		c.Pool = nil
		c.PoolLead, c.PoolHold, c.PoolMax = 15*time.Minute, 30*time.Minute, 4
	})
	teacher := login(t, srv, "cp-teacher")

	var created struct {
		Cohort struct {
			ID int64 `json:"id"`
		} `json:"cohort"`
		Invite struct {
			URL string `json:"url"`
		} `json:"invite"`
	}
	if status := teacher.do("POST", "/api/v1/cohorts", map[string]string{"name": "Morning class", "labs": "prometheus-alerting", "seats": "5"}, &created); status != http.StatusCreated {
		t.Fatalf("create cohort: %d", status)
	}
	poolPath := fmt.Sprintf("/api/v1/cohorts/%d/pool", created.Cohort.ID)
	if got := instanceContainers(t, instance); len(got) != 0 {
		t.Fatalf("containers before any warm seats: %v", got)
	}

	// The class starts in about five minutes: inside the lead.
	starts := time.Now().UTC().Add(5 * time.Minute).Format("2006-01-02T15:04")
	var ws warmSeatsJSON
	if status := teacher.do("PUT", poolPath, map[string]string{"warm": "2", "starts_at": starts}, &ws); status != http.StatusOK {
		t.Fatalf("set warm seats: %d", status)
	}
	if !ws.Pool.Active || ws.Pool.Lab != "prometheus-alerting" || ws.Pool.Target != 2 {
		t.Fatalf("warm seats after set: %+v", ws.Pool)
	}
	waitPoolReady(t, srv, 2)
	boxes := instanceContainers(t, instance)
	if len(boxes) != 2 {
		t.Fatalf("warm boxes: %v", boxes)
	}
	if status := teacher.do("GET", poolPath, nil, &ws); status != http.StatusOK || ws.Pool.Ready != 2 || ws.Pool.Target != 2 {
		t.Fatalf("readiness: %d %+v", status, ws.Pool)
	}

	learner := login(t, srv, "cp-learner")
	token := created.Invite.URL[strings.LastIndex(created.Invite.URL, "/")+1:]
	if status := learner.do("POST", "/api/v1/join/"+token, map[string]any{}, nil); status != http.StatusOK {
		t.Fatalf("join: %d", status)
	}
	s := learner.startLab("prometheus-alerting")
	if _, ok := boxes[s.ID]; !ok {
		t.Fatalf("session %s is not one of the warm boxes %v: no pool hit", s.ID, boxes)
	}
	if !strings.Contains(srv.logs.String(), "lab session started from the warm pool") {
		t.Fatalf("no pool hit logged")
	}
	// One seat started: the class wants one box more, not two.
	if status := teacher.do("GET", poolPath, nil, &ws); status != http.StatusOK || ws.Pool.Want != 1 || ws.Pool.Target != 1 {
		t.Fatalf("warm seats after a claim: %d %+v", status, ws.Pool)
	}
	term := learner.terminal(s.ID)
	term.typeLine("echo warm-$((40+2))")
	term.expect("warm-42", 30*time.Second)

	// The class started two hours ago: the window (start + 30 min) is over.
	past := time.Now().UTC().Add(-2 * time.Hour).Format("2006-01-02T15:04")
	if status := teacher.do("PUT", poolPath, map[string]string{"warm": "2", "starts_at": past}, &ws); status != http.StatusOK || ws.Pool.Active || ws.Pool.Target != 0 {
		t.Fatalf("warm seats after the window: %+v", ws.Pool)
	}
	// The drain removes the container, then the network, then logs.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(srv.logs.String(), "drained: lab no longer pooled") {
		if time.Now().After(deadline) {
			t.Fatalf("the extra box was not drained: %v", instanceContainers(t, instance))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if left := instanceContainers(t, instance); len(left) != 1 {
		t.Fatalf("after the drain: %v; want only the learner's container", left)
	} else if _, ok := left[s.ID]; !ok {
		t.Fatalf("the learner's container went, a box stayed: %v", left)
	}
	term.typeLine("echo still-$((40+3))")
	term.expect("still-43", 30*time.Second)
}
