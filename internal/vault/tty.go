package vault

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"golang.org/x/term"
)

// Terminal asks the user questions on the controlling terminal, not on
// stdin and stdout: prompts keep working when output is piped into jq or
// read by the AWS CLI, and a process without a terminal learns so at once
// instead of waiting on a stdin nobody writes to.
type Terminal interface {
	// ReadSecret prompts and reads a line without echoing it.
	ReadSecret(prompt string) (string, error)
	// ReadLine prompts and reads a line.
	ReadLine(prompt string) (string, error)
	Close() error
}

// ErrNoTerminal is returned by OpenTerminal where there is no terminal.
var ErrNoTerminal = errors.New("no terminal")

type ttyTerminal struct {
	in, out *os.File
	r       *bufio.Reader
}

// OpenTerminal opens the controlling terminal (/dev/tty; the console on
// Windows).
func OpenTerminal() (Terminal, error) {
	if runtime.GOOS == "windows" {
		in, err := os.OpenFile("CONIN$", os.O_RDWR, 0)
		if err != nil {
			return nil, ErrNoTerminal
		}
		out, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0)
		if err != nil {
			in.Close()
			return nil, ErrNoTerminal
		}
		return &ttyTerminal{in: in, out: out, r: bufio.NewReader(in)}, nil
	}
	f, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, ErrNoTerminal
	}
	if !term.IsTerminal(int(f.Fd())) {
		f.Close()
		return nil, ErrNoTerminal
	}
	return &ttyTerminal{in: f, out: f, r: bufio.NewReader(f)}, nil
}

func (t *ttyTerminal) ReadSecret(prompt string) (string, error) {
	fmt.Fprint(t.out, prompt)
	b, err := term.ReadPassword(int(t.in.Fd()))
	fmt.Fprintln(t.out)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (t *ttyTerminal) ReadLine(prompt string) (string, error) {
	fmt.Fprint(t.out, prompt)
	line, err := t.r.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func (t *ttyTerminal) Close() error {
	if t.out != t.in {
		t.out.Close()
	}
	return t.in.Close()
}
