//go:build !unix

package keycache

import "os/exec"

// Detach does nothing here.
func Detach(*exec.Cmd) {}
