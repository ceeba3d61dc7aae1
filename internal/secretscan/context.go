package secretscan

import (
	"bytes"
	"slices"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
)

// Every search for the context of a hit (the start of its line, the name
// it is assigned to, the lines around it) is bounded by one of the limits
// below, so that the cost of a scan stays linear in its input however long
// its lines are: a 10 MB minified file is one line, and a search back to
// the start of the line for each of its hits would be quadratic. The
// searches count the bytes they examine in scan.work, which the tests use
// to check that the cost per byte does not grow with the line length.
const (
	// nameContextBytes is how far before a value its name is looked for.
	nameContextBytes = 200
	// awsContextBytes is how far around a value "aws" is looked for.
	awsContextBytes = 1024
)

// lineIndex knows the 0-based line, and the start of that line, of each
// offset a scan reports. It is built once per input with hits, by counting
// newlines (a SIMD pass) between the sorted offsets, so clean data never
// pays for it and a large file with hits near its start costs little.
type lineIndex struct {
	data   []byte
	offs   []int // sorted, distinct
	lines  []int
	starts []int // offset of the start of each offset's line
}

func (s *scan) newLineIndex(offs []int) *lineIndex {
	data := s.data
	sort.Ints(offs)
	li := &lineIndex{data: data, offs: offs[:0], lines: make([]int, 0, len(offs)), starts: make([]int, 0, len(offs))}
	prev, n, st := 0, 0, 0
	for i, off := range offs {
		if i > 0 && off == li.offs[len(li.offs)-1] {
			continue
		}
		gap := data[prev:off]
		s.work += len(gap)
		if c := bytes.Count(gap, []byte{'\n'}); c > 0 {
			n += c
			st = prev + bytes.LastIndexByte(gap, '\n') + 1
		}
		prev = off
		li.offs = append(li.offs, off)
		li.lines = append(li.lines, n)
		li.starts = append(li.starts, st)
	}
	return li
}

// line returns the 0-based line of off and the offset where that line
// starts: a lookup for the offsets the index was built with, a count from
// the nearest one below for any other.
func (li *lineIndex) line(off int) (line, start int) {
	i := sort.SearchInts(li.offs, off)
	if i < len(li.offs) && li.offs[i] == off {
		return li.lines[i], li.starts[i]
	}
	base, n, st := 0, 0, 0
	if i > 0 {
		base, n, st = li.offs[i-1], li.lines[i-1], li.starts[i-1]
	}
	gap := li.data[base:min(off, len(li.data))]
	if c := bytes.Count(gap, []byte{'\n'}); c > 0 {
		n += c
		st = base + bytes.LastIndexByte(gap, '\n') + 1
	}
	return n, st
}

// lineStartAfter returns the start of off's line when it is at lo or
// after, with ok; otherwise lo, and ok false (unless lo is the start of
// the data). It looks at data[lo:off] only.
func (s *scan) lineStartAfter(off, lo int) (start int, ok bool) {
	off = min(off, len(s.data))
	lo = max(lo, 0)
	if off <= lo {
		return lo, lo == 0
	}
	if j := s.lastNewline(lo, off); j >= 0 {
		return j + 1, true
	}
	return lo, lo == 0
}

// lineEndBefore returns the end of off's line (the offset of its newline,
// or the end of the data) when it is before hi, else hi. It looks at
// data[off:hi] only.
func (s *scan) lineEndBefore(off, hi int) int {
	hi = min(hi, len(s.data))
	off = max(off, 0)
	if off >= hi {
		return hi
	}
	if j := s.firstNewline(off, hi); j >= 0 {
		return j
	}
	return hi
}

// lastNewline returns the offset of the last newline in data[lo:off], or
// -1. Like firstNewline, it skips what is known to hold none (s.noNL, a
// span the searches before found free of newlines) and adds what it
// searched to it: on a long line, the searches around successive hits
// each read only what none of them read before.
func (s *scan) lastNewline(lo, off int) int {
	end := off
	if s.noNL[0] < off && off <= s.noNL[1] {
		end = max(s.noNL[0], lo)
	}
	j := -1
	if end > lo {
		j = bytes.LastIndexByte(s.data[lo:end], '\n')
		s.work += end - lo - max(j, 0)
	}
	from := lo
	if j >= 0 {
		from = lo + j + 1
	}
	if end == s.noNL[0] || end == lo && s.noNL[0] <= lo {
		s.noNL[0] = min(s.noNL[0], from)
	} else {
		s.noNL = [2]int{from, off}
	}
	if j >= 0 {
		return lo + j
	}
	return -1
}

// firstNewline returns the offset of the first newline in data[off:hi],
// or -1 (see lastNewline).
func (s *scan) firstNewline(off, hi int) int {
	start := off
	if s.noNL[0] <= off && off < s.noNL[1] {
		start = min(s.noNL[1], hi)
	}
	j := -1
	if start < hi {
		j = bytes.IndexByte(s.data[start:hi], '\n')
		if j >= 0 {
			s.work += j + 1
		} else {
			s.work += hi - start
		}
	}
	to := hi
	if j >= 0 {
		to = start + j
	}
	if start == s.noNL[1] || start == hi && s.noNL[1] >= hi {
		s.noNL[1] = max(s.noNL[1], to)
	} else {
		s.noNL = [2]int{off, to}
	}
	if j >= 0 {
		return start + j
	}
	return -1
}

// linesBefore returns the start of the line n lines above off's line (or
// of the data), looking back at most limit bytes.
func (s *scan) linesBefore(off, n, limit int) int {
	lo := max(0, off-limit)
	st, _ := s.lineStartAfter(off, lo)
	for i := 0; i < n && st > lo; i++ {
		st, _ = s.lineStartAfter(st-1, lo)
	}
	return st
}

// linesAfter returns the end of the line n lines below off's line, looking
// ahead at most limit bytes.
func (s *scan) linesAfter(off, n, limit int) int {
	hi := min(len(s.data), off+limit)
	en := s.lineEndBefore(off, hi)
	for i := 0; i < n && en < hi; i++ {
		en = s.lineEndBefore(en+1, hi)
	}
	return en
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
// of base64 padding. fn returns false to stop. It returns how far it
// looked: past hi when a run starting before hi goes on beyond it.
func (s *scan) forEachSecretToken(lo, hi int, fn func(start, end int, v string) bool) (end int) {
	data := s.data
	defer func() { s.work += end - lo }()
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
			return i
		}
	}
	return max(i, lo)
}

// evidence is how strongly the text around a value says it is an AWS
// secret, weakest first.
type evidence int

const (
	evNone    evidence = iota
	evComment          // "aws" nearby, but only in comments
	evCode             // "aws" nearby outside comments (provider "aws", [aws])
	evName             // the name itself says AWS (aws_secret_access_key)
)

// secretContext reads the name a value at start is assigned to (in any of
// the syntaxes: INI, .env, shell, JSON, YAML, HCL, properties, code, URL
// query, Kubernetes env) and returns it when it says "secret", with how
// strongly it (or the text around) says AWS.
func (s *scan) secretContext(start int) (string, evidence) {
	pre, norm := s.valueContext(start)
	if !strings.Contains(norm, "secret") {
		return "", evNone
	}
	name := nameContaining(pre, "secret")
	if strings.Contains(norm, "secretaccesskey") || strings.Contains(norm, "awssecret") ||
		strings.Contains(norm, "amazonsecret") || strings.Contains(norm, "secretkeyaws") {
		return name, evName
	}
	return name, s.awsNearby(start)
}

// secretIsAWS decides whether a secret-named value counts as an AWS
// secret on its own, and whether that rests on a comment only (weak). A
// name that says AWS is enough for any value that is not obviously made
// up; "aws" in the text around needs the value to look random, as real
// secrets are, and a malformed key ID next to it (AKISORANDOM..., an SDK
// test's fake) rules it out.
func (s *scan) secretIsAWS(start int, v string, ev evidence) (aws, weak bool) {
	switch {
	case ev == evNone:
		return false, false
	case ev < evName && !looksRandom(v):
		return false, false
	case s.malformedIDNear(start):
		return false, false
	}
	return true, ev == evComment
}

// malformedIDNear reports whether a word shaped like an access key ID but
// not a well-formed one (AKISORANDOMAASORANDOM, AKIA0123456789018901)
// stands within the pair window around off: the fake of a test, whose
// secret is fake too.
func (s *scan) malformedIDNear(off int) bool {
	lo := s.linesBefore(off, s.d.pairLines, pairWindowBytes)
	hi := s.linesAfter(off, s.d.pairLines, pairWindowBytes)
	w := s.data[lo:hi]
	s.work += hi - lo
	for i := 0; i+4 <= len(w); i++ {
		if w[i] != 'A' || i > 0 && isAlnum(w[i-1]) {
			continue
		}
		if !(w[i+1] == 'K' || w[i+1] == 'S') || w[i+2] != 'I' {
			continue
		}
		j := i
		for j < len(w) && (w[j] >= 'A' && w[j] <= 'Z' || w[j] >= '0' && w[j] <= '9') {
			j++
		}
		if j < len(w) && isAlnum(w[j]) {
			i = j
			continue
		}
		if n := j - i; n >= 16 && n <= 32 && !awskey.ValidCredentialID(string(w[i:j])) {
			return true
		}
		i = j
	}
	return false
}

// valueContext returns the text naming the value at start, and its
// normalized form: the assignment before it on its line, or, when that
// names nothing (Kubernetes and ECS env: "value: ..." under "name: ..."),
// with the end of the previous line too, when the value is near the start
// of its line.
func (s *scan) valueContext(start int) (string, string) {
	pre, ls, ok := s.assignmentPrefix(start)
	norm := normalize(pre)
	if (norm == "" || strings.HasSuffix(norm, "value")) && ok && ls > 0 {
		ps, _ := s.lineStartAfter(ls-1, ls-1-nameContextBytes)
		pre = string(s.data[ps:ls-1]) + " " + pre
		norm = normalize(pre)
	}
	return pre, norm
}

// assignmentPrefix is the text on start's line before it, back to the
// last delimiter that separates assignments (, ; & { ( [), at most
// nameContextBytes long; with the start of the line, when it is within
// that distance (ok).
func (s *scan) assignmentPrefix(start int) (pre string, lineStart int, ok bool) {
	ls, ok := s.lineStartAfter(start, start-nameContextBytes)
	b := s.data[ls:start]
	if k := bytes.LastIndexAny(b, ",;&{(["); k >= 0 {
		b = b[k+1:]
	}
	return string(b), ls, ok
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

// awsNearby says whether "aws" or "amazon" appears as a word in the
// kilobyte before off or on its line, up to a kilobyte after it: a
// secret_key inside provider "aws", under an [aws] section, in an
// AwsConfig (evCode); or only on comment lines (evComment), the weakest
// evidence.
func (s *scan) awsNearby(off int) evidence {
	lo := max(0, off-awsContextBytes)
	hi := s.lineEndBefore(off, off+awsContextBytes)
	w := s.data[lo:hi]
	s.work += off - lo
	found := evNone
	for i := 0; i+3 <= len(w); i++ {
		c := w[i]
		if c != 'a' && c != 'A' {
			continue
		}
		if !(i+6 <= len(w) && strings.EqualFold(string(w[i:i+6]), "amazon")) {
			if !strings.EqualFold(string(w[i:i+3]), "aws") {
				continue
			}
			// "aws" in "laws" or "draws" is not AWS; "AwsConfig", "myAws" are.
			if c == 'a' && i > 0 && w[i-1] >= 'a' && w[i-1] <= 'z' {
				continue
			}
		}
		if !onCommentLine(w, i) {
			return evCode
		}
		found = evComment
	}
	return found
}

// onCommentLine reports whether w[i] is on a line that is a comment: one
// that starts, after blanks, with a comment marker of a common syntax.
func onCommentLine(w []byte, i int) bool {
	ls := bytes.LastIndexByte(w[:i], '\n') + 1
	l := bytes.TrimLeft(w[ls:i], " \t")
	for _, m := range []string{"//", "#", "/*", "*", "--", ";", "<!--", "rem "} {
		if bytes.HasPrefix(l, []byte(m)) {
			return true
		}
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

// contextSecretOK is the weaker test for a value assigned to the name
// ctx, which says secret: anything but a hex digest, an obvious
// non-random string, or, unless the name says AWS, camel-case words (an
// identifier: a random secret is letters only with odds of about 1 in
// 4,000, and then has two capitals in a row almost surely).
func contextSecretOK(ctx, v string) bool {
	if isHex(v) || distinct(v) < 10 {
		return false
	}
	return !camelWords(v) || strings.Contains(strings.ToLower(ctx), "aws")
}

// camelWords reports whether v is letters only, each capital followed by
// a small letter, with at least three capitals: words run together, as
// in an identifier (GetTemporaryGlueTableCredentialsResponse).
func camelWords(v string) bool {
	capitals := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= 'A' && c <= 'Z':
			if i+1 >= len(v) || v[i+1] < 'a' || v[i+1] > 'z' {
				return false
			}
			capitals++
		case c >= 'a' && c <= 'z':
		default:
			return false
		}
	}
	return capitals >= 3
}

// tokenContext reports whether the value at start is assigned to a name
// saying session token or security token (aws_session_token,
// SessionToken, X-Amz-Security-Token ...), and returns that name, with
// whether anything says the token is AWS's: the name (aws_, amz), the
// token's own start (the prefixes STS's tokens share), or "aws" nearby.
// Other clouds name theirs alike (Alibaba Cloud's SecurityToken).
func (s *scan) tokenContext(start int, v string) (name string, ok, aws bool) {
	pre, norm := s.valueContext(start)
	if !strings.Contains(norm, "sessiontoken") && !strings.Contains(norm, "securitytoken") {
		return "", false, false
	}
	name = nameContaining(pre, "token")
	aws = strings.Contains(norm, "aws") || strings.Contains(norm, "amz") || awsTokenPrefix(v) ||
		s.awsNearby(start) == evCode
	return name, true, aws
}

// awsTokenPrefixes start the session tokens STS issues: the base64 of
// their serialized headers ("origin_ec" regions, the older "aws" ones).
var awsTokenPrefixes = []string{"IQoJb3JpZ2lu", "FwoGZXIvYXdz", "FQoGZXIvYXdz", "FQoDYXdz", "AQoDYXdz", "AgoJb3JpZ2lu"}

func awsTokenPrefix(v string) bool {
	for _, p := range awsTokenPrefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// nextByte answers "where is the first c at or after off" for a set of
// offsets known in advance, from one pass over the data between them.
type nextByte struct {
	data []byte
	c    byte
	offs []int // sorted, distinct
	next []int // the first c at or after offs[i], or len(data)
}

func (s *scan) newNextByte(c byte, offs []int) *nextByte {
	slices.Sort(offs)
	offs = slices.Compact(offs)
	nb := &nextByte{data: s.data, c: c, offs: offs, next: make([]int, len(offs))}
	hi, following := len(s.data), len(s.data)
	for i := len(offs) - 1; i >= 0; i-- {
		lo := min(offs[i], hi)
		if j := bytes.IndexByte(s.data[lo:hi], c); j >= 0 {
			following = lo + j
			s.work += j + 1
		} else {
			s.work += hi - lo
		}
		nb.next[i] = following
		hi = lo
	}
	return nb
}

// at returns the first c at or after off: a lookup for the offsets given,
// a search up to the next of them for any other.
func (nb *nextByte) at(off int) int {
	i := sort.SearchInts(nb.offs, off)
	if i < len(nb.offs) && nb.offs[i] == off {
		return nb.next[i]
	}
	hi, following := len(nb.data), len(nb.data)
	if i < len(nb.offs) {
		hi, following = nb.offs[i], nb.next[i]
	}
	off = min(max(off, 0), hi)
	if j := bytes.IndexByte(nb.data[off:hi], nb.c); j >= 0 {
		return off + j
	}
	return following
}
