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
	// hclsyntax refuses a file that is not UTF-8 anyway, and its lexer
	// swallows the bytes after a broken sequence in ways this scanner
	// would have to copy: refuse it first.
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		return &iampolicy.SyntaxError{File: name, Pos: iampolicy.PosAt(src, off), Msg: "invalid UTF-8: Terraform files are UTF-8 text"}
	}
	if off, ok := hclNesting(src, maxHCLNesting); !ok {
		return &iampolicy.SyntaxError{File: name, Pos: iampolicy.PosAt(src, off),
			Msg: fmt.Sprintf("nested more than %d levels deep (brackets, templates or unary operators)", maxHCLNesting)}
	}
	return nil
}

// hclNesting returns the offset where src first nests deeper than limit,
// and false; or true when it never does.
func hclNesting(src []byte, limit int) (int, bool) {
	n := &hclNester{limit: limit, pending: []int{0}}
	at := func(i int, s string) bool { return bytes.HasPrefix(src[i:], []byte(s)) }
	// template handles the characters a string or heredoc template shares:
	// escaped and real template sequences. It returns the next offset and
	// false when the nesting limit is crossed.
	template := func(i int) (int, bool) {
		switch {
		case at(i, "$${") || at(i, "%%{"):
			return i + 3, true
		case at(i, "${") || at(i, "%{"):
			return i + 2, n.push(hclFrame{kind: 'i'})
		}
		return i + 1, true
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch n.top() {
		case '"':
			switch c {
			case '\\':
				i += 2
			case '"':
				n.pop()
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
				if bytes.Equal(bytes.TrimSpace(src[i:end]), n.st[len(n.st)-1].marker) {
					n.pop()
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
			if !n.push(hclFrame{kind: '"'}) {
				return i, false
			}
			i++
		case at(i, "<<"):
			marker, next := heredocStart(src, i)
			if marker == nil {
				i += 2
				continue
			}
			if !n.push(hclFrame{kind: 'h', marker: marker}) {
				return i, false
			}
			i = next
		case c == '(' || c == '[' || c == '{':
			if !n.push(hclFrame{kind: c}) {
				return i, false
			}
			i++
		case c == ')' || c == ']' || c == '}':
			t := n.top()
			if c == ')' && t == '(' || c == ']' && t == '[' || c == '}' && (t == '{' || t == 'i') {
				n.pop()
			}
			i++
		case identLen(src[i:]) > 0:
			// A name, which may hold '-' ("x-1" is one name; in
			// "1-1" and "1--1" the dashes are operators).
			i += identLen(src[i:])
			n.operand()
		case c >= '0' && c <= '9':
			i++
			n.operand()
		case c == '!' || c == '-':
			// Each unary operator nests one parse until its operand:
			// "!!!!x", "- - -1", and across lines and comments.
			if !n.unary() {
				return i, false
			}
			i++
		default:
			i++
		}
	}
	return 0, true
}

// hclNester holds the open levels of hclNesting, and the unary operators
// waiting for their operand at each level.
type hclNester struct {
	limit   int
	st      []hclFrame
	pending []int // per level, len(st)+1 entries
	unaries int   // the sum of pending
}

func (n *hclNester) top() byte {
	if len(n.st) == 0 {
		return 0
	}
	return n.st[len(n.st)-1].kind
}

func (n *hclNester) ok() bool { return len(n.st)+n.unaries <= n.limit }

func (n *hclNester) push(f hclFrame) bool {
	n.st = append(n.st, f)
	n.pending = append(n.pending, 0)
	return n.ok()
}

// pop closes a level; what it closed is an operand of the level around.
func (n *hclNester) pop() {
	last := len(n.pending) - 1
	n.unaries -= n.pending[last]
	n.st, n.pending = n.st[:len(n.st)-1], n.pending[:last]
	n.operand()
}

func (n *hclNester) unary() bool {
	n.pending[len(n.pending)-1]++
	n.unaries++
	return n.ok()
}

// operand ends the unary operators pending at the current level.
func (n *hclNester) operand() {
	last := len(n.pending) - 1
	n.unaries -= n.pending[last]
	n.pending[last] = 0
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
