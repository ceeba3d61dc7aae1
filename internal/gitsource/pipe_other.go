//go:build !linux

package gitsource

import "io"

// growPipe is a no-op where pipes cannot be resized.
func growPipe(io.Reader, int) {}
