package gitsource

import (
	"bytes"
	"context"
	"strings"
)

// refBlobs finds the blobs that refs reach without a commit: a tag may
// point (directly or through annotated tags) at a blob or a tree, which
// `git log --all` silently skips, yet is pushed and cloned like any ref. A
// blob is reported with the ref's name as its path; a tree's blobs as
// "REF:PATH". With messages, the message of each annotated tag is
// reported too, as "REF (tag message)".
func refBlobs(ctx context.Context, dir string, messages bool, emit func(job) error) error {
	refs, err := output(ctx, dir, "for-each-ref", "--format=%(objecttype) %(objectname) %(refname)")
	if err != nil {
		return err
	}
	var names []string
	var in strings.Builder
	for _, line := range strings.Split(string(refs), "\n") {
		typ, rest, _ := strings.Cut(line, " ")
		oid, r, _ := strings.Cut(rest, " ")
		if r == "" {
			continue
		}
		if messages && typ == "tag" {
			if err := emit(job{oid: oid, path: r + " (tag message)", message: true}); err != nil {
				return err
			}
		}
		names = append(names, r)
		in.WriteString(r + "^{}\n") // peeled through any chain of tags
	}
	if len(names) == 0 {
		return nil
	}
	cmd := command(ctx, dir, "cat-file", "--batch-check=%(objectname) %(objecttype)")
	cmd.Stdin = strings.NewReader(in.String())
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return gitError([]string{"cat-file"}, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for i, line := range lines {
		if i >= len(names) {
			break
		}
		oid, typ, _ := strings.Cut(line, " ")
		switch typ {
		case "blob":
			if err := emit(job{oid: oid, path: names[i]}); err != nil {
				return err
			}
		case "tree":
			if err := treeBlobs(ctx, dir, oid, names[i], emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// treeBlobs emits every blob of a tree.
func treeBlobs(ctx context.Context, dir, tree, name string, emit func(job) error) error {
	out, err := output(ctx, dir, "ls-tree", "-r", "-z", "--full-tree", tree)
	if err != nil {
		return err
	}
	for _, entry := range bytes.Split(out, []byte{0}) {
		meta, path, ok := bytes.Cut(entry, []byte{'\t'})
		if !ok {
			continue
		}
		f := bytes.Fields(meta) // mode type oid
		if len(f) != 3 || string(f[1]) != "blob" || !isBlobMode(f[0]) {
			continue
		}
		if err := emit(job{oid: string(f[2]), path: name + ":" + string(path)}); err != nil {
			return err
		}
	}
	return nil
}
