package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/cohort"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
)

// storeRef lets the warm seats be built before the env's store exists.
type storeRef struct{ *store.Store }

// TestCohortWarmSeatsForm: only the cohort's instructors and admins read
// and set its warm seats; bad input (not a number, over the seats or the
// server's cap, a lab not of the cohort or that the pool cannot hold, a
// bad time, no class start) is refused with a clear message and changes
// nothing; good input is stored and shown with the lab's pool readiness
// on the cohort's page.
func TestCohortWarmSeatsForm(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	ref := &storeRef{}
	warm := cohort.NewPool(ref, cohort.PoolConfig{Lead: 15 * time.Minute, Hold: 30 * time.Minute, Max: 4, Poolable: func(id string) error {
		if id == "demo2" {
			return errors.New("it is not loaded")
		}
		return nil
	}}, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	e := newCohortEnv(t, Config{WarmSeats: warm}, session.Config{})
	ref.Store = e.st
	admin, _ := e.user(t, "root", opsdojo.RoleAdmin)
	learner, _ := e.user(t, "lee", opsdojo.RoleLearner)
	other, _ := e.user(t, "otto", opsdojo.RoleInstructor)
	owner, ownerU := e.user(t, "ina", opsdojo.RoleInstructor)
	anon := e.client(t)
	co, _ := e.cohort(t, ownerU, opsdojo.Cohort{Name: "A", Labs: []string{"demo", "demo2"}, Seats: 3, OpensAt: now.Add(10 * time.Minute)})
	big, _ := e.cohort(t, ownerU, opsdojo.Cohort{Name: "Big", Labs: []string{"demo"}, Seats: 30, OpensAt: now.Add(time.Hour)})
	noStart, _ := e.cohort(t, ownerU, opsdojo.Cohort{Name: "NoStart", Labs: []string{"demo"}, Seats: 30})
	path := func(c opsdojo.Cohort) string { return fmt.Sprintf("/api/v1/cohorts/%d/pool", c.ID) }

	for _, w := range []struct {
		name string
		c    *client
	}{{"anonymous", anon}, {"learner", learner}, {"other instructor", other}} {
		for _, method := range []string{"GET", "PUT"} {
			if status, body := w.c.api(method, path(co), `{"warm":"2"}`); status != 404 {
				t.Fatalf("%s %s: %d %v, want 404", w.name, method, status, body)
			}
		}
	}
	if got, _ := e.st.CohortPool(context.Background(), co.ID); got.Warm != 0 {
		t.Fatalf("a refused user changed the warm seats: %+v", got)
	}

	for _, tc := range []struct {
		name   string
		cohort opsdojo.Cohort
		body   string
		want   string
	}{
		{"not a number", co, `{"warm":"lots"}`, "warm seats must be a whole number"},
		{"negative", co, `{"warm":"-1"}`, "warm seats must be a whole number"},
		{"more than the seats", co, `{"warm":"4"}`, "the cohort's 3 seats"},
		{"over the server's cap", big, `{"warm":"5"}`, "this server's cap (--pool-max)"},
		{"not a cohort lab", co, `{"warm":"1","lab":"nope"}`, `the lab "nope" is not one of this cohort's labs`},
		{"a lab the pool cannot hold", co, `{"warm":"1","lab":"demo2"}`, "cannot have warm seats: it is not loaded"},
		{"a bad time", co, `{"warm":"1","starts_at":"tomorrow morning"}`, "class starts at: write a date and time"},
		{"no class start", noStart, `{"warm":"1"}`, "warm seats need a class start"},
	} {
		status, body := owner.api("PUT", path(tc.cohort), tc.body)
		msg, _ := body["error"].(map[string]any)["message"].(string)
		if status != 400 || !strings.Contains(msg, tc.want) {
			t.Fatalf("%s: %d %v, want 400 with %q", tc.name, status, body, tc.want)
		}
		if got, _ := e.st.CohortPool(context.Background(), tc.cohort.ID); got.Warm != 0 {
			t.Fatalf("%s: refused settings were stored: %+v", tc.name, got)
		}
	}

	// The owner switches it on for the first lab at the opening (in 10
	// minutes: inside the 15-minute lead).
	status, body := owner.api("PUT", path(co), `{"warm":"2","lab":"","starts_at":""}`)
	if status != 200 {
		t.Fatalf("set: %d %v", status, body)
	}
	pool := body["pool"].(map[string]any)
	if pool["lab"] != "demo" || pool["active"] != true || pool["want"] != 2.0 || pool["granted"] != 2.0 || pool["target"] != 2.0 || pool["ready"] != 0.0 {
		t.Fatalf("pool after set = %v", pool)
	}
	if got, _ := e.st.CohortPool(context.Background(), co.ID); got != (opsdojo.CohortPool{CohortID: co.ID, Warm: 2}) {
		t.Fatalf("stored = %+v", got)
	}
	// An admin moves the class start to later (outside the lead).
	later := now.Add(2 * time.Hour)
	status, body = admin.api("PUT", path(co), `{"warm":"3","lab":"demo","starts_at":"`+later.Format("2006-01-02T15:04")+`"}`)
	if status != 200 {
		t.Fatalf("admin set: %d %v", status, body)
	}
	if pool := body["pool"].(map[string]any); pool["active"] != false || pool["target"] != 0.0 || pool["from"] != later.Add(-15*time.Minute).Format(time.RFC3339) {
		t.Fatalf("pool after a later start = %v", pool)
	}
	if status, body := owner.api("GET", path(co), ""); status != 200 || body["pool"].(map[string]any)["settings"].(map[string]any)["warm"] != 3.0 {
		t.Fatalf("GET = %d %v", status, body)
	}
	resp, page := owner.req("GET", fmt.Sprintf("/cohorts/%d", co.ID), "", "", nil)
	for _, want := range []string{`id="warm-seats-form"`, `name="warm" type="number" min="0" max="4" value="3"`, `<option value="demo" selected>`,
		`value="` + later.Format("2006-01-02T15:04") + `"`, `<strong data-pool-ready>0</strong> ready of <span data-pool-target>0</span>`, "3 warm from "} {
		if resp.StatusCode != 200 || !strings.Contains(page, want) {
			t.Fatalf("cohort page (%d) lacks %q:\n%s", resp.StatusCode, want, page)
		}
	}
	// Both changes are in the audit log, with who made them.
	status, body = admin.api("GET", "/api/v1/audit", "")
	if status != 200 {
		t.Fatalf("audit: %d", status)
	}
	var got []string
	for _, x := range body["entries"].([]any) {
		m := x.(map[string]any)
		if m["action"] == opsdojo.AuditWarmSeats {
			got = append(got, fmt.Sprint(m["actor"], ": ", m["detail"]))
		}
	}
	if want := "root: 3 warm seats, class starts " + later.Format(time.RFC3339); len(got) != 2 || got[0] != want || !strings.HasPrefix(got[1], "ina: 2 warm seats") {
		t.Fatalf("warm-seat audit entries %q, want the admin's (%q) and then the owner's", got, want)
	}
}
