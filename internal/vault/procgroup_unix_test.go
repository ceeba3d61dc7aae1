//go:build unix

package vault

import (
	"os/exec"
	"syscall"
)

// startInOwnProcessGroup makes cmd the leader of a new process group, so
// that killProcessGroup (and the context's cancellation) reach every
// process it starts, daemons included.
func startInOwnProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// killProcessGroup kills what is left of cmd's process group. It is safe
// to call more than once and after the leader has exited.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
