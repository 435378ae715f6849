//go:build !race

package grading_test

import "time"

// wfSlowCheck is how long a check of a hostile file may take (the worst
// case measures about 0.1 s; the margin is for a loaded machine).
const wfSlowCheck = 2 * time.Second
