//go:build !linux

package main

import "errors"

// setAffinity needs Linux's sched_setaffinity and /proc/<pid>/task;
// newPinPlan leaves pinning off elsewhere, so this is never reached there.
func setAffinity(int, ...int) error {
	return errors.New("CPU pinning needs Linux (sched_setaffinity)")
}
