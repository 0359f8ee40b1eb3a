//go:build !linux

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// The benchmark runs on Linux only: it reads /proc for CPU and memory and
// pins with taskset. These let the package build and its tests run
// elsewhere; a run there stops at its first read of /proc.

// ownGroup does nothing: no process groups or parent-death signal here.
func ownGroup(*exec.Cmd) {}

// signalGroup kills the process pid itself, whatever sig.
func signalGroup(pid int, _ syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
