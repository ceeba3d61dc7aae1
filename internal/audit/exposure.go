package audit

import (
	"net/netip"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// Subject is one user's policies, as the exposure engine needs them.
type Subject struct {
	ARN       string
	AccountID string
	Username  string
	Tags      map[string]string
	Identity  []*iampolicy.Policy
	Boundary  *iampolicy.Policy
	SCPs      [][]*iampolicy.Policy
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
