package iameval

import (
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// PolicySet is every policy that applies to a request, by evaluation
// layer. Empty layers do not apply, except that an SCP level given with no
// policy allows nothing, as in AWS.
type PolicySet struct {
	// Identity: the principal's inline and managed policies (its groups'
	// too, for a user).
	Identity []*iampolicy.Policy
	// Boundary: the permissions boundary (AWS allows one; several
	// documents are read as one boundary, any of which may allow).
	Boundary []*iampolicy.Policy
	// SCPs: service control policies per organisation level, root first.
	// Every level must allow. They apply to the principal's account.
	SCPs [][]*iampolicy.Policy
	// RCPs: resource control policies per level, root first. They apply
	// to the resource's account, for the services AWS lists, and can only
	// deny: RCPFullAWSAccess, which allows everything, is always attached.
	RCPs [][]*iampolicy.Policy
	// Resource: the resource-based policy (bucket policy, key policy,
	// trust policy, ...).
	Resource *iampolicy.Policy
	// Session: the session policies passed when the session was made
	// (inline and managed); any may allow.
	Session []*iampolicy.Policy
	// VPCEndpoint: the policy of the VPC endpoint the request went through.
	VPCEndpoint *iampolicy.Policy
}

// Compiled is a PolicySet compiled for evaluation. It is immutable and
// safe for concurrent use.
type Compiled struct {
	identity  []*compiledPolicy
	boundary  []*compiledPolicy
	scps      [][]*compiledPolicy
	rcps      [][]*compiledPolicy
	resource  *compiledPolicy
	session   []*compiledPolicy
	vpce      *compiledPolicy
	scpNames  []string
	rcpNames  []string
	hasBound  bool
	hasSess   bool
	hasSCP    bool
	hasRCP    bool
	hasVPCE   bool
	hasResPol bool
	// Problems found while compiling: statements or conditions that can
	// never apply because AWS would have refused them.
	Problems []string
}

// CompileSet compiles a policy set.
func CompileSet(ps PolicySet) *Compiled { return NewCompiler().CompileSet(ps) }

// CompileSet compiles a policy set, reusing policies already compiled.
func (c *Compiler) CompileSet(ps PolicySet) *Compiled {
	out := &Compiled{}
	add := func(p *iampolicy.Policy) *compiledPolicy {
		cp := c.policy(p)
		if cp != nil {
			for _, pr := range cp.problems {
				out.Problems = append(out.Problems, cp.name+": "+pr)
			}
		}
		return cp
	}
	for _, p := range ps.Identity {
		if p != nil {
			out.identity = append(out.identity, add(p))
		}
	}
	for _, p := range ps.Boundary {
		if p != nil {
			out.boundary = append(out.boundary, add(p))
			out.hasBound = true
		}
	}
	for _, p := range ps.Session {
		if p != nil {
			out.session = append(out.session, add(p))
			out.hasSess = true
		}
	}
	// Organization policies come in levels (root, OUs, account), each
	// named for the explanation.
	levels := func(ps [][]*iampolicy.Policy, kind string) (out [][]*compiledPolicy, names []string) {
		for i, lvl := range ps {
			var l []*compiledPolicy
			for _, p := range lvl {
				if p != nil {
					l = append(l, add(p))
				}
			}
			out = append(out, l)
			names = append(names, fmt.Sprintf("%s[%d]", kind, i))
		}
		return out, names
	}
	out.scps, out.scpNames = levels(ps.SCPs, "scp")
	out.hasSCP = len(ps.SCPs) > 0
	out.rcps, out.rcpNames = levels(ps.RCPs, "rcp")
	out.hasRCP = len(ps.RCPs) > 0
	if ps.Resource != nil {
		out.resource = add(ps.Resource)
		out.hasResPol = true
	}
	if ps.VPCEndpoint != nil {
		out.vpce = add(ps.VPCEndpoint)
		out.hasVPCE = true
	}
	return out
}

// Layer names, as they appear in StatementRef.Layer and explanations.
const (
	LayerIdentity    = "identity"
	LayerBoundary    = "boundary"
	LayerSession     = "session"
	LayerResource    = "resource"
	LayerVPCEndpoint = "vpc-endpoint"
)

// Result is the decision on one request.
type Result struct {
	Decision Decision
	// DecidedBy: the Deny statements that matched (ExplicitlyDenied), or
	// the Allow statements that granted the request in each layer that
	// had to allow it (Allowed). Empty for ImplicitlyDenied.
	DecidedBy []StatementRef
	// Reason says in words why, e.g. "no identity-based policy allows
	// iam:CreateUser".
	Reason string
	// Trace lists every statement considered, with why it applied or not;
	// only filled when evaluating with Explain.
	Trace []StatementTrace
	// MissingKeys lists the condition keys that policies tested but the
	// request did not carry (treated as absent).
	MissingKeys []string
}

// Options tune one evaluation.
type Options struct {
	// Explain fills Result.Trace.
	Explain bool
}

// hit is a statement that applied (t yes) or may apply (t maybe).
type hit struct {
	s     *cstmt
	layer string
	t     tri
}

// evalState is the per-request scratch space.
type evalState struct {
	ctx      *Context
	caller   caller
	raw      string // the action as written, for messages
	action   string // lower-case
	svc      string
	resource string
	resAcct  string // the request's ResourceAccount
	resKnown bool
	// hasBoundary: the caller has a permissions boundary (NotPrincipal
	// never spares such a caller).
	hasBoundary bool
	// needPrincipal: the layer being evaluated is a resource-based
	// policy, whose statements apply only to the principals they name.
	needPrincipal bool
	explain       bool
	guards        bool

	derived []derivedKey
	trace   []StatementTrace
	deps    []string
	hits    []hit
	inert   []hit
	missing []string
}

func (r *evalState) depend(key string) {
	for _, d := range r.deps {
		if d == key {
			return
		}
	}
	r.deps = append(r.deps, key)
}

// variable resolves a policy variable: yes with the value, no when the key
// is absent or multi-valued, maybe when unknown.
func (r *evalState) variable(key string) (string, tri) {
	e := r.lookup(key)
	switch e.state {
	case ePresent:
		if len(e.vals) != 1 || e.multi {
			return "", no
		}
		return e.vals[0], yes
	case eAbsent:
		return "", no
	}
	return "", maybe
}

// failure says which part of a statement did not match.
type failure uint8

const (
	failNone failure = iota
	failEffect
	failAction
	failResource
	failPrincipal
	failCondition
)

// evalStmt decides whether a statement applies to the request. principals
// is true for resource-based layers, where Principal is matched and the
// kind of grant is returned.
func (r *evalState) evalStmt(s *cstmt, layer string, principals bool) (tri, grant) {
	t, g, f, ci := r.stmtMatch(s, principals)
	if r.explain {
		r.trace = append(r.trace, r.traceOf(s, layer, t, f, ci))
	}
	if t != no {
		r.hits = append(r.hits, hit{s, layer, t})
	} else if r.guards && s.deny && s.guard && f == failCondition && isGuardKey(s.conds[ci].key) && r.lookup(s.conds[ci].key).state == eAbsent {
		// A guard that fails only because its key is absent from this
		// request: Bool where BoolIfExists was needed.
		r.inert = append(r.inert, hit{s, layer, no})
	}
	return t, g
}

func (r *evalState) stmtMatch(s *cstmt, principals bool) (tri, grant, failure, int) {
	if !s.effect {
		return no, grantNone, failEffect, -1
	}
	mark := len(r.deps)
	// Action: a quick test of the service prefix first.
	if !s.notAct && !s.anySvc {
		found := false
		for _, x := range s.svcs {
			if x == r.svc {
				found = true
				break
			}
		}
		if !found {
			return no, grantNone, failAction, -1
		}
	}
	am := no
	for _, g := range s.acts {
		if g.match(r.action, r) == yes {
			am = yes
			break
		}
	}
	if s.notAct {
		am = am.not()
	}
	if am == no {
		return no, grantNone, failAction, -1
	}
	t := am
	// Resource.
	if !s.noRes {
		rm := no
		for _, g := range s.res {
			var m tri
			if r.resKnown && r.resource == "*" && !s.notRes {
				// A request for "*" is in Resource when a pattern could
				// cover it; NotResource keeps the literal test, so that
				// a pattern naming some resources does not take a
				// request for all of them out of a NotResource guard.
				m = g.coversAll(r)
			} else if r.resKnown {
				m = g.match(r.resource, r)
			} else if g.kind == gAll {
				m = yes
			} else {
				m = maybe
				r.depend("resource")
			}
			if rm = or(rm, m); rm == yes {
				break
			}
		}
		if s.notRes {
			rm = rm.not()
		}
		if t = and(t, rm); t == no {
			r.deps = r.deps[:mark]
			return no, grantNone, failResource, -1
		}
	}
	// Principal (resource-based policies only). A statement of a
	// resource-based policy that has neither Principal nor NotPrincipal
	// names nobody: AWS refuses such a policy, so it never applies, as
	// an Allow or as a Deny.
	g := grantDirect
	if principals {
		switch {
		case s.prin != nil:
			g = principalMatch(s.prin, &r.caller)
		case s.notPri != nil:
			if s.deny && notPrincipalExcludes(s.notPri, &r.caller, r.hasBoundary) {
				g = grantNone
			} else if !s.deny && notPrincipalNames(s.notPri, &r.caller) {
				g = grantNone
			}
		default:
			if r.needPrincipal {
				g = grantNone
			}
		}
		if g == grantNone {
			r.deps = r.deps[:mark]
			return no, grantNone, failPrincipal, -1
		}
	}
	// Conditions: all must match.
	for i, c := range s.conds {
		ct := c.eval(r)
		if ct == no {
			r.deps = r.deps[:mark]
			return no, grantNone, failCondition, i
		}
		t = and(t, ct)
	}
	if t != maybe {
		r.deps = r.deps[:mark]
	}
	return t, g, failNone, -1
}

// layerResult is what one layer says.
type layerResult struct {
	deny, allow tri
	grants      [4]tri // resource-based layers: the best Allow per grant kind
}

func (r *evalState) evalLayer(ps []*compiledPolicy, layer string, principals bool) layerResult {
	var lr layerResult
	for _, p := range ps {
		if p == nil {
			continue
		}
		for _, s := range p.stmts {
			t, g := r.evalStmt(s, layer, principals)
			if t == no {
				continue
			}
			if s.deny {
				lr.deny = or(lr.deny, t)
			} else {
				lr.allow = or(lr.allow, t)
				lr.grants[g] = or(lr.grants[g], t)
			}
		}
	}
	return lr
}

// Evaluate decides one request.
func (c *Compiled) Evaluate(req Request, opt Options) Result {
	r := &evalState{explain: opt.Explain}
	r.prepare(req)
	out := c.decide(r)
	if opt.Explain {
		out.Trace = r.trace
		out.MissingKeys = r.missing
	}
	return out
}

func (r *evalState) prepare(req Request) {
	r.caller = parseCaller(req.Principal)
	r.raw = req.Action
	r.action = lowerASCII(req.Action)
	r.svc, _, _ = strings.Cut(r.action, ":")
	r.resource = req.Resource
	r.resAcct = req.ResourceAccount
	r.resKnown = true
	r.ctx = req.Context
	if r.ctx == nil {
		r.ctx = &emptyContext
	}
	// Keys AWS always derives from an authenticated principal, unless the
	// request names them itself. They are kept beside the caller's
	// context, which is never written to.
	r.derived = r.derived[:0]
	add := func(lk, v string) {
		if _, ok := r.ctx.m[lk]; !ok {
			r.derived = append(r.derived, derivedKey{lk, entry{name: lk, vals: []string{v}}})
		}
	}
	k := r.caller.kind
	if k != pService && k != pAnonymous && k != pCanonical && k != pUnknown {
		add("aws:principalarn", principalArn(&r.caller))
		if r.caller.account != "" {
			add("aws:principalaccount", r.caller.account)
		}
		if r.caller.ptype != "" {
			add("aws:principaltype", r.caller.ptype)
		}
		if k == pUser {
			add("aws:username", r.caller.name)
		}
	}
	switch k {
	case pService:
		add("aws:principalservicename", r.caller.raw)
		add("aws:principalisawsservice", "true")
	case pAnonymous:
	default:
		add("aws:principalisawsservice", "false")
	}
}

var emptyContext = Context{}

type derivedKey struct {
	key string
	e   entry
}

// lookup finds a lower-cased key in the request context, then among the
// keys derived from the principal.
func (r *evalState) lookup(lk string) *entry {
	if e, ok := r.ctx.m[lk]; ok {
		return e
	}
	for i := range r.derived {
		if r.derived[i].key == lk {
			return &r.derived[i].e
		}
	}
	return r.ctx.lookup(lk)
}

// principalArn is aws:PrincipalArn: for a session, the role's ARN.
func principalArn(c *caller) string {
	if c.kind == pSession && c.roleARN != "" {
		return c.roleARN
	}
	return c.raw
}

// resourceAccount works out who owns the resource.
func resourceAccount(req string, resource string, c *caller) string {
	if req != "" {
		return req
	}
	// The fifth colon-separated field of an ARN is its account.
	start, field := 0, 0
	for i := 0; i < len(resource) && field < 5; i++ {
		if resource[i] != ':' {
			continue
		}
		field++
		if field == 4 {
			start = i + 1
		} else if field == 5 {
			if acct := resource[start:i]; len(acct) == 12 && allDigits(acct) {
				return acct
			}
		}
	}
	return c.account
}

// decide runs the evaluation order and builds the result.
func (c *Compiled) decide(r *evalState) Result {
	v := c.run(r, "")
	return c.result(r, v)
}

// reason codes say which layer failed to allow a request.
type reasonKind uint8

const (
	rsSCP reasonKind = iota
	rsVPCE
	rsCrossNoGrant
	rsRequiredPolicy
	rsResourceNoPrincipal
	rsCrossNoPolicy
	rsNoResourcePolicy
	rsIdentityOrResource
	rsIdentity
	rsBoundary
	rsSession
	rsAuthOperation
	rsAuthSessionCreds
	rsAWSOwned
)

type reason struct {
	kind  reasonKind
	level int
	acct  string
	why   string // rsAWSOwned
}

// verdict is the three-valued outcome of one run, before any text.
type verdict struct {
	deny, allow tri
	reasons     []reason
}

// run evaluates every layer; resAcctOverride names the resource account.
func (c *Compiled) run(r *evalState, resAcctOverride string) verdict {
	k := r.caller.kind
	r.hasBoundary = c.hasBound
	iamPrincipal := k == pUser || k == pRole || k == pSession || k == pFederated || k == pRoot
	var v verdict
	deny := no
	fail := func(t tri, rs reason) {
		if t != yes {
			v.reasons = append(v.reasons, rs)
		}
	}

	// Organisation guardrails on the principal's account.
	scpOK := yes
	if c.hasSCP && iamPrincipal {
		for i, lvl := range c.scps {
			lr := r.evalLayer(lvl, c.scpNames[i], false)
			deny = or(deny, lr.deny)
			scpOK = and(scpOK, lr.allow)
			fail(lr.allow, reason{kind: rsSCP, level: i})
		}
	}
	// Resource control policies, on the resource's account. AWS attaches
	// RCPFullAWSAccess (allow everything) at every level and it cannot be
	// detached, so RCPs can only deny: a level never lacks an Allow.
	if c.hasRCP && rcpApplies(r.svc) {
		for i, lvl := range c.rcps {
			lr := r.evalLayer(lvl, c.rcpNames[i], true)
			deny = or(deny, lr.deny)
		}
	}
	vpceOK := yes
	if c.hasVPCE {
		lr := r.evalLayer(c.vpceList(), LayerVPCEndpoint, true)
		deny = or(deny, lr.deny)
		vpceOK = lr.allow
		fail(lr.allow, reason{kind: rsVPCE})
	}

	// The principal's own policies.
	idOK := no
	switch {
	case k == pRoot:
		idOK = yes // the root user needs no identity policy
	case iamPrincipal:
		lr := r.evalLayer(c.identity, LayerIdentity, false)
		deny = or(deny, lr.deny)
		idOK = lr.allow
	}
	bOK := yes
	if c.hasBound && iamPrincipal && k != pRoot {
		lr := r.evalLayer(c.boundary, LayerBoundary, false)
		deny = or(deny, lr.deny)
		bOK = lr.allow
	}
	sOK := yes
	if c.hasSess && iamPrincipal {
		lr := r.evalLayer(c.session, LayerSession, false)
		deny = or(deny, lr.deny)
		sOK = lr.allow
	}
	chain := and(idOK, and(bOK, sOK))

	if resAcctOverride == "" {
		resAcctOverride = r.resAcct
	}
	resAcct := resourceAccount(resAcctOverride, r.resource, &r.caller)
	cross := r.caller.account != "" && resAcct != "" && resAcct != r.caller.account
	granted := chain
	if c.hasResPol {
		r.needPrincipal = true
		lr := r.evalLayer(c.resourceList(), LayerResource, true)
		r.needPrincipal = false
		deny = or(deny, lr.deny)
		direct, indirect, acct := lr.grants[grantDirect], lr.grants[grantIndirect], lr.grants[grantAccount]
		if cross || r.caller.account == "" {
			rp := or(direct, or(indirect, acct))
			if iamPrincipal {
				granted = and(rp, chain)
				fail(rp, reason{kind: rsCrossNoGrant})
			} else {
				granted = direct
				fail(direct, reason{kind: rsResourceNoPrincipal})
			}
		} else if resourcePolicyRequired(r.action) {
			// A KMS key policy, or a role trust policy for sts:AssumeRole,
			// must allow even in the same account: naming the account
			// delegates to identity policies, which must then allow too.
			granted = or(direct, or(and(indirect, and(bOK, sOK)), and(acct, chain)))
			fail(granted, reason{kind: rsRequiredPolicy})
		} else {
			// Same account: the resource-based policy may grant on its own:
			// naming the caller itself, its boundary and session policy do
			// not limit it; naming the role of a session, they do.
			granted = or(chain, or(direct, and(indirect, and(bOK, sOK))))
		}
	} else if cross {
		granted = no
		v.reasons = append(v.reasons, reason{kind: rsCrossNoPolicy, acct: resAcct})
	}
	if granted != yes && !(cross && !c.hasResPol) && !(c.hasResPol && resourcePolicyRequired(r.action)) {
		switch {
		case !iamPrincipal:
			if !c.hasResPol {
				v.reasons = append(v.reasons, reason{kind: rsNoResourcePolicy})
			}
		case idOK != yes && c.hasResPol:
			v.reasons = append(v.reasons, reason{kind: rsIdentityOrResource})
		case idOK != yes:
			v.reasons = append(v.reasons, reason{kind: rsIdentity})
		case bOK != yes:
			v.reasons = append(v.reasons, reason{kind: rsBoundary})
		case sOK != yes:
			v.reasons = append(v.reasons, reason{kind: rsSession})
		}
	}
	v.deny = deny
	v.allow = and(scpOK, and(vpceOK, granted))
	if r.resKnown {
		if why := awsOwned(r.action, r.resource); why != "" {
			// No policy can grant it: an implicit deny, unless a Deny
			// matched anyway.
			v.allow = no
			v.reasons = []reason{{kind: rsAWSOwned, why: why}}
		}
	}
	return r.applyAuthOperation(v)
}

// resourcePolicyRequired reports whether an action needs its resource
// policy to allow even within one account: AWS KMS key policies, and role
// trust policies for the STS calls that assume a role. action is lower-case.
func resourcePolicyRequired(action string) bool {
	if strings.HasPrefix(action, "kms:") {
		// Actions on no key (kms:ListKeys, kms:CreateKey,
		// kms:GenerateRandom...) are governed by IAM policies alone
		// (AWS KMS Developer Guide, kms-api-permissions-reference.html).
		return !wildcardOnly(action)
	}
	switch action {
	case "sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity", "sts:tagsession", "sts:setsourceidentity", "sts:setcontext":
		return true
	}
	return false
}

func (c *Compiled) vpceList() []*compiledPolicy     { return []*compiledPolicy{c.vpce} }
func (c *Compiled) resourceList() []*compiledPolicy { return []*compiledPolicy{c.resource} }

// text renders a reason.
func (rs reason) text(action, callerAcct string) string {
	switch rs.kind {
	case rsSCP:
		return "no service control policy at organisation level " + itoa(rs.level) + " allows " + action
	case rsVPCE:
		return "the VPC endpoint policy does not allow the request"
	case rsCrossNoGrant:
		return "the request crosses accounts and the resource-based policy does not grant it"
	case rsRequiredPolicy:
		return "the resource-based policy (a KMS key policy or a role trust policy, which must allow in the same account too) does not grant " + action + " to this principal, directly or through its account and identity policies"
	case rsResourceNoPrincipal:
		return "the resource-based policy does not allow this principal"
	case rsCrossNoPolicy:
		return fmt.Sprintf("the resource belongs to account %s, not the principal's %s, and no resource-based policy grants access", rs.acct, callerAcct)
	case rsNoResourcePolicy:
		return "no resource-based policy grants access to this principal"
	case rsIdentityOrResource:
		return "neither an identity-based policy nor the resource-based policy allows " + action
	case rsIdentity:
		return "no identity-based policy allows " + action
	case rsBoundary:
		return "the permissions boundary does not allow " + action
	case rsSession:
		return "no session policy allows " + action
	case rsAuthOperation:
		return action + " is an authentication operation: it needs no permission, and no policy can deny it"
	case rsAWSOwned:
		return rs.why
	case rsAuthSessionCreds:
		return action + " must be signed with an IAM user's or the root user's long-term access key; temporary credentials cannot call it"
	}
	return ""
}

func (v verdict) reasonText(r *evalState) string {
	parts := make([]string, 0, len(v.reasons))
	for _, rs := range v.reasons {
		parts = append(parts, rs.text(r.raw, r.caller.account))
	}
	if len(parts) == 0 {
		return "implicitly denied"
	}
	return "implicitly denied: " + strings.Join(parts, "; ")
}

// result builds the Result of a concrete evaluation.
func (c *Compiled) result(r *evalState, v verdict) Result {
	var out Result
	switch {
	case v.deny == yes:
		out.Decision = ExplicitlyDenied
		for _, h := range r.hits {
			if h.s.deny && h.t == yes {
				out.DecidedBy = append(out.DecidedBy, refOf(h))
			}
		}
		out.Reason = "explicitly denied by " + joinRefs(out.DecidedBy)
	case v.allow == yes && v.deny == no:
		out.Decision = Allowed
		for _, h := range r.hits {
			if !h.s.deny && h.t == yes {
				out.DecidedBy = append(out.DecidedBy, refOf(h))
			}
		}
		out.Reason = "allowed by " + joinRefs(out.DecidedBy)
		if len(v.reasons) == 1 && v.reasons[0].kind == rsAuthOperation {
			out.Reason = "allowed: " + v.reasons[0].text(r.raw, r.caller.account)
		} else if len(out.DecidedBy) == 0 {
			out.Reason = "allowed: the account's root user needs no policy to allow it"
		}
	default:
		out.Decision = ImplicitlyDenied
		out.Reason = v.reasonText(r)
	}
	return out
}

func refOf(h hit) StatementRef {
	ref := h.s.ref
	ref.Layer = h.layer
	return ref
}

func joinRefs(rs []StatementRef) string {
	parts := make([]string, len(rs))
	for i, x := range rs {
		parts[i] = x.Layer + " " + x.String()
	}
	return strings.Join(parts, ", ")
}
