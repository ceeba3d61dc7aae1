package report

import "strings"

// isControl reports whether r is a control character: C0, DEL or C1.
// These are what let hostile text drive a terminal (ESC, CSI) or forge
// lines in CI output.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// replaceControls replaces control characters with '?', except those keep
// allows. The scan first keeps the common clean case free of allocation.
func replaceControls(s string, keep func(rune) bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		// Any byte >= 0x80 takes the slow path: 0xc2 starts every C1 code
		// in UTF-8, and a lone 0x9b is CSI to an 8-bit terminal (the slow
		// path replaces invalid UTF-8 with U+FFFD).
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) && (keep == nil || !keep(r)) {
			return '?'
		}
		return r
	}, s)
}

// Printable replaces control characters (C0, DEL and C1) with '?', so that
// names read from hostile input (an export, a log, a repository) cannot
// drive a terminal or forge lines in CI output when a finding is printed.
func Printable(s string) string { return replaceControls(s, nil) }

// PrintableText is Printable for multi-line text: line breaks and tabs
// stay, every other control character is replaced.
func PrintableText(s string) string {
	return replaceControls(s, func(r rune) bool { return r == '\n' || r == '\t' })
}
