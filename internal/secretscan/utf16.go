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
// binary data. UTF-16 without a byte order mark is recognised by its NUL
// bytes (utf16NoBOM).
func textOf(data []byte) (text []byte, ok bool) {
	if !isBinary(data) {
		return data, true
	}
	if isUTF16(data) {
		return decodeUTF16(data[2:], data[0] == 0xff), true
	}
	if le, ok := utf16NoBOM(data); ok {
		return decodeUTF16(data, le), true
	}
	return nil, false
}

// utf16NoBOM recognises UTF-16 text written without a byte order mark
// (.NET's Encoding.Unicode.GetBytes, some exports, a pipe from iconv) by
// its NUL bytes: in mostly-ASCII UTF-16 every other byte is NUL, on the
// odd offsets for little-endian, the even ones for big-endian, and the
// other bytes are printable. It looks at the first 8000 bytes, as the
// binary test does; le says the byte order.
func utf16NoBOM(data []byte) (le, ok bool) {
	head := data[:min(len(data), 8000)]
	n := len(head) / 2
	if n < 8 {
		return false, false
	}
	var zero [2]int
	printable := 0
	for i := 0; i < 2*n; i++ {
		c := head[i]
		if c == 0 {
			zero[i%2]++
		} else if c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' {
			printable++
		}
	}
	// Which offsets hold the NULs: nearly all of one parity, almost none
	// of the other; and the rest is text.
	hi, lo := zero[1], zero[0]
	le = true
	if zero[0] > zero[1] {
		hi, lo, le = zero[0], zero[1], false
	}
	if hi*10 < n*9 || lo*20 > n || printable*10 < (2*n-hi-lo)*9 {
		return false, false
	}
	return le, true
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
