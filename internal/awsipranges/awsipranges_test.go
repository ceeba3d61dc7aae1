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

// The shipped file parses, says where it comes from, and holds ranges.
func TestBuiltin(t *testing.T) {
	s := Builtin()
	if s.Len() == 0 || s.Source == "" {
		t.Fatalf("builtin: %d ranges, source %q", s.Len(), s.Source)
	}
	if !s.Contains(netip.MustParseAddr("52.0.0.1")) || s.Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Error("builtin lookups wrong")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("# source: x\n3.5.140.0/22 S3 ap-northeast-2\n"))
	f.Add([]byte("2600:1f14::/35 EC2 us-west-2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		s.Lookup(netip.MustParseAddr("3.5.140.1"))
		if _, err := Parse("again", s.Compact()); err != nil {
			t.Errorf("compact form does not parse: %v", err)
		}
	})
}

func FuzzParsePublished(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "published.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"syncToken":"1","createDate":"d","prefixes":[{"ip_prefix":"10.0.0.0/8","service":"S3","region":"r"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParsePublished("fuzz", data)
		if err != nil {
			return
		}
		s.Lookup(netip.MustParseAddr("10.1.2.3"))
		if _, err := Parse("compact", s.Compact()); err != nil {
			t.Errorf("compact form does not parse: %v", err)
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	s := Builtin()
	addrs := []netip.Addr{netip.MustParseAddr("52.20.1.2"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::1")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Lookup(addrs[i%len(addrs)])
	}
}
