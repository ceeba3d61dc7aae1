package secretscan

import (
	"bytes"
	"unicode/utf16"
)

// Windows writes text as UTF-16 in many places keys end up: PowerShell
// profiles and transcripts (Out-File, ">" in Windows PowerShell), .reg
// exports, some editors' "Unicode" files. Every ASCII character there is
// followed (or preceded) by a NUL, so git's binary test would skip the
// file and a key in it would go unseen. Text with a UTF-16 byte order mark
// is decoded to UTF-8 before detection: line numbers stay the same, and
// columns count UTF-8 bytes.

// textOf returns the text to scan in data: data itself, or its UTF-8
// decoding when it is UTF-16 with a byte order mark; ok is false for
// binary data.
func textOf(data []byte) (text []byte, ok bool) {
	if !isBinary(data) {
		return data, true
	}
	if !isUTF16(data) {
		return nil, false
	}
	return decodeUTF16(data[2:], data[0] == 0xff), true
}

// isUTF16 reports whether data starts with a UTF-16 byte order mark.
func isUTF16(data []byte) bool {
	return len(data) >= 2 && (data[0] == 0xff && data[1] == 0xfe || data[0] == 0xfe && data[1] == 0xff)
}

func decodeUTF16(b []byte, le bool) []byte {
	units := make([]uint16, len(b)/2)
	for i := range units {
		if le {
			units[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		} else {
			units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	var out bytes.Buffer
	out.Grow(len(units))
	for _, r := range utf16.Decode(units) {
		out.WriteRune(r)
	}
	return out.Bytes()
}
