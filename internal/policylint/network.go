package policylint

import (
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
)

func keyIs(c iampolicy.Condition, keys ...string) bool {
	for _, k := range keys {
		if strings.EqualFold(c.Key, k) {
			return true
		}
	}
	return false
}

func (l *linter) hasKey(s *iampolicy.Statement, keys ...string) bool {
	for _, c := range s.Conditions {
		if keyIs(c, keys...) {
			return true
		}
	}
	return false
}

// serviceException reports whether a Deny statement lets through calls
// made by AWS services on the user's behalf.
func serviceException(s *iampolicy.Statement) bool {
	for _, c := range s.Conditions {
		switch {
		case keyIs(c, "aws:ViaAWSService") && c.Op.Family() == iampolicy.FamilyBool:
			for _, v := range c.Values {
				if strings.EqualFold(v.S, "false") {
					return true
				}
			}
		case keyIs(c, "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast"):
			return true
		}
	}
	return false
}

func (l *linter) network(s *iampolicy.Statement) {
	for _, c := range s.Conditions {
		if !keyIs(c, "aws:SourceIp") || !c.OpKnown || c.Op.Family() != iampolicy.FamilyIP {
			continue
		}
		v4, v6, unknown := 0, 0, false
		for _, v := range c.Values {
			if unresolved(v.S) {
				unknown = true
				continue
			}
			p, err := iampolicy.ParseIPValue(v.S)
			if err != nil {
				l.add(RuleNetBadCIDR, 0, s, v.Pos, fmt.Sprintf("%q is not an IP address or CIDR.", v.S), v.S)
				continue
			}
			if r, bad := iampolicy.ReservedRange(p.Masked()); bad {
				what := "users there are never allowed by it"
				if c.Op.Negated() {
					what = "it never matches, so requests are judged as coming from outside the allowlist"
				}
				l.add(RuleNetPrivateRange, 0, s, v.Pos,
					fmt.Sprintf("%s is inside the private or reserved range %s, which aws:SourceIp never holds: %s.", v.S, r, what), v.S)
			}
			if p.Addr().Is4() {
				v4++
			} else {
				v6++
			}
		}
		// An allowlist: a Deny on NotIpAddress, or an Allow on IpAddress.
		allowlist := s.Effect == iampolicy.Deny && c.Op.Negated() || s.Effect == iampolicy.Allow && !c.Op.Negated()
		if !allowlist {
			continue
		}
		if v4 > 0 && v6 == 0 && !unknown {
			l.add(RuleNetIPv4Only, 0, s, c.Pos, "Every aws:SourceIp range here is IPv4: callers reaching AWS over IPv6 from the allowed networks are refused.", condText(c))
		}
		switch s.Effect {
		case iampolicy.Deny:
			direct, viaVPCE, judged := networkDenyApplies(s)
			if judged && !direct {
				why, at := unboundWhy(s, c)
				l.add(RuleNetGuardUnbound, 0, s, at.Pos, fmt.Sprintf("For a call made directly from an address outside the allowlist, %s, so this Deny does not apply: a leaked key works from any address.", why), condText(at))
				continue
			}
			if !serviceException(s) {
				l.add(RuleNetNoServiceExc, 0, s, c.Pos, "This Deny has no aws:ViaAWSService or aws:CalledVia exception: calls AWS services make on the user's behalf come from the service's address and are denied.", condText(c))
			}
			if (!judged || viaVPCE) && !l.hasKey(s, "aws:SourceVpce", "aws:SourceVpc", "aws:VpcSourceIp") {
				l.add(RuleNetNoVPCE, 0, s, c.Pos, "Requests through VPC endpoints have no public aws:SourceIp, so NotIpAddress denies them.", condText(c))
			}
		case iampolicy.Allow:
			if !l.docHas(func(o *iampolicy.Statement) bool { return o.Effect == iampolicy.Allow && o != s && viaServiceAllow(o) }) {
				l.add(RuleNetNoServiceExc, 0, s, c.Pos, "This Allow only applies from the listed addresses: calls AWS services make on the user's behalf come from the service's address, and no other Allow covers them. Add an Allow of the same actions with \"Bool\": {\"aws:ViaAWSService\": \"true\"}, or better, express the allowlist as a Deny (keywarden policy mfa --allow-cidr).", condText(c))
			}
			if !l.docHas(func(o *iampolicy.Statement) bool {
				return l.hasKey(o, "aws:SourceVpce", "aws:SourceVpc", "aws:VpcSourceIp")
			}) {
				l.add(RuleNetNoVPCE, 0, s, c.Pos, "Requests through VPC endpoints have no public aws:SourceIp, so this Allow never applies to them.", condText(c))
			}
		}
	}
}

func viaServiceAllow(s *iampolicy.Statement) bool {
	for _, c := range s.Conditions {
		if keyIs(c, "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast") {
			return true
		}
		if keyIs(c, "aws:ViaAWSService") {
			for _, v := range c.Values {
				if strings.EqualFold(v.S, "true") {
					return true
				}
			}
		}
	}
	return false
}

func (l *linter) docHas(f func(*iampolicy.Statement) bool) bool {
	for _, s := range l.p.Statements {
		if f(s) {
			return true
		}
	}
	return false
}

// isStarGrant reports an Allow of every action on every resource.
func isStarGrant(s *iampolicy.Statement) bool {
	if s.Effect != iampolicy.Allow || !s.Resource.Has("*") {
		return false
	}
	return s.Action.Has("*") || s.Action.Has("*:*")
}

func (l *linter) grants(s *iampolicy.Statement) {
	if s.Effect != iampolicy.Allow {
		return
	}
	if isStarGrant(s) && len(s.Conditions) == 0 {
		guardedAll := false
		for _, g := range l.guards {
			if guardsAll(g) {
				guardedAll = true
			}
		}
		if guardedAll {
			l.add(RuleAllowStar, report.SeverityInfo, s, s.Action.Pos, "Full access to the account, but an MFA deny in the same document refuses it without MFA.", "Action * on Resource *")
		} else {
			l.add(RuleAllowStar, 0, s, s.Action.Pos, "Full access to the account with no condition at all.", "Action * on Resource *")
		}
	}
	sev := report.SeverityHigh
	if len(s.Conditions) > 0 {
		sev = report.SeverityMedium // conditions narrow it; still broad
	}
	if s.NotAction.Present {
		l.add(RuleAllowNotAction, sev, s, s.NotAction.Pos, fmt.Sprintf("Allow with NotAction %s grants every other action of every service.", strings.Join(s.NotAction.List, ", ")), strings.Join(s.NotAction.List, ", "))
	}
	if s.NotResource.Present {
		l.add(RuleAllowNotResource, sev, s, s.NotResource.Pos, fmt.Sprintf("Allow with NotResource %s grants the actions on every other resource.", strings.Join(s.NotResource.List, ", ")), strings.Join(s.NotResource.List, ", "))
	}
}

// The requests a network Deny is judged against, as AWS builds them: a
// call made directly with the key from a public address outside the
// allowlist, and one through a VPC endpoint (no aws:SourceIp). Neither
// carries aws:CalledVia; both carry aws:ViaAWSService "false".
var (
	ctxDirect = requestCtx{"direct call from outside the allowlist", map[string]string{"aws:viaawsservice": "false"}}
	ctxVPCE   = requestCtx{"call through a VPC endpoint", map[string]string{
		"aws:viaawsservice": "false", "aws:sourcevpce": "vpce-0kwprobe", "aws:sourcevpc": "vpc-0kwprobe", "aws:vpcsourceip": "10.0.0.1"}}
)

// networkKey reports the condition keys the network rules evaluate; the
// others (MFA, tags, regions) are assumed to match, since the question is
// only what the network conditions let through.
func networkKey(c iampolicy.Condition) bool {
	return keyIs(c, "aws:SourceIp", "aws:ViaAWSService", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast",
		"aws:SourceVpce", "aws:SourceVpc", "aws:VpcSourceIp")
}

// networkDenyApplies evaluates a network Deny's network conditions for a
// direct call from outside the allowlist and for a call through a VPC
// endpoint. judged is false when a condition cannot be evaluated (an
// unknown operator, a Terraform expression).
func networkDenyApplies(s *iampolicy.Statement) (direct, viaVPCE, judged bool) {
	direct, viaVPCE = true, true
	for _, c := range s.Conditions {
		if !networkKey(c) {
			continue
		}
		if !c.OpKnown {
			return false, false, false
		}
		for _, v := range c.Values {
			if unresolved(v.S) {
				return false, false, false
			}
		}
		if keyIs(c, "aws:SourceIp") {
			// Outside the allowlist: a negated test holds, a positive one
			// (a deny list of addresses) does not.
			if c.Op.Family() != iampolicy.FamilyIP || !c.Op.Negated() {
				direct = false
			}
		} else if !holds(c, ctxDirect) {
			direct = false
		}
		if !holds(c, ctxVPCE) {
			viaVPCE = false
		}
	}
	return direct, viaVPCE, true
}

// unboundWhy says which network condition is false for a direct call from
// outside the allowlist, and returns it (addr, the address condition, when
// no other is).
func unboundWhy(s *iampolicy.Statement, addr iampolicy.Condition) (string, iampolicy.Condition) {
	for _, c := range s.Conditions {
		if !networkKey(c) || keyIs(c, "aws:SourceIp") || holds(c, ctxDirect) {
			continue
		}
		why := "is false"
		if _, present := ctxDirect.keys[strings.ToLower(c.Key)]; !present {
			why = "is false: the key is absent from such a request"
			if c.Op.Set == "ForAnyValue" {
				why = "is false: the key is absent from such a request, and ForAnyValue over no values is false"
			}
		}
		return condText(c) + " " + why, c
	}
	return "its address condition is false", addr
}
