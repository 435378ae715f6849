//go:build !linux

package doctor

import "errors"

func diskFree(string) (uint64, uint64, error) {
	return 0, 0, errors.New("free disk space is measured on Linux only")
}
