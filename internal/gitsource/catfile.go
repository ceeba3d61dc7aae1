package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
)

// job is one blob on its way through the pipeline: its ID, where it was
// first seen, and (after the size check) its size.
type job struct {
	oid    string
	path   string
	commit *commitInfo
	size   int64
	// message: oid is a commit or an annotated tag, whose message is
	// scanned (Options.Messages).
	message bool
}

// catFile is one long-lived `git cat-file` process in --batch or
// --batch-check mode. Requests are written by one goroutine and answers
// read by another, so that git never waits for us between objects; a FIFO
// of the jobs in flight pairs each answer with its request (git answers in
// order).
type catFile struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *limitedBuffer
	fifo   chan job
}

func startCatFile(ctx context.Context, dir, mode string) (*catFile, error) {
	cmd := command(ctx, dir, "cat-file", mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &catFile{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 256<<10),
		stderr: &limitedBuffer{}, fifo: make(chan job, 4096)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, gitError([]string{"cat-file"}, err, "")
	}
	return c, nil
}

// feed writes the IDs of jobs from in to git, flushing whenever in runs
// dry so that git is never left waiting on a half-full buffer. It closes
// git's stdin (and the FIFO) at the end.
func (c *catFile) feed(ctx context.Context, in <-chan job) error {
	defer close(c.fifo)
	w := bufio.NewWriterSize(c.stdin, 32<<10)
	defer c.stdin.Close()
	for {
		var j job
		var ok bool
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
		case <-ctx.Done():
			return ctx.Err()
		}
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
	f := bytes.Fields(line)
	if len(f) == 2 && string(f[1]) == "missing" && string(f[0]) == j.oid {
		return "missing", 0, nil
	}
	if len(f) != 3 || string(f[0]) != j.oid {
		return "", 0, fmt.Errorf("git cat-file: unexpected answer %q for %s", clip(line), j.oid)
	}
	size, err = strconv.ParseInt(string(f[2]), 10, 64)
	if err != nil || size < 0 {
		return "", 0, fmt.Errorf("git cat-file: bad size in %q", clip(line))
	}
	return string(f[1]), size, nil
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
	if err := c.cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return gitError([]string{"cat-file"}, err, c.stderr.String())
	}
	return nil
}

// sizeFilter answers --batch-check requests and passes on the jobs that
// are blobs no larger than max (max < 0: no limit). A blob git does not
// have goes to missing, which fails the scan or counts it.
func (c *catFile) sizeFilter(ctx context.Context, max int64, out chan<- job, skipped func(job, string), missing func(job) error) error {
	for j := range c.fifo {
		typ, size, err := c.header(ctx, j)
		if err != nil {
			return err
		}
		switch {
		case typ == "missing":
			if err := missing(j); err != nil {
				return err
			}
			continue
		case typ != "blob" && !(j.message && (typ == "commit" || typ == "tag")):
			skipped(j, "not a blob")
			continue
		case max >= 0 && size > max:
			skipped(j, "too large")
			continue
		}
		j.size = size
		select {
		case out <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// content is a blob read from git, handed to a worker.
type content struct {
	job
	buf *[]byte
}

// bufPool recycles blob buffers: Blob.Data is valid only during the
// callback, so a buffer goes back to the pool as soon as fn returns.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// binarySniff is how much of a blob is searched for a NUL byte to call it
// binary: git's own heuristic.
const binarySniff = 8000

// contents answers --batch requests: it reads each blob and hands the ones
// that can hold text to the workers.
func (c *catFile) contents(ctx context.Context, keepBinary bool, out chan<- content, skipped func(job, string), missing func(job) error) error {
	for j := range c.fifo {
		typ, size, err := c.header(ctx, j)
		if err != nil {
			return err
		}
		if typ == "missing" {
			// Gone since the size check (a concurrent gc).
			if err := missing(j); err != nil {
				return err
			}
			continue
		}
		bp := bufPool.Get().(*[]byte)
		if int64(cap(*bp)) < size+1 {
			*bp = make([]byte, size+1)
		}
		buf := (*bp)[:size+1] // the blob and git's trailing newline
		if _, err := io.ReadFull(c.stdout, buf); err != nil {
			bufPool.Put(bp)
			return c.readError(ctx, err)
		}
		data := buf[:size]
		if j.message && typ != "blob" {
			data = messageOf(data)
		}
		if typ != "blob" && !j.message || (!keepBinary && bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 && !hasUTF16BOM(data)) {
			bufPool.Put(bp)
			skipped(j, "binary")
			continue
		}
		*bp = data
		select {
		case out <- content{job: j, buf: bp}:
		case <-ctx.Done():
			bufPool.Put(bp)
			return ctx.Err()
		}
	}
	return nil
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
