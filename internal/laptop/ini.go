package laptop

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxFileSize bounds every file this package reads: credentials, configs,
// start-up files and histories are small; anything larger is skipped and
// said.
const MaxFileSize = 16 << 20

// SyntaxError names the line of a file that could not be read.
type SyntaxError struct {
	Path string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

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

// Setting is one "key = value" line of an INI section.
type Setting struct {
	Key   string // lower-cased
	Value string
	Line  Line
	// ValStart and ValEnd locate the value in the file.
	ValStart, ValEnd int
}

// Section is one [section] of an AWS shared credentials or config file.
type Section struct {
	// Header is the text between the brackets, trimmed.
	Header string
	// Profile is the profile the section defines ("default", "work" for
	// [profile work] in config or [work] in credentials), or "" for the
	// config file's other sections (sso-session, services).
	Profile  string
	Line     Line // the header line
	Settings []Setting
	// End is the offset where the next section's header starts (or the
	// file ends).
	End int
}

// Get returns the value of key in the section and whether it is set.
func (s *Section) Get(key string) (string, bool) {
	for _, st := range s.Settings {
		if st.Key == key {
			return st.Value, true
		}
	}
	return "", false
}

// ParseINI reads an AWS shared credentials file (config false) or config
// file (config true) the way the AWS CLI does for the settings keywarden
// touches: [section] headers, key = value lines, # and ; comments,
// indented continuation lines of nested values (kept with no setting of
// their own). A line it cannot read is a *SyntaxError with its number.
func ParseINI(name string, data []byte, config bool) ([]Section, error) {
	if len(data) > MaxFileSize {
		return nil, &SyntaxError{name, 0, fmt.Sprintf("larger than the %d-byte limit", MaxFileSize)}
	}
	var out []Section
	for _, l := range SplitLines(data) {
		raw := string(data[l.Start:l.End])
		if l.No == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, &SyntaxError{name, l.No, "section header without ']'"}
			}
			if len(out) > 0 {
				out[len(out)-1].End = l.Start
			}
			h := strings.TrimSpace(line[1:end])
			out = append(out, Section{Header: h, Profile: profileOf(h, config), Line: l, End: len(data)})
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if len(out) == 0 {
				return nil, &SyntaxError{name, l.No, "indented line outside any section"}
			}
			continue
		}
		eq := strings.IndexByte(raw, '=')
		if eq < 0 {
			return nil, &SyntaxError{name, l.No, "expected key = value"}
		}
		if len(out) == 0 {
			return nil, &SyntaxError{name, l.No, "key outside any section"}
		}
		off := l.Start + (len(string(data[l.Start:l.End])) - len(raw)) // BOM
		vs := off + eq + 1
		for vs < l.End && (data[vs] == ' ' || data[vs] == '\t') {
			vs++
		}
		ve := l.End
		for ve > vs && (data[ve-1] == ' ' || data[ve-1] == '\t') {
			ve--
		}
		val := string(data[vs:ve])
		if c := commentStart(val); c >= 0 {
			ve = vs + c
			for ve > vs && (data[ve-1] == ' ' || data[ve-1] == '\t') {
				ve--
			}
			val = string(data[vs:ve])
		}
		s := &out[len(out)-1]
		s.Settings = append(s.Settings, Setting{
			Key: strings.ToLower(strings.TrimSpace(raw[:eq])), Value: val, Line: l, ValStart: vs, ValEnd: ve,
		})
	}
	return out, nil
}

// commentStart finds an inline comment: the AWS CLI takes " #" or " ;"
// after a value as its start.
func commentStart(v string) int {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// profileOf maps a section header to the profile it defines.
func profileOf(h string, config bool) string {
	if !config || h == "default" {
		return h
	}
	if rest, ok := strings.CutPrefix(h, "profile"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		return strings.TrimSpace(rest)
	}
	return ""
}
