package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// A partial clone (git clone --filter=blob:none) lacks blobs by design:
// its promisor remote would send them on demand. The scan never fetches
// (GIT_NO_LAZY_FETCH=1), and git cat-file then dies on the first absent
// blob instead of answering "missing". So in a partial clone the blobs
// present are listed first, and an absent one never reaches cat-file:
// it is missing, with its path and commit.

// isPartialClone reports whether the repository in dir has a promisor
// remote, so that git may lack objects by design.
func isPartialClone(ctx context.Context, dir string) bool {
	out, err := output(ctx, dir, "config", "--get-regexp", `^(remote\..+\.promisor|extensions\.partialclone)$`)
	if err != nil {
		return false // exit 1: no such setting
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, value, _ := strings.Cut(line, " ")
		switch {
		case name == "extensions.partialclone" && value != "":
			return true
		case strings.HasPrefix(name, "remote.") && isTrue(value):
			return true
		}
	}
	return false
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true
	}
	return false
}

// localBlobs lists the blobs the repository in dir holds, as oidKey keys.
func localBlobs(ctx context.Context, dir string) (map[string]struct{}, error) {
	args := []string{"cat-file", "--batch-all-objects", "--unordered", "--batch-check=%(objecttype) %(objectname)"}
	cmd := command(ctx, dir, args...)
	stderr := &limitedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, gitError(args, err, "")
	}
	blobs, perr := parseObjectList(stdout)
	if perr != nil {
		_ = cmd.Process.Kill()
	}
	if err := cmd.Wait(); err != nil && perr == nil {
		return nil, gitError(args, err, stderr.String())
	}
	return blobs, perr
}

// parseObjectList reads "<type> <oid>" lines and keeps the blobs' IDs.
func parseObjectList(r io.Reader) (map[string]struct{}, error) {
	blobs := make(map[string]struct{})
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return blobs, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("git cat-file --batch-all-objects: line %d: %w", n, err)
		}
		typ, oid, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte(" "))
		if !ok || !isHexOID(string(oid)) {
			return nil, fmt.Errorf("git cat-file --batch-all-objects: line %d: unexpected %q", n, clip(line))
		}
		if string(typ) == "blob" {
			blobs[oidKey(oid)] = struct{}{}
		}
		if err != nil {
			return blobs, nil
		}
	}
}
