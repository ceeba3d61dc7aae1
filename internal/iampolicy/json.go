package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A small JSON reader that keeps the position of every value and key, keeps
// object keys in order (duplicates included), and says exactly where and
// why a document is malformed. encoding/json loses all three, and a linter
// that says "invalid character" without a line is little help.

// Kind is a JSON value's type.
type Kind uint8

// JSON value kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// Article returns the kind's name with its indefinite article, for
// messages: "an array", "a string".
func (k Kind) Article() string {
	if k == Array || k == Object {
		return "an " + k.String()
	}
	return "a " + k.String()
}

// Pos is a position in the input: 1-based line and column (in bytes), and
// the 0-based byte offset.
type Pos struct {
	Offset int `json:"offset"`
	Line   int `json:"line"`
	Col    int `json:"column"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Node is one JSON value.
type Node struct {
	Kind   Kind
	Str    string // a string's value, or a number's literal text
	Bool   bool
	Elems  []*Node
	Fields []Field
	Pos    Pos
}

// Field is one key of an object with its value.
type Field struct {
	Key    string
	KeyPos Pos
	Value  *Node
}

// Get returns the last field named key (case-sensitive), as AWS does
// when a key repeats, or nil.
func (n *Node) Get(key string) *Node {
	var v *Node
	for _, f := range n.Fields {
		if f.Key == key {
			v = f.Value
		}
	}
	return v
}

// SyntaxError is a malformed document, with the position of the problem.
type SyntaxError struct {
	File string
	Pos  Pos
	Msg  string
}

func (e *SyntaxError) Error() string {
	f := e.File
	if f == "" {
		f = "<input>"
	}
	return fmt.Sprintf("%s:%d:%d: %s", f, e.Pos.Line, e.Pos.Col, e.Msg)
}

// maxDepth bounds nesting; policies are at most four levels deep, so 64
// only stops hostile input from exhausting the stack.
const maxDepth = 64

type parser struct {
	data []byte
	i    int
	line int
	col0 int // offset of the first byte of the current line
}

// ParseJSON reads one JSON value from data, which must hold nothing else
// but white space.
func ParseJSON(data []byte) (*Node, error) {
	p := &parser{data: data, line: 1}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		p.i = 3 // a UTF-8 byte order mark, as Windows editors write
		p.col0 = 3
	}
	p.space()
	if p.i >= len(p.data) {
		return nil, p.errf("empty document")
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.data) {
		return nil, p.errf("unexpected %s after the end of the document", p.describe())
	}
	return n, nil
}

func (p *parser) pos() Pos {
	return Pos{Offset: p.i, Line: p.line, Col: p.i - p.col0 + 1}
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Pos: p.pos(), Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) describe() string {
	if p.i >= len(p.data) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.data[p.i:])
	if r < 0x20 || r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", p.data[p.i])
	}
	return fmt.Sprintf("%q", r)
}

func (p *parser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\r':
			p.i++
		case '\n':
			p.i++
			p.line++
			p.col0 = p.i
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (*Node, error) {
	if depth > maxDepth {
		return nil, p.errf("nested more than %d levels deep", maxDepth)
	}
	if p.i >= len(p.data) {
		return nil, p.errf("unexpected end of input, expecting a value")
	}
	start := p.pos()
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &Node{Kind: String, Str: s, Pos: start}, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case p.lit("true"):
		return &Node{Kind: Bool, Bool: true, Pos: start}, nil
	case p.lit("false"):
		return &Node{Kind: Bool, Pos: start}, nil
	case p.lit("null"):
		return &Node{Kind: Null, Pos: start}, nil
	case c == '\'':
		return nil, p.errf("strings must use double quotes, not single quotes")
	default:
		return nil, p.errf("unexpected %s, expecting a value", p.describe())
	}
}

func (p *parser) lit(w string) bool {
	if strings.HasPrefix(string(p.data[p.i:min(len(p.data), p.i+len(w))]), w) {
		end := p.i + len(w)
		if end < len(p.data) && isIdent(p.data[end]) {
			return false
		}
		p.i = end
		return true
	}
	return false
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func (p *parser) object(depth int) (*Node, error) {
	n := &Node{Kind: Object, Pos: p.pos()}
	p.i++ // {
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return n, nil
	}
	for {
		p.space()
		if p.i >= len(p.data) {
			return nil, p.errf("unexpected end of input inside an object opened at %s", n.Pos)
		}
		if p.data[p.i] == '}' {
			return nil, p.errf("trailing comma before '}'")
		}
		if p.data[p.i] == '\'' {
			return nil, p.errf("keys must use double quotes, not single quotes")
		}
		if p.data[p.i] != '"' {
			return nil, p.errf("unexpected %s, expecting a quoted key", p.describe())
		}
		kp := p.pos()
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.errf("unexpected %s after key %q, expecting ':'", p.describe(), k)
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Fields = append(n.Fields, Field{Key: k, KeyPos: kp, Value: v})
		p.space()
		if p.i >= len(p.data) {
			return nil, p.errf("unexpected end of input inside an object opened at %s", n.Pos)
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return n, nil
		default:
			return nil, p.errf("unexpected %s after a value, expecting ',' or '}' (a missing comma?)", p.describe())
		}
	}
}

func (p *parser) array(depth int) (*Node, error) {
	n := &Node{Kind: Array, Pos: p.pos()}
	p.i++ // [
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return n, nil
	}
	for {
		p.space()
		if p.i < len(p.data) && p.data[p.i] == ']' {
			return nil, p.errf("trailing comma before ']'")
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.Elems = append(n.Elems, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, p.errf("unexpected end of input inside an array opened at %s", n.Pos)
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return n, nil
		default:
			return nil, p.errf("unexpected %s after a value, expecting ',' or ']' (a missing comma?)", p.describe())
		}
	}
}

// str reads a quoted string. The end is found here; decoding escapes is
// left to encoding/json, which knows every rule (surrogate pairs included).
func (p *parser) str() (string, error) {
	start := p.pos()
	j := p.i + 1
	plain := true
	for j < len(p.data) {
		c := p.data[j]
		switch {
		case c == '"':
			raw := p.data[p.i : j+1]
			p.i = j + 1
			if plain {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", &SyntaxError{Pos: start, Msg: "invalid escape or encoding in string"}
			}
			return s, nil
		case c == '\\':
			plain = false
			j += 2
		case c < 0x20:
			p.i = j
			if c == '\n' {
				return "", p.errf("line break inside a string (unterminated string opened at %s?)", start)
			}
			return "", p.errf("control character 0x%02x inside a string", c)
		default:
			if c >= 0x80 {
				plain = false
			}
			j++
		}
	}
	p.i = len(p.data)
	return "", &SyntaxError{Pos: start, Msg: "unterminated string"}
}

func (p *parser) number() (*Node, error) {
	start := p.pos()
	j := p.i
	if p.data[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(p.data) && p.data[j] >= '0' && p.data[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 {
		p.i = j
		return nil, p.errf("invalid number")
	}
	if j < len(p.data) && p.data[j] == '.' {
		j++
		if digits() == 0 {
			p.i = j
			return nil, p.errf("invalid number: no digits after '.'")
		}
	}
	if j < len(p.data) && (p.data[j] == 'e' || p.data[j] == 'E') {
		j++
		if j < len(p.data) && (p.data[j] == '+' || p.data[j] == '-') {
			j++
		}
		if digits() == 0 {
			p.i = j
			return nil, p.errf("invalid number: no digits in exponent")
		}
	}
	lit := string(p.data[p.i:j])
	p.i = j
	return &Node{Kind: Number, Str: lit, Pos: start}, nil
}

// PosAt converts a byte offset in data into a position. Renderers of other
// formats (Terraform) use it to report positions of embedded JSON.
func PosAt(data []byte, off int) Pos {
	if off > len(data) {
		off = len(data)
	}
	line, col0 := 1, 0
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line++
			col0 = i + 1
		}
	}
	return Pos{Offset: off, Line: line, Col: off - col0 + 1}
}
