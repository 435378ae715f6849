package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// Bad warm-seat flags stop serve before it starts anything (the context
// is cancelled, so a serve that got past the checks ends at once).
func TestServeRefusesBadPoolFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"--pool-max", "-1"}, {"--pool-max", "1001"}, {"--pool-lead", "-1m"}, {"--pool-hold", "-5s"}} {
		err := cmdServe(ctx, append(args, "--data-dir", t.TempDir(), "--labs-dir", t.TempDir()+"/none", "--addr", "127.0.0.1:0"), slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "--pool-max must be from 0 to 1000") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
