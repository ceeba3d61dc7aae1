package cloudtrail

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// This file is a small JSON scanner for the few fields keywarden reads from
// a CloudTrail record. It exists because a record is ~1-2 KB of JSON of
// which we need perhaps 20 short strings: decoding the rest into a generic
// tree, or even into a struct with a general-purpose library, spends most of
// the time on bytes we throw away. The scanner skips what it does not need
// at memchr-like speed and returns strings that alias the input buffer
// (valid until the reader refills it; see Decode).
// Measured against encoding/json and github.com/goccy/go-json in
// BenchmarkDecode* (see docs/detect.md).

// errIncomplete means the buffer ended inside a value: the reader must
// supply more bytes and try again (or report truncation at EOF).
var errIncomplete = errors.New("unexpected end of input")

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

type scanner struct {
	b   []byte
	pos int
	// final says b holds the whole input: a number may end at its end.
	final bool
}

func (s *scanner) errf(format string, args ...any) error {
	return &SyntaxError{Offset: int64(s.pos), Msg: fmt.Sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// ws skips whitespace and returns the next byte, or errIncomplete.
func (s *scanner) ws() (byte, error) {
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		if !isSpace(c) {
			return c, nil
		}
		s.pos++
	}
	return 0, errIncomplete
}

func (s *scanner) expect(c byte) error {
	got, err := s.ws()
	if err != nil {
		return err
	}
	if got != c {
		return s.errf("expected %q, found %q", c, got)
	}
	s.pos++
	return nil
}

// str reads a JSON string at pos (which must be '"'). Strings without
// escapes alias the buffer; others are unescaped into new memory.
func (s *scanner) str() (string, error) {
	if s.pos >= len(s.b) {
		return "", errIncomplete
	}
	if s.b[s.pos] != '"' {
		return "", s.errf("expected string, found %q", s.b[s.pos])
	}
	start := s.pos + 1
	i := start
	for i < len(s.b) {
		c := s.b[i]
		if c == '"' {
			s.pos = i + 1
			if i == start {
				return "", nil
			}
			return unsafe.String(&s.b[start], i-start), nil
		}
		if c == '\\' {
			return s.strSlow(start)
		}
		if c < 0x20 {
			s.pos = i
			return "", s.errf("control character in string")
		}
		i++
	}
	return "", errIncomplete
}

func (s *scanner) strSlow(start int) (string, error) {
	out := make([]byte, 0, 64)
	i := start
	for i < len(s.b) {
		c := s.b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return string(out), nil
		case c < 0x20:
			s.pos = i
			return "", s.errf("control character in string")
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s.b) {
			return "", errIncomplete
		}
		e := s.b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, err := s.hex4(i)
			if err != nil {
				return "", err
			}
			i += n
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s.b) && s.b[i] == '\\' && s.b[i+1] == 'u' {
					r2, n2, err := s.hex4(i + 2)
					if err != nil {
						return "", err
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 2 + n2
					} else {
						r = utf8.RuneError
					}
				} else if i+6 > len(s.b) {
					return "", errIncomplete
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			s.pos = i - 1
			return "", s.errf("invalid escape \\%c", e)
		}
	}
	return "", errIncomplete
}

func (s *scanner) hex4(i int) (rune, int, error) {
	if i+4 > len(s.b) {
		return 0, 0, errIncomplete
	}
	v, err := strconv.ParseUint(string(s.b[i:i+4]), 16, 32)
	if err != nil {
		s.pos = i
		return 0, 0, s.errf("invalid \\u escape")
	}
	return rune(v), 4, nil
}

// skipString moves past a string at pos without decoding it.
func (s *scanner) skipString() error {
	i := s.pos + 1
	for i < len(s.b) {
		c := s.b[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return nil
		case c == '\\':
			i += 2
		case c < 0x20:
			s.pos = i
			return s.errf("control character in string")
		default:
			i++
		}
	}
	return errIncomplete
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 512

// skip moves past one value of any type, checking its syntax.
func (s *scanner) skip(depth int) error {
	c, err := s.ws()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		return s.skipString()
	case '{':
		if depth > maxDepth {
			return s.errf("nesting too deep")
		}
		s.pos++
		more, err := s.first('}')
		for ; more && err == nil; more, err = s.next('}') {
			c, err := s.ws()
			if err != nil {
				return err
			}
			if c != '"' {
				return s.errf("expected object key, found %q", c)
			}
			if err := s.skipString(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
		return err
	case '[':
		if depth > maxDepth {
			return s.errf("nesting too deep")
		}
		s.pos++
		more, err := s.first(']')
		for ; more && err == nil; more, err = s.next(']') {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
		return err
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return s.num()
		}
		return s.errf("unexpected %q", c)
	}
}

func (s *scanner) lit(word string) error {
	n := len(word)
	if s.pos+n > len(s.b) {
		if string(s.b[s.pos:]) == word[:len(s.b)-s.pos] {
			return errIncomplete
		}
		return s.errf("invalid literal")
	}
	if string(s.b[s.pos:s.pos+n]) != word {
		return s.errf("invalid literal")
	}
	s.pos += n
	return nil
}

func (s *scanner) num() error {
	start := s.pos
	i := s.pos
	for i < len(s.b) {
		c := s.b[i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			i++
			continue
		}
		break
	}
	if i == len(s.b) && !s.final {
		return errIncomplete
	}
	if i == start {
		return s.errf("invalid number")
	}
	if _, err := strconv.ParseFloat(string(s.b[start:i]), 64); err != nil {
		return s.errf("invalid number %q", s.b[start:i])
	}
	s.pos = i
	return nil
}

// scalar reads a string, number, boolean or null as text (null as "");
// objects and arrays are skipped and reported as not scalar. This is how
// the decoder tolerates fields whose type changes between events.
func (s *scanner) scalar() (string, bool, error) {
	c, err := s.ws()
	if err != nil {
		return "", false, err
	}
	switch c {
	case '"':
		v, err := s.str()
		return v, true, err
	case 't', 'f', 'n':
		start := s.pos
		if err := s.skip(0); err != nil {
			return "", false, err
		}
		if c == 'n' {
			return "", true, nil
		}
		return unsafe.String(&s.b[start], s.pos-start), true, nil
	case '{', '[':
		return "", false, s.skip(0)
	default:
		start := s.pos
		if err := s.skip(0); err != nil {
			return "", false, err
		}
		return unsafe.String(&s.b[start], s.pos-start), true, nil
	}
}

// raw returns the bytes of the next value (aliasing the buffer).
func (s *scanner) raw() ([]byte, error) {
	if _, err := s.ws(); err != nil {
		return nil, err
	}
	start := s.pos
	if err := s.skip(0); err != nil {
		return nil, err
	}
	return s.b[start:s.pos:s.pos], nil
}

// object calls field for each key of the object at pos; field must consume
// the value. Keys alias the buffer.
func (s *scanner) object(field func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	more, err := s.first('}')
	for ; more && err == nil; more, err = s.next('}') {
		c, err := s.ws()
		if err != nil {
			return err
		}
		if c != '"' {
			return s.errf("expected object key, found %q", c)
		}
		k, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(k); err != nil {
			return err
		}
	}
	return err
}

// first is called just past a container's opening byte: it says whether
// a member follows, or moves past the closing byte of an empty container.
func (s *scanner) first(closing byte) (more bool, err error) {
	c, err := s.ws()
	if err != nil {
		return false, err
	}
	if c == closing {
		s.pos++
		return false, nil
	}
	return true, nil
}

// next moves past what follows a container's member: a ',' (another
// member follows) or the closing byte.
func (s *scanner) next(closing byte) (more bool, err error) {
	c, err := s.ws()
	if err != nil {
		return false, err
	}
	switch c {
	case ',':
		s.pos++
		return true, nil
	case closing:
		s.pos++
		return false, nil
	}
	return false, s.badSeparator(closing, c)
}

// badSeparator is next's error, apart so that next stays small enough to
// inline.
func (s *scanner) badSeparator(closing, c byte) error {
	return s.errf("expected ',' or '%c', found %q", closing, c)
}

// objectOrSkip is object for an object value and skip for anything else
// (a field that changed type).
func (s *scanner) objectOrSkip(field func(key string) error) error {
	c, err := s.ws()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.skip(0)
	}
	return s.object(field)
}
