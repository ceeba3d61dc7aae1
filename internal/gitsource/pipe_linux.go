package gitsource

import (
	"io"
	"os"
	"syscall"
)

// fSetPipeSize is F_SETPIPE_SZ (linux/fcntl.h), which package syscall
// does not name.
const fSetPipeSize = 1031

// growPipe asks for a pipe of size bytes (the kernel rounds it up to a
// power of two of pages and refuses more than
// /proc/sys/fs/pipe-max-size, 1 MB by default): git's 64 KB default
// makes the writer and the reader wait on each other every 64 KB. A
// refusal only leaves the default.
func growPipe(r io.Reader, size int) {
	f, ok := r.(*os.File)
	if !ok {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, uintptr(size))
	})
}
