package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/keywarden/keywarden/internal/atomicfile"
)

// IOStreams is the one place commands get their input, output and terminal
// facts from. Tests build one over buffers, so a command's run function is
// exercised without a process.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY, stdoutTTY, stderrTTY bool
	noColor                        bool
}

// System returns streams over the process's stdin, stdout and stderr.
func System() *IOStreams {
	isTTY := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdinTTY: isTTY(os.Stdin), stdoutTTY: isTTY(os.Stdout), stderrTTY: isTTY(os.Stderr),
		noColor: colorDisabled(os.Getenv),
	}
}

// colorDisabled reads the environment's say on colour. Per
// https://no-color.org only a NO_COLOR that is set and not empty disables
// it; TERM=dumb cannot show it.
func colorDisabled(getenv func(string) string) bool {
	return getenv("NO_COLOR") != "" || getenv("TERM") == "dumb"
}

// Test returns streams over buffers: stdin reads in, stdout and stderr
// are captured. No stream is a terminal.
func Test(in string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &IOStreams{In: strings.NewReader(in), Out: &out, ErrOut: &errOut, noColor: true}, &out, &errOut
}

// SetTTY marks the streams as terminals (for tests of terminal behaviour).
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}

// SetColor overrides colour detection (for tests).
func (s *IOStreams) SetColor(on bool) { s.noColor = !on }

// IsStdinTTY, IsStdoutTTY and IsStderrTTY report whether the stream is a
// terminal.
func (s *IOStreams) IsStdinTTY() bool  { return s.stdinTTY }
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// ColorEnabled reports whether stdout may be coloured: only on a terminal,
// and never with NO_COLOR set (https://no-color.org).
func (s *IOStreams) ColorEnabled() bool { return s.stdoutTTY && !s.noColor }

// ProgressEnabled reports whether long work may draw progress on stderr.
func (s *IOStreams) ProgressEnabled() bool { return s.stderrTTY }

// StartProgress redraws line() on one stderr line every interval while
// long work runs, when stderr is a terminal. The returned stop clears the
// line; once it returns, nothing more is drawn.
func (s *IOStreams) StartProgress(interval time.Duration, line func() string) (stop func()) {
	if !s.ProgressEnabled() {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(s.ErrOut, "\r\x1b[K")
				return
			case <-t.C:
				fmt.Fprintf(s.ErrOut, "\r\x1b[K%s", line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// RenderReport hands render stdout, coloured when it is a terminal that
// allows colour, or, with a path, a buffer written to that file (mode
// 0600, atomically: a failed render leaves no partial report). A failure
// to write the file is a usage error: the path is the user's.
func (s *IOStreams) RenderReport(path string, render func(w io.Writer, color bool) error) error {
	if path == "" {
		return render(s.Out, s.ColorEnabled())
	}
	var buf bytes.Buffer
	if err := render(&buf, false); err != nil {
		return err
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return UsageError(err)
	}
	return nil
}
