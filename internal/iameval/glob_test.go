package iameval

import (
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// globRegexp is a slow reference matcher: a star is ".*" or, when it may
// not cross a colon, "[^:]*".
func globRegexp(g *glob) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i, c := range g.pat {
		switch g.wild[i] {
		case wStar:
			b.WriteString("(?s:.*)")
		case wStarNoColon:
			b.WriteString("[^:]*")
		case wOne:
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestGlobAgainstRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	alpha := []byte("ab:/*?")
	word := func(n int, a []byte) string {
		b := make([]byte, rng.IntN(n))
		for i := range b {
			b[i] = a[rng.IntN(len(a))]
		}
		return string(b)
	}
	for range 5000 {
		pat := word(12, alpha)
		s := word(14, []byte("ab:/"))
		for _, arn := range []bool{false, true} {
			g := compileGlob(pat, false, true, false, arn)
			want := globRegexp(g).MatchString(s)
			if got := g.match(s, nil) == yes; got != want {
				t.Fatalf("pattern %q (arn %v) on %q: %v, want %v", pat, arn, s, got, want)
			}
		}
	}
}

func TestGlobCases(t *testing.T) {
	cases := []struct {
		pat, s    string
		fold, arn bool
		want      bool
	}{
		{"*", "anything:at/all", false, true, true},
		{"s3:get*", "s3:getobject", true, false, true},
		{"S3:Get*", "s3:getobject", true, false, true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/x:y", false, true, true},
		{"arn:aws:iam::*:user/a", "arn:aws:iam::1:2:user/a", false, true, true}, // a star ending a segment may expand
		{"arn:aws:iam::1*:user/a", "arn:aws:iam::1:2:user/a", false, true, true},
		{"arn:aws:iam::*1:user/a", "arn:aws:iam::2:1:user/a", false, true, false},
		{"exact", "exact", false, false, true},
		{"exact", "Exact", false, false, false},
	}
	for _, c := range cases {
		g := compileGlob(c.pat, false, true, c.fold, c.arn)
		if got := g.match(c.s, nil) == yes; got != c.want {
			t.Errorf("%q on %q: %v, want %v", c.pat, c.s, got, c.want)
		}
	}
	// Hostile sizes are refused, not ground through.
	g := compileGlob(strings.Repeat("a*", 3000), false, true, false, true)
	if g.match(strings.Repeat("a", 20000), nil) != no {
		t.Error("an oversized match was attempted")
	}
}

func TestParseVars(t *testing.T) {
	parts, ok := parseVars("home/${aws:username}/${aws:PrincipalTag/team, 'none'}/${*}${unclosed")
	if !ok {
		t.Fatal("no variables found")
	}
	var kinds []string
	for _, p := range parts {
		switch {
		case p.key != "" && p.hasDef:
			kinds = append(kinds, "var("+p.key+"|"+p.def+")")
		case p.key != "":
			kinds = append(kinds, "var("+p.key+")")
		case p.litRaw:
			kinds = append(kinds, "raw("+p.lit+")")
		default:
			kinds = append(kinds, "lit("+p.lit+")")
		}
	}
	want := "lit(home/) var(aws:username) lit(/) var(aws:principaltag/team|none) lit(/) raw(*) lit(${unclosed)"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, ok := parseVars("no variables here ${bad key}"); ok {
		t.Error("a malformed variable was read as one")
	}
}

func TestIPSet(t *testing.T) {
	pfx := func(ss ...string) *ipSet { return ipSetOf(mustPrefixes(ss...)) }
	office := pfx("203.0.113.0/24", "2001:db8::/32")
	outside := publicAddresses().minus(office)
	if outside.intersects(office) {
		t.Error("outside intersects the office")
	}
	if !pfx("203.0.113.0/25").subsetOf(office) || pfx("203.0.112.0/23").subsetOf(office) {
		t.Error("subsetOf is wrong")
	}
	if !pfx("0.0.0.0/1", "128.0.0.0/1").subsetOf(pfx("0.0.0.0/0")) || !pfx("0.0.0.0/0").subsetOf(pfx("0.0.0.0/1", "128.0.0.0/1")) {
		t.Error("adjacent ranges are not merged")
	}
	if publicAddresses().intersects(pfx("10.0.0.0/8", "fe80::/10", "127.0.0.1/32")) {
		t.Error("private addresses counted as public")
	}
	if !publicAddresses().intersects(pfx("2600::/16")) || !publicAddresses().intersects(pfx("8.8.8.8/32")) {
		t.Error("public addresses missing")
	}
	if !ipSetOf([]netip.Prefix{netip.MustParsePrefix("::ffff:203.0.113.1/128")}).subsetOf(office) {
		t.Error("IPv4-mapped prefix not unmapped")
	}
}

func TestParseCaller(t *testing.T) {
	cases := []struct {
		in            string
		kind          principalKind
		account, name string
	}{
		{"arn:aws:iam::111122223333:user/path/alice", pUser, "111122223333", "alice"},
		{"arn:aws:iam::111122223333:root", pRoot, "111122223333", ""},
		{"111122223333", pRoot, "111122223333", ""},
		{"arn:aws:sts::111122223333:assumed-role/app/i-1", pSession, "111122223333", "app"},
		{"arn:aws:iam::111122223333:role/app", pRole, "111122223333", "app"},
		{"arn:aws:sts::111122223333:federated-user/bob", pFederated, "111122223333", "bob"},
		{"cloudtrail.amazonaws.com", pService, "", ""},
		{"*", pAnonymous, "", ""},
		{"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", pCanonical, "", ""},
	}
	for _, c := range cases {
		got := parseCaller(c.in)
		if got.kind != c.kind || got.account != c.account || got.name != c.name {
			t.Errorf("%s: %+v", c.in, got)
		}
	}
	if s := parseCaller("arn:aws:sts::111122223333:assumed-role/app/i-1"); s.roleARN != "arn:aws:iam::111122223333:role/app" {
		t.Errorf("role ARN %q", s.roleARN)
	}
}
