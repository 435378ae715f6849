package web

import (
	"testing"
	"time"

	"github.com/opsdojo/opsdojo/internal/session"
	"github.com/opsdojo/opsdojo/internal/store"
)

// At the server's session cap a learner's start answers 202 with their
// place in the queue (not a hang); once a place frees, the same request
// starts the lab.
func TestStartQueuedAtCap(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	st := env.server.users.(*store.Store)
	env.server.sessions.SetPool(st, session.PoolConfig{}, session.AdmissionConfig{MaxLive: 1, Wait: 10 * time.Millisecond})
	ada := env.client(t)
	ada.register("ada")
	bob := env.client(t)
	bob.register("bob")
	status, s := ada.api("POST", "/api/v1/labs/demo/session", "{}")
	if status != 200 || s["state"] != "running" {
		t.Fatalf("first start: %d %v", status, s)
	}
	status, q := bob.api("POST", "/api/v1/labs/demo/session", "{}")
	if status != 202 || q["queued"] != true || q["position"] != float64(1) || q["message"] == "" {
		t.Fatalf("start at the cap: %d %v", status, q)
	}
	if status, _ := ada.api("DELETE", "/api/v1/sessions/"+s["id"].(string), ""); status != 200 {
		t.Fatalf("end: %d", status)
	}
	status, s = bob.api("POST", "/api/v1/labs/demo/session", "{}")
	if status != 200 || s["state"] != "running" {
		t.Fatalf("start after a place freed: %d %v", status, s)
	}
}
