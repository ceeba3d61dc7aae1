//go:build unix

package keycache

import (
	"os/exec"
	"syscall"
)

// Detach makes cmd a process of its own session, so the agent outlives
// the terminal and the command that started it.
func Detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
