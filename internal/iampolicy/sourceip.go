package iampolicy

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// ParseIPValue reads a value of an IpAddress / NotIpAddress condition: an
// IPv4 or IPv6 address (taken as a single host) or a CIDR block. Host bits
// in a CIDR are kept, so callers can tell "203.0.113.7/24" from its network.
func ParseIPValue(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// notSourceIP are ranges that never appear in aws:SourceIp, which holds the
// public address AWS saw a request come from: private, shared (CGNAT),
// loopback, link-local, benchmarking, multicast and reserved space.
// Documentation ranges (192.0.2.0/24, 2001:db8::/32 ...) are left out on
// purpose: examples use them.
var notSourceIP = sync.OnceValue(func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
})

// ReservedRange returns the private or reserved range p lies wholly inside,
// if any: such a range can never match aws:SourceIp.
func ReservedRange(p netip.Prefix) (netip.Prefix, bool) {
	for _, r := range notSourceIP() {
		if p.Addr().Is4() == r.Addr().Is4() && p.Bits() >= r.Bits() && r.Contains(p.Addr()) {
			return r, true
		}
	}
	return netip.Prefix{}, false
}
