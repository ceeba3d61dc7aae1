package awsipranges

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "published.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParsePublished("published.json", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr            string
		service, region string // "" when outside
	}{
		{"3.5.140.7", "S3", "ap-northeast-2"},        // the S3 range, more specific than AMAZON's
		{"3.5.143.255", "S3", "ap-northeast-2"},      // last address of the /22
		{"3.5.144.0", "AMAZON", "eu-west-1"},         // the next /22 is only in the wider range
		{"3.4.0.1", "", ""},                          // just below 3.5.0.0/16
		{"52.95.110.1", "ROUTE53", "GLOBAL"},         // AMAZON shares the prefix: the specific service wins
		{"198.51.100.7", "", ""},                     // documentation range
		{"2600:1f14::1", "EC2", "us-west-2"},         // IPv6
		{"2600:1f15::1", "", ""},                     // next IPv6 /32
		{"::ffff:3.5.140.7", "S3", "ap-northeast-2"}, // IPv4-mapped
	} {
		r, ok := s.Lookup(netip.MustParseAddr(tc.addr))
		if ok != (tc.service != "") || r.Service != tc.service || r.Region != tc.region {
			t.Errorf("%s: got %+v %v, want %s %s", tc.addr, r, ok, tc.service, tc.region)
		}
	}
	if got := s.Len(); got != 6 {
		t.Errorf("Len = %d, want 6 (one duplicate dropped)", got)
	}
}

// The compact form reads back to the same set.
func TestCompactRoundTrip(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "published.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParsePublished("published.json", data)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("compact", s.Compact())
	if err != nil {
		t.Fatal(err)
	}
	if back.Source != s.Source || string(back.Compact()) != string(s.Compact()) {
		t.Errorf("round trip differs:\n%s\n---\n%s", s.Compact(), back.Compact())
	}
	if !strings.Contains(s.Source, "syncToken 1700000000") {
		t.Errorf("source = %q", s.Source)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"3.5.140.0/22 S3\n", "f:1: want \"prefix service region\""},
		{"# c\n3.5.140.0/33 S3 x\n", "f:2: netip.ParsePrefix"},
		{strings.Repeat("x", 5000), "f:1: bufio.Scanner: token too long"},
	} {
		if _, err := Parse("f", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.in[:min(len(tc.in), 20)], err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`{}`, "not AWS's ip-ranges.json"},
		{`{"syncToken":"1","createDate":"d","prefixes":[{"ip_prefix":"x","service":"S3","region":"r"}]}`, "prefixes[0]"},
		{`{"syncToken":"1","createDate":"d","ipv6_prefixes":[{"ipv6_prefix":"::/0","service":"S 3","region":"r"}]}`, "ipv6_prefixes[0]"},
		{`[`, "f: unexpected end"},
	} {
		if _, err := ParsePublished("f", []byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParsePrefixList(t *testing.T) {
	doc := `{"cloud":{"aws":["3.5.140.0/22","2600:1f14::/35","3.5.140.0/22"],"other":["8.8.8.0/24"]}}`
	s, err := ParsePrefixList("f", []byte(doc), "cloud.aws", "a copy")
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Source != "a copy" {
		t.Fatalf("Len %d, Source %q; want 2 (duplicate dropped), %q", s.Len(), s.Source, "a copy")
	}
	for addr, in := range map[string]bool{"3.5.140.7": true, "2600:1f14::9": true, "8.8.8.8": false} {
		r, ok := s.Lookup(netip.MustParseAddr(addr))
		if ok != in || (ok && (r.Service != "AMAZON" || r.Region != UnknownRegion)) {
			t.Errorf("%s: %+v %v, want inside=%v as AMAZON %s", addr, r, ok, in, UnknownRegion)
		}
	}
	back, err := Parse("compact", s.Compact())
	if err != nil || string(back.Compact()) != string(s.Compact()) {
		t.Errorf("compact form does not read back: %v", err)
	}
	for _, tc := range []struct{ in, path, source, want string }{
		{doc, "cloud.azure", "x", `no key "azure"`},
		{doc, "cloud.aws.x", "x", `no object at "x"`},
		{`{"cloud":{"aws":[]}}`, "cloud.aws", "x", "not a list of prefixes"},
		{`{"cloud":{"aws":"3.5.140.0/22"}}`, "cloud.aws", "x", "not a list of prefixes"},
		{`{"cloud":{"aws":["3.5.140.0/33"]}}`, "cloud.aws", "x", `cloud.aws[0]: "3.5.140.0/33"`},
		{`{"cloud":{"aws":[7]}}`, "cloud.aws", "x", `cloud.aws[0]: "" is not a prefix`},
		{doc, "cloud.aws", "two\nlines", "one line"},
		{`{`, "cloud.aws", "x", "f: unexpected end"},
	} {
		if _, err := ParsePrefixList("f", []byte(tc.in), tc.path, tc.source); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: err = %v, want %q", tc.in, tc.path, err, tc.want)
		}
	}
}

// The shipped file parses, says where it comes from, and holds AWS's
// ranges: addresses of several services and eras inside, documentation
// and other clouds' addresses outside.
func TestBuiltin(t *testing.T) {
	s := Builtin()
	if s.Len() < 5000 || s.Source == "" {
		t.Fatalf("builtin: %d ranges, source %q; the published file has about 10,000", s.Len(), s.Source)
	}
	for addr, in := range map[string]bool{
		"52.0.0.1":      true,  // EC2 us-east-1 since 2014
		"3.5.140.7":     true,  // S3 ap-northeast-2
		"13.32.0.1":     true,  // CloudFront
		"2600:1f18::1":  true,  // EC2 us-east-1 IPv6
		"192.0.2.1":     false, // documentation
		"203.0.113.50":  false,
		"8.8.8.8":       false, // Google
		"34.64.0.1":     false, // Google Cloud
		"104.16.0.1":    false, // Cloudflare
		"2001:4860::88": false, // Google IPv6
	} {
		if s.Contains(netip.MustParseAddr(addr)) != in {
			t.Errorf("builtin: Contains(%s) = %v", addr, !in)
		}
	}
}

func FuzzParsePrefixList(f *testing.F) {
	f.Add([]byte(`{"cloud":{"aws":["3.5.140.0/22","2600:1f14::/35"]}}`))
	f.Add([]byte(`{"cloud":{"aws":[[[[1]]]]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := ParsePrefixList("fuzz", data, "cloud.aws", "fuzz"); err == nil {
			checkParsed(t, s, "3.5.140.1")
		}
	})
}

// checkParsed is what a fuzzed parse that succeeded must give: a set
// that looks addresses up without failing and whose compact form reads
// back.
func checkParsed(t *testing.T, s *Set, addr string) {
	t.Helper()
	s.Lookup(netip.MustParseAddr(addr))
	if _, err := Parse("compact", s.Compact()); err != nil {
		t.Errorf("compact form does not parse: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("# source: x\n3.5.140.0/22 S3 ap-northeast-2\n"))
	f.Add([]byte("2600:1f14::/35 EC2 us-west-2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := Parse("fuzz", data); err == nil {
			checkParsed(t, s, "3.5.140.1")
		}
	})
}

func FuzzParsePublished(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "published.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"syncToken":"1","createDate":"d","prefixes":[{"ip_prefix":"10.0.0.0/8","service":"S3","region":"r"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := ParsePublished("fuzz", data); err == nil {
			checkParsed(t, s, "10.1.2.3")
		}
	})
}

// Contains agrees with Lookup on every range's edges and just beyond.
func TestContainsAgreesWithLookup(t *testing.T) {
	s := Builtin()
	n := 0
	for _, r := range s.ranges {
		first := r.Prefix.Addr()
		last := lastAddr(r.Prefix)
		for _, a := range []netip.Addr{first, first.Prev(), last, last.Next()} {
			if !a.IsValid() {
				continue
			}
			_, want := s.Lookup(a)
			if got := s.Contains(a); got != want {
				t.Fatalf("%s (edge of %s): Contains %v, Lookup %v", a, r.Prefix, got, want)
			}
			n++
		}
	}
	if n < 4*5000 {
		t.Errorf("only %d addresses checked", n)
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func BenchmarkContains(b *testing.B) {
	s := Builtin()
	addrs := []netip.Addr{netip.MustParseAddr("52.20.1.2"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::1")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Contains(addrs[i%len(addrs)])
	}
}

func BenchmarkLookup(b *testing.B) {
	s := Builtin()
	addrs := []netip.Addr{netip.MustParseAddr("52.20.1.2"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::1")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Lookup(addrs[i%len(addrs)])
	}
}
