package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// MFARequest says which device a code is wanted for, and for which
// profile (for the prompt and for mfa_process).
type MFARequest struct {
	Serial     string
	Profile    string
	MFAProcess string // the profile's mfa_process, if any
	Prompt     string // the profile's mfa_prompt, if any
}

// MFASource produces a one-time code.
type MFASource interface {
	Token(ctx context.Context, req MFARequest) (string, error)
}

// MFAFunc adapts a function to MFASource (tests use it).
type MFAFunc func(ctx context.Context, req MFARequest) (string, error)

func (f MFAFunc) Token(ctx context.Context, req MFARequest) (string, error) { return f(ctx, req) }

// ErrNoMFASource is returned when a code is needed and nothing can supply
// one: no --mfa-token, no mfa_process, no terminal.
var ErrNoMFASource = errors.New("no MFA code source")

// ValidMFACode reports whether code looks like a TOTP code AWS accepts.
func ValidMFACode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// MFAChain asks, in order: a code given on the command line (used once,
// since AWS refuses a code twice), the profile's mfa_process, a prompt on
// the terminal. With none of them it fails at once with an error that
// says how to supply a code: it never waits on a stdin nobody writes to.
type MFAChain struct {
	// Code is --mfa-token.
	Code string
	// Prompt reads a code from the terminal; nil when there is none.
	Prompt func(prompt string) (string, error)
	// ProcessTimeout bounds mfa_process and the prompt programs (default
	// one minute).
	ProcessTimeout time.Duration
	// Choice is --prompt or KEYWARDEN_PROMPT (one of Prompts); empty: the
	// profile's mfa_prompt, else the terminal.
	Choice string
	// YkmanAccount is the OATH account ykman reads (default: the MFA
	// serial); PassPrefix the pass folder of pass-otp entries.
	YkmanAccount, PassPrefix string
	// Stderr gets the prompt programs' stderr and notices (default
	// os.Stderr).
	Stderr io.Writer

	used bool
}

func (c *MFAChain) Token(ctx context.Context, req MFARequest) (string, error) {
	if c.Code != "" && !c.used {
		c.used = true
		if !ValidMFACode(c.Code) {
			return "", errors.New("--mfa-token must be the 6 digits your MFA device shows")
		}
		return c.Code, nil
	}
	if req.MFAProcess != "" {
		return runMFAProcess(ctx, req, c.ProcessTimeout, c.stderr())
	}
	text := fmt.Sprintf("MFA code for %s (profile %s): ", req.Serial, req.Profile)
	choice := c.Choice
	if choice == "" {
		choice = req.Prompt
	}
	if choice != "" {
		p, err := c.prompt(choice)
		if err != nil {
			return "", err
		}
		if p != nil {
			return p.Code(ctx, req, strings.TrimSuffix(text, " "))
		}
	}
	if c.Prompt != nil {
		code, err := c.Prompt(text)
		if err != nil {
			return "", err
		}
		code = strings.TrimSpace(code)
		if !ValidMFACode(code) {
			return "", errors.New("an MFA code is the 6 digits your device shows")
		}
		return code, nil
	}
	if c.Code != "" {
		return "", fmt.Errorf("%w: --mfa-token was already used once in this command and AWS refuses a code twice; set mfa_process for profile %q", ErrNoMFASource, req.Profile)
	}
	return "", fmt.Errorf("%w: profile %q needs a code from MFA device %s and there is no terminal to ask on; pass --mfa-token CODE, or set mfa_process = COMMAND (a command that prints the code) in profile %q of ~/.aws/config",
		ErrNoMFASource, req.Profile, req.Serial, req.Profile)
}

// runMFAProcess runs mfa_process through the shell, as the profile's owner
// wrote it, and reads the code from its stdout.
func runMFAProcess(ctx context.Context, req MFARequest, timeout time.Duration, stderr io.Writer) (string, error) {
	argv := []string{"/bin/sh", "-c", req.MFAProcess}
	if runtime.GOOS == "windows" {
		argv = []string{"cmd", "/C", req.MFAProcess}
	}
	return runCodeProgram(ctx, argv, fmt.Sprintf("mfa_process of profile %q", req.Profile), timeout, stderr, req)
}

// withoutPassphrase returns env without KEYWARDEN_FILE_PASSPHRASE.
func withoutPassphrase(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !strings.EqualFold(k, "KEYWARDEN_FILE_PASSPHRASE") {
			out = append(out, kv)
		}
	}
	return out
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	_, err := l.w.Write(q)
	return len(p), err
}
