package iameval

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// compiledPolicy is a policy in the form the evaluator runs.
type compiledPolicy struct {
	name     string
	stmts    []*cstmt
	problems []string
}

type cstmt struct {
	ref    StatementRef
	deny   bool
	effect bool // false: an invalid Effect; the statement never applies
	// svcs lists the lower-case services the Action patterns name, so
	// most statements are skipped with a string comparison; anySvc when
	// a pattern's service part has a wildcard.
	svcs   []string
	anySvc bool
	acts   []*glob
	notAct bool
	res    []*glob
	notRes bool
	noRes  bool // neither Resource nor NotResource
	prin   *compiledPrincipal
	notPri *compiledPrincipal
	conds  []*ccond
	// guard: the statement tests MFA or network keys (for InertGuards).
	guard bool
	src   *iampolicy.Statement
}

type compiledPrincipal struct {
	wildcard bool
	pats     []principalPat
}

type ccond struct {
	src   iampolicy.Condition
	key   string // lower-case
	op    iampolicy.Operator
	fam   iampolicy.Family
	neg   bool
	known bool
	vals  []cval
	ipset *ipSet // address operators: the policy's prefixes as a set
	cmp   cmpOp  // Numeric and Date operators
	// problem says why the condition can never match (an unknown
	// operator); AWS would have refused the policy.
	problem string
}

type cval struct {
	raw  string
	ok   bool // parsed for its family
	g    *glob
	fold string // IgnoreCase: lower-cased value
	num  float64
	t    int64 // unix nanoseconds
	pfx  netip.Prefix
	b    bool
	bin  []byte
}

// guardKeys are the keys that make a Deny an MFA or network guard.
var guardKeys = []string{"aws:multifactorauthpresent", "aws:multifactorauthage", "aws:sourceip", "aws:sourcevpc", "aws:sourcevpce", "aws:viaawsservice", "aws:calledvia", "aws:vpcsourceip"}

func isGuardKey(k string) bool {
	for _, g := range guardKeys {
		if k == g {
			return true
		}
	}
	return false
}

// Compiler compiles policies, caching each *iampolicy.Policy so that
// managed policies shared by many principals are compiled once. It is
// safe for concurrent use.
type Compiler struct {
	mu    sync.Mutex
	cache map[*iampolicy.Policy]*compiledPolicy
}

// NewCompiler returns a compiler with an empty cache.
func NewCompiler() *Compiler {
	return &Compiler{cache: map[*iampolicy.Policy]*compiledPolicy{}}
}

func (c *Compiler) policy(p *iampolicy.Policy) *compiledPolicy {
	if p == nil {
		return nil
	}
	c.mu.Lock()
	cp, ok := c.cache[p]
	c.mu.Unlock()
	if ok {
		return cp
	}
	cp = compilePolicy(p)
	c.mu.Lock()
	c.cache[p] = cp
	c.mu.Unlock()
	return cp
}

func compilePolicy(p *iampolicy.Policy) *compiledPolicy {
	cp := &compiledPolicy{name: p.File}
	// Policy variables exist only in version 2012-10-17; in older
	// documents "${aws:username}" is literal text.
	vars := p.Version == iampolicy.Version2012
	for _, s := range p.Statements {
		cp.stmts = append(cp.stmts, compileStatement(cp, s, vars))
	}
	return cp
}

func compileStatement(cp *compiledPolicy, s *iampolicy.Statement, vars bool) *cstmt {
	cs := &cstmt{
		ref:    StatementRef{Policy: cp.name, Index: s.Index, Sid: s.Sid},
		deny:   s.Effect == iampolicy.Deny,
		effect: s.Effect == iampolicy.Allow || s.Effect == iampolicy.Deny,
		src:    s,
	}
	if !cs.effect {
		cp.problems = append(cp.problems, fmt.Sprintf("%s: invalid Effect %q; the statement is ignored", s.Label(), s.EffectRaw))
	}
	acts := s.Action
	if s.NotAction.Present {
		acts, cs.notAct = s.NotAction, true
	}
	for _, a := range acts.List {
		// Actions never hold variables; matching ignores case.
		cs.acts = append(cs.acts, compileGlob(a, false, true, true, false))
		svc, _, found := strings.Cut(a, ":")
		if !found || strings.ContainsAny(svc, "*?") {
			cs.anySvc = true
		} else {
			svc = lowerASCII(svc)
			dup := false
			for _, x := range cs.svcs {
				dup = dup || x == svc
			}
			if !dup {
				cs.svcs = append(cs.svcs, svc)
			}
		}
	}
	res := s.Resource
	switch {
	case s.NotResource.Present:
		res, cs.notRes = s.NotResource, true
	case !s.Resource.Present:
		cs.noRes = true
	}
	for _, r := range res.List {
		cs.res = append(cs.res, compileGlob(r, vars, true, false, true))
	}
	if s.Principal != nil {
		cs.prin = compilePrincipal(s.Principal)
	}
	if s.NotPrincipal != nil {
		cs.notPri = compilePrincipal(s.NotPrincipal)
	}
	for _, c := range s.Conditions {
		cc := compileCondition(c, vars)
		if cc.problem != "" {
			cp.problems = append(cp.problems, fmt.Sprintf("%s: %s", s.Label(), cc.problem))
		}
		cs.conds = append(cs.conds, cc)
		if isGuardKey(cc.key) {
			cs.guard = true
		}
	}
	return cs
}

func compilePrincipal(p *iampolicy.Principal) *compiledPrincipal {
	cp := &compiledPrincipal{wildcard: p.Wildcard}
	for _, t := range p.SortedTypes() {
		for _, v := range p.Types[t] {
			cp.pats = append(cp.pats, principalPat{typ: t, val: v})
		}
	}
	return cp
}

func compileCondition(c iampolicy.Condition, vars bool) *ccond {
	cc := &ccond{src: c, key: strings.ToLower(c.Key), op: c.Op, known: c.OpKnown}
	if !c.OpKnown {
		cc.problem = fmt.Sprintf("unknown condition operator %q: the condition never matches (AWS refuses such a policy)", c.Operator)
		return cc
	}
	cc.fam = c.Op.Family()
	cc.neg = c.Op.Negated()
	cc.cmp = cmpOf(strings.TrimPrefix(strings.TrimPrefix(c.Op.Base, "Numeric"), "Date"))
	if want := c.Op.String(); c.Operator != want {
		// IAM refuses "stringEquals" (MalformedPolicyDocument: Invalid
		// Condition type); the condition is still evaluated as meant.
		cc.problem = fmt.Sprintf("condition operator %q is not spelled %q: AWS matches operator names case-sensitively and would refuse this policy", c.Operator, want)
	}
	for _, v := range c.Values {
		cv := cval{raw: v.S}
		switch cc.fam {
		case iampolicy.FamilyString:
			like := strings.HasSuffix(c.Op.Base, "Like")
			cv.g = compileGlob(v.S, vars, like, false, false)
			cv.fold = strings.ToLower(v.S)
			cv.ok = true
		case iampolicy.FamilyARN:
			cv.g = compileGlob(v.S, vars, true, false, true)
			cv.ok = true
		case iampolicy.FamilyNumeric:
			f, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64)
			cv.num, cv.ok = f, err == nil
		case iampolicy.FamilyDate:
			cv.t, cv.ok = parseDate(v.S)
		case iampolicy.FamilyBool:
			switch strings.ToLower(v.S) {
			case "true":
				cv.b, cv.ok = true, true
			case "false":
				cv.ok = true
			}
		case iampolicy.FamilyNull:
			switch strings.ToLower(v.S) {
			case "true":
				cv.b, cv.ok = true, true
			case "false":
				cv.ok = true
			}
		case iampolicy.FamilyBinary:
			b, err := base64.StdEncoding.DecodeString(v.S)
			cv.bin, cv.ok = b, err == nil
			if !cv.ok {
				cv.bin, cv.ok = []byte(v.S), true
			}
		case iampolicy.FamilyIP:
			cv.pfx, cv.ok = parseCIDR(v.S)
		}
		cc.vals = append(cc.vals, cv)
	}
	if cc.fam == iampolicy.FamilyIP {
		var pfx []netip.Prefix
		for _, v := range cc.vals {
			if v.ok {
				pfx = append(pfx, v.pfx)
			}
		}
		cc.ipset = ipSetOf(pfx)
	}
	return cc
}

// parseCIDR reads "203.0.113.0/24", "2001:db8::/32" or a bare address.
func parseCIDR(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), true
}

// dateLayouts are the ISO 8601 forms AWS accepts in Date conditions.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102T150405Z",
}

// parseDate reads an ISO 8601 date or a UNIX epoch in seconds.
func parseDate(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if allDigits(s) || (s[0] == '-' && allDigits(s[1:])) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > 1<<33 || n < -(1<<33) {
			return 0, false
		}
		return n * int64(time.Second), true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f < 1<<33 && f > -(1<<33) {
		return int64(f * float64(time.Second)), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}
