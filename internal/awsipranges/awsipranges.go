// Package awsipranges tells AWS's own addresses from the rest of the
// internet, from the address ranges AWS publishes at
// https://ip-ranges.amazonaws.com/ip-ranges.json.
//
// The ranges ship with the binary in a compact form (ranges.txt: one
// "prefix service region" line per range, the file's syncToken and
// createDate in its header), written by the generator in ./gen:
//
//	go generate ./internal/awsipranges
//
// downloads the published file and rewrites ranges.txt. Lookups are a
// binary search per prefix length present (a few dozen at most), so they
// cost well under a microsecond.
package awsipranges

//go:generate go run ./gen -out ranges.txt

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
)

//go:embed ranges.txt
var embedded []byte

// Range is one published range: the prefix, the service it serves
// (AMAZON, EC2, S3, CLOUDFRONT, ...) and its region ("GLOBAL" for
// global services).
type Range struct {
	Prefix  netip.Prefix
	Service string
	Region  string
}

// Set is a searchable set of ranges.
type Set struct {
	// Source describes where the ranges come from (the header of
	// ranges.txt: syncToken and createDate of the published file).
	Source string
	ranges []Range
	// byLen: for each prefix length present, longest first, the ranges'
	// masked addresses sorted, with the index of their Range.
	byLen []lenTable
	// v4 holds the IPv4 ranges merged into disjoint [start, end] spans,
	// sorted, so that Contains is one binary search over integers.
	v4 []span4
}

type span4 struct{ start, end uint32 }

// v4 is an IPv4 address as a number.
func v4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

type lenTable struct {
	bits  int
	is6   bool
	addrs []netip.Addr
	idx   []int
}

// MaxLines bounds a ranges file (AWS's published file holds about 10,000
// IPv4 and IPv6 prefixes, each under several services).
const MaxLines = 1 << 20

// Parse reads the compact form: "#" comment lines (the first
// "# source:" one is the Source), then "prefix service region" lines.
// name is used in errors.
func Parse(name string, data []byte) (*Set, error) {
	s := &Set{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 4096)
	line := 0
	for sc.Scan() {
		line++
		if line > MaxLines {
			return nil, fmt.Errorf("%s:%d: more than %d lines", name, line, MaxLines)
		}
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		if c, ok := strings.CutPrefix(t, "#"); ok {
			if src, ok := strings.CutPrefix(strings.TrimSpace(c), "source:"); ok && s.Source == "" {
				s.Source = strings.TrimSpace(src)
			}
			continue
		}
		f := strings.Fields(t)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want \"prefix service region\", got %d fields", name, line, len(f))
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		s.ranges = append(s.ranges, Range{Prefix: p.Masked(), Service: f[1], Region: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	s.index()
	return s, nil
}

// published is the shape of ip-ranges.json (only what is kept).
type published struct {
	SyncToken  string `json:"syncToken"`
	CreateDate string `json:"createDate"`
	Prefixes   []struct {
		IPPrefix string `json:"ip_prefix"`
		Region   string `json:"region"`
		Service  string `json:"service"`
	} `json:"prefixes"`
	IPv6Prefixes []struct {
		IPv6Prefix string `json:"ipv6_prefix"`
		Region     string `json:"region"`
		Service    string `json:"service"`
	} `json:"ipv6_prefixes"`
}

// MaxPublishedSize bounds the published file read by ParsePublished (it
// is about 2 MB today).
const MaxPublishedSize = 64 << 20

// ParsePublished reads AWS's ip-ranges.json. Entries whose prefix does not
// parse are errors naming the entry; so are fields with spaces (they
// would break the compact form).
func ParsePublished(name string, data []byte) (*Set, error) {
	if len(data) > MaxPublishedSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxPublishedSize)
	}
	var doc published
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if doc.SyncToken == "" || doc.CreateDate == "" {
		return nil, fmt.Errorf("%s: no syncToken or createDate: not AWS's ip-ranges.json", name)
	}
	s := &Set{Source: fmt.Sprintf("https://ip-ranges.amazonaws.com/ip-ranges.json syncToken %s createDate %s", doc.SyncToken, doc.CreateDate)}
	add := func(kind string, i int, prefix, service, region string) error {
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			return fmt.Errorf("%s: %s[%d]: %v", name, kind, i, err)
		}
		if service == "" || region == "" || strings.ContainsAny(service+region, " \t\r\n#") {
			return fmt.Errorf("%s: %s[%d]: service %q, region %q", name, kind, i, service, region)
		}
		s.ranges = append(s.ranges, Range{Prefix: p.Masked(), Service: service, Region: region})
		return nil
	}
	for i, p := range doc.Prefixes {
		if err := add("prefixes", i, p.IPPrefix, p.Service, p.Region); err != nil {
			return nil, err
		}
	}
	for i, p := range doc.IPv6Prefixes {
		if err := add("ipv6_prefixes", i, p.IPv6Prefix, p.Service, p.Region); err != nil {
			return nil, err
		}
	}
	s.index()
	return s, nil
}

// UnknownRegion is the region of ranges read from a list that does not
// say it (ParsePrefixList).
const UnknownRegion = "-"

// ParsePrefixList reads a JSON document holding a list of AWS's prefixes
// without services or regions, at the dotted path (for example
// "cloud.aws"). Every range gets service AMAZON (the umbrella every
// published range is listed under) and region UnknownRegion; source is
// the Set's Source. It serves where the published file cannot be fetched
// but a copy of its prefixes can.
func ParsePrefixList(name string, data []byte, path, source string) (*Set, error) {
	if len(data) > MaxPublishedSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxPublishedSize)
	}
	if strings.ContainsAny(source, "\r\n") {
		return nil, fmt.Errorf("%s: the source must be one line", name)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s: no object at %q", name, path, k)
		}
		if doc, ok = m[k]; !ok {
			return nil, fmt.Errorf("%s: %s: no key %q", name, path, k)
		}
	}
	list, ok := doc.([]any)
	if !ok || len(list) == 0 {
		return nil, fmt.Errorf("%s: %s: not a list of prefixes", name, path)
	}
	s := &Set{Source: source}
	for i, v := range list {
		str, _ := v.(string)
		p, err := netip.ParsePrefix(str)
		if err != nil {
			return nil, fmt.Errorf("%s: %s[%d]: %q is not a prefix", name, path, i, str)
		}
		s.ranges = append(s.ranges, Range{Prefix: p.Masked(), Service: "AMAZON", Region: UnknownRegion})
	}
	s.index()
	return s, nil
}

// Compact writes the set in the form Parse reads, sorted, one line per
// distinct range.
func (s *Set) Compact() []byte {
	var b bytes.Buffer
	b.WriteString("# AWS IP address ranges, compact form: prefix service region.\n")
	b.WriteString("# Regenerate with: go generate ./internal/awsipranges\n")
	fmt.Fprintf(&b, "# source: %s\n", s.Source)
	for _, r := range s.ranges {
		fmt.Fprintf(&b, "%s %s %s\n", r.Prefix, r.Service, r.Region)
	}
	return b.Bytes()
}

// index sorts and dedups the ranges and builds the per-length tables.
func (s *Set) index() {
	sort.Slice(s.ranges, func(i, j int) bool {
		a, b := s.ranges[i], s.ranges[j]
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c < 0
		}
		if a.Prefix.Bits() != b.Prefix.Bits() {
			return a.Prefix.Bits() < b.Prefix.Bits()
		}
		if a.Service != b.Service {
			// AMAZON is the umbrella every other service's range is
			// also listed under: the specific service comes first.
			if (a.Service == "AMAZON") != (b.Service == "AMAZON") {
				return b.Service == "AMAZON"
			}
			return a.Service < b.Service
		}
		return a.Region < b.Region
	})
	out := s.ranges[:0]
	for i, r := range s.ranges {
		if i > 0 && r == s.ranges[i-1] {
			continue
		}
		out = append(out, r)
	}
	s.ranges = out
	tables := map[[2]int]*lenTable{}
	for i, r := range s.ranges {
		is6 := r.Prefix.Addr().Is6()
		k := [2]int{r.Prefix.Bits(), 0}
		if is6 {
			k[1] = 1
		}
		t := tables[k]
		if t == nil {
			t = &lenTable{bits: k[0], is6: is6}
			tables[k] = t
		}
		// Ranges are sorted by address: the first range of a prefix (the
		// most specific service) is the one a lookup finds.
		if n := len(t.addrs); n > 0 && t.addrs[n-1] == r.Prefix.Addr() {
			continue
		}
		t.addrs = append(t.addrs, r.Prefix.Addr())
		t.idx = append(t.idx, i)
	}
	s.v4 = s.v4[:0]
	for _, r := range s.ranges {
		if !r.Prefix.Addr().Is4() {
			continue
		}
		start := v4(r.Prefix.Addr())
		end := start | uint32(uint64(1)<<(32-r.Prefix.Bits())-1)
		// Ranges are sorted by address, so a span only ever grows or
		// starts after the last one.
		if n := len(s.v4); n > 0 && uint64(start) <= uint64(s.v4[n-1].end)+1 {
			s.v4[n-1].end = max(s.v4[n-1].end, end)
			continue
		}
		s.v4 = append(s.v4, span4{start, end})
	}
	s.byLen = s.byLen[:0]
	for _, t := range tables {
		s.byLen = append(s.byLen, *t)
	}
	sort.Slice(s.byLen, func(i, j int) bool { return s.byLen[i].bits > s.byLen[j].bits })
}

// Len is the number of ranges.
func (s *Set) Len() int { return len(s.ranges) }

// Lookup returns the most specific range holding a, and whether there is
// one. IPv4-mapped IPv6 addresses are looked up as IPv4.
func (s *Set) Lookup(a netip.Addr) (Range, bool) {
	if s == nil || !a.IsValid() {
		return Range{}, false
	}
	a = a.Unmap()
	is6 := a.Is6()
	for i := range s.byLen {
		t := &s.byLen[i]
		if t.is6 != is6 {
			continue
		}
		p, err := a.Prefix(t.bits)
		if err != nil {
			continue
		}
		m := p.Addr()
		j := sort.Search(len(t.addrs), func(k int) bool { return t.addrs[k].Compare(m) >= 0 })
		if j < len(t.addrs) && t.addrs[j] == m {
			return s.ranges[t.idx[j]], true
		}
	}
	return Range{}, false
}

// Contains reports whether a is in one of AWS's published ranges.
func (s *Set) Contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	if a = a.Unmap(); !a.Is4() {
		_, ok := s.Lookup(a)
		return ok
	}
	v := v4(a)
	i := sort.Search(len(s.v4), func(k int) bool { return s.v4[k].end >= v })
	return i < len(s.v4) && s.v4[i].start <= v
}

var (
	builtinOnce sync.Once
	builtin     *Set
)

// Builtin returns the ranges shipped with the binary. It panics if the
// embedded file is broken: a build defect the tests catch.
func Builtin() *Set {
	builtinOnce.Do(func() {
		s, err := Parse("ranges.txt", embedded)
		if err != nil {
			panic("awsipranges: embedded ranges.txt: " + err.Error())
		}
		builtin = s
	})
	return builtin
}
