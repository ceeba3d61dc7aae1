package policylint

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// maxHCLNesting bounds how deeply a Terraform file nests brackets, string
// templates, interpolations and unary operators. hclsyntax parses each of
// them by recursion, and a file nested deeply enough (100,000 parentheses
// fit in a few hundred KiB) overflows the goroutine stack: a fatal error Go
// cannot recover from, which would lose every other file's results too.
// Policies nest a handful of levels.
const maxHCLNesting = 1000

// hclFrame is one open level: a bracket ( [ {, an interpolation or
// directive inside a template (i), a quoted string (") or a heredoc (h,
// closed by marker).
type hclFrame struct {
	kind   byte
	marker []byte
}

// checkHCLNesting scans Terraform source the way hclsyntax's scanner
// splits it (comments, quoted strings with escapes, heredocs, ${ and %{
// sequences and their $${ and %%{ escapes) and refuses nesting deeper than
// maxHCLNesting before the parser sees it. It only needs to be exact in one
// direction: it never closes a level hclsyntax keeps open (a closer that
// does not match the open level is not counted), so it may overcount a
// malformed file but never lets a deep one through.
func checkHCLNesting(name string, src []byte) *iampolicy.SyntaxError {
	if off, ok := hclNesting(src, maxHCLNesting); !ok {
		return &iampolicy.SyntaxError{File: name, Pos: iampolicy.PosAt(src, off),
			Msg: fmt.Sprintf("nested more than %d levels deep (brackets, templates or unary operators)", maxHCLNesting)}
	}
	return nil
}

// hclNesting returns the offset where src first nests deeper than limit,
// and false; or true when it never does.
func hclNesting(src []byte, limit int) (int, bool) {
	var st []hclFrame
	top := func() byte {
		if len(st) == 0 {
			return 0
		}
		return st[len(st)-1].kind
	}
	at := func(i int, s string) bool { return bytes.HasPrefix(src[i:], []byte(s)) }
	// template handles the characters a string or heredoc template shares:
	// escaped and real template sequences. It returns the next offset and
	// false when the nesting limit is crossed.
	template := func(i int) (int, bool) {
		switch {
		case at(i, "$${") || at(i, "%%{"):
			return i + 3, true
		case at(i, "${") || at(i, "%{"):
			st = append(st, hclFrame{kind: 'i'})
			return i + 2, len(st) <= limit
		}
		return i + 1, true
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch top() {
		case '"':
			switch c {
			case '\\':
				i += 2
			case '"':
				st = st[:len(st)-1]
				i++
			default:
				var ok bool
				if i, ok = template(i); !ok {
					return i - 2, false
				}
			}
			continue
		case 'h':
			if i == 0 || src[i-1] == '\n' {
				end := bytes.IndexByte(src[i:], '\n')
				if end < 0 {
					end = len(src)
				} else {
					end += i
				}
				if bytes.Equal(bytes.TrimSpace(src[i:end]), st[len(st)-1].marker) {
					st = st[:len(st)-1]
					i = end
					continue
				}
			}
			var ok bool
			if i, ok = template(i); !ok {
				return i - 2, false
			}
			continue
		}
		// Code: at the top level, in brackets, in an interpolation.
		switch {
		case c == '#' || at(i, "//"):
			if end := bytes.IndexByte(src[i:], '\n'); end >= 0 {
				i += end
			} else {
				i = len(src)
			}
		case at(i, "/*") && bytes.Contains(src[i+2:], []byte("*/")):
			// An unterminated "/*" is no comment to hclsyntax: a
			// division and a multiplication, and code after them.
			i += 2 + bytes.Index(src[i+2:], []byte("*/")) + 2
		case c == '"':
			st = append(st, hclFrame{kind: '"'})
			if len(st) > limit {
				return i, false
			}
			i++
		case at(i, "<<"):
			marker, next := heredocStart(src, i)
			if marker == nil {
				i += 2
				continue
			}
			st = append(st, hclFrame{kind: 'h', marker: marker})
			if len(st) > limit {
				return i, false
			}
			i = next
		case c == '(' || c == '[' || c == '{':
			st = append(st, hclFrame{kind: c})
			if len(st) > limit {
				return i, false
			}
			i++
		case c == ')' || c == ']' || c == '}':
			t := top()
			if c == ')' && t == '(' || c == ']' && t == '[' || c == '}' && (t == '{' || t == 'i') {
				st = st[:len(st)-1]
			}
			i++
		case identLen(src[i:]) > 0:
			// A name, which may hold '-' ("x-1" is one name; in
			// "1-1" and "1--1" the dashes are operators).
			i += identLen(src[i:])
		case c == '!' || c == '-':
			// A run of unary operators ("!!!!x", "- - -1") nests one
			// parse per operator.
			run, j := 0, i
			for ; j < len(src); j++ {
				if b := src[j]; b == '!' || b == '-' {
					run++
				} else if b != ' ' && b != '\t' {
					break
				}
			}
			if len(st)+run > limit {
				return i, false
			}
			i = j
		default:
			i++
		}
	}
	return 0, true
}

// heredocStart reads "<<EOF\n" or "<<-EOF\r\n" at i: the marker and the
// offset after the newline, or nil when i starts no heredoc.
func heredocStart(src []byte, i int) ([]byte, int) {
	j := i + 2
	if j < len(src) && src[j] == '-' {
		j++
	}
	n := identLen(src[j:])
	if n == 0 {
		return nil, 0
	}
	marker, k := src[j:j+n], j+n
	if k < len(src) && src[k] == '\r' {
		k++
	}
	if k >= len(src) || src[k] != '\n' {
		return nil, 0
	}
	return marker, k + 1
}

// identLen is the length of the identifier src starts with, as hclsyntax
// reads one: (ID_Start | '_') (ID_Continue | '-')*; 0 when it starts none.
func identLen(src []byte) int {
	k := 0
	for k < len(src) {
		r, n := utf8.DecodeRune(src[k:])
		start := r == '_' || unicode.In(r, unicode.L, unicode.Nl)
		if !start && (k == 0 || r != '-' && !unicode.In(r, unicode.Mn, unicode.Mc, unicode.Nd, unicode.Pc)) {
			break
		}
		k += n
	}
	return k
}
