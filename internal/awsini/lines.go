package awsini

import "bytes"

// Line is one line of a file: its byte range without the line ending and
// the range including it.
type Line struct {
	No         int // 1-based
	Start, End int // the text, without "\n" or "\r\n"
	Next       int // the offset after the line ending
}

// SplitLines cuts data into lines, keeping exact byte offsets (CRLF files
// included), so that edits can keep every other byte as it was.
func SplitLines(data []byte) []Line {
	var out []Line
	for off, no := 0, 1; off < len(data); no++ {
		end := len(data)
		next := len(data)
		if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
			end = off + i
			next = end + 1
		}
		text := end
		if text > off && data[text-1] == '\r' {
			text--
		}
		out = append(out, Line{No: no, Start: off, End: text, Next: next})
		off = next
	}
	return out
}
