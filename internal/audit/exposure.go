package audit

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
)

// Subject is one user's policies, as the exposure engine needs them: the
// evaluator's principal, and the networks the account's policies name.
type Subject struct {
	iameval.Principal
	// PolicyCIDRs are the networks the account's policies name in
	// aws:SourceIp conditions. An attacker's address is outside all of
	// them (and outside the allowed networks): the "from anywhere"
	// question is asked from such an address.
	PolicyCIDRs []netip.Prefix
}

// Grant is one sensitive action a scenario allows, with the statements that
// allow it. Depends lists what the answer hinges on when it is not certain
// (a condition key, the resource); empty when the action is plainly
// allowed.
type Grant struct {
	Action    string   `json:"action"`
	AllowedBy []string `json:"allowed_by"`
	Depends   []string `json:"depends_on,omitempty"`
}

// Exposure is what one user's long-term key can do without MFA and from
// outside the allowed networks.
type Exposure struct {
	// WithoutMFA: allowed for a request signed with the long-term key
	// (no MFA), from inside the allowed networks when any are given.
	WithoutMFA []Grant `json:"without_mfa"`
	// FromAnywhere: allowed for the long-term key from a public address
	// outside the allowed networks (any address when none are given).
	FromAnywhere []Grant `json:"from_anywhere"`
	// InertMFAGuards are Deny statements that mention MFA and cover a
	// sensitive action, yet do not stop the long-term key (Bool instead of
	// BoolIfExists, a numeric MultiFactorAuthAge test without IfExists).
	InertMFAGuards []string `json:"inert_mfa_guards,omitempty"`
	// InertMFAAllows are Allow statements that test MFA yet allow a
	// sensitive action for the long-term key: their condition holds when
	// the MFA keys are absent (BoolIfExists aws:MultiFactorAuthPresent
	// true, the IAM console's "require MFA" shape, or a MultiFactorAuthAge
	// test with IfExists), so they require nothing.
	InertMFAAllows []string `json:"inert_mfa_allows,omitempty"`
	// InertNetworkGuards: the same for network conditions.
	InertNetworkGuards []string `json:"inert_network_guards,omitempty"`
}

// Exposer answers exposure questions for one user. The production
// implementation is backed by package iameval (see NewEngineExposer); it is
// an interface so the checks can be tested on their own and so the audit
// still runs, without the exposure checks, when no engine is given.
type Exposer interface {
	Exposure(s Subject, actions []string, allowed []netip.Prefix) (*Exposure, error)
}

// certain splits grants into plainly allowed ones and those that depend.
func certain(gs []Grant) (sure, maybe []Grant) {
	for _, g := range gs {
		if len(g.Depends) == 0 {
			sure = append(sure, g)
		} else {
			maybe = append(maybe, g)
		}
	}
	return sure, maybe
}

// policyCIDRs collects the networks every policy of the account names in
// an aws:SourceIp condition (any operator), each once, in a stable order:
// the attacker's address is chosen outside all of them. Values that are
// not addresses or networks are ignored (AWS refuses them too).
func policyCIDRs(acct *inventory.Account) []netip.Prefix {
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	scan := func(p *iampolicy.Policy) {
		if p == nil {
			return
		}
		for _, st := range p.Statements {
			for _, c := range st.Conditions {
				if !strings.EqualFold(c.Key, "aws:SourceIp") {
					continue
				}
				for _, v := range c.Strings() {
					pfx, err := netip.ParsePrefix(v)
					if err != nil {
						a, aerr := netip.ParseAddr(v)
						if aerr != nil {
							continue
						}
						pfx = netip.PrefixFrom(a, a.BitLen())
					}
					if pfx = pfx.Masked(); !seen[pfx] {
						seen[pfx] = true
						out = append(out, pfx)
					}
				}
			}
		}
	}
	for _, u := range acct.Users {
		for _, p := range u.Inline {
			scan(p)
		}
	}
	for _, g := range acct.Groups {
		for _, p := range g.Inline {
			scan(p)
		}
	}
	for _, r := range acct.Roles {
		for _, p := range r.Inline {
			scan(p)
		}
	}
	for _, mp := range acct.Policies {
		scan(mp.Document)
	}
	for _, level := range acct.SCPs {
		for _, p := range level {
			scan(p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr().Compare(out[j].Addr()); c != 0 {
			return c < 0
		}
		return out[i].Bits() < out[j].Bits()
	})
	return out
}
