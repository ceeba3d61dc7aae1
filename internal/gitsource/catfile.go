package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
)

// job is one blob on its way through the pipeline: its ID and where it
// was first seen.
type job struct {
	oid    string
	path   string
	commit *commitInfo
	// message: oid is a commit or an annotated tag, whose message is
	// scanned (Options.Messages).
	message bool
}

// catFile is the long-lived `git cat-file --batch` process that reads
// every blob. Requests are written by one goroutine and answers read by
// another, so that git never waits for us between objects; a FIFO of the
// jobs in flight pairs each answer with its request (git answers in
// order).
type catFile struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	// closeStdout closes our end of the answers' pipe, when os/exec does
	// not (batchedAnswers).
	closeStdout func()
	stderr      *limitedBuffer
	fifo        chan job
}

// historyReadBuffer is pipeline.readBuffer for a history.
const historyReadBuffer = 1 << 20

func startCatFile(ctx context.Context, dir string, readBuffer int) (*catFile, error) {
	// --buffer: git writes its answers through stdio instead of a
	// write(2) per header, blob and newline, and flushes when its input
	// ends (feed closes it).
	cmd := command(ctx, dir, "cat-file", "--batch", "--buffer")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	var ap answerPipe
	if readBuffer > 64<<10 {
		ap, err = batchedAnswers(cmd, readBuffer)
	} else {
		ap, err = plainAnswers(cmd, readBuffer)
	}
	if err != nil {
		_ = stdin.Close()
		return nil, err
	}
	c := &catFile{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(ap.r, readBuffer),
		closeStdout: ap.close, stderr: &limitedBuffer{}, fifo: make(chan job, 4096)}
	cmd.Stderr = c.stderr
	err = cmd.Start()
	ap.started()
	if err != nil {
		_ = stdin.Close()
		ap.close()
		return nil, gitError([]string{"cat-file"}, err, "")
	}
	return c, nil
}

// answerPipe is where cat-file writes its answers: r reads them; started
// is called once the process has started (or failed to), close when its
// answers are no longer read.
type answerPipe struct {
	r       io.Reader
	started func()
	close   func()
}

// plainAnswers reads cat-file's answers through a pipe from os/exec, with
// blocking reads; os/exec closes it when the process is reaped.
func plainAnswers(cmd *exec.Cmd, readBuffer int) (answerPipe, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return answerPipe{}, err
	}
	if readBuffer > 64<<10 {
		growPipe(stdout, readBuffer)
	}
	blockingReads(stdout)
	return answerPipe{r: stdout, started: func() {}, close: func() {}}, nil
}

// blockingReads puts the read end of a pipe from git in blocking mode
// (os.File.Fd does), out of the Go runtime's poller. cat-file writes its
// answers in pieces of a few kilobytes (about 50,000 writes on the bench
// history); through the poller, each piece parked the reading goroutine
// and woke it again through epoll, and on two cores shared with git that
// cost more than the reads: perf stat -r 5, twice, on the bench's scan
// --git took 1.97-2.10 s of task-clock blocking against 2.14-2.45 s
// polling, 1.24-1.31 s against 1.32-1.40 s elapsed, same output. The
// reader is the only goroutine that reads the pipe, and a read returns
// once git writes, exits or is killed (the context's cancellation).
func blockingReads(r io.Reader) {
	if f, ok := r.(*os.File); ok {
		f.Fd()
	}
}

// feed writes the IDs of jobs from in to git, flushing whenever in runs
// dry so that git is never left waiting on a half-full buffer. It closes
// git's stdin (and the FIFO) at the end.
func (c *catFile) feed(ctx context.Context, first job, in <-chan job) error {
	defer close(c.fifo)
	w := bufio.NewWriterSize(c.stdin, 32<<10)
	defer c.stdin.Close()
	j, ok := first, true
	for {
		if err := c.request(ctx, w, j); err != nil {
			return err
		}
		select {
		case j, ok = <-in:
		default:
			if err := w.Flush(); err != nil {
				return c.brokenPipe(err)
			}
			select {
			case j, ok = <-in:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			if err := w.Flush(); err != nil {
				return c.brokenPipe(err)
			}
			return nil
		}
	}
}

// request asks git for j's object and puts j in the FIFO.
func (c *catFile) request(ctx context.Context, w *bufio.Writer, j job) error {
	// One ID per line, or git's answers and our FIFO fall out of step.
	if !isHexOID(j.oid) {
		return fmt.Errorf("object ID %q (of %q) is not an object ID", clip([]byte(j.oid)), j.path)
	}
	w.WriteString(j.oid)
	if err := w.WriteByte('\n'); err != nil {
		return c.brokenPipe(err)
	}
	select {
	case c.fifo <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *catFile) brokenPipe(err error) error {
	return fmt.Errorf("writing to git cat-file: %w", err)
}

// header reads one answer line "<oid> <type> <size>" (or "<oid> missing").
func (c *catFile) header(ctx context.Context, j job) (typ string, size int64, err error) {
	line, err := c.stdout.ReadSlice('\n')
	if err != nil {
		return "", 0, c.readError(ctx, err)
	}
	line = line[:len(line)-1]
	oid, rest, _ := bytes.Cut(line, []byte{' '})
	if string(oid) != j.oid {
		return "", 0, fmt.Errorf("git cat-file: unexpected answer %q for %s", clip(line), j.oid)
	}
	if string(rest) == "missing" {
		return "missing", 0, nil
	}
	t, sz, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return "", 0, fmt.Errorf("git cat-file: unexpected answer %q for %s", clip(line), j.oid)
	}
	size, err = strconv.ParseInt(string(sz), 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("git cat-file: bad size in %q", clip(line))
	}
	switch string(t) {
	case "blob":
		return "blob", size, nil
	case "commit":
		return "commit", size, nil
	case "tag":
		return "tag", size, nil
	}
	return string(t), size, nil
}

// readError explains a failed read of git's answers. After a
// cancellation (git is killed then) it is the cancellation, so that the
// error which caused it stays the one reported.
func (c *catFile) readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		if werr := c.cmd.Wait(); werr != nil {
			return gitError([]string{"cat-file"}, werr, c.stderr.String())
		}
		return errors.New("git cat-file: output ended early")
	}
	return fmt.Errorf("reading from git cat-file: %w", err)
}

// wait reaps the process after its output has been read to the end.
func (c *catFile) wait(ctx context.Context) error {
	if c.cmd.ProcessState != nil {
		return nil
	}
	defer c.closeStdout()
	if err := c.cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return gitError([]string{"cat-file"}, err, c.stderr.String())
	}
	return nil
}

// content is a blob read from git, handed to a worker.
type content struct {
	job
	buf []byte
}

// binarySniff is how much of a blob is searched for a NUL byte to call it
// binary: git's own heuristic.
const binarySniff = 8000

// contents reads git's answers: each object no larger than max (max < 0:
// no limit) is read whole and given to deliver. One over the limit or of
// the wrong type is read past without being kept; one git does not have
// goes to missing, which fails the scan or counts it.
func (c *catFile) contents(ctx context.Context, max int64, bufs *bufferPool, deliver func(j job, typ string, buf []byte, size int64) error, skipped func(job, string), missing func(job) error) error {
	for j := range c.fifo {
		typ, size, err := c.header(ctx, j)
		if err != nil {
			return err
		}
		if typ == "missing" {
			if err := missing(j); err != nil {
				return err
			}
			continue
		}
		reason := ""
		switch {
		case typ != "blob" && !(j.message && (typ == "commit" || typ == "tag")):
			reason = "not a blob"
		case max >= 0 && size > max:
			reason = "too large"
		}
		if reason != "" {
			// The object and git's trailing newline.
			if _, err := c.stdout.Discard(int(size + 1)); err != nil {
				return c.readError(ctx, err)
			}
			skipped(j, reason)
			continue
		}
		buf := bufs.get(int(size + 1))
		if _, err := io.ReadFull(c.stdout, buf); err != nil {
			bufs.put(buf)
			return c.readError(ctx, err)
		}
		if err := deliver(j, typ, buf, size); err != nil {
			return err
		}
	}
	return nil
}

// bufferPool recycles blob buffers: Blob.Data is valid only during the
// callback, so a buffer goes back to the pool as soon as fn returns. It
// keeps a bounded number of them, none larger than bufferKeep, so that
// neither the garbage collector (which empties a sync.Pool) nor one huge
// blob makes it allocate and clear fresh memory for every blob.
type bufferPool struct {
	mu   sync.Mutex
	free [][]byte
	max  int
}

// bufferKeep is the largest buffer the pool keeps for reuse.
const bufferKeep = 4 << 20

func newBufferPool(n int) *bufferPool { return &bufferPool{max: n} }

// get returns a buffer of length n.
func (p *bufferPool) get(n int) []byte {
	p.mu.Lock()
	for i := len(p.free) - 1; i >= 0; i-- {
		if b := p.free[i]; cap(b) >= n {
			p.free[i] = p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			p.mu.Unlock()
			return b[:n]
		}
	}
	p.mu.Unlock()
	return make([]byte, n, max(n, 64<<10))
}

func (p *bufferPool) put(b []byte) {
	if cap(b) > bufferKeep {
		return
	}
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, b[:0])
	} else if i := smallest(p.free); cap(p.free[i]) < cap(b) {
		p.free[i] = b[:0] // keep the larger: it fits more blobs
	}
	p.mu.Unlock()
}

func smallest(bufs [][]byte) int {
	i := 0
	for k, b := range bufs {
		if cap(b) < cap(bufs[i]) {
			i = k
		}
	}
	return i
}

// messageOf returns the message of a commit or tag object: what follows
// the headers (and the blank line after them). A signature in the headers
// (gpgsig) is left out; a tag's signature follows its message and stays.
func messageOf(obj []byte) []byte {
	if i := bytes.Index(obj, []byte("\n\n")); i >= 0 {
		return obj[i+2:]
	}
	return obj[:0]
}

// hasUTF16BOM reports whether a blob starts with a UTF-16 byte order mark:
// text (a PowerShell script, a .reg export) despite its NUL bytes, which
// the scanner decodes.
func hasUTF16BOM(data []byte) bool {
	return len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff)
}
