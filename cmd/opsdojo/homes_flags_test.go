package main

import (
	"slices"
	"testing"
	"time"
)

func TestParseDurations(t *testing.T) {
	got, err := parseDurations(" 10m, 2m ,")
	if err != nil || !slices.Equal(got, []time.Duration{10 * time.Minute, 2 * time.Minute}) {
		t.Fatalf("got %v %v", got, err)
	}
	if got, err := parseDurations(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"10", "-1m", "0s", "soon"} {
		if _, err := parseDurations(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
