package iameval

import (
	"strings"
)

// A glob is a compiled Action, Resource or condition value: "*" and "?"
// wildcards (unless it is an exact-match value), policy variables
// (${aws:username}, ${aws:PrincipalTag/team, 'none'}) and the escapes
// ${*}, ${?} and ${$}, which stand for those characters literally.
//
// Most patterns are "*", an exact string or a literal prefix followed by
// "*"; those are matched without a loop over the pattern. The rest go
// through a greedy matcher, or, when some "*" may not cross a colon (ARN
// matching), a dynamic-programming matcher that is linear in each input
// and never backtracks exponentially on hostile patterns.
type glob struct {
	raw  string
	kind globKind
	lit  string // gExact / gPrefix: the literal (lower-cased when fold)
	// gGeneral: the pattern, one byte per position, and what each is.
	pat  []byte
	wild []wildKind
	// constrained is true when some star may not cross a colon.
	constrained bool
	fold        bool // compare case-insensitively (actions)
	// parts is set when the pattern holds policy variables: it is
	// resolved against the request before matching.
	parts []gpart
	arn   bool // ARN matching rules for stars (see compileGlob)
	wc    bool // wildcards are special (false for exact operators)
}

type globKind uint8

const (
	gAll globKind = iota
	gExact
	gPrefix
	gGeneral
	gVars // holds variables: resolve, then match
)

type wildKind uint8

const (
	wLit wildKind = iota
	wStar
	wStarNoColon
	wOne
)

// gpart is a literal run or a variable of a pattern with variables.
type gpart struct {
	lit    string // literal text; special characters already escaped in litWild
	litRaw bool   // lit's wildcards are literal (came from ${*} etc.)
	key    string // lower-case context key; "" for a literal
	name   string // the key as written
	def    string
	hasDef bool
}

// compileGlob compiles s. vars enables ${...} (policy version 2012-10-17);
// wc makes * and ? wildcards; fold matches case-insensitively; arn applies
// ARN rules: a "*" stays within its colon-separated segment unless it is
// the last character of a segment or sits in the sixth (resource) segment,
// where colons belong to the resource.
func compileGlob(s string, vars, wc, fold, arn bool) *glob {
	g := &glob{raw: s, fold: fold, arn: arn, wc: wc}
	if vars && strings.Contains(s, "${") {
		if parts, ok := parseVars(s); ok {
			g.kind = gVars
			g.parts = parts
			return g
		}
	}
	g.setLiteral(s, nil)
	return g
}

// setLiteral fills in the match form of a pattern with no variables. lit
// marks positions whose wildcard characters are literal (may be nil).
func (g *glob) setLiteral(s string, literal []bool) {
	if g.fold {
		s = lowerASCII(s)
	}
	g.pat = g.pat[:0]
	g.wild = g.wild[:0]
	g.constrained = false
	hasWild := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		w := wLit
		if g.wc && (literal == nil || !literal[i]) {
			switch c {
			case '*':
				w = wStar
			case '?':
				w = wOne
			}
		}
		if w != wLit {
			hasWild = true
		}
		g.pat = append(g.pat, c)
		g.wild = append(g.wild, w)
	}
	if g.arn {
		colons := 0
		for i, c := range g.pat {
			if g.wild[i] == wLit && c == ':' {
				colons++
				continue
			}
			if g.wild[i] == wStar && colons < 5 {
				last := i+1 == len(g.pat) || (g.pat[i+1] == ':' && g.wild[i+1] == wLit)
				if !last {
					g.wild[i] = wStarNoColon
					g.constrained = true
				}
			}
		}
	}
	switch {
	case !hasWild:
		g.kind = gExact
		g.lit = s
	case len(s) == 1 && g.wild[0] == wStar:
		g.kind = gAll
	default:
		g.kind = gGeneral
		// literal prefix followed by a single final star
		n := len(g.wild)
		if g.wild[n-1] == wStar {
			only := true
			for _, w := range g.wild[:n-1] {
				if w != wLit {
					only = false
					break
				}
			}
			if only {
				g.kind = gPrefix
				g.lit = s[:n-1]
			}
		}
	}
}

// parseVars splits s into literal runs and variables. It reports false
// when s holds no well-formed variable, so that the text stays literal.
func parseVars(s string) ([]gpart, bool) {
	var parts []gpart
	found := false
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, gpart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] == '$' && i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end >= 0 {
				body := s[i+2 : i+2+end]
				switch body {
				case "*", "?", "$":
					flush()
					parts = append(parts, gpart{lit: body, litRaw: true})
					found = true
					i += end + 3
					continue
				}
				name, def, hasDef, ok := splitVar(body)
				if ok {
					flush()
					parts = append(parts, gpart{key: strings.ToLower(name), name: name, def: def, hasDef: hasDef})
					found = true
					i += end + 3
					continue
				}
			}
		}
		lit.WriteByte(s[i])
		i++
	}
	flush()
	return parts, found
}

// splitVar reads "aws:username" or "aws:PrincipalTag/team, 'default'".
func splitVar(body string) (name, def string, hasDef, ok bool) {
	name = body
	if c := strings.IndexByte(body, ','); c >= 0 {
		name = body[:c]
		d := strings.TrimSpace(body[c+1:])
		if len(d) < 2 || d[0] != '\'' || d[len(d)-1] != '\'' {
			return "", "", false, false
		}
		def, hasDef = d[1:len(d)-1], true
	}
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " ${}'") {
		return "", "", false, false
	}
	return name, def, hasDef, true
}

// match reports whether s matches the pattern; s must already be
// lower-cased when the glob folds case. vars resolves policy variables.
func (g *glob) match(s string, r *evalState) tri {
	switch g.kind {
	case gAll:
		return yes
	case gExact:
		return triOf(s == g.lit)
	case gPrefix:
		if !strings.HasPrefix(s, g.lit) {
			return no
		}
		if g.constrained && strings.IndexByte(s[len(g.lit):], ':') >= 0 {
			return no
		}
		return yes
	case gGeneral:
		return triOf(g.matchGeneral(s))
	}
	rg, t := g.resolve(r)
	if t != yes {
		return t
	}
	return rg.match(s, r)
}

// resolve substitutes the request's values for the variables. It returns
// no when a variable has no value and no default (AWS then treats the
// value as not matching), maybe when the value is unknown.
func (g *glob) resolve(r *evalState) (*glob, tri) {
	b := make([]byte, 0, len(g.raw)+16)
	literal := make([]bool, 0, len(g.raw)+16)
	for _, p := range g.parts {
		if p.key == "" {
			b = append(b, p.lit...)
			for range len(p.lit) {
				literal = append(literal, p.litRaw)
			}
			continue
		}
		v, t := r.variable(p.key)
		switch t {
		case maybe:
			r.depend(p.key)
			return nil, maybe
		case no:
			if !p.hasDef {
				return nil, no
			}
			v = p.def
		}
		// A substituted value is text, never a wildcard.
		b = append(b, v...)
		for range len(v) {
			literal = append(literal, true)
		}
	}
	rg := &glob{raw: g.raw, fold: g.fold, arn: g.arn, wc: g.wc}
	rg.setLiteral(string(b), literal)
	return rg, yes
}

// text returns the pattern's text for an exact comparison, resolving
// variables; ok is no or maybe when it cannot.
func (g *glob) text(r *evalState) (string, tri) {
	if g.kind != gVars {
		return g.raw, yes
	}
	rg, t := g.resolve(r)
	if t != yes {
		return "", t
	}
	return string(rg.pat), yes
}

// maxMatchWork bounds the work of one wildcard match (pattern length
// times value length). AWS caps ARNs at 2,048 characters, so only hostile
// input reaches it; such a pair is treated as not matching.
const maxMatchWork = 1 << 24

func (g *glob) matchGeneral(s string) bool {
	if len(g.pat)*len(s) > maxMatchWork {
		return false
	}
	if !g.constrained {
		return g.greedy(s)
	}
	return g.dp(s)
}

// lowerASCII lower-cases ASCII letters only, so that byte positions stay
// put (actions and condition-key names are ASCII).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// greedy is the classic wildcard matcher with one backtrack point; it is
// exact when every star may match any character.
func (g *glob) greedy(s string) bool {
	p, w := g.pat, g.wild
	i, j := 0, 0
	star, mark := -1, 0
	for j < len(s) {
		switch {
		case i < len(p) && w[i] == wStar:
			star, mark = i, j
			i++
		case i < len(p) && (w[i] == wOne || (w[i] == wLit && p[i] == s[j])):
			i++
			j++
		case star >= 0:
			i = star + 1
			mark++
			j = mark
		default:
			return false
		}
	}
	for i < len(p) && w[i] == wStar {
		i++
	}
	return i == len(p)
}

// dp matches with stars that may not cross colons, in O(len(p)*len(s))
// time and O(len(p)) space.
func (g *glob) dp(s string) bool {
	p, w := g.pat, g.wild
	m := len(p)
	var buf [2 * 130]bool
	var prev, cur []bool
	if m+1 <= 130 {
		prev, cur = buf[:m+1], buf[130:130+m+1]
	} else {
		prev, cur = make([]bool, m+1), make([]bool, m+1)
	}
	prev[0] = true
	for i := 1; i <= m; i++ {
		prev[i] = prev[i-1] && (w[i-1] == wStar || w[i-1] == wStarNoColon)
	}
	for j := 1; j <= len(s); j++ {
		c := s[j-1]
		cur[0] = false
		for i := 1; i <= m; i++ {
			switch w[i-1] {
			case wStar:
				cur[i] = cur[i-1] || prev[i]
			case wStarNoColon:
				cur[i] = cur[i-1] || (prev[i] && c != ':')
			case wOne:
				cur[i] = prev[i-1]
			default:
				cur[i] = prev[i-1] && p[i-1] == c
			}
		}
		prev, cur = cur, prev
	}
	return prev[m]
}
