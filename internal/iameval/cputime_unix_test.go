//go:build unix

package iameval

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used (user and system), so
// that benchmarks on a shared machine can report work, not waiting.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
