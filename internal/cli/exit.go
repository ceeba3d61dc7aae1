package cli

import (
	"errors"
	"fmt"
)

// Exit codes, the same for every command (documented in README.md).
const (
	ExitClean    = 0 // nothing found
	ExitFindings = 1 // findings at or above the threshold
	ExitError    = 2 // usage or input error
)

// ExitErr carries an exit code out of a command. A nil Err means the
// command already said all it had to (findings were printed).
type ExitErr struct {
	Code int
	Err  error
}

func (e *ExitErr) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitErr) Unwrap() error { return e.Err }

// errFindings is returned by commands that found something: exit 1, no
// further message.
var errFindings = &ExitErr{Code: ExitFindings}

// ErrFindings returns the error that makes a command exit 1 silently.
func ErrFindings() error { return errFindings }

// usageErrorf makes an error that exits 2 with the message.
func usageErrorf(format string, args ...any) error {
	return &ExitErr{Code: ExitError, Err: fmt.Errorf(format, args...)}
}

// UsageError wraps err so the command exits 2.
func UsageError(err error) error {
	if err == nil {
		return nil
	}
	return &ExitErr{Code: ExitError, Err: err}
}

// ExitCode maps an error returned by a command to the process exit code.
// Errors that are not ExitErr (cobra's flag errors, I/O failures) are
// usage or input errors: 2.
func ExitCode(err error) int {
	if err == nil {
		return ExitClean
	}
	var e *ExitErr
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitError
}
