package metrics

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opsdojo/opsdojo/internal/promeval"
)

const alertsDir = "../../deploy/prometheus"

// TestAlertRules runs the unit tests of opsdojo's own alerting rules with
// the evaluator that grades the learners' rule files.
func TestAlertRules(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join(alertsDir, "opsdojo-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(alertsDir, "opsdojo-alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := promeval.Evaluate(context.Background(), promeval.Request{Rules: rules, Tests: tests,
		Compare: promeval.Compare{Labels: promeval.MatchExact, Annotations: promeval.MatchListed}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		t.Errorf("rules: %+v", f)
	}
	if res.Stopped != "" {
		t.Fatalf("stopped: %s", res.Stopped)
	}
	if len(res.Tests) == 0 {
		t.Fatal("no test ran")
	}
	for _, tr := range res.Tests {
		if !tr.Pass {
			t.Errorf("%s:\n  expected: %s\n  actual:   %s", tr.Name, tr.Expected, tr.Actual)
		}
	}
	if !res.Passed() {
		t.Fatal("the alert rules' tests do not pass")
	}
	// Every alert has a test.
	for _, r := range res.Rules {
		if r.Kind == "alert" && !strings.Contains(string(tests), "alertname: "+r.Name) {
			t.Errorf("alert %s has no test", r.Name)
		}
	}
}

// TestAlertRulesUseExportedMetrics catches a renamed or removed metric:
// every opsdojo_* name the rules use must be one the server exports.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join(alertsDir, "opsdojo-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := New(Version{})
	m.RegisterSessions(func(context.Context) ([]SessionCount, error) { return []SessionCount{{"git", "running", 1}}, nil },
		slog.New(slog.DiscardHandler))
	m.RegisterEngine(func(context.Context) error { return nil })
	exported := map[string]bool{}
	// Vectors without children are not gathered: describe them.
	ch := make(chan *prometheus.Desc, 64)
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	close(ch)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if sm := fqName.FindStringSubmatch(d.String()); sm != nil {
			exported[sm[1]] = true
		}
	}
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		exported[f.GetName()] = true
	}
	used := map[string]bool{}
	for _, name := range regexp.MustCompile(`opsdojo_[a-z_]+`).FindAllString(string(rules), -1) {
		used[name] = true
	}
	var missing []string
	for name := range used {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
		if !exported[name] && !exported[base] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("the rules use metrics opsdojo does not export: %v", missing)
	}
}
