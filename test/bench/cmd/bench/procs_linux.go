package main

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in its own process group, so that stopping it also
// stops what it forked (nginx's workers), and has Linux kill it if the
// driver dies first.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group pid leads.
func signalGroup(pid int, sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
