// Package awsini reads the AWS CLI's INI files (~/.aws/config and
// ~/.aws/credentials): sections, settings and where each sits in the file.
//
// It is keywarden's one reader of those files. `keywarden doctor` and
// `import` find keys with it and the vault reads its profiles with it, so
// that no two parts of keywarden can read the same (possibly hostile) file
// two ways: a key doctor moves is the key the vault then reads.
//
// Positions are kept (the byte range of every line, section and value)
// because these files belong to the user, who edits them by hand: keywarden
// changes them only by small edits to those bytes (cutting out a key,
// adding credential_process), so every other byte, comment and line ending
// stays as it was. Nothing here rewrites a file through an INI library.
//
// The rules are botocore's (the AWS CLI's configparser) where keywarden
// relies on them: [section] headers, key = value lines, # and ; comment
// lines, indented continuation lines of nested values (s3 = ...), an
// indented line before any section refused, values trimmed of Unicode
// white space, no limit on a line's length. Where it differs, both of
// keywarden's former readers did too: it skips a UTF-8 byte order mark,
// takes " #" and " ;" after a value as a comment, accepts a section or
// key given twice (botocore refuses the file), reads only "=" between key
// and value (botocore takes ":" too), keeps \x1c-\x1f at a value's ends
// (Python counts them as white space), ends lines at "\n" only (botocore
// also at a lone "\r"), and skips an indented line right after a header
// (botocore reads it as a setting).
package awsini

import (
	"fmt"
	"strings"
	"unicode"
)

// MaxFileSize bounds the data Parse reads: the AWS CLI's files are small,
// and a larger one is refused rather than read.
const MaxFileSize = 16 << 20

// SyntaxError names the file and line that could not be read.
type SyntaxError struct {
	Path string
	Line int // 1-based; 0 for the file as a whole
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// Setting is one "key = value" line of a section.
type Setting struct {
	Key   string // lower-cased
	Value string
	Line  Line
	// ValStart and ValEnd locate the value in the file.
	ValStart, ValEnd int
}

// Section is one [section] of a credentials or config file.
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

// Kind splits the header into its first word and the rest, trimmed:
// ("profile", "work") for [profile work], ("sso-session", "corp") for
// [sso-session corp], ("default", "") for [default].
func (s *Section) Kind() (kind, name string) {
	if i := strings.IndexAny(s.Header, " \t"); i >= 0 {
		return s.Header[:i], strings.TrimSpace(s.Header[i:])
	}
	return s.Header, ""
}

// Parse reads a credentials file (config false) or config file (config
// true). name is used in errors. A line it cannot read, or data larger
// than MaxFileSize, is a *SyntaxError.
func Parse(name string, data []byte, config bool) ([]Section, error) {
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
			out = append(out, Section{Header: strings.TrimSpace(line[1:end]), Line: l, End: len(data)})
			s := &out[len(out)-1]
			s.Profile = profileOf(s, config)
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			// botocore refuses an indented line before any section
			// (MissingSectionHeaderError); after one it continues a nested
			// value, which has no setting of its own here.
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
		val := strings.TrimLeftFunc(raw[eq+1:], unicode.IsSpace)
		vs := l.End - len(val)
		val = strings.TrimRightFunc(val, unicode.IsSpace)
		if c := commentStart(val); c >= 0 {
			val = strings.TrimRightFunc(val[:c], unicode.IsSpace)
		}
		s := &out[len(out)-1]
		s.Settings = append(s.Settings, Setting{
			Key: strings.ToLower(strings.TrimSpace(raw[:eq])), Value: val, Line: l, ValStart: vs, ValEnd: vs + len(val),
		})
	}
	return out, nil
}

// commentStart finds an inline comment: " #" or " ;" after a value starts
// one.
func commentStart(v string) int {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// profileOf names the profile a section defines: every section of a
// credentials file; [default] and [profile NAME] of a config file.
func profileOf(s *Section, config bool) string {
	if !config || s.Header == "default" {
		return s.Header
	}
	if kind, name := s.Kind(); kind == "profile" {
		return name
	}
	return ""
}
