package session

import (
	"maps"
	"strings"
	"testing"
)

func TestParsePoolSizes(t *testing.T) {
	got, err := ParsePoolSizes(" git-basics=5, ci-pipeline = 2 ")
	if err != nil || !maps.Equal(got, map[string]int{"git-basics": 5, "ci-pipeline": 2}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParsePoolSizes(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"git-basics":           "not lab=count",
		"=3":                   "not lab=count",
		"git=-1":               "whole number",
		"git=x":                "whole number",
		"git=1001":             "whole number",
		"git=1,git=2":          "named twice",
		"git=1,,":              "not lab=count",
		strings.Repeat("a", 3): "not lab=count",
	} {
		if _, err := ParsePoolSizes(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePoolSizes(%q) = %v, want %q", in, err, want)
		}
	}
}
