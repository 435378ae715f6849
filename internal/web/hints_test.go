package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opsdojo/opsdojo/internal/labs"
	"github.com/opsdojo/opsdojo/internal/opsdojo"
)

// A failed check shows no hint until the learner asks; asking reveals that
// check's hints (the script's HINT: lines and the lab's hint), counts one
// hint used, survives a reload, and later results of the check carry them.
func TestCheckHintsWaitForTheLearner(t *testing.T) {
	env := newEnv(t, Config{Registration: true})
	ada := env.client(t)
	ada.register("ada")
	bob := env.client(t)
	bob.register("bob")
	_, s := ada.api("POST", "/api/v1/labs/demo/session", "{}")
	id := s["id"].(string)

	env.box.exitCode, env.box.stdout = 1, "FAIL: not there yet\nHINT: try harder\n"
	status, res := ada.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", "")
	if status != 200 || res["status"] != "fail" {
		t.Fatalf("check: %d %v", status, res)
	}
	body := toJSON(res)
	if strings.Contains(body, "try harder") || strings.Contains(body, "look again") {
		t.Fatalf("a failed check revealed its hints: %s", body)
	}
	check := res["checks"].([]any)[0].(map[string]any)
	if check["hint_available"] != true || len(check["hints"].([]any)) != 0 {
		t.Fatalf("check entry: %v", check)
	}
	if res["progress"].(map[string]any)["hints_used"] != 0.0 {
		t.Fatalf("hints used before asking: %v", res["progress"])
	}

	if resp, _ := ada.req("POST", "/api/v1/labs/demo/steps/one/checks/c/hint", "application/json", "{}", nil); resp.StatusCode != 403 {
		t.Fatalf("reveal without CSRF: %d", resp.StatusCode)
	}
	status, out := ada.api("POST", "/api/v1/labs/demo/steps/one/checks/c/hint", "{}")
	if status != 200 || toJSON(out["hints"]) != `["try harder","look again"]` || out["hints_used"] != 1.0 {
		t.Fatalf("reveal: %d %v", status, out)
	}
	// Asking again counts nothing more.
	if _, out := ada.api("POST", "/api/v1/labs/demo/steps/one/checks/c/hint", "{}"); out["hints_used"] != 1.0 {
		t.Fatalf("second reveal: %v", out)
	}
	// Bob's attempts and hints are his own.
	if status, out := bob.api("POST", "/api/v1/labs/demo/steps/one/checks/c/hint", "{}"); status != 200 || toJSON(out["hints"]) != `["look again"]` || out["hints_used"] != 1.0 {
		t.Fatalf("bob's reveal before any attempt: %d %v", status, out)
	}
	for _, bad := range []string{"/api/v1/labs/demo/steps/one/checks/nope/hint", "/api/v1/labs/demo/steps/nope/checks/c/hint", "/api/v1/labs/nope/steps/one/checks/c/hint"} {
		if status, _ := ada.api("POST", bad, "{}"); status != 404 {
			t.Errorf("%s: %d, want 404", bad, status)
		}
	}

	// Once asked for, the check's hints come with its next failure.
	_, res = ada.api("POST", "/api/v1/sessions/"+id+"/steps/one/check", "")
	check = res["checks"].([]any)[0].(map[string]any)
	if check["hint_available"] != false || toJSON(check["hints"]) != `["try harder","look again"]` || res["progress"].(map[string]any)["hints_used"] != 1.0 {
		t.Fatalf("check after reveal: %v", res)
	}
	if !bundleBuiltForTests() {
		return
	}
	_, page := ada.req("GET", "/labs/demo", "", "", nil)
	if !strings.Contains(page, `id="hints-used">1<`) {
		t.Fatalf("lab page does not count the hint used")
	}
}

func TestGateHints(t *testing.T) {
	step := labs.Step{ID: "s", Checks: []labs.Check{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "d"}}}
	res := opsdojo.StepResult{Checks: []opsdojo.CheckResult{
		{CheckID: "a", Status: opsdojo.StatusFail, Hints: []string{"ha"}},
		{CheckID: "b", Status: opsdojo.StatusFail, Hints: []string{"hb", "shared"}},
		{CheckID: "c", Status: opsdojo.StatusPass, Hints: []string{"hc"}},
		{CheckID: "d", Status: opsdojo.StatusFail},
	}}
	p := opsdojo.Progress{CheckHints: map[string][]int{"s": {1}}}
	checks, open := gateHints(step, res, p)
	got := map[string]string{}
	for _, c := range checks {
		got[c.CheckID] = fmt.Sprintf("%v %q", c.HintAvailable, c.Hints)
	}
	want := map[string]string{
		"a": `true []`,               // failed, not asked for: hidden, offered
		"b": `false ["hb" "shared"]`, // asked for before: shown
		"c": `false []`,              // passed: nothing to offer
		"d": `false []`,              // no hints at all
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("check %s: %s, want %s", id, got[id], w)
		}
	}
	if fmt.Sprint(open) != "[hb shared]" {
		t.Errorf("step-level hints = %q", open)
	}
}
