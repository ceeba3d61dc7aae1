package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
)

// Staged calls fn for each blob staged in the index that differs from HEAD
// (what is about to be committed). In a repository without commits yet,
// every staged file is new. Blob.Commit is empty.
func Staged(ctx context.Context, repoDir string, fn func(Blob) error) error {
	return StagedWith(ctx, repoDir, Options{}, fn)
}

// StagedWith is Staged with options (MaxBlobSize, Workers, IncludeBinary,
// Skipped; RevRange is ignored).
func StagedWith(ctx context.Context, repoDir string, opt Options, fn func(Blob) error) error {
	var st Stats
	produce := func(ctx context.Context, emit func(job) error) error {
		out, err := stagedDiff(ctx, repoDir)
		if err != nil {
			return err
		}
		return parseDiffIndex(bytes.NewReader(out), func(oid, path []byte) error {
			return emit(job{oid: string(oid), path: string(path)})
		})
	}
	// The few blobs of a commit are read straight from the loose
	// objects `git add` wrote; cat-file starts only for one that is not.
	lo := looseObjects{dir: findObjectDir(repoDir)}
	pl := pipeline{readBuffer: 64 << 10, loose: func(j job, limit int64) ([]byte, int64, bool) {
		return lo.readBlob(j.oid, limit)
	}}
	return run(ctx, repoDir, opt, pl, produce, fn, &st)
}

// stagedDiff lists the index entries that differ from HEAD, in raw form.
// diff-index is plumbing: it reads no diff configuration and does not
// touch the work tree.
func stagedDiff(ctx context.Context, dir string) ([]byte, error) {
	args := []string{"diff-index", "--cached", "-z", "--raw", "--no-renames", "--no-abbrev", "HEAD", "--"}
	out, err := output(ctx, dir, args...)
	if err == nil {
		return out, nil
	}
	// No commit yet: compare with the empty tree (of this repository's
	// hash function).
	if _, herr := output(ctx, dir, "rev-parse", "--verify", "--quiet", "HEAD"); herr == nil {
		return nil, err
	}
	empty, eerr := emptyTree(ctx, dir)
	if eerr != nil {
		return nil, err
	}
	args[len(args)-2] = empty
	return output(ctx, dir, args...)
}

func emptyTree(ctx context.Context, dir string) (string, error) {
	cmd := command(ctx, dir, "hash-object", "-t", "tree", "--stdin")
	cmd.Stdin = strings.NewReader("")
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", gitError([]string{"hash-object"}, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// parseDiffIndex reads `git diff-index -z --raw` output and calls emit for
// each entry whose new side is a blob (added, modified, type changed).
func parseDiffIndex(r io.Reader, emit func(oid, path []byte) error) error {
	t := &tokenReader{r: bufio.NewReader(r)}
	for {
		tok, err := t.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(tok) == 0 {
			continue
		}
		oid, path, blob, err := t.rawEntry(tok)
		if err != nil {
			return err
		}
		if !blob {
			continue
		}
		if err := emit(oid, path); err != nil {
			return err
		}
	}
}
