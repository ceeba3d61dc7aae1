package gitsource

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Loose objects: `git add` writes each staged blob as a file of its own,
// .git/objects/ab/cdef..., zlib-compressed "blob <size>\0<content>". The
// pre-commit hook reads those directly instead of starting
// `git cat-file` (a git process is the largest part of the hook's time
// after keywarden's own start). Anything unexpected (no such file, a
// packed object, another object type, a content that does not hash to
// its name) leaves the blob to cat-file, so this is only ever a shortcut:
// the content read is the object with that ID, or nothing.

// looseObjects reads blobs from one object directory.
type looseObjects struct {
	dir string
}

// maxLooseHeader bounds "<type> <size>\0": "commit", a space, 19 digits.
const maxLooseHeader = 32

// findObjectDir finds the object directory of the repository in repoDir
// the way git would for a plain repository, a linked worktree or a bare
// one, or returns "" (then everything goes to cat-file). Getting it wrong
// costs only the shortcut: an object read is checked against its ID.
func findObjectDir(repoDir string) string {
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(repoDir, p) // git runs in repoDir
	}
	if d := os.Getenv("GIT_OBJECT_DIRECTORY"); d != "" {
		return resolve(d)
	}
	gitDir := ""
	if d := os.Getenv("GIT_DIR"); d != "" {
		gitDir = resolve(d)
	} else if gitDir = discoverGitDir(repoDir); gitDir == "" {
		return ""
	}
	common := gitDir
	if b, err := readSmallFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = c
	}
	if d := os.Getenv("GIT_COMMON_DIR"); d != "" {
		common = resolve(d)
	}
	return filepath.Join(common, "objects")
}

// discoverGitDir walks up from dir to the first .git directory or .git
// file ("gitdir: PATH", a linked worktree or a submodule); a directory
// holding HEAD and objects is a bare repository.
func discoverGitDir(dir string) string {
	d, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	if isDir(filepath.Join(d, "objects")) && isRegular(filepath.Join(d, "HEAD")) {
		return d
	}
	for {
		dotGit := filepath.Join(d, ".git")
		if isDir(dotGit) {
			return dotGit
		}
		if isRegular(dotGit) {
			b, err := readSmallFile(dotGit)
			if err != nil {
				return ""
			}
			p, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
			if !ok {
				return ""
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(d, p)
			}
			return p
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// isRegular is true for a regular file, not a symbolic link to one: a
// FIFO in its place would block the open.
func isRegular(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// readSmallFile reads a pointer file (.git, commondir) of at most 4 KB.
func readSmallFile(p string) ([]byte, error) {
	if !isRegular(p) {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4<<10+1))
	if err == nil && len(b) > 4<<10 {
		err = errors.New("too long")
	}
	return b, err
}

// readBlob reads the loose blob oid. ok is false when it is not a loose
// blob that hashes to oid (the caller asks git instead). A blob larger
// than limit (limit >= 0) comes back with ok and no data: only its header
// was read.
func (l looseObjects) readBlob(oid string, limit int64) (data []byte, size int64, ok bool) {
	if l.dir == "" || !isHexOID(oid) {
		return nil, 0, false
	}
	p := filepath.Join(l.dir, oid[:2], oid[2:])
	if !isRegular(p) {
		return nil, 0, false
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, false
	}
	defer f.Close()
	zr, err := zlib.NewReader(bufio.NewReaderSize(f, 32<<10))
	if err != nil {
		return nil, 0, false
	}
	var head [maxLooseHeader]byte
	n, _ := io.ReadFull(zr, head[:])
	typ, size, hlen, err := parseLooseHeader(head[:n])
	if err != nil || typ != "blob" {
		return nil, 0, false
	}
	if limit >= 0 && size > limit {
		return nil, size, true
	}
	data = make([]byte, size)
	got := copy(data, head[hlen:n])
	if int64(got) != int64(n-hlen) {
		return nil, 0, false // more content than the header says
	}
	if _, err := io.ReadFull(zr, data[got:]); err != nil {
		return nil, 0, false // shorter than the header says, or corrupt
	}
	// The stream must end here, with zlib's checksum right.
	var one [1]byte
	if k, err := zr.Read(one[:]); k != 0 || err != io.EOF {
		return nil, 0, false
	}
	var h hash.Hash
	switch len(oid) {
	case 40:
		h = sha1.New()
	case 64:
		h = sha256.New()
	default:
		return nil, 0, false
	}
	h.Write(head[:hlen])
	h.Write(data)
	if hex.EncodeToString(h.Sum(nil)) != oid {
		return nil, 0, false
	}
	return data, size, true
}

// parseLooseHeader reads "<type> <size>\0" at the start of a loose
// object, returning the header's length with its NUL.
func parseLooseHeader(b []byte) (typ string, size int64, n int, err error) {
	end := bytes.IndexByte(b, 0)
	if end < 0 {
		return "", 0, 0, errors.New("loose object: no header")
	}
	t, sz, ok := bytes.Cut(b[:end], []byte{' '})
	if !ok || len(sz) == 0 || len(sz) > 1 && sz[0] == '0' {
		return "", 0, 0, fmt.Errorf("loose object: bad header %q", b[:end])
	}
	for _, c := range sz {
		if c < '0' || c > '9' {
			return "", 0, 0, fmt.Errorf("loose object: bad size %q", sz)
		}
	}
	size, err = strconv.ParseInt(string(sz), 10, 64)
	if err != nil {
		return "", 0, 0, fmt.Errorf("loose object: bad size %q", sz)
	}
	switch string(t) {
	case "blob", "tree", "commit", "tag":
		return string(t), size, end + 1, nil
	}
	return "", 0, 0, fmt.Errorf("loose object: unknown type %q", t)
}
