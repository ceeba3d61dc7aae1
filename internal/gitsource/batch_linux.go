package gitsource

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// batchedAnswers gives cat-file a pipe of its own for its answers, read
// in batches: the reader waits until about an eighth of the pipe is
// waiting before it reads, instead of waking for each piece git writes.
//
// cat-file writes a history's blobs in pieces of a few kilobytes (about
// 45,000 writes on the bench history). A reader blocked in read(2) is
// woken for nearly every one, and while a goroutine sits in a blocking
// system call the runtime's monitor thread keeps waking every 20 µs to
// hand its processor on. On two cores shared with two git processes
// those wake-ups cost more than the copying. On the bench history
// (`perf stat keywarden scan --git`, 8 runs each, interleaved with a
// build using blocking reads) the scan took 0.92-1.18 s elapsed (median
// 0.98 s), 1.47-1.74 s of CPU and 1,900-2,500 context switches this way,
// against 1.20-1.38 s (median 1.29 s), 1.89-2.34 s and 18,700-31,000 with
// blocking reads; the findings are the same.
//
// The read end is ours, not os/exec's: it is kept out of the runtime's
// poller (which would wake on each write too) and put in non-blocking
// mode. The reader asks how much is waiting (FIONREAD) and sleeps while
// it is less than the batch, at most batchWaits times in a row, then
// reads what there is; an empty pipe is waited on with growing sleeps,
// so an idle git costs next to nothing. Reads and the close go through
// the os.File, so a close while a read is under way cannot hand the read
// another file's descriptor.
func batchedAnswers(cmd *exec.Cmd, size int) (answerPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return answerPipe{}, err
	}
	// Blocking descriptors: os.NewFile leaves them out of the poller.
	r := os.NewFile(uintptr(fds[0]), "git cat-file output")
	w := os.NewFile(uintptr(fds[1]), "git cat-file output (write end)")
	growPipe(r, size)
	rc, err := r.SyscallConn()
	if err == nil {
		err = unix.SetNonblock(fds[0], true)
	}
	if err != nil {
		r.Close()
		w.Close()
		return plainAnswers(cmd, size)
	}
	cmd.Stdout = w
	return answerPipe{
		r:       &batchReader{f: r, rc: rc, batch: size / 8},
		started: func() { _ = w.Close() }, // git has its copy
		close:   func() { _ = r.Close() },
	}, nil
}

// batchWaits bounds the sleeps before a read of less than a batch: git
// may be between objects, or done, with less than that left to write.
const batchWaits = 8

// batchSleep is the sleep while data trickles in; an empty pipe is waited
// on with sleeps that double up to batchIdleSleep.
const (
	batchSleep     = 20 * time.Microsecond
	batchIdleSleep = 2 * time.Millisecond
)

type batchReader struct {
	f     *os.File        // non-blocking, not in the poller
	rc    syscall.RawConn // f's, for FIONREAD
	batch int
}

func (b *batchReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	want := min(len(p), b.batch)
	idle := batchSleep
	for waits := 0; ; {
		if waits < batchWaits {
			if n := b.waiting(); n > 0 && n < want {
				waits++
				time.Sleep(batchSleep)
				continue
			}
		}
		n, err := b.f.Read(p)
		if n > 0 {
			return n, nil
		}
		if errors.Is(err, syscall.EAGAIN) {
			time.Sleep(idle)
			idle = min(2*idle, batchIdleSleep)
			waits = 0
			continue
		}
		if err == nil {
			err = io.EOF
		}
		return 0, err
	}
}

// waiting is how many bytes the pipe holds (FIONREAD), or -1 if it cannot
// tell.
func (b *batchReader) waiting() int {
	n := -1
	if b.rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			n = v
		}
	}) != nil {
		return -1
	}
	return n
}
