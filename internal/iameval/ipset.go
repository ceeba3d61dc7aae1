package iameval

import (
	"net/netip"
	"sort"
	"sync"
)

// ipSet is a set of addresses as sorted, disjoint, inclusive ranges. The
// exposure API uses it to reason about "some public address outside the
// allowlist" without picking one.
type ipSet struct{ r []ipRange }

type ipRange struct{ lo, hi netip.Addr }

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	if a.Is4() {
		b := a.As4()
		for i := p.Bits(); i < 32; i++ {
			b[i/8] |= 1 << (7 - i%8)
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom16(b)
}

func ipSetOf(ps []netip.Prefix) *ipSet {
	s := &ipSet{}
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), min(p.Bits(), p.Addr().Unmap().BitLen()))
		s.r = append(s.r, ipRange{p.Masked().Addr(), lastAddr(p)})
	}
	s.normalize()
	return s
}

func (s *ipSet) normalize() {
	sort.Slice(s.r, func(i, j int) bool { return s.r[i].lo.Less(s.r[j].lo) })
	out := s.r[:0]
	for _, x := range s.r {
		if n := len(out); n > 0 && out[n-1].lo.BitLen() == x.lo.BitLen() {
			nx := out[n-1].hi.Next()
			if !nx.IsValid() || x.lo.Compare(nx) <= 0 {
				if out[n-1].hi.Less(x.hi) {
					out[n-1].hi = x.hi
				}
				continue
			}
		}
		out = append(out, x)
	}
	s.r = out
}

// minus returns s without the addresses of o.
func (s *ipSet) minus(o *ipSet) *ipSet {
	out := &ipSet{}
	for _, x := range s.r {
		cur := []ipRange{x}
		for _, y := range o.r {
			var next []ipRange
			for _, c := range cur {
				if c.lo.BitLen() != y.lo.BitLen() || c.hi.Less(y.lo) || y.hi.Less(c.lo) {
					next = append(next, c)
					continue
				}
				if c.lo.Less(y.lo) {
					next = append(next, ipRange{c.lo, y.lo.Prev()})
				}
				if y.hi.Less(c.hi) {
					next = append(next, ipRange{y.hi.Next(), c.hi})
				}
			}
			cur = next
		}
		out.r = append(out.r, cur...)
	}
	out.normalize()
	return out
}

func (s *ipSet) empty() bool { return len(s.r) == 0 }

// subsetOf reports whether every address of s is in o. o's ranges are
// merged, so a range of s is covered only if one range of o holds it.
func (s *ipSet) subsetOf(o *ipSet) bool {
	for _, x := range s.r {
		covered := false
		for _, y := range o.r {
			if x.lo.BitLen() == y.lo.BitLen() && !x.lo.Less(y.lo) && !y.hi.Less(x.hi) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// intersects reports whether s and o share an address.
func (s *ipSet) intersects(o *ipSet) bool {
	for _, x := range s.r {
		for _, y := range o.r {
			if x.lo.BitLen() == y.lo.BitLen() && !x.hi.Less(y.lo) && !y.hi.Less(x.lo) {
				return true
			}
		}
	}
	return false
}

// nonPublic are ranges that never appear in aws:SourceIp: private,
// loopback, link-local, shared, multicast and reserved space.
var nonPublic = sync.OnceValue(func() *ipSet {
	return ipSetOf(mustPrefixes(
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
	))
})

// publicAddresses is every address that can appear in aws:SourceIp.
//
// Both sets are built on first use, not at start: every command (the
// pre-commit hook's scan among them) would otherwise pay for them.
var publicAddresses = sync.OnceValue(func() *ipSet {
	return ipSetOf(mustPrefixes("0.0.0.0/0", "::/0")).minus(nonPublic())
})

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
