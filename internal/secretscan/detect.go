// Package secretscan finds AWS credentials in text: access key IDs of every
// credential prefix, secret access keys, session tokens, and the pairs they
// form. It also reads the places credentials leak through (files,
// directories, stdin, archives, git blobs), applies the noise controls
// (inline allow comments, baselines) and, on request, asks STS whether a
// pair found is live.
//
// Detection (this file and context.go) is pure: it takes bytes and returns
// matches, with no I/O, so that it can be tested exhaustively, fuzzed and
// run from any source. It is built for speed: data without an anchor (the
// letter pair that starts a key ID, the words "secret" and "token") costs a
// handful of memchr-speed passes, and no regular expression ever runs over
// a whole file.
package secretscan

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/awskey"
)

// Kind is what a match is.
type Kind int

// The kinds of match, from most to least useful to an attacker.
const (
	KindPair         Kind = iota + 1 // key ID with its secret (and maybe a session token)
	KindSecret                       // a secret access key with no ID near it, in an AWS context
	KindKeyID                        // a credential key ID with no secret near it
	KindSessionToken                 // a session token with no key pair near it
	KindBedrock                      // an Amazon Bedrock API key (bedrock.go)
)

func (k Kind) String() string {
	switch k {
	case KindPair:
		return "pair"
	case KindSecret:
		return "secret"
	case KindKeyID:
		return "key-id"
	case KindSessionToken:
		return "session-token"
	case KindBedrock:
		return "bedrock-api-key"
	}
	return "unknown"
}

// Span is a position in the scanned data: byte offsets and the 1-based line
// and column (in bytes) of the first byte.
type Span struct {
	Start, End int
	Line, Col  int
}

// Match is one credential found. It holds secrets in clear: callers turn it
// into a report.Finding (which redacts) and must not log it.
type Match struct {
	Kind    Kind
	KeyID   string
	Secret  string
	Token   string // session token, when one was found with the pair or alone
	Account string // decoded offline from the ID, when the ID carries it

	// IDSpan, SecretSpan and TokenSpan locate each part that was found.
	IDSpan, SecretSpan, TokenSpan Span

	// Example marks AWS documentation examples and obvious placeholders
	// (AKIAXXXXXXXXXXXXXXXX): reported, never counted as leaks.
	Example bool
	// OwnKey marks a key ID the caller registered as the user's own
	// (Options.OwnKeyIDs); such IDs are found in any form containing them.
	OwnKey bool
	// Encoding says how the ID was written when not in clear: "base64",
	// "hex", "lowercase", "embedded" (inside a longer word).
	Encoding string
	// Allowed is true when a line of the match carries keywarden:allow.
	Allowed bool
	// Context is the assignment name that made a lone secret or token
	// count (e.g. "aws_secret_access_key").
	Context string
	// WeakEvidence marks a lone secret whose only sign of AWS is a
	// comment nearby: reported at a lower severity.
	WeakEvidence bool
	// Bedrock describes an Amazon Bedrock API key (KindBedrock), whose
	// whole text is in Secret.
	Bedrock *Bedrock

	// secretAWS says the secret of a pair would count alone (its name or
	// the text around says AWS), for streams (settle).
	secretAWS bool
}

// Primary is the span a finding points at: the ID when there is one.
func (m *Match) Primary() Span {
	switch {
	case m.KeyID != "":
		return m.IDSpan
	case m.Secret != "":
		return m.SecretSpan
	}
	return m.TokenSpan
}

// Options configure a Detector.
type Options struct {
	// OwnKeyIDs are the user's own access key IDs (from ~/.aws/credentials
	// or keywarden's store). They are matched as exact patterns in any form:
	// embedded in a longer word, lower-cased, or base64-encoded.
	OwnKeyIDs []string
	// PairLines is how many lines apart an ID and a secret may be and still
	// form a pair (default 6).
	PairLines int
}

// Detector finds credentials. It is safe for concurrent use.
type Detector struct {
	own       map[string]bool
	ownForms  []ownForm
	pairLines int
}

// ownForm is one encoded form of one of the user's IDs.
type ownForm struct {
	id       string
	pattern  []byte
	encoding string
}

// AllowMarker on a line suppresses the findings on it.
const AllowMarker = "keywarden:allow"

// New builds a detector.
func New(opt Options) *Detector {
	d := &Detector{own: map[string]bool{}, pairLines: opt.PairLines}
	if d.pairLines <= 0 {
		d.pairLines = 6
	}
	for _, id := range opt.OwnKeyIDs {
		if !awskey.Valid(id) || d.own[id] {
			continue
		}
		d.own[id] = true
		d.ownForms = append(d.ownForms, ownForm{id, []byte(id), "embedded"})
		d.ownForms = append(d.ownForms, ownForm{id, []byte(strings.ToLower(id)), "lowercase"})
		for _, p := range base64Forms(id) {
			d.ownForms = append(d.ownForms, ownForm{id, []byte(p), "base64"})
			if u := strings.NewReplacer("+", "-", "/", "_").Replace(p); u != p {
				d.ownForms = append(d.ownForms, ownForm{id, []byte(u), "base64"})
			}
		}
		h := hex.EncodeToString([]byte(id))
		d.ownForms = append(d.ownForms, ownForm{id, []byte(h), "hex"}, ownForm{id, []byte(strings.ToUpper(h)), "hex"})
	}
	return d
}

// base64Forms returns, for each of the three alignments the ID can have in
// a base64 stream, the run of base64 characters that depends only on the
// ID's own bytes. Any base64 text that encodes the ID contains one of them.
func base64Forms(id string) []string {
	var out []string
	for pad := 0; pad < 3; pad++ {
		src := strings.Repeat("\x00", pad) + id
		enc := base64.StdEncoding.EncodeToString([]byte(src))
		// Characters fully determined by the ID: skip the group holding
		// padding bytes at the start and the partial group at the end.
		start := 0
		if pad > 0 {
			start = 4
		}
		full := (len(src) / 3) * 4
		if full <= start {
			continue
		}
		out = append(out, enc[start:full])
	}
	return out
}

// Find returns the credentials in data, in order of position. It never
// panics on any input.
func (d *Detector) Find(data []byte) []Match {
	ms, _ := d.find(data)
	return ms
}

// find is Find, and how many bytes the searches around hits examined
// (scan.work), for the tests of its cost.
func (d *Detector) find(data []byte) ([]Match, int) {
	var s scan
	s.d = d
	s.data = data
	ms := s.run()
	if segs := s.segs; segs != nil {
		segsPool.Put(&segs)
	}
	return ms, s.work
}

// run finds the matches of s.data.
func (s *scan) run() []Match {
	s.findIDs()
	if len(s.d.ownForms) > 0 {
		s.findOwnForms()
	}
	s.findValues()
	s.findEncodedIDs()
	if s.idsUnsorted {
		sort.SliceStable(s.ids, func(a, b int) bool { return s.ids[a].start < s.ids[b].start })
	}
	if len(s.ids) == 0 && len(s.secrets) == 0 && len(s.tokens) == 0 && len(s.decoded) == 0 && len(s.bedrock) == 0 {
		return nil
	}
	ms := s.assemble()
	if len(s.decoded) > 0 {
		ms = mergeByStart(ms, s.placeDecoded())
	}
	return ms
}

// placeDecoded gives the matches found in base64-decoded values their
// lines and columns in s.data (their offsets are set already).
func (s *scan) placeDecoded() []Match {
	for i := range s.decoded {
		m := &s.decoded[i]
		for _, sp := range []*Span{&m.IDSpan, &m.SecretSpan, &m.TokenSpan} {
			if sp.End > 0 {
				*sp = s.span(sp.Start, sp.End)
			}
		}
		m.Allowed = s.allowed(m.Primary())
	}
	slices.SortStableFunc(s.decoded, func(x, y Match) int { return cmp.Compare(x.Primary().Start, y.Primary().Start) })
	return s.decoded
}

// scan is the state of one Find call.
type scan struct {
	d       *Detector
	data    []byte
	ids     []idHit
	secrets []secretHit
	tokens  []tokenHit
	lines   *lineIndex

	secretAt map[int]bool // starts of secrets already kept
	// allowedLine caches, by line start, whether a line carries the allow
	// marker: each line is read once however many hits it holds.
	allowedLine map[int]bool
	// braces finds the next '}' after a hit, for pairs on one line.
	braces *nextByte
	// noNL is a span of data known to hold no newline: the searches for
	// line starts and ends skip it (lastNewline).
	noNL [2]int
	// work counts the bytes the searches around hits examine.
	work int

	// depth is how many base64 decodings led to data (base64.go).
	depth int
	// decoded holds what was found in base64-decoded text, at its
	// encoded span (offsets only, placed at the end).
	decoded []Match
	// idsUnsorted says that base64 values added IDs out of order.
	idsUnsorted bool
	// bedrock holds the Bedrock API keys found (bedrock.go).
	bedrock []bedrockHit
	// segs is wrappedBase64's slice, reused from one block to the next.
	segs [][2]int
}

type idHit struct {
	line     int // 0-based, set by assemble
	start    int
	end      int // past the ID's text: longer than 20 when encoded
	id       string
	own      bool
	encoding string
	// value marks an ID that is the whole of a base64-encoded value: it
	// pairs as an ID in clear does.
	value bool
}

// pairable says whether an ID can pair with a secret: not one found
// inside an encoded blob (the user's own IDs in any form).
func (h idHit) pairable() bool {
	return h.value || h.encoding != "base64" && h.encoding != "hex"
}

type secretHit struct {
	line       int
	start, end int // span in data (may be longer than 40 when %-encoded)
	value      string
	context    string // assignment name, when the context says secret
	aws        bool   // context says AWS: reportable alone
	weak       bool   // ... but only a comment says so
	encoded    bool   // the whole of a base64-encoded value
}

type tokenHit struct {
	line       int
	start, end int
	value      string
	context    string
	aws        bool // something says AWS: reportable alone
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// credentialPrefixAt reports whether data[p:] starts with AKIA, ASIA, ABIA
// or ACCA (the caller has checked data[p] == 'A' and that 4 bytes exist).
func credentialPrefixAt(data []byte, p int) bool {
	c1, c2, c3 := data[p+1], data[p+2], data[p+3]
	if c3 != 'A' {
		return false
	}
	switch c1 {
	case 'K', 'S', 'B':
		return c2 == 'I'
	case 'C':
		return c2 == 'C'
	}
	return false
}

// idChar marks the characters of a key ID: A-Z and 2-7.
var idChar = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '2'; c <= '7'; c++ {
		t[c] = true
	}
	return t
}()

// findIDs is the hot path. A key ID that stands alone is a maximal run of
// exactly 20 characters from A-Z2-7, so one byte in 20 is enough to rule
// out most text: if data[j] is not such a character, no ID covers j and
// the next one to look at is j+20. Only runs that reach 20 characters are
// examined further.
func (s *scan) findIDs() {
	data := s.data
	n := len(data)
	const L = awskey.IDLength
	for j := L - 1; j < n; {
		if !idChar[data[j]] {
			j += L
			continue
		}
		a := j
		for a > 0 && idChar[data[a-1]] && j-a < L {
			a--
		}
		b := j + 1
		for b < n && idChar[data[b]] {
			b++
		}
		if j-a >= L {
			// The run is longer than an ID on the left: not an ID; skip it.
			j = b + L
			continue
		}
		if b-a == L && data[a] == 'A' && credentialPrefixAt(data, a) &&
			(a == 0 || !isAlnum(data[a-1]) && data[a-1] != '+') &&
			(b == n || !isAlnum(data[b]) && data[b] != '+') {
			id := string(data[a:b])
			s.ids = append(s.ids, idHit{start: a, end: b, id: id, own: s.d.own[id]})
		}
		j = b + L
	}
}

// findOwnForms looks for the user's own IDs in any form: inside a longer
// word, in lower case, base64-encoded.
func (s *scan) findOwnForms() {
	at := map[int]bool{}
	for _, h := range s.ids {
		at[h.start] = true
	}
	for _, f := range s.d.ownForms {
		for off := 0; ; {
			j := bytes.Index(s.data[off:], f.pattern)
			if j < 0 {
				break
			}
			p := off + j
			off = p + len(f.pattern)
			if at[p] {
				continue // found in clear already
			}
			at[p] = true
			s.ids = append(s.ids, idHit{start: p, end: p + len(f.pattern), id: f.id, own: true, encoding: f.encoding})
		}
	}
	sort.SliceStable(s.ids, func(a, b int) bool { return s.ids[a].start < s.ids[b].start })
}

// findValues finds the values that can be secrets (40 characters of the
// base64 alphabet) or session tokens (100 or more), and keeps those whose
// name says so. Like findIDs it skips: a value of 40 characters or more
// covers one of every 40 positions, so a byte outside the alphabet there
// rules out the 39 before it.
func (s *scan) findValues() {
	data := s.data
	n := len(data)
	const L = awskey.SecretLength
	const S = L
	for j := S - 1; j < n; {
		c := data[j]
		if !secretChar[c] && c != '%' && c != '\\' {
			j += S
			continue
		}
		a := j
		for a > 0 && a > j-8*L {
			if secretChar[data[a-1]] {
				a--
				continue
			}
			if d := data[a-1]; d == '%' || d == '\\' {
				if _, l := escapeAt(data, a-1); l > 0 {
					a--
					continue
				}
			}
			break
		}
		b, dec := runEnd(data, a)
		if b <= j {
			j += S
			continue
		}
		if dec >= minBedrockRun && dec == b-a && s.bedrockRun(a, b) {
			j = b + S
			continue
		}
		switch {
		case dec == L:
			s.contextSecret(a, b)
		case dec >= minTokenLength:
			s.contextToken(a, b)
		}
		if dec >= minBase64Run && dec == b-a {
			b = s.base64Run(a, b)
		}
		j = b + S
	}
}

// minTokenLength is the shortest session token considered; STS issues
// tokens of several hundred characters.
const minTokenLength = 100

// runEnd returns the end of the run of value characters (base64 alphabet
// and the escapes %2F, %2B, \/) starting at a, and its decoded length.
func runEnd(data []byte, a int) (int, int) {
	i, dec := a, 0
	for i < len(data) {
		if secretChar[data[i]] {
			i++
			dec++
			continue
		}
		if _, l := escapeAt(data, i); l > 0 {
			i += l
			dec++
			continue
		}
		break
	}
	return i, dec
}

// decodeRun returns the value of data[a:b] with escapes decoded.
func decodeRun(data []byte, a, b int) string {
	var sb strings.Builder
	sb.Grow(b - a)
	for i := a; i < b; {
		if d, l := escapeAt(data, i); l > 0 {
			sb.WriteByte(d)
			i += l
			continue
		}
		sb.WriteByte(data[i])
		i++
	}
	return sb.String()
}

// contextSecret keeps a 40-character value assigned to a name saying
// "secret" that does not run on as base64.
func (s *scan) contextSecret(a, b int) {
	data := s.data
	if b < len(data) && (data[b] == '=' || data[b] == '-' || data[b] == '_') {
		return
	}
	if a > 0 && (data[a-1] == '-' || data[a-1] == '_' || data[a-1] == '.') {
		return
	}
	ctx, ev := s.secretContext(a)
	if ctx == "" {
		return
	}
	v := decodeRun(data, a, b)
	if !contextSecretOK(ctx, v) {
		return
	}
	aws, weak := s.secretIsAWS(a, v, ev)
	s.addSecret(secretHit{start: a, end: b, value: v, context: ctx, aws: aws, weak: weak})
}

// contextToken keeps a long value assigned to a name saying session or
// security token.
func (s *scan) contextToken(a, b int) {
	data := s.data
	// The value must start the assignment's value, not follow a dot: the
	// payload of a JWT (MinIO and other STS look-alikes issue those) is
	// not an AWS session token.
	if a > 0 && data[a-1] == '.' {
		return
	}
	// Base64 padding belongs to the token.
	for k := 0; k < 2 && b < len(data) && data[b] == '='; k++ {
		b++
	}
	if b < len(data) && data[b] == '.' {
		return
	}
	if b-a > maxTokenLength {
		return
	}
	v := decodeRun(data, a, b)
	if isHex(v) || distinct(v) < 20 {
		return
	}
	name, ok, aws := s.tokenContext(a, v)
	if !ok {
		return
	}
	s.tokens = append(s.tokens, tokenHit{start: a, end: b, value: v, context: name, aws: aws})
}

// maxTokenLength bounds a session token; longer runs are blobs.
const maxTokenLength = 8192

func (s *scan) addSecret(h secretHit) {
	if s.secretAt == nil {
		s.secretAt = map[int]bool{}
	}
	if s.secretAt[h.start] {
		return
	}
	s.secretAt[h.start] = true
	s.secrets = append(s.secrets, h)
}

// pairCandidate is a possible (ID, secret) pair and how far apart they are.
type pairCandidate struct {
	id, sec int
	qual    int // 1 when the names' qualifiers differ
	score   int
	gap     int // bytes between the two, when on one line
}

// An ID and a secret in the same object pair up to pairObjectLines apart;
// each ID looks at most at pairMaxCandidates secrets on each side, so that
// hostile input costs linear time.
const (
	pairObjectLines   = 200
	pairMaxCandidates = 16
)

// pairWindowBytes bounds how far from an ID its secret is looked for, so
// that hostile input (a file of nothing but IDs) costs linear time.
const pairWindowBytes = 4096

// assemble pairs IDs with secrets and tokens, and builds the matches. Every
// step is bounded by the windows around IDs, so its cost stays linear in
// the input whatever the input holds.
func (s *scan) assemble() []Match {
	// Secrets near IDs: scan a window of lines around each ID for values of
	// secret shape. Those without a secret name must look random. Windows
	// of successive IDs overlap; each byte is scanned once.
	scanned := 0
	for _, h := range s.ids {
		lo := s.linesBefore(h.start, s.d.pairLines, pairWindowBytes)
		hi := s.linesAfter(h.start, s.d.pairLines, pairWindowBytes)
		if lo < scanned {
			// Runs that started before scanned were seen whole already.
			lo = scanned
			for lo < hi && (secretChar[s.data[lo]] || s.data[lo] == '%' || s.data[lo] == '\\') {
				lo++
				s.work++
			}
		}
		if lo >= hi {
			continue
		}
		// A run that goes on past hi was looked at to its end: the next
		// window starts after it.
		end := s.forEachSecretToken(lo, hi, func(st, en int, v string) bool {
			ctx, ev := s.secretContext(st)
			if !looksRandom(v) && (ctx == "" || !contextSecretOK(ctx, v)) {
				return true
			}
			aws, weak := s.secretIsAWS(st, v, ev)
			s.addSecret(secretHit{start: st, end: en, value: v, context: ctx, aws: aws, weak: weak})
			return true
		})
		scanned = max(scanned, hi, end)
	}
	sort.Slice(s.secrets, func(a, b int) bool { return s.secrets[a].start < s.secrets[b].start })
	sort.Slice(s.tokens, func(a, b int) bool { return s.tokens[a].start < s.tokens[b].start })

	// Line numbers of every hit, in one pass.
	offs := make([]int, 0, len(s.ids)+len(s.secrets)+len(s.tokens))
	for _, h := range s.ids {
		offs = append(offs, h.start)
	}
	for _, h := range s.secrets {
		offs = append(offs, h.start)
	}
	for _, h := range s.tokens {
		offs = append(offs, h.start)
	}
	for _, h := range s.bedrock {
		offs = append(offs, h.start)
	}
	s.lines = s.newLineIndex(offs)

	for i := range s.ids {
		s.ids[i].line, _ = s.lines.line(s.ids[i].start)
	}
	secStarts := make([]int, len(s.secrets))
	for i := range s.secrets {
		s.secrets[i].line, _ = s.lines.line(s.secrets[i].start)
		secStarts[i] = s.secrets[i].start
	}
	tokStarts := make([]int, len(s.tokens))
	for i := range s.tokens {
		s.tokens[i].line, _ = s.lines.line(s.tokens[i].start)
		tokStarts[i] = s.tokens[i].start
	}
	abs := func(x int) int {
		if x < 0 {
			return -x
		}
		return x
	}

	// Where each ID and secret sits in the file's structure (structure.go).
	idPlace := make([]place, len(s.ids))
	secPlace := make([]place, len(s.secrets))
	if len(s.ids) > 0 && len(s.secrets) > 0 {
		offs := make([]int, 0, len(s.ids)+len(s.secrets))
		for _, h := range s.ids {
			offs = append(offs, h.start)
		}
		offs = append(offs, secStarts...)
		slices.Sort(offs)
		offs = slices.Compact(offs)
		pl := s.placesOf(offs)
		at := func(off int) place {
			i, _ := slices.BinarySearch(offs, off)
			return pl[i]
		}
		for i, h := range s.ids {
			idPlace[i] = at(h.start)
			idPlace[i].qual = s.qualifierOf(h.start)
		}
		for j, sec := range s.secrets {
			secPlace[j] = at(sec.start)
			secPlace[j].qual = s.qualifierOf(sec.start)
		}
	}

	// Greedy one-to-one pairing. Candidates are the secrets in the same
	// structure as the ID: within pairLines, or further in the same
	// object. A secret whose name has the ID's qualifier comes first, then
	// the nearest; a secret after its ID and a secret with a secret-ish
	// name win ties.
	cands := make([]pairCandidate, 0, 4*len(s.ids))
	for i, h := range s.ids {
		if !h.pairable() {
			continue
		}
		// add returns false once a far secret of the same object was added:
		// nearer ones come first, and one is enough.
		add := func(j int) bool {
			sec := s.secrets[j]
			dist := abs(sec.line - h.line)
			far := dist > s.d.pairLines
			// Places are comparable when read in one walk (placeWindow):
			// beyond it, only line distance counts, as it always did.
			placed := abs(sec.start-h.start) < placeWindow
			if placed && !samePlace(idPlace[i], secPlace[j]) || far && (!placed || !sameObject(idPlace[i], secPlace[j])) {
				return true
			}
			score := dist * 4
			gap := 0
			if dist == 0 {
				// On one line (minified JSON, a CSV row, a call), the
				// nearest wins, and not across the end of an object.
				if lo, hi := min(h.end, sec.end), max(h.start, sec.start); lo < hi {
					gap = hi - lo
					if s.nextBrace(lo) < hi {
						score += 4 * (pairObjectLines + 1)
					}
				}
			} else if sec.start < h.start {
				score += 2
			}
			if sec.context == "" {
				score++
			}
			qual := 0
			if idPlace[i].qual != secPlace[j].qual {
				qual = 1
			}
			cands = append(cands, pairCandidate{i, j, qual, score, gap})
			return !far
		}
		at := sort.SearchInts(secStarts, h.start)
		for j := at - 1; j >= max(0, at-pairMaxCandidates) && h.line-s.secrets[j].line <= pairObjectLines; j-- {
			if !add(j) {
				break
			}
		}
		for j := at; j < min(len(s.secrets), at+pairMaxCandidates) && s.secrets[j].line-h.line <= pairObjectLines; j++ {
			if !add(j) {
				break
			}
		}
	}
	slices.SortFunc(cands, func(a, b pairCandidate) int {
		return cmp.Or(cmp.Compare(a.qual, b.qual), cmp.Compare(a.score, b.score), cmp.Compare(a.gap, b.gap), cmp.Compare(a.id, b.id), cmp.Compare(a.sec, b.sec))
	})
	idPair := make([]int, len(s.ids))
	secUsed := make([]bool, len(s.secrets))
	for i := range idPair {
		idPair[i] = -1
	}
	for _, c := range cands {
		if idPair[c.id] >= 0 || secUsed[c.sec] {
			continue
		}
		idPair[c.id] = c.sec
		secUsed[c.sec] = true
	}
	// Same structure, further apart: one ID and one AWS secret left alone
	// in the whole input belong together (a YAML or JSON document with the
	// two fields far apart).
	loneID, loneSec := -1, -1
	nID, nSec := 0, 0
	for i, h := range s.ids {
		if idPair[i] < 0 && h.pairable() && credentialKind(h.id) {
			loneID = i
			nID++
		}
	}
	for j, sec := range s.secrets {
		if !secUsed[j] && sec.aws {
			loneSec = j
			nSec++
		}
	}
	if nID == 1 && nSec == 1 && (abs(s.secrets[loneSec].start-s.ids[loneID].start) >= placeWindow ||
		samePlace(idPlace[loneID], secPlace[loneSec])) {
		idPair[loneID] = loneSec
		secUsed[loneSec] = true
	}

	tokUsed := make([]bool, len(s.tokens))
	idMs := make([]Match, 0, len(s.ids))
	var secMs, tokMs []Match
	for i, h := range s.ids {
		m := Match{KeyID: h.id, OwnKey: h.own, Encoding: h.encoding, Kind: KindKeyID}
		m.IDSpan = s.span(h.start, h.end)
		m.Account, _ = awskey.AccountID(h.id)
		m.Example = awskey.IsExampleID(h.id) || isPlaceholderID(h.id)
		if j := idPair[i]; j >= 0 {
			sec := s.secrets[j]
			m.Kind = KindPair
			m.Secret = sec.value
			m.SecretSpan = s.span(sec.start, sec.end)
			m.Context = sec.context
			m.secretAWS = sec.aws
			m.WeakEvidence = sec.weak
			if sec.encoded {
				m.Encoding = "base64"
			}
			m.Example = m.Example || awskey.IsExampleSecret(sec.value)
			// A session token near the pair completes temporary credentials.
			best, bestDist := -1, s.d.pairLines+1
			// At most pairMaxCandidates on each side, as for secrets.
			at := sort.SearchInts(tokStarts, h.start)
			for k := at - 1; k >= max(0, at-pairMaxCandidates) && h.line-s.tokens[k].line < bestDist; k-- {
				if !tokUsed[k] {
					best, bestDist = k, h.line-s.tokens[k].line
				}
			}
			for k := at; k < min(len(s.tokens), at+pairMaxCandidates) && s.tokens[k].line-h.line < bestDist; k++ {
				if !tokUsed[k] {
					best, bestDist = k, s.tokens[k].line-h.line
				}
			}
			if best >= 0 {
				tokUsed[best] = true
				m.Token = s.tokens[best].value
				m.TokenSpan = s.span(s.tokens[best].start, s.tokens[best].end)
			}
		} else if !credentialKind(h.id) {
			continue
		}
		m.Allowed = s.allowed(m.IDSpan) || (m.Secret != "" && s.allowed(m.SecretSpan))
		idMs = append(idMs, m)
	}
	for j, sec := range s.secrets {
		if secUsed[j] || !sec.aws {
			continue
		}
		m := Match{Kind: KindSecret, Secret: sec.value, Context: sec.context, WeakEvidence: sec.weak}
		if sec.encoded {
			m.Encoding = "base64"
		}
		m.SecretSpan = s.span(sec.start, sec.end)
		m.Example = awskey.IsExampleSecret(sec.value) || isPlaceholderSecret(sec.value)
		m.Allowed = s.allowed(m.SecretSpan)
		secMs = append(secMs, m)
	}
	for k, t := range s.tokens {
		if tokUsed[k] || !t.aws {
			continue
		}
		m := Match{Kind: KindSessionToken, Token: t.value, Context: t.context}
		m.TokenSpan = s.span(t.start, t.end)
		m.Example = strings.Contains(t.value, "EXAMPLE")
		m.Allowed = s.allowed(m.TokenSpan)
		tokMs = append(tokMs, m)
	}
	// Each list is in order of position: merge them.
	return mergeByStart(mergeByStart(mergeByStart(idMs, secMs), tokMs), s.bedrockMatches())
}

func mergeByStart(a, b []Match) []Match {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]Match, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].Primary().Start < a[0].Primary().Start {
			out = append(out, b[0])
			b = b[1:]
		} else {
			out = append(out, a[0])
			a = a[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// credentialKind: every ID the scan keeps has a credential prefix; the
// check is kept for IDs registered by the user, which may not.
func credentialKind(id string) bool { return awskey.ValidCredentialID(id) }

func (s *scan) span(start, end int) Span {
	line, ls := s.lines.line(start)
	return Span{Start: start, End: end, Line: line + 1, Col: start - ls + 1}
}

// allowed reports whether the line of sp carries the allow marker. Each
// line is read once.
func (s *scan) allowed(sp Span) bool {
	ls := sp.Start - (sp.Col - 1)
	if a, ok := s.allowedLine[ls]; ok {
		return a
	}
	if s.allowedLine == nil {
		s.allowedLine = map[int]bool{}
	}
	le := s.lineEndBefore(sp.Start, len(s.data))
	s.work += sp.Start - ls
	a := bytes.Contains(s.data[ls:le], []byte(AllowMarker))
	s.allowedLine[ls] = a
	return a
}

// nextBrace returns the offset of the first '}' at or after off, or the
// end of the data. Queried at the ends of hits, it finds them all in one
// pass: a '}' between two hits on one line ends the first one's object.
func (s *scan) nextBrace(off int) int {
	if s.braces == nil {
		var ends []int
		for _, h := range s.ids {
			ends = append(ends, h.end)
		}
		for _, h := range s.secrets {
			ends = append(ends, h.end)
		}
		s.braces = s.newNextByte('}', ends)
	}
	return s.braces.at(off)
}

// isPlaceholderID spots made-up IDs: AKIAXXXXXXXXXXXXXXXX, AKIAAAAAAAAAAAAAAAAA,
// AKIAABCDEFGHIJKLMNOP.
func isPlaceholderID(id string) bool {
	tail := id[4:]
	if distinct(tail) <= 3 {
		return true
	}
	for _, w := range []string{"XXXX", "ABCDEFGH", "EXAMPLE", "FAKE", "DUMMY", "SAMPLE"} {
		if strings.Contains(tail, w) {
			return true
		}
	}
	return false
}

func isPlaceholderSecret(v string) bool {
	if distinct(v) <= 6 {
		return true
	}
	l := strings.ToLower(v)
	for _, w := range []string{"xxxxxx", "example", "placeholder", "yoursecret", "changeme", "dummy", "abcdefghij"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

func distinct(s string) int {
	var seen [256]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			n++
		}
	}
	return n
}
