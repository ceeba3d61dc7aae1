package report

import (
	"encoding/json"
	"io"
)

// NewJSONEncoder returns a json.Encoder for every JSON document keywarden
// prints. Its output escapes, as \uXXXX, the runes that encoding/json
// leaves raw but that are dangerous where JSON is shown or pasted: DEL, the C1
// controls U+0080-U+009F (U+009B is a one-byte CSI to many terminals) and
// the bidirectional formatting characters that reorder what a reader sees
// (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069); U+2028 and U+2029, which
// encoding/json already escapes, are covered too. HTML escaping is off:
// the output is not embedded in HTML.
func NewJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(jsonEscaper{w})
	enc.SetEscapeHTML(false)
	return enc
}

// jsonEscaper rewrites each Write with EscapeJSON. It relies on what
// json.Encoder guarantees: one Write per encoded value, so a multi-byte
// rune is never split between two writes.
type jsonEscaper struct{ w io.Writer }

func (e jsonEscaper) Write(p []byte) (int, error) {
	if _, err := e.w.Write(EscapeJSON(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// EscapeJSON rewrites JSON text so that the runes NewJSONEncoder describes
// appear as \uXXXX escapes. It works on bytes: in JSON those runes can only
// stand inside strings, where the escape means the same rune, so the
// document's value is unchanged; anything that is not one of their UTF-8
// encodings (including invalid UTF-8) is copied as it is. b is returned
// unchanged, without a copy, when there is nothing to escape.
func EscapeJSON(b []byte) []byte {
	first := -1
	for i, c := range b {
		if c == 0x7f || c == 0xc2 || c == 0xe2 {
			if _, n := jsonEscapeAt(b, i); n > 0 {
				first = i
				break
			}
		}
	}
	if first < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:first]...)
	for i := first; i < len(b); {
		if r, n := jsonEscapeAt(b, i); n > 0 {
			out = append(out, '\\', 'u', hexDigit(r>>12), hexDigit(r>>8), hexDigit(r>>4), hexDigit(r))
			i += n
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// jsonEscapeAt reports the rune to escape that is encoded at b[i:], and
// its length in bytes, or 0 when there is none.
func jsonEscapeAt(b []byte, i int) (rune, int) {
	switch {
	case b[i] == 0x7f:
		return 0x7f, 1 // DEL
	case b[i] == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
		return rune(b[i+1]), 2 // U+0080-U+009F
	case b[i] == 0xe2 && i+2 < len(b) && b[i+1] == 0x80:
		c := b[i+2]
		if c == 0x8e || c == 0x8f || (c >= 0xa8 && c <= 0xae) {
			return 0x2000 + rune(c-0x80), 3 // U+200E, U+200F, U+2028-U+202E
		}
	case b[i] == 0xe2 && i+2 < len(b) && b[i+1] == 0x81:
		if c := b[i+2]; c >= 0xa6 && c <= 0xa9 {
			return 0x2040 + rune(c-0x80), 3 // U+2066-U+2069
		}
	}
	return 0, 0
}

func hexDigit(r rune) byte { return "0123456789abcdef"[r&0xf] }
