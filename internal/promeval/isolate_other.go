//go:build !linux

package promeval

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }

func setResourceLimits(Limits) {}
