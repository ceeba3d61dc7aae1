package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"go.yaml.in/yaml/v3"
)

// IgnoreEntry suppresses findings: every field that is set must match.
// Expired entries suppress nothing (and are reported, so they get cleaned
// up rather than silently piling up).
type IgnoreEntry struct {
	Rule    string `yaml:"rule"`    // rule id; empty or "*" for any
	Key     string `yaml:"key"`     // access key ID or principal ARN
	Address string `yaml:"address"` // IP address or CIDR
	Expires string `yaml:"expires"` // YYYY-MM-DD or RFC 3339; empty: never
	Reason  string `yaml:"reason"`

	prefix  netip.Prefix
	expires time.Time
	line    int
}

// Where names the entry in messages.
func (e *IgnoreEntry) Where() string { return fmt.Sprintf("entry at line %d", e.line) }

// ParseIgnore reads a suppression file:
//
//	ignore:
//	  - rule: ct-first-seen-network
//	    key: AKIA...
//	    address: 203.0.113.0/24
//	    expires: 2026-12-31
//	    reason: office VPN
func ParseIgnore(data []byte) ([]*IgnoreEntry, error) {
	var doc struct {
		Ignore []yaml.Node `yaml:"ignore"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var out []*IgnoreEntry
	for _, n := range doc.Ignore {
		e := &IgnoreEntry{line: n.Line}
		if err := n.Decode(e); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		if e.Rule == "" && e.Key == "" && e.Address == "" {
			return nil, fmt.Errorf("line %d: an entry needs rule, key or address", n.Line)
		}
		if e.Address != "" {
			if strings.Contains(e.Address, "/") {
				p, err := netip.ParsePrefix(e.Address)
				if err != nil {
					return nil, fmt.Errorf("line %d: address: %w", n.Line, err)
				}
				e.prefix = p.Masked()
			} else {
				a, ok := cloudtrail.ParseAddr(e.Address)
				if !ok {
					return nil, fmt.Errorf("line %d: address %q is not an IP address or CIDR", n.Line, e.Address)
				}
				e.prefix = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if e.Expires != "" {
			t, err := time.Parse("2006-01-02", e.Expires)
			if err == nil {
				t = t.Add(24 * time.Hour) // the whole day
			} else if t, err = time.Parse(time.RFC3339, e.Expires); err != nil {
				return nil, fmt.Errorf("line %d: expires %q: want YYYY-MM-DD or RFC 3339", n.Line, e.Expires)
			}
			e.expires = t
		}
		out = append(out, e)
	}
	return out, nil
}

// Expired reports whether the entry no longer applies at now.
func (e *IgnoreEntry) Expired(now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (e *IgnoreEntry) matches(f *Finding) bool {
	if e.Rule != "" && e.Rule != "*" && e.Rule != f.Rule.ID {
		return false
	}
	if e.Key != "" && e.Key != f.Actor && e.Key != f.KeyID && e.Key != f.Principal {
		return false
	}
	if e.Address != "" {
		addrs := f.Sources
		if f.Value != "" && (f.Rule.Dimension == DimAddress || f.Rule.Dimension == DimNetwork || f.Rule.Kind == KindInstanceCredentials) {
			addrs = []string{strings.Split(f.Value, "/")[0]}
		}
		if len(addrs) == 0 {
			return false
		}
		for _, s := range addrs {
			a, ok := cloudtrail.ParseAddr(s)
			if !ok || !e.prefix.Contains(a) {
				return false
			}
		}
	}
	return true
}

// ApplyIgnore marks findings matched by a live entry as suppressed and
// returns the entries that have expired.
func ApplyIgnore(fs []*Finding, entries []*IgnoreEntry, now time.Time) (expired []*IgnoreEntry) {
	for _, e := range entries {
		if e.Expired(now) {
			expired = append(expired, e)
			continue
		}
		for _, f := range fs {
			if f.Suppressed == "" && e.matches(f) {
				why := "ignored"
				if e.Reason != "" {
					why += ": " + e.Reason
				}
				f.Suppressed = why
			}
		}
	}
	return expired
}
