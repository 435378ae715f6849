//go:build !linux

package session

// fsUsed is Linux-only: elsewhere the disk watch is off and quotas are
// checked every reap interval.
func fsUsed(string) (int64, uint64, error) { return 0, 0, errNoStatfs }
