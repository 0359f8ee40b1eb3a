//go:build unix && !linux

package motoserver

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts moto in its own process group, so that Stop kills moto
// and anything it spawned. Pdeathsig is Linux-only: on macOS and the BSDs
// a test binary killed before its cleanup runs leaves moto running (its
// port is a free one, so the next run is not disturbed; kill it by hand).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills moto's whole process group (negative pid).
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
