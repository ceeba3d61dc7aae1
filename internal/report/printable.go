package report

import "strings"

// Printable replaces control characters (C0, DEL and C1) with '?', so that
// names read from hostile input (an export, a log, a repository) cannot
// drive a terminal or forge lines in CI output when a finding is printed.
func Printable(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == 0xc2 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
