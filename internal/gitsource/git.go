package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// safeConfig overrides the settings of the user's (or the scanned
// repository's) git configuration that could run an external program or
// change the output we parse. A hostile repository's .git/config must not
// be able to make a secret scanner execute anything.
var safeConfig = []string{
	"-c", "core.fsmonitor=false", // a hook program git would run to list changed files
	"-c", "core.pager=cat",
	"-c", "log.showSignature=false", // would run gpg on every commit
	"-c", "diff.external=",
	"-c", "core.quotePath=false",
	"-c", "log.showRoot=true",
	"-c", "diff.renames=false",
	"-c", "color.ui=false",
}

// gitEnv is the environment of every git process: the caller's (so that a
// hook's GIT_DIR and GIT_INDEX_FILE are honoured) minus what could run a
// program or change output, plus GIT_NO_REPLACE_OBJECTS so that replace
// refs cannot hide a blob from the scan.
func gitEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_EXTERNAL_DIFF", "GIT_PAGER", "PAGER", "GIT_DIFF_OPTS", "GIT_TRACE", "GIT_TRACE2",
			"GIT_TRACE2_EVENT", "GIT_TRACE2_PERF", "GIT_NO_REPLACE_OBJECTS", "GIT_ASKPASS", "SSH_ASKPASS",
			"GIT_FLUSH":
			continue
		}
		out = append(out, kv)
	}
	return append(out,
		"GIT_NO_REPLACE_OBJECTS=1",
		"GIT_PAGER=cat",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_OPTIONAL_LOCKS=0", // a scan must never take the index lock
		"GIT_NO_LAZY_FETCH=1",  // a partial clone must not fetch missing blobs from its remote
		// Into a pipe git log flushes its output after every commit: one
		// write, and one wake-up of our parser, per commit (10,000 of
		// them in the bench history). Fully buffered output cuts that
		// tenfold; we read to the end anyway.
		"GIT_FLUSH=0",
	)
}

// command builds a git command in dir with the safe configuration.
func command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	full := make([]string, 0, len(safeConfig)+1+len(args))
	full = append(full, "--no-pager")
	full = append(full, safeConfig...)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	return cmd
}

// output runs a short git command and returns its standard output. Its
// error carries git's own message.
func output(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := command(ctx, dir, args...)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, gitError(args, err, stderr.String())
	}
	return out, nil
}

// gitError describes a failed git command with git's message, so that
// "bad revision" or "not a git repository" reach the user.
func gitError(args []string, err error, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 && strings.HasPrefix(msg, "warning:") {
		msg = strings.TrimSpace(msg[i+1:])
	}
	name := "git"
	if len(args) > 0 {
		name = "git " + args[0]
	}
	var ee *exec.Error
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %w (is git installed?)", name, err)
	}
	if msg == "" {
		return fmt.Errorf("%s: %w", name, err)
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// limitedBuffer keeps the first 8 KB written to it: enough for git's error
// message, bounded whatever a hostile repository makes git print.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 8<<10 - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return l.b.String() }
