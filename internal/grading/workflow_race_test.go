//go:build race

package grading_test

import "time"

// wfSlowCheck is how long a check of a hostile file may take; the race
// detector slows actionlint's loops down about 40 times.
const wfSlowCheck = 30 * time.Second
