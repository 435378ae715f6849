//go:build !linux

package session

import "errors"

var errNoStatfs = errors.New("statfs is not available on this system")

// fsUsed is Linux-only: elsewhere the disk watch is off and quotas are
// checked every reap interval.
func fsUsed(string) (int64, uint64, error) { return 0, 0, errNoStatfs }
