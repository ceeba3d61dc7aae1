package secretscan

import (
	"bytes"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
)

// lineIndex knows the 0-based line of each offset a scan reports. It is
// built once per input with hits, by counting newlines (a SIMD pass)
// between the sorted offsets, so clean data never pays for it and a large
// file with hits near its start costs little.
type lineIndex struct {
	data  []byte
	offs  []int // sorted, distinct
	lines []int
}

func newLineIndex(data []byte, offs []int) *lineIndex {
	sort.Ints(offs)
	li := &lineIndex{data: data, offs: offs[:0], lines: make([]int, 0, len(offs))}
	prev, n := 0, 0
	for i, off := range offs {
		if i > 0 && off == li.offs[len(li.offs)-1] {
			continue
		}
		n += bytes.Count(data[prev:off], []byte{'\n'})
		prev = off
		li.offs = append(li.offs, off)
		li.lines = append(li.lines, n)
	}
	return li
}

// line returns the 0-based line of off: a lookup for the offsets the index
// was built with, a count from the nearest one below for any other.
func (li *lineIndex) line(off int) int {
	i := sort.SearchInts(li.offs, off)
	if i < len(li.offs) && li.offs[i] == off {
		return li.lines[i]
	}
	base, n := 0, 0
	if i > 0 {
		base, n = li.offs[i-1], li.lines[i-1]
	}
	return n + bytes.Count(li.data[base:min(off, len(li.data))], []byte{'\n'})
}

// linesBefore returns the start of the line n lines above off's line (or
// of the data), looking back at most limit bytes.
func linesBefore(data []byte, off, n, limit int) int {
	lo := max(0, off-limit)
	st := lineStart(data, off)
	for i := 0; i < n && st > lo; i++ {
		st = lineStart(data, st-1)
	}
	return max(st, lo)
}

// linesAfter returns the end of the line n lines below off's line, looking
// ahead at most limit bytes.
func linesAfter(data []byte, off, n, limit int) int {
	hi := min(len(data), off+limit)
	en := lineEnd(data, off)
	for i := 0; i < n && en < hi; i++ {
		en = lineEnd(data, en+1)
	}
	return min(en, hi)
}

func lineStart(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		return 0
	}
	return bytes.LastIndexByte(data[:off], '\n') + 1
}

func lineEnd(data []byte, off int) int {
	if off >= len(data) {
		return len(data)
	}
	j := bytes.IndexByte(data[off:], '\n')
	if j < 0 {
		return len(data)
	}
	return off + j
}

// secretChar is awskey.IsSecretChar as a table, for the inner loops.
var secretChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = awskey.IsSecretChar(byte(c))
	}
	return t
}()

// escapeAt returns the secret character an escape at data[i] stands for
// (%2F, %2B in URLs, \/ in JSON) and the escape's length, or 0.
func escapeAt(data []byte, i int) (byte, int) {
	switch data[i] {
	case '%':
		if i+2 < len(data) && data[i+1] == '2' {
			switch data[i+2] {
			case 'F', 'f':
				return '/', 3
			case 'B', 'b':
				return '+', 3
			}
		}
	case '\\':
		if i+1 < len(data) && data[i+1] == '/' {
			return '/', 2
		}
	}
	return 0, 0
}

// forEachSecretToken calls fn for each maximal run of secret characters in
// data[lo:hi] that decodes to exactly 40 characters and is not the start
// of base64 padding. fn returns false to stop.
func forEachSecretToken(data []byte, lo, hi int, fn func(start, end int, v string) bool) {
	if hi > len(data) {
		hi = len(data)
	}
	var buf [awskey.SecretLength]byte
	i := lo
	for i < hi {
		if !secretChar[data[i]] {
			if c := data[i]; c != '%' && c != '\\' {
				i++
				continue
			}
			if _, n := escapeAt(data, i); n == 0 {
				i++
				continue
			}
		}
		st := i
		n := 0
		for i < len(data) && n <= awskey.SecretLength {
			c := data[i]
			if secretChar[c] {
				if n < len(buf) {
					buf[n] = c
				}
				n++
				i++
				continue
			}
			if d, l := escapeAt(data, i); l > 0 {
				if n < len(buf) {
					buf[n] = d
				}
				n++
				i += l
				continue
			}
			break
		}
		if n > awskey.SecretLength {
			// Part of a longer run: skip the rest of it.
			for i < len(data) && (secretChar[data[i]] || data[i] == '%') {
				i++
			}
			continue
		}
		if n != awskey.SecretLength {
			continue
		}
		// A run that starts right after a letter-joining escape or ends in
		// '=' is a slice of base64, not a secret.
		if i < len(data) && data[i] == '=' {
			continue
		}
		if st > 0 && (data[st-1] == '%' || data[st-1] == '\\' || data[st-1] == '-' || data[st-1] == '_') {
			continue
		}
		if i < len(data) && (data[i] == '-' || data[i] == '_') {
			continue
		}
		if !fn(st, i, string(buf[:])) {
			return
		}
	}
}

// secretContext reads the name a value at start is assigned to (in any of
// the syntaxes: INI, .env, shell, JSON, YAML, HCL, properties, code, URL
// query, Kubernetes env) and returns it when it says "secret", with
// whether it (or the text around) says AWS.
func secretContext(data []byte, start int) (string, bool) {
	pre, norm := valueContext(data, start)
	if !strings.Contains(norm, "secret") {
		return "", false
	}
	name := nameContaining(pre, "secret")
	if strings.Contains(norm, "secretaccesskey") || strings.Contains(norm, "awssecret") ||
		strings.Contains(norm, "amazonsecret") || strings.Contains(norm, "secretkeyaws") {
		return name, true
	}
	return name, awsNearby(data, start)
}

// valueContext returns the text naming the value at start, and its
// normalized form: the assignment before it on its line, or, when that
// names nothing (Kubernetes and ECS env: "value: ..." under "name: ..."),
// with the previous line too.
func valueContext(data []byte, start int) (string, string) {
	pre := assignmentPrefix(data, start)
	norm := normalize(pre)
	if norm == "" || strings.HasSuffix(norm, "value") {
		ls := lineStart(data, start)
		if ls > 0 {
			prev := data[lineStart(data, ls-1) : ls-1]
			if len(prev) > 200 {
				prev = prev[len(prev)-200:]
			}
			pre = string(prev) + " " + pre
			norm = normalize(pre)
		}
	}
	return pre, norm
}

// assignmentPrefix is the text on start's line before it, back to the
// last delimiter that separates assignments (, ; & { ( [).
func assignmentPrefix(data []byte, start int) string {
	ls := lineStart(data, start)
	if start-ls > 200 {
		ls = start - 200
	}
	pre := data[ls:start]
	if k := bytes.LastIndexAny(pre, ",;&{(["); k >= 0 {
		pre = pre[k+1:]
	}
	return string(pre)
}

// normalize keeps letters and digits, lower-cased: "AWS_SECRET_ACCESS_KEY",
// "aws.secretAccessKey" and "SecretAccessKey" compare alike.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isNameChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// nameContaining returns the last identifier in s that contains word
// (case-insensitively), for display.
func nameContaining(s, word string) string {
	for end := len(s); end > 0; {
		for end > 0 && !isNameChar(s[end-1]) {
			end--
		}
		st := end
		for st > 0 && isNameChar(s[st-1]) {
			st--
		}
		if st == end {
			break
		}
		if strings.Contains(strings.ToLower(s[st:end]), word) {
			n := s[st:end]
			if len(n) > 64 {
				n = n[:64]
			}
			return n
		}
		end = st
	}
	return word
}

// awsNearby reports whether "aws" or "amazon" appears as a word in the
// kilobyte before off or on its line: a secret_key inside provider "aws",
// under an [aws] section, in an AwsConfig.
func awsNearby(data []byte, off int) bool {
	lo := off - 1024
	if lo < 0 {
		lo = 0
	}
	hi := lineEnd(data, off)
	w := data[lo:hi]
	for i := 0; i+3 <= len(w); i++ {
		c := w[i]
		if c != 'a' && c != 'A' {
			continue
		}
		if i+6 <= len(w) && strings.EqualFold(string(w[i:i+6]), "amazon") {
			return true
		}
		if !strings.EqualFold(string(w[i:i+3]), "aws") {
			continue
		}
		// "aws" in "laws" or "draws" is not AWS; "AwsConfig", "myAws" are.
		if c == 'a' && i > 0 && w[i-1] >= 'a' && w[i-1] <= 'z' {
			continue
		}
		return true
	}
	return false
}

func isHex(v string) bool {
	lower, upper := true, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		isDigit := c >= '0' && c <= '9'
		if !(isDigit || c >= 'a' && c <= 'f') {
			lower = false
		}
		if !(isDigit || c >= 'A' && c <= 'F') {
			upper = false
		}
	}
	return lower || upper
}

// looksRandom says whether a 40-character token with no "secret" name
// still looks like a secret access key: random over the base64 alphabet,
// so mixed case with digits or symbols and frequent class changes, unlike
// a hex digest, a path, a camel-case identifier or a base32 string.
func looksRandom(v string) bool {
	if isHex(v) || isPlaceholderSecret(v) {
		return false
	}
	var upper, lower, other bool
	changes := 0
	prev := -1
	for i := 0; i < len(v); i++ {
		c := v[i]
		cl := 0
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
			cl = 1
		case c >= 'a' && c <= 'z':
			lower = true
			cl = 2
		case c >= '0' && c <= '9':
			other = true
			cl = 3
		default:
			other = true
			cl = 4
		}
		if prev >= 0 && cl != prev {
			changes++
		}
		prev = cl
	}
	return upper && lower && other && changes >= 12 && distinct(v) >= 16
}

// contextSecretOK is the weaker test for a value assigned to a name that
// says secret: anything but a hex digest or an obvious non-random string.
func contextSecretOK(v string) bool {
	return !isHex(v) && distinct(v) >= 10
}

// tokenContext reports whether the value at start is assigned to a name
// saying session token or security token (aws_session_token,
// SessionToken, X-Amz-Security-Token ...), and returns that name.
func tokenContext(data []byte, start int) (string, bool) {
	pre, norm := valueContext(data, start)
	if !strings.Contains(norm, "sessiontoken") && !strings.Contains(norm, "securitytoken") {
		return "", false
	}
	return nameContaining(pre, "token"), true
}
