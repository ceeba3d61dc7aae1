package audit

import (
	"net/netip"
	"strings"

	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// engineExposer answers exposure questions with package iameval. One
// compiler serves the whole audit, so a managed policy attached to
// thousands of users is compiled once.
type engineExposer struct {
	c *iameval.Compiler
}

// NewEngineExposer returns the Exposer backed by keywarden's policy
// evaluation engine. It is safe for concurrent use.
func NewEngineExposer() Exposer {
	return &engineExposer{c: iameval.NewCompiler()}
}

var exposureScenarios = []iameval.Scenario{iameval.LongTermKey, iameval.OutsideNetwork}

// attackerNetworks is what the attacker's address lies outside: the allowed
// networks and every network the account's policies name, so that an Allow
// conditioned on aws:SourceIp does not apply to it and a Deny on
// NotIpAddress does. A network of length 0 (everything) is left out: no
// address lies outside it.
func attackerNetworks(allowed, policy []netip.Prefix) []netip.Prefix {
	out := append([]netip.Prefix(nil), allowed...)
	for _, p := range policy {
		if p.Bits() > 0 {
			out = append(out, p)
		}
	}
	return out
}

func (e *engineExposer) Exposure(s Subject, actions []string, allowed []netip.Prefix) (*Exposure, error) {
	ev, err := e.c.Compile(s.Principal)
	if err != nil {
		return nil, err
	}
	var answers []iameval.Answer
	if outside := attackerNetworks(allowed, s.PolicyCIDRs); len(outside) == len(allowed) {
		answers = ev.Exposure(iameval.ExposureQuery{Actions: actions, Scenarios: exposureScenarios, AllowedCIDRs: allowed})
	} else {
		// The legitimate caller's address is inside the allowed networks
		// (any public address when none are given); the attacker's is
		// outside every network the policies name.
		answers = ev.Exposure(iameval.ExposureQuery{Actions: actions, Scenarios: exposureScenarios[:1], AllowedCIDRs: allowed})
		answers = append(answers, ev.Exposure(iameval.ExposureQuery{Actions: actions, Scenarios: exposureScenarios[1:], AllowedCIDRs: outside})...)
	}
	exp := &Exposure{}
	inertMFA, inertNet, inertAllow := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, a := range answers {
		var g Grant
		switch a.Outcome {
		case iameval.OutcomeAllowed:
			g = Grant{Action: a.Action, AllowedBy: refStrings(a.AllowedBy)}
		case iameval.OutcomeDepends:
			if len(a.AllowedBy) == 0 {
				continue
			}
			g = Grant{Action: a.Action, AllowedBy: refStrings(a.AllowedBy), Depends: a.DependsOn}
			if len(g.Depends) == 0 {
				g.Depends = []string{"an unknown condition"}
			}
		default:
			continue
		}
		switch a.Scenario {
		case iameval.LongTermKey:
			exp.WithoutMFA = append(exp.WithoutMFA, g)
			// An Allow that tests MFA and still allows a request signed
			// with the long-term key requires nothing (BoolIfExists true,
			// the console's "require MFA" shape): a guard that does not bind.
			for _, ref := range a.AllowedBy {
				if label := ref.String(); !inertAllow[label] && guardMentionsMFA(s, ref) {
					inertAllow[label] = true
					exp.InertMFAAllows = append(exp.InertMFAAllows, label)
				}
			}
		case iameval.OutsideNetwork:
			exp.FromAnywhere = append(exp.FromAnywhere, g)
		}
		for _, ref := range a.InertGuards {
			label := ref.String()
			if guardMentionsMFA(s, ref) {
				if !inertMFA[label] {
					inertMFA[label] = true
					exp.InertMFAGuards = append(exp.InertMFAGuards, label)
				}
			} else if !inertNet[label] {
				inertNet[label] = true
				exp.InertNetworkGuards = append(exp.InertNetworkGuards, label)
			}
		}
	}
	return exp, nil
}

func refStrings(refs []iameval.StatementRef) []string {
	out := make([]string, 0, len(refs))
	seen := map[string]bool{}
	for _, r := range refs {
		s := r.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// guardMentionsMFA reports whether the statement ref points at names an MFA
// condition key (as opposed to a network one).
func guardMentionsMFA(s Subject, ref iameval.StatementRef) bool {
	find := func(ps []*iampolicy.Policy) *iampolicy.Statement {
		for _, p := range ps {
			if p != nil && p.File == ref.Policy && ref.Index >= 0 && ref.Index < len(p.Statements) {
				for _, st := range p.Statements {
					if st.Index == ref.Index {
						return st
					}
				}
			}
		}
		return nil
	}
	st := find(s.Identity)
	if st == nil {
		st = find([]*iampolicy.Policy{s.Boundary})
	}
	for _, level := range s.SCPs {
		if st == nil {
			st = find(level)
		}
	}
	if st == nil {
		return false
	}
	for _, c := range st.Conditions {
		if strings.HasPrefix(strings.ToLower(c.Key), "aws:multifactorauth") {
			return true
		}
	}
	return false
}
