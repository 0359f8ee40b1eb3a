package motoserver

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts moto in its own process group, so that Stop kills moto
// and anything it spawned (the pyenv shim execs, but a wrapper script might
// fork), and has Linux kill it when the thread that started it ends (the
// test binary exiting, even killed before any cleanup runs).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills moto's whole process group (negative pid).
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
