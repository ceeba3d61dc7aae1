package secretscan

import (
	"bytes"
	"encoding/base64"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/awskey"
)

// Base64-encoded values: Kubernetes Secret manifests (data:), Helm values,
// CI variables, and anything else that base64-encodes a credentials file,
// an env file or a single key. A run of the base64 alphabet long enough to
// hold a key ID (28 characters) is decoded only where a cheap prefilter
// says it could hold one: the base64 forms of "AKIA", "ASIA", "AWS_",
// "aws_" and "secret" at the three alignments inside it, or the length of
// an encoded secret access key (54 to 56 characters) after a name. What
// decodes to text is scanned, once more at most (maxDecodeDepth), and what
// is found there is reported at the encoded span, as "base64".

const (
	// minBase64Run is the shortest run decoded: the base64 of a key ID
	// (20 bytes, 27 characters and a pad).
	minBase64Run = 27
	// maxBase64Run bounds the runs decoded; longer ones are blobs (images,
	// certificates, archives), not configuration.
	maxBase64Run = 1 << 20
	// maxDecodeDepth is how many times a value is decoded: base64 of an
	// env file, and base64 of that (a Secret holding a manifest).
	maxDecodeDepth = 2
)

// base64Probes are the base64 forms of the words the prefilter looks for,
// at each of the three alignments a word can have in base64 text; then
// the forms of the forms of the key ID prefixes, for text encoded twice.
var base64Probes = func() [][]byte {
	var out [][]byte
	for _, w := range []string{"AKIA", "ASIA", "AWS_", "aws_", "ecret", "ECRET"} {
		for _, p := range alignedForms(w) {
			out = append(out, []byte(p))
		}
	}
	for _, w := range []string{"AKIA", "ASIA", "AWS_"} {
		for _, p := range alignedForms(w) {
			for _, pp := range alignedForms(p) {
				out = append(out, []byte(pp))
			}
		}
	}
	return out
}()

// probeStart marks the two-character starts of the probes, one bit per
// pair (8 KB, built at start by every command, so kept small): hasProbe
// compares a probe only where one starts, in one pass over the run.
var probeStart = func() *[1 << 16 / 64]uint64 {
	var t [1 << 16 / 64]uint64
	for _, p := range base64Probes {
		k := int(p[0])<<8 | int(p[1])
		t[k>>6] |= 1 << (k & 63)
	}
	return &t
}()

// hasProbe reports whether run holds one of base64Probes.
func hasProbe(run []byte) bool {
	for i := 0; i+1 < len(run); i++ {
		if k := int(run[i])<<8 | int(run[i+1]); probeStart[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		for _, p := range base64Probes {
			if bytes.HasPrefix(run[i:], p) {
				return true
			}
		}
	}
	return false
}

// mixedCase reports whether run holds both an upper-case and a
// lower-case letter.
func mixedCase(run []byte) bool {
	up, low := letterCases(run, false, false)
	return up && low
}

// letterCases adds to up and low whether run holds an upper-case and a
// lower-case letter; it stops reading once both are true.
func letterCases(run []byte, up, low bool) (bool, bool) {
	for _, c := range run {
		if up && low {
			break
		}
		switch {
		case c >= 'A' && c <= 'Z':
			up = true
		case c >= 'a' && c <= 'z':
			low = true
		}
	}
	return up, low
}

// alignedForms returns, for each of the three byte alignments, the
// base64 characters fully determined by w's bits: any base64 text that
// encodes w contains one of them.
func alignedForms(w string) []string {
	var out []string
	for pad := 0; pad < 3; pad++ {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, pad), w...))
		lo := (8*pad + 5) / 6          // first character starting at or after w's first bit
		hi := (8 * (pad + len(w))) / 6 // characters ending at or before w's last bit
		if hi > lo {
			out = append(out, enc[lo:hi])
		}
	}
	return out
}

// base64Run looks at a run of base64 characters data[a:b] (no escapes)
// found by findValues. It returns where the base64 it read ends: past b
// when the run is the first line of base64 wrapped over several lines.
func (s *scan) base64Run(a, b int) int {
	data := s.data
	end := b
	for k := 0; k < 2 && end < len(data) && data[end] == '='; k++ {
		end++
	}
	// A run inside a longer word or a URL-safe blob is not a value.
	if b-a > maxBase64Run || a > 0 && (data[a-1] == '-' || data[a-1] == '_') || end < len(data) && (data[end] == '-' || data[end] == '_') {
		return b
	}
	if segs := s.wrappedBase64(a, b); segs != nil {
		s.wrappedRun(segs)
		return segs[len(segs)-1][1]
	}
	s.oneRun(a, b, end)
	return b
}

// oneRun decodes a run of base64 on one line, data[a:end] (b without its
// padding).
func (s *scan) oneRun(a, b, end int) {
	data := s.data
	run := data[a:b]
	n := b - a
	secretLen := n >= 54 && n <= 56
	// Base64 of text mixes upper and lower case (digits not always: the
	// base64 of an ID may have none); paths (also runs of the alphabet)
	// do not.
	if !mixedCase(run) {
		return
	}
	probe := hasProbe(run)
	if !probe && !secretLen {
		return
	}
	dec := decodeBase64(data[a:end])
	if dec == nil {
		return
	}
	v := bytes.TrimSpace(dec)
	switch {
	case len(v) == awskey.IDLength && awskey.ValidCredentialID(string(v)):
		id := string(v)
		// The user's own ID may have been found in this run already, as
		// a base64 form: this hit replaces it.
		s.ids = slices.DeleteFunc(s.ids, func(h idHit) bool { return h.start >= a && h.start < end && h.encoding == "base64" })
		s.ids = append(s.ids, idHit{start: a, end: end, id: id, own: s.d.own[id], encoding: "base64", value: true})
		s.idsUnsorted = true
	case len(v) == awskey.SecretLength && isSecretValue(v):
		sv := string(v)
		ctx, ev := s.secretContext(a)
		if ctx == "" && !looksRandom(sv) || ctx != "" && !contextSecretOK(ctx, sv) {
			return
		}
		aws, weak := s.secretIsAWS(a, sv, ev)
		s.addSecret(secretHit{start: a, end: end, value: sv, context: ctx, aws: aws, weak: weak, encoded: true})
	case probe && s.depth < maxDecodeDepth && isText(dec):
		s.decodedText(a, end, dec, func(i int) int { return a + i })
	}
}

// Base64 wrapped over lines: the base64 tool and MIME (76 columns), PEM
// (64), a Kubernetes manifest or Helm values holding a long value folded
// under a block scalar, each line indented alike. The lines are joined
// before decoding, and what is found is placed at the encoded characters
// on their own lines.

// minWrapWidth is the shortest line taken as wrapped base64.
const minWrapWidth = 40

// wrappedBase64 returns the spans of the lines of a block of wrapped
// base64 whose first line is the run data[a:b], or nil: the run must end
// its line and be a multiple of four characters long (whole groups, as
// every encoder wraps), and each following line, after its indentation,
// be base64 to its end, as long as the first, the last one shorter or
// padded.
func (s *scan) wrappedBase64(a, b int) [][2]int {
	data := s.data
	w := b - a
	if w < minWrapWidth || w%4 != 0 || b >= len(data) || data[b] != '\n' && data[b] != '\r' {
		return nil
	}
	// The spans go in a slice kept for the next block, and the next
	// file's: a PEM bundle or a base64-encoded test binary has thousands
	// of lines.
	if s.segs == nil {
		if p, ok := segsPool.Get().(*[][2]int); ok {
			s.segs = *p
		}
	}
	segs := append(s.segs[:0], [2]int{a, b})
	for p := b; ; {
		if p < len(data) && data[p] == '\r' {
			p++
		}
		if p >= len(data) || data[p] != '\n' {
			break
		}
		p++
		q := p
		for q < len(data) && (data[q] == ' ' || data[q] == '\t') {
			q++
		}
		e := q
		for e < len(data) && e-q <= w && secretChar[data[e]] {
			e++
		}
		pe := e
		for k := 0; k < 2 && pe < len(data) && data[pe] == '='; k++ {
			pe++
		}
		if e == q || e-q > w || pe < len(data) && data[pe] != '\n' && data[pe] != '\r' {
			break
		}
		segs = append(segs, [2]int{q, pe})
		s.work += pe - p
		if e-q < w || pe > e {
			break // the last line
		}
		p = pe
	}
	s.segs = segs
	if len(segs) < 2 {
		return nil
	}
	return segs
}

// segsPool keeps wrappedBase64's slices from one Find to the next.
var segsPool sync.Pool

// wrappedRun decodes a block of wrapped base64 (the spans of its lines)
// and scans the text it holds. A block longer than maxBase64Run is a blob
// (a binary encoded in a test file): it is passed over whole, and the
// scan goes on after it, so that it is read once, not again from each of
// its lines.
func (s *scan) wrappedRun(segs [][2]int) {
	if segs[len(segs)-1][1]-segs[0][0] > maxBase64Run+maxBase64Run/8 {
		return
	}
	if s.depth >= maxDecodeDepth {
		return
	}
	// The prefilter reads the lines where they are: nearly every block
	// (certificates, encoded test data) stops here, unjoined.
	if !s.linesMixedCase(segs) || !s.linesHaveProbe(segs) {
		return
	}
	n := 0
	for _, sg := range segs {
		n += sg[1] - sg[0]
	}
	joined := make([]byte, 0, n)
	for _, sg := range segs {
		joined = append(joined, s.data[sg[0]:sg[1]]...)
	}
	dec := decodeBase64(joined)
	if dec == nil || !isText(dec) {
		return
	}
	// Character i of the joined text is in the line holding it: the
	// last whose first character is at or before i.
	first := make([]int, len(segs))
	for j, n := 1, 0; j < len(segs); j++ {
		n += segs[j-1][1] - segs[j-1][0]
		first[j] = n
	}
	at := func(i int) int {
		j, found := slices.BinarySearch(first, i)
		if !found {
			j--
		}
		return min(segs[j][0]+i-first[j], segs[len(segs)-1][1])
	}
	s.decodedText(segs[0][0], segs[len(segs)-1][1], dec, at)
}

// linesMixedCase is mixedCase of the lines segs joined.
func (s *scan) linesMixedCase(segs [][2]int) bool {
	var up, low bool
	for _, sg := range segs {
		if up, low = letterCases(s.data[sg[0]:sg[1]], up, low); up && low {
			return true
		}
	}
	return false
}

// maxProbe is the length of the longest of base64Probes.
var maxProbe = func() int {
	n := 0
	for _, p := range base64Probes {
		n = max(n, len(p))
	}
	return n
}()

// linesHaveProbe is hasProbe of the lines segs joined, without joining
// them: a probe is in a line, or across the end of the text before it
// (carry, its last maxProbe-1 bytes) and the line's start.
func (s *scan) linesHaveProbe(segs [][2]int) bool {
	var edge [64]byte
	k := maxProbe - 1
	carry := 0 // the carried bytes, at the start of edge
	for _, sg := range segs {
		line := s.data[sg[0]:sg[1]]
		if hasProbe(line) {
			return true
		}
		e := append(edge[:carry], line[:min(len(line), k)]...)
		if hasProbe(e) {
			return true
		}
		if len(line) >= k {
			carry = copy(edge[:], line[len(line)-k:])
		} else {
			carry = copy(edge[:], e[max(0, len(e)-k):])
		}
	}
	return false
}

// findEncodedIDs finds the base64 values too short for findValues (which
// steps by 40): a key ID alone encodes to 27 characters and a pad, and
// starts with the base64 of "AKI" or "ASI" ("QUtJ", "QVNJ"). One pass for
// 'Q', rare in text, finds them.
func (s *scan) findEncodedIDs() {
	data := s.data
	for off := 0; ; {
		j := bytes.IndexByte(data[off:], 'Q')
		if j < 0 {
			return
		}
		p := off + j
		off = p + 1
		if p+minBase64Run > len(data) || data[p+1] != 'U' && data[p+1] != 'V' || p > 0 && secretChar[data[p-1]] {
			continue
		}
		b, dec := runEnd(data, p)
		if dec != b-p || dec < minBase64Run || dec >= awskey.SecretLength {
			// Longer runs are findValues's.
			off = b
			continue
		}
		s.base64Run(p, b)
		off = b
	}
}

// decodeBase64 decodes a run, padded or not; nil when it is not base64.
func decodeBase64(enc []byte) []byte {
	enc = bytes.TrimRight(enc, "=")
	if len(enc)%4 == 1 {
		enc = enc[:len(enc)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(enc)))
	n, err := base64.RawStdEncoding.Decode(out, enc)
	if err != nil {
		return nil
	}
	return out[:n]
}

func isSecretValue(v []byte) bool {
	for _, c := range v {
		if !secretChar[c] {
			return false
		}
	}
	return true
}

// isText reports whether decoded bytes are text: valid UTF-8 with no
// control characters but tabs and line ends.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// decodedText scans the text a base64 run data[a:end] decodes to, and
// keeps what it finds with its spans moved to the encoded characters: at
// maps the index of an encoded character to its offset in data.
func (s *scan) decodedText(a, end int, dec []byte, at func(int) int) {
	var inner scan
	inner.d = s.d
	inner.data = dec
	inner.depth = s.depth + 1
	ms := inner.run()
	s.work += inner.work
	for _, m := range ms {
		for _, sp := range []*Span{&m.IDSpan, &m.SecretSpan, &m.TokenSpan} {
			if sp.Line == 0 {
				continue
			}
			// Decoded byte k starts in encoded character 4k/3 and ends
			// in character ceil(4(k+1)/3) - 1.
			*sp = Span{Start: at(sp.Start * 4 / 3), End: min(end, at((sp.End*4+2)/3-1)+1)}
		}
		m.Encoding = "base64"
		s.decoded = append(s.decoded, m)
		if m.KeyID != "" {
			// The user's own ID found in this run as a base64 form is
			// this one.
			s.ids = slices.DeleteFunc(s.ids, func(h idHit) bool {
				return h.id == m.KeyID && h.encoding == "base64" && h.start >= a && h.start < end
			})
		}
	}
}
