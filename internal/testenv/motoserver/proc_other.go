//go:build !unix

package motoserver

import "os/exec"

// setProcAttr does nothing: Windows has no process groups to kill as one
// nor a parent-death signal, so Stop reaches moto_server itself only.
func setProcAttr(*exec.Cmd) {}

// killGroup kills moto_server, not what it may have started (see
// setProcAttr).
func killGroup(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
}
