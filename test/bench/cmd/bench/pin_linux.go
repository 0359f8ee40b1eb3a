package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// setAffinity moves every thread of pid, and of the processes it forked
// (nginx's workers), onto cpus (all cores when empty).
func setAffinity(pid int, cpus ...int) error {
	var mask [16]uint64
	if len(cpus) == 0 {
		for i := range 64 * len(mask) {
			mask[i/64] |= 1 << (i % 64)
		}
	}
	for _, c := range cpus {
		mask[c/64] |= 1 << (c % 64)
	}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list threads of %d: %w", pid, err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask[0])))
		if errno != 0 && errno != syscall.ESRCH { // a thread may have ended
			return fmt.Errorf("pin thread %d: %w", tid, errno)
		}
		children, _ := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		for _, c := range strings.Fields(string(children)) {
			if child, err := strconv.Atoi(c); err == nil {
				if err := setAffinity(child, cpus...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
