package iameval

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/keywarden/keywarden/internal/iamdata"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// Scenario is one way a principal's credentials may be used. The exposure
// API models each as the request context AWS would build for it.
type Scenario string

// The scenarios the auditor asks about.
const (
	// LongTermKey: a request signed with the user's long-term (AKIA) key:
	// aws:MultiFactorAuthPresent and aws:MultiFactorAuthAge are absent. The
	// caller's address is inside ExposureQuery.AllowedCIDRs when it is set,
	// otherwise any public address.
	LongTermKey Scenario = "long-term-key"
	// SessionNoMFA: a temporary session made without MFA
	// (aws:MultiFactorAuthPresent is "false").
	SessionNoMFA Scenario = "session-without-mfa"
	// SessionMFA: a temporary session made with MFA
	// (aws:MultiFactorAuthPresent "true", aws:MultiFactorAuthAge present).
	SessionMFA Scenario = "session-with-mfa"
	// OutsideNetwork: the long-term key used from a public address outside
	// AllowedCIDRs (IPv4 or IPv6).
	OutsideNetwork Scenario = "outside-network"
	// ViaVPCEndpoint: the long-term key used through a VPC endpoint:
	// aws:SourceIp is absent; aws:SourceVpce, aws:SourceVpc and
	// aws:VpcSourceIp are present.
	ViaVPCEndpoint Scenario = "via-vpc-endpoint"
	// ViaAWSService: an AWS service calling on the principal's behalf
	// (aws:ViaAWSService "true", aws:CalledVia possibly set), with the
	// long-term key's (absent) MFA keys. The address may be the caller's
	// (forward access sessions keep it) or the service's own, so a network
	// guard without a ViaAWSService exception makes the answer depend on
	// aws:SourceIp.
	ViaAWSService Scenario = "via-aws-service"
)

// AllScenarios lists every scenario, in the order above.
var AllScenarios = []Scenario{LongTermKey, SessionNoMFA, SessionMFA, OutsideNetwork, ViaVPCEndpoint, ViaAWSService}

// Principal is an IAM user (or role) with every policy that applies to it.
type Principal struct {
	// ARN of the principal, e.g. arn:aws:iam::123456789012:user/alice.
	ARN string
	// AccountID is the 12-digit account; derived from ARN when empty.
	AccountID string
	// Username is the friendly name (aws:username); derived from a user
	// ARN when empty.
	Username string
	// Tags are the principal's tags (aws:PrincipalTag/...).
	Tags map[string]string
	// Identity holds inline and managed policies, the user's own and those
	// of its groups. Policy.File names each (an ARN or
	// "user/alice/inline/Name"); StatementRef.Policy repeats it.
	Identity []*iampolicy.Policy
	// Boundary is the permissions boundary; nil for none.
	Boundary *iampolicy.Policy
	// SCPs are the service control policies at each level of the
	// organisation, root first, then each OU, then the account. nil: not in
	// an organisation, or unknown.
	SCPs [][]*iampolicy.Policy
}

// ExposureQuery is what the auditor asks about one principal.
type ExposureQuery struct {
	// Actions to ask about, e.g. "iam:CreateAccessKey".
	Actions []string
	// Scenarios to model; nil means AllScenarios.
	Scenarios []Scenario
	// AllowedCIDRs is the organisation's network allowlist, for
	// OutsideNetwork (and the address of the in-network scenarios). Empty:
	// "from anywhere".
	AllowedCIDRs []netip.Prefix
	// ResourceFor, if set, gives the resource ARN to model for an action
	// ("" for unknown). Otherwise the resource is "*" for actions that
	// accept only Resource "*" (from the iamdata catalogue), and unknown
	// for the others: a statement whose Resource then decides the answer
	// makes it "depends" on "resource".
	ResourceFor func(action string) string
}

// Outcome is the exposure answer: allowed, denied, or depends.
type Outcome string

// Exposure outcomes.
const (
	OutcomeAllowed Outcome = "allowed"
	OutcomeDenied  Outcome = "denied"
	// OutcomeDepends: the answer hinges on something the caller cannot
	// know; Answer.DependsOn says what.
	OutcomeDepends Outcome = "depends"
)

// Answer is the exposure of one action in one scenario.
type Answer struct {
	Action   string
	Scenario Scenario
	Outcome  Outcome
	// DependsOn lists the context keys (lower-case names, e.g.
	// "aws:currenttime", "aws:resourcetag/env") or "resource" that the
	// answer hinges on and the caller cannot know. Empty unless Outcome is
	// "depends".
	DependsOn []string
	// Decision for the modelled request. When Outcome is "depends" it is
	// the decision reached if every uncertain statement does not apply.
	Decision Decision
	// AllowedBy lists the Allow statements of the identity layer that
	// (certainly or possibly) grant the action, also when something else
	// (a Deny, a boundary, an SCP) refuses it.
	AllowedBy []StatementRef
	// DeniedBy lists the Deny statements that apply (and, when Outcome is
	// "depends", those that may apply). An implicit deny (no Allow in some
	// layer) has none; Reason names the layer.
	DeniedBy []StatementRef
	// InertGuards lists Deny statements that mention MFA or network keys
	// (aws:MultiFactorAuth*, aws:SourceIp, aws:SourceVpc*, aws:ViaAWSService,
	// aws:CalledVia) and cover the action, but do not apply to this request
	// only because such a key is absent from it: e.g. Bool instead of
	// BoolIfExists, so a long-term key passes. A network guard that does
	// not apply because the address is inside the allowlist is not inert.
	InertGuards []StatementRef
	// Reason is a one-line explanation in words (without the scenario).
	Reason string
}

// Evaluator holds one principal's compiled policies. Compile it once;
// Exposure then answers many actions cheaply. It is safe for concurrent use.
type Evaluator struct {
	p      Principal
	set    *Compiled
	caller caller
}

// Compile compiles a principal's policies. Policies shared between
// principals are compiled again each time; an auditor with many principals
// should use a Compiler, which caches compiled policies by pointer.
func Compile(p Principal) (*Evaluator, error) {
	return NewCompiler().Compile(p)
}

// Compile compiles a principal's policies, reusing the policies this
// compiler has already seen.
func (c *Compiler) Compile(p Principal) (*Evaluator, error) {
	if p.ARN == "" {
		return nil, errors.New("iameval: the principal has no ARN")
	}
	cl := parseCaller(p.ARN)
	switch cl.kind {
	case pUser, pRole, pSession, pFederated, pRoot:
	default:
		return nil, fmt.Errorf("iameval: %q is not an IAM principal ARN", p.ARN)
	}
	if p.AccountID == "" {
		p.AccountID = cl.account
	}
	if p.Username == "" && cl.kind == pUser {
		p.Username = cl.name
	}
	ps := PolicySet{Identity: p.Identity, SCPs: p.SCPs}
	if p.Boundary != nil {
		ps.Boundary = []*iampolicy.Policy{p.Boundary}
	}
	return &Evaluator{p: p, set: c.CompileSet(ps), caller: cl}, nil
}

// Problems lists statements of the principal's policies that can never
// apply because AWS would refuse them (an unknown operator, a bad Effect).
func (e *Evaluator) Problems() []string { return e.set.Problems }

// Exposure answers, for each action and scenario, whether the principal
// could make the call. Answers come action by action, scenarios in the
// order asked.
func (e *Evaluator) Exposure(q ExposureQuery) []Answer {
	scen := q.Scenarios
	if scen == nil {
		scen = AllScenarios
	}
	ctxs := make([]*Context, len(scen))
	for i, s := range scen {
		ctxs[i] = scenarioContext(s, q.AllowedCIDRs)
	}
	out := make([]Answer, 0, len(q.Actions)*len(scen))
	r := &evalState{caller: e.caller, guards: true, derived: e.principalKeys()}
	for _, action := range q.Actions {
		resource, known := e.resourceFor(q, action)
		lower := lowerASCII(action)
		svc, _, _ := strings.Cut(lower, ":")
		for i, s := range scen {
			r.reset()
			r.ctx = ctxs[i]
			r.raw, r.action, r.svc = action, lower, svc
			r.resource, r.resKnown = resource, known
			v := e.set.run(r, "")
			out = append(out, e.answer(r, v, action, s))
		}
	}
	return out
}

// principalKeys are the keys of the request context the principal
// determines: its ARN, account, type, name and tags. Other tags are known
// to be absent (the context's closed prefix).
func (e *Evaluator) principalKeys() []derivedKey {
	var out []derivedKey
	add := func(k, v string) {
		lk := strings.ToLower(k)
		out = append(out, derivedKey{lk, entry{name: k, vals: []string{v}}})
	}
	add("aws:PrincipalArn", principalArn(&e.caller))
	if e.p.AccountID != "" {
		add("aws:PrincipalAccount", e.p.AccountID)
	}
	if e.caller.ptype != "" {
		add("aws:PrincipalType", e.caller.ptype)
	}
	if e.p.Username != "" {
		add("aws:username", e.p.Username)
	}
	for k, v := range e.p.Tags {
		add("aws:PrincipalTag/"+k, v)
	}
	return out
}

func (r *evalState) reset() {
	r.trace = r.trace[:0]
	r.deps = r.deps[:0]
	r.hits = r.hits[:0]
	r.inert = r.inert[:0]
	r.missing = r.missing[:0]
}

// resourceFor picks the resource to model for an action.
func (e *Evaluator) resourceFor(q ExposureQuery, action string) (string, bool) {
	if q.ResourceFor != nil {
		if r := q.ResourceFor(action); r != "" {
			return r, true
		}
	}
	if wildcardOnly(action) {
		return "*", true
	}
	return "", false
}

// rcpApplies reports whether resource control policies govern a service.
// A service the catalogue does not know is assumed governed, so that an
// RCP is never silently skipped for a new service.
func rcpApplies(svc string) bool {
	if v, ok := rcpCache.Load(svc); ok {
		return v.(bool)
	}
	a := iamdata.RCPApplies(svc) || !iamdata.ServiceKnown(svc)
	rcpCache.Store(svc, a)
	return a
}

var rcpCache sync.Map

// wildcardCache remembers catalogue lookups: an audit asks about the same
// actions for every principal.
var wildcardCache sync.Map

func wildcardOnly(action string) bool {
	if v, ok := wildcardCache.Load(action); ok {
		return v.(bool)
	}
	a, ok := iamdata.Lookup(action)
	w := ok && a.WildcardOnly
	wildcardCache.Store(action, w)
	return w
}

func (e *Evaluator) answer(r *evalState, v verdict, action string, s Scenario) Answer {
	a := Answer{Action: action, Scenario: s}
	deny, allow := v.deny, v.allow
	switch {
	case deny == yes:
		a.Outcome, a.Decision = OutcomeDenied, ExplicitlyDenied
	case deny == no && allow == yes:
		a.Outcome, a.Decision = OutcomeAllowed, Allowed
	case allow == no:
		a.Outcome, a.Decision = OutcomeDenied, ImplicitlyDenied
	default:
		a.Outcome = OutcomeDepends
		a.Decision = ImplicitlyDenied
		if allow == yes {
			a.Decision = Allowed
		}
		a.DependsOn = append([]string(nil), r.deps...)
		sort.Strings(a.DependsOn)
	}
	for _, h := range r.hits {
		ref := h.s.ref
		switch {
		case h.s.deny && (h.t == yes || a.Outcome == OutcomeDepends):
			a.DeniedBy = append(a.DeniedBy, ref)
		case !h.s.deny && h.layer == LayerIdentity:
			a.AllowedBy = append(a.AllowedBy, ref)
		}
	}
	for _, h := range r.inert {
		a.InertGuards = append(a.InertGuards, h.s.ref)
	}
	switch {
	case a.Outcome == OutcomeAllowed:
		a.Reason = "allowed"
		if len(a.InertGuards) > 0 {
			a.Reason += "; the deny guard " + refList(a.InertGuards) + " does not apply to this request"
		}
	case a.Outcome == OutcomeDepends:
		a.Reason = "depends on " + strings.Join(a.DependsOn, ", ")
	case a.Decision == ExplicitlyDenied:
		a.Reason = "explicitly denied by " + a.DeniedBy[0].String()
		if n := len(a.DeniedBy); n > 1 {
			a.Reason += " and " + itoa(n-1) + " more"
		}
	default:
		a.Reason = v.reasonText(r)
	}
	return a
}

func refList(rs []StatementRef) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// scenarioContext returns the request context AWS would build for a
// scenario, without the principal's own keys (evalState.derived holds
// those). It is open: keys it does not set are unknown (may be absent, may
// hold any value), never assumed present or absent.
func scenarioContext(s Scenario, allowed []netip.Prefix) *Context {
	var key strings.Builder
	key.WriteString(string(s))
	for _, p := range allowed {
		key.WriteByte(' ')
		key.WriteString(p.String())
	}
	if c, ok := scenarioCache.Load(key.String()); ok {
		return c.(*Context)
	}
	c := buildScenarioContext(s, allowed)
	scenarioCache.Store(key.String(), c)
	return c
}

// scenarioCache holds the scenario contexts built so far: an audit asks
// the same scenarios with the same allowlist for every principal. The
// contexts are never written to after they are built.
var scenarioCache sync.Map

func buildScenarioContext(s Scenario, allowed []netip.Prefix) *Context {
	c := NewContext()
	c.open = true
	c.closedPrefixes = []string{"aws:principaltag/"}
	c.Set("aws:PrincipalIsAWSService", "false")
	// AWS API endpoints are called over TLS.
	c.Set("aws:SecureTransport", "true")
	c.setState("aws:userid", eUnknownValue)
	c.setState("aws:CurrentTime", eUnknownValue)
	c.setState("aws:EpochTime", eUnknownValue)

	allowSet := ipSetOf(allowed)
	inside := publicAddresses()
	if len(allowed) > 0 {
		inside = allowSet.minus(nonPublic())
		if inside.empty() {
			inside = allowSet
		}
	}
	outside := publicAddresses().minus(allowSet)
	sourceIP := func(set *ipSet) {
		c.put("aws:SourceIp", &entry{name: "aws:SourceIp", state: eUnknownValue, ips: set})
	}
	for _, k := range []string{"aws:SourceVpce", "aws:SourceVpc", "aws:SourceVpcArn", "aws:VpcSourceIp", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge", "aws:TokenIssueTime"} {
		c.setState(k, eAbsent)
	}
	c.Set("aws:ViaAWSService", "false")
	switch s {
	case LongTermKey:
		sourceIP(inside)
	case SessionNoMFA:
		sourceIP(inside)
		c.Set("aws:MultiFactorAuthPresent", "false")
		c.setState("aws:TokenIssueTime", eUnknownValue)
	case SessionMFA:
		sourceIP(inside)
		c.Set("aws:MultiFactorAuthPresent", "true")
		c.setState("aws:MultiFactorAuthAge", eUnknownValue)
		c.setState("aws:TokenIssueTime", eUnknownValue)
	case OutsideNetwork:
		sourceIP(outside)
	case ViaVPCEndpoint:
		c.setState("aws:SourceIp", eAbsent)
		for _, k := range []string{"aws:SourceVpce", "aws:SourceVpc", "aws:SourceVpcArn", "aws:VpcSourceIp"} {
			c.setState(k, eUnknownValue)
		}
	case ViaAWSService:
		// AWS documents that a forward access session keeps the original
		// caller's address, while a service calling with its own
		// credentials (or a service role) calls from its own public
		// address: any public address.
		sourceIP(publicAddresses())
		c.Set("aws:ViaAWSService", "true")
		for _, k := range []string{"aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast"} {
			c.setState(k, eMaybe)
		}
	}
	return c
}
