package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// PushUpdate is one line of what git gives a pre-push hook on stdin:
//
//	<local ref> <local oid> <remote ref> <remote oid>
//
// A remote oid of zeros means the remote ref does not exist yet (a new
// branch); a local oid of zeros means the push deletes the remote ref.
type PushUpdate struct {
	LocalRef, LocalOID, RemoteRef, RemoteOID string
}

// maxPushInput bounds what a pre-push hook reads from stdin.
const maxPushInput = 4 << 20

// ParsePushUpdates reads a pre-push hook's standard input. Object IDs must
// be full hexadecimal IDs; anything else is an error naming the line.
func ParsePushUpdates(r io.Reader) ([]PushUpdate, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPushInput+1))
	if err != nil {
		return nil, fmt.Errorf("pre-push input: %w", err)
	}
	if len(data) > maxPushInput {
		return nil, fmt.Errorf("pre-push input: larger than %d bytes", maxPushInput)
	}
	var ups []PushUpdate
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxPushInput)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 || !isHexOID(f[1]) || !isHexOID(f[3]) {
			return nil, fmt.Errorf("pre-push input line %d: want \"<local ref> <local oid> <remote ref> <remote oid>\"", n)
		}
		ups = append(ups, PushUpdate{LocalRef: f[0], LocalOID: f[1], RemoteRef: f[2], RemoteOID: f[3]})
	}
	return ups, sc.Err()
}

func isHexOID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if _, ok := unhex(s[i]); !ok {
			return false
		}
	}
	return true
}

// PushRevRange turns the updates of a push into a revision range for
// History: the commits reachable from what is pushed and from neither
// what the remote ref had (when that commit is known here) nor any
// remote-tracking ref (commits already on a remote were checked when they
// were pushed there). ok is false when nothing is pushed (only
// deletions): there is nothing to scan, and an empty range would mean
// every ref.
func PushRevRange(ctx context.Context, repoDir string, updates []PushUpdate) (rng string, ok bool, err error) {
	var pos, neg []string
	for _, u := range updates {
		if isZeroOID([]byte(u.LocalOID)) {
			continue // deleting a remote ref brings nothing new
		}
		pos = append(pos, u.LocalOID)
		if !isZeroOID([]byte(u.RemoteOID)) {
			neg = append(neg, u.RemoteOID)
		}
	}
	if len(pos) == 0 {
		return "", false, nil
	}
	// A remote oid we do not have (someone else pushed it) cannot be
	// excluded by name: git log would fail on it.
	known, err := commitsKnown(ctx, repoDir, neg)
	if err != nil {
		return "", false, err
	}
	args := append(pos, "--not")
	args = append(args, known...)
	args = append(args, "--remotes")
	return strings.Join(args, " "), true, nil
}

// commitsKnown returns those of oids that are commits in the repository.
func commitsKnown(ctx context.Context, dir string, oids []string) ([]string, error) {
	if len(oids) == 0 {
		return nil, nil
	}
	cmd := command(ctx, dir, "cat-file", "--batch-check")
	cmd.Stdin = strings.NewReader(strings.Join(oids, "\n") + "\n")
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, gitError([]string{"cat-file"}, err, stderr.String())
	}
	var known []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == "commit" {
			known = append(known, f[0])
		}
	}
	return known, nil
}

// PrePush calls fn for each blob introduced by the commits of a push, read
// from a pre-push hook's stdin. opt.RevRange is ignored.
func PrePush(ctx context.Context, repoDir string, stdin io.Reader, opt Options, fn func(Blob) error) error {
	ups, err := ParsePushUpdates(stdin)
	if err != nil {
		return err
	}
	rng, ok, err := PushRevRange(ctx, repoDir, ups)
	if err != nil || !ok {
		return err
	}
	opt.RevRange = rng
	return History(ctx, repoDir, opt, fn)
}
