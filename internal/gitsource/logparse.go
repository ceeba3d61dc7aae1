package gitsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// commitInfo is what a blob inherits from the commit that introduced it.
// One value is shared by every blob of the commit.
type commitInfo struct {
	oid    string
	author string
	date   time.Time
}

// change is one entry of `git log --raw`: a path whose content became oid
// in commit.
type change struct {
	commit  *commitInfo
	message bool   // the commit itself, for its message (parseLogWith)
	oid     []byte // hex; valid only during the callback
	path    []byte // valid only during the callback
}

// logFormat is the --format of the log we parse: a \x01 marks the start of
// a commit, then NUL-separated fields. With -z, raw entries and paths are
// NUL-terminated too, so paths with newlines or quotes come through as
// they are.
const logFormat = "--format=%x01%H%x00%an <%ae>%x00%at%x00"

// maxToken bounds one field of git's output (a path, an author): git
// itself limits paths to 4096 bytes on most systems; anything far longer is
// a broken stream.
const maxToken = 1 << 20

// tokenReader splits git's -z output at NUL bytes. A token is valid only
// until the next read: it points into the bufio buffer (or buf), which the
// next read may overwrite.
type tokenReader struct {
	r   *bufio.Reader
	buf []byte
	oid []byte // the object ID of the last raw entry, copied out of r
}

func (t *tokenReader) next() ([]byte, error) {
	tok, err := t.r.ReadSlice(0)
	if err == nil {
		return tok[:len(tok)-1], nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(tok) > 0 {
			return tok, nil // a last token without its terminator
		}
		return nil, err
	}
	t.buf = append(t.buf[:0], tok...)
	for {
		tok, err = t.r.ReadSlice(0)
		t.buf = append(t.buf, tok...)
		if len(t.buf) > maxToken {
			return nil, fmt.Errorf("a field of git's output is longer than %d bytes", maxToken)
		}
		switch {
		case err == nil:
			return t.buf[:len(t.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return t.buf, nil
		default:
			return nil, err
		}
	}
}

// parseLog reads the output of
//
//	git log --raw -z -c --no-abbrev <logFormat> ...
//
// and calls emit for every entry whose new side is a blob (added, modified
// or type-changed; deletions and submodules are skipped).
func parseLog(r io.Reader, emit func(change) error) error {
	return parseLogWith(r, false, emit)
}

// parseLogWith is parseLog; with messages, it also calls emit once for
// each commit, before its entries, with message set.
func parseLogWith(r io.Reader, messages bool, emit func(change) error) error {
	t := &tokenReader{r: bufio.NewReaderSize(r, 64<<10)}
	var cur *commitInfo
	for {
		tok, err := t.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		// Between the format and the raw entries git writes a newline (or,
		// for merges, nothing), which then leads the next token.
		tok = bytes.TrimLeft(tok, "\n")
		switch {
		case len(tok) == 0:
			continue
		case tok[0] == '\x01':
			c := &commitInfo{oid: string(tok[1:])}
			author, err := t.next()
			if err != nil {
				return truncated(err)
			}
			c.author = string(author)
			ts, err := t.next()
			if err != nil {
				return truncated(err)
			}
			if sec, err := strconv.ParseInt(string(ts), 10, 64); err == nil {
				c.date = time.Unix(sec, 0).UTC()
			}
			cur = c
			if messages {
				if err := emit(change{commit: cur, message: true}); err != nil {
					return err
				}
			}
		case tok[0] == ':':
			oid, path, blob, err := t.rawEntry(tok)
			if err != nil {
				return err
			}
			if cur == nil {
				return errors.New("raw diff entry before any commit")
			}
			if !blob {
				continue
			}
			if err := emit(change{commit: cur, oid: oid, path: path}); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected token in git log output: %q", clip(tok))
		}
	}
}

func truncated(err error) error {
	if err == io.EOF {
		return errors.New("git log output ends in the middle of an entry")
	}
	return err
}

// rawEntry parses the raw diff entry tok and reads the path that follows
// it. It returns the new side's object ID and the path, both valid until
// the next read, and whether the new side is a blob to scan. The entry's
// fields are checked and its object ID copied before the path is read,
// since reading the path may overwrite tok.
func (t *tokenReader) rawEntry(tok []byte) (oid, path []byte, blob bool, err error) {
	mode, id, ok := parseRaw(tok)
	if !ok {
		return nil, nil, false, errUnexpected(tok)
	}
	blob = isBlobMode(mode) && !isZeroOID(id)
	t.oid = append(t.oid[:0], id...)
	path, err = t.next()
	if err != nil {
		return nil, nil, false, truncated(err)
	}
	return t.oid, path, blob, nil
}

// parseRaw returns the new side's mode and object ID of a raw diff entry:
//
//	:100644 100644 <old> <new> M            (one parent)
//	::100644 100644 100644 <p1> <p2> <new> MM  (combined, a merge)
func parseRaw(line []byte) (mode, oid []byte, ok bool) {
	n := 0
	for n < len(line) && line[n] == ':' {
		n++
	}
	fields := bytes.Fields(line[n:])
	// n parents: n+1 modes, n+1 object IDs, a status.
	if n == 0 || len(fields) != 2*(n+1)+1 || !isHexOID(string(fields[2*n+1])) {
		return nil, nil, false
	}
	return fields[n], fields[2*n+1], true
}

// isBlobMode reports whether mode is a regular file, an executable or a
// symbolic link (whose blob holds the target path). Submodules (160000)
// point at commits of another repository.
func isBlobMode(mode []byte) bool {
	switch string(mode) {
	case "100644", "100755", "120000", "100664":
		return true
	}
	return false
}

func isZeroOID(oid []byte) bool {
	for _, c := range oid {
		if c != '0' {
			return false
		}
	}
	return true
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

func errUnexpected(tok []byte) error {
	return fmt.Errorf("unexpected raw diff entry %q", clip(tok))
}
