package report

import "strings"

// CSVCell makes one value safe for a CSV file that someone will open in a
// spreadsheet. Names and log fields are attacker-controlled (an IAM user
// may be called "=HYPERLINK(...)": IAM allows = + - @ in names), so a cell
// a spreadsheet would run as a formula is prefixed with a quote, and
// control characters other than the line breaks CSV quoting handles are
// replaced, as Printable does.
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	s = replaceControls(s, func(r rune) bool { return r == '\n' })
	if strings.ContainsRune("=+-@", rune(s[0])) || (s[0] == '?' && len(s) > 1) {
		return "'" + s
	}
	return s
}
