package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"strings"
)

// Unreachable objects: a key committed and then removed with
// `reset --hard` or `branch -D`, or staged and never committed, stays in
// the repository until garbage collection, and some workflows push or
// copy it. `git fsck --no-reflogs` lists the dangling objects: the tips
// of what no ref reaches (reflog-only commits among them). The log walks
// the history of the dangling commits, a dangling tree is listed whole,
// and a dangling blob (staged, never committed) is scanned alone. Asking
// for every unreachable object instead would list each tree of each lost
// commit, one ls-tree apiece.

// unreachable is what fsck found that no ref reaches.
type unreachable struct {
	commits []string
	trees   []string
	blobs   []string
}

// findUnreachable asks git fsck for the tips of what no ref reaches.
func findUnreachable(ctx context.Context, dir string) (unreachable, error) {
	out, err := output(ctx, dir, "fsck", "--no-reflogs", "--connectivity-only", "--no-progress")
	if err != nil {
		return unreachable{}, err
	}
	return parseUnreachable(out), nil
}

// parseUnreachable reads fsck's "dangling TYPE OID" lines; other lines
// (missing objects, broken links) are not objects to scan.
func parseUnreachable(out []byte) unreachable {
	var u unreachable
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "dangling" || !isHexOID(f[2]) {
			continue
		}
		switch f[1] {
		case "commit":
			u.commits = append(u.commits, f[2])
		case "tree":
			u.trees = append(u.trees, f[2])
		case "blob":
			u.blobs = append(u.blobs, f[2])
		}
	}
	return u
}

// UnreachableBlobPath and UnreachableTreePath are the Paths of blobs
// that no commit holds (fsck's dangling blobs, and those of its dangling
// trees, as "(unreachable tree OID):PATH").
const (
	UnreachableBlobPath = "(unreachable blob)"
	UnreachableTreePath = "(unreachable tree %s)"
)
