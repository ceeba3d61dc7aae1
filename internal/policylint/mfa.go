package policylint

import (
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
)

// selfService are the actions a user without MFA must keep, on their own
// user and device, to enrol a device. sts:GetSessionToken is not among
// them: AWS does not let policies control authentication operations, so a
// Deny that covers it takes nothing away (AWS's own example lists it in
// the guard's NotAction all the same, and so does keywarden policy mfa).
var selfService = []string{
	"iam:CreateVirtualMFADevice",
	"iam:EnableMFADevice",
	"iam:ResyncMFADevice",
	"iam:ListMFADevices",
	"iam:ListVirtualMFADevices",
	"iam:GetUser",
	"iam:ChangePassword",
}

// deviceRemoval are the actions that weaken MFA and must need it.
var deviceRemoval = []string{"iam:DeactivateMFADevice", "iam:DeleteVirtualMFADevice"}

// mfaOutcome is what a statement's MFA conditions do in the three kinds of
// request.
type mfaOutcome struct {
	conds                   []iampolicy.Condition
	longTerm, temp, withMFA bool // the statement applies
}

func outcomeOf(s *iampolicy.Statement) (mfaOutcome, bool) {
	cs, ok := mfaConds(s)
	if !ok || len(cs) == 0 {
		return mfaOutcome{}, false
	}
	return mfaOutcome{conds: cs, longTerm: applies(cs, ctxLongTerm), temp: applies(cs, ctxTempNoMFA), withMFA: applies(cs, ctxMFA)}, true
}

// mfaDeny reports whether s is a Deny with MFA conditions meant to refuse
// requests made without MFA: a guard, or one whose conditions are wrong
// (they skip long-term keys or sessions; other rules say so). Only a Deny
// that refuses MFA sessions alone is not one.
func mfaDeny(s *iampolicy.Statement) bool {
	if s.Effect != iampolicy.Deny {
		return false
	}
	o, ok := outcomeOf(s)
	return ok && (o.longTerm || o.temp || !o.withMFA)
}

// isGuard reports whether s is a Deny that refuses requests without MFA,
// long-term keys and sessions alike, and nothing else decides it.
func isGuard(s *iampolicy.Statement) bool {
	if s.Effect != iampolicy.Deny {
		return false
	}
	o, ok := outcomeOf(s)
	if !ok || len(o.conds) != len(s.Conditions) {
		return false
	}
	return o.longTerm && o.temp && !o.withMFA
}

func (l *linter) findGuards() {
	for _, s := range l.p.Statements {
		if isGuard(s) {
			l.guards = append(l.guards, s)
		}
	}
}

// guarded reports whether some guard in the document denies action to
// callers without MFA.
func (l *linter) guarded(action string) bool {
	for _, g := range l.guards {
		if ok, known := covers(g, action); ok && known {
			return true
		}
	}
	return false
}

// culprit picks the condition that makes the statement behave as it does
// in x: the first that fails there (want false) or holds there (want true).
func culprit(cs []iampolicy.Condition, x requestCtx, want bool) iampolicy.Condition {
	for _, c := range cs {
		if holds(c, x) == want {
			return c
		}
	}
	return cs[0]
}

// ruleFor names the rule for a culprit condition by its shape.
func ruleFor(s *iampolicy.Statement, c iampolicy.Condition, bypass bool) string {
	key := strings.ToLower(c.Key)
	if key == keyMFAAge {
		if bypass {
			return RuleMFAAgeUnbound
		}
		return RuleMFABlocksMFA
	}
	fam := c.Op.Family()
	switch {
	case fam != iampolicy.FamilyBool && fam != iampolicy.FamilyNull:
		return RuleMFAOperator
	case fam == iampolicy.FamilyBool && !allBool(c):
		return RuleMFAValue
	case !bypass:
		return RuleMFABlocksMFA
	case fam == iampolicy.FamilyNull && s.Effect == iampolicy.Deny:
		return RuleMFANullDeny
	case fam == iampolicy.FamilyBool && !c.Op.IfExists && s.Effect == iampolicy.Deny:
		return RuleMFADenyBool
	case fam == iampolicy.FamilyBool && c.Op.IfExists && s.Effect == iampolicy.Allow:
		return RuleMFAAllowIfExists
	}
	return RuleMFAUnbound
}

func allBool(c iampolicy.Condition) bool {
	for _, v := range c.Values {
		if !isBool(v.S) {
			return false
		}
	}
	return len(c.Values) > 0
}

// mfa judges a statement's MFA conditions by what they do to each kind of
// request, and names the condition responsible.
func (l *linter) mfa(s *iampolicy.Statement) {
	if s.Effect != iampolicy.Allow && s.Effect != iampolicy.Deny {
		return
	}
	o, ok := outcomeOf(s)
	if !ok {
		return
	}
	say := func(c iampolicy.Condition, x requestCtx, want bool, bypass bool, sev report.Severity, what string) {
		id := ruleFor(s, c, bypass)
		verb := "is false"
		if want {
			verb = "is true"
		}
		if c.Key != "" {
			if _, present := x.keys[strings.ToLower(c.Key)]; !present {
				verb += " (the key is absent)"
			}
		}
		msg := fmt.Sprintf("For a %s, %s %s, so %s", x.name, condText(c), verb, what)
		l.add(id, sev, s, c.Pos, msg, condText(c))
	}
	report1 := func(x requestCtx, want bool, bypass bool, sev report.Severity, what string) {
		say(culprit(o.conds, x, want), x, want, bypass, sev, what)
	}
	switch s.Effect {
	case iampolicy.Deny:
		// Conditions in a statement are ANDed: every condition that is
		// false for a kind of request is a reason of its own that the
		// Deny skips it, and fixing one leaves the others. Each is
		// reported, once, for the worst request it lets through.
		skipsLongTerm := make([]bool, len(o.conds))
		if !o.longTerm {
			for i, c := range o.conds {
				if skipsLongTerm[i] = !holds(c, ctxLongTerm); skipsLongTerm[i] {
					say(c, ctxLongTerm, false, true, report.SeverityHigh,
						"this Deny does not apply: a leaked long-term key works without MFA.")
				}
			}
		}
		// A narrow Deny aimed at long-term keys only (say, no MFA
		// enrolment with a key) is deliberate; a broad one is a guard that
		// lets sessions without MFA through.
		if !o.temp && broad(s) {
			what := "this Deny does not apply: long-term keys are refused, but a session made without MFA (AssumeRole, GetSessionToken without a code) acts freely."
			if !o.longTerm {
				what = "this Deny does not apply to it either, whatever the conditions do to long-term keys: a session made without MFA (AssumeRole, GetSessionToken without a code) acts freely."
			}
			for i, c := range o.conds {
				if !skipsLongTerm[i] && !holds(c, ctxTempNoMFA) {
					say(c, ctxTempNoMFA, false, true, report.SeverityMedium, what)
				}
			}
		}
		if o.withMFA {
			report1(ctxMFA, true, false, report.SeverityLow,
				"this Deny refuses callers who did use MFA too: they are locked out.")
		}
	case iampolicy.Allow:
		switch {
		case o.longTerm:
			report1(ctxLongTerm, true, true, report.SeverityHigh,
				"this Allow grants its actions to a long-term key without MFA.")
		case o.temp:
			report1(ctxTempNoMFA, true, true, report.SeverityMedium,
				"this Allow grants its actions to a session made without MFA.")
		default:
			// Trust and resource policies (with a Principal) are the only
			// grant for their principal, so an Allow condition is the
			// documented pattern there.
			if len(l.guards) == 0 && o.withMFA && s.Principal == nil {
				l.add(RuleMFAAllowOnly, 0, s, o.conds[0].Pos,
					"This statement refuses long-term keys, but the document has no MFA Deny: any other Allow without the condition lets a leaked key through.", condText(o.conds[0]))
			}
		}
		if !o.withMFA {
			report1(ctxMFA, false, false, report.SeverityLow,
				"this Allow never applies, even with MFA: its actions are never granted.")
		}
	}
	// A String or other operator on the boolean key happens to work here,
	// but AWS documents only Bool and Null for it; say so (once: add keeps
	// the outcome finding above if there was one).
	for _, c := range o.conds {
		if strings.ToLower(c.Key) == keyMFAPresent && c.Op.Family() != iampolicy.FamilyBool && c.Op.Family() != iampolicy.FamilyNull {
			l.add(RuleMFAOperator, report.SeverityLow, s, c.Pos,
				fmt.Sprintf("%s uses a %s operator on a boolean key; AWS documents only Bool and Null for aws:MultiFactorAuthPresent, and a long-term key's request has no such key at all.", condText(c), c.Op.Family()), condText(c))
		}
	}
}

// selfService flags MFA denies that also deny the self-service actions.
func (l *linter) selfService(s *iampolicy.Statement) {
	if !mfaDeny(s) {
		return
	}
	// A Deny that binds only long-term keys leaves enrolment to console
	// sessions, and cannot take sts:GetSessionToken away (no policy can):
	// nobody is locked out. One whose conditions skip every request (the
	// other rules say why) is judged as the guard it is meant to be.
	if o, _ := outcomeOf(s); o.longTerm && !o.temp || o.withMFA {
		return
	}
	var denied []string
	for _, a := range selfService {
		if c, known := covers(s, a); !known {
			return
		} else if c {
			denied = append(denied, a)
		}
	}
	if len(denied) == 0 {
		return
	}
	pos := s.Action.Pos
	if s.NotAction.Present {
		pos = s.NotAction.Pos
	}
	l.add(RuleMFASelfServiceDenied, 0, s, pos,
		fmt.Sprintf("A user without MFA is denied %s on their own user/device, so they cannot enrol a device, and without one never get an MFA session.", strings.Join(denied, ", ")),
		strings.Join(denied, ", "))
}

// deviceRemoval flags MFA devices that can be removed without MFA: a
// guard that exempts the removal actions, or an Allow of them that needs no
// MFA with no guard over them.
func (l *linter) deviceRemoval(s *iampolicy.Statement) {
	switch s.Effect {
	case iampolicy.Deny:
		// Judged for every MFA deny, also one whose conditions skip
		// long-term keys (kw-mfa-deny-bool reports that): the exemption
		// is a problem of its own, still there once the condition is fixed.
		if !mfaDeny(s) || !s.NotAction.Present {
			return
		}
		var exempt []string
		for _, a := range deviceRemoval {
			c, known := covers(s, a)
			if !known {
				return
			}
			if !c && !l.guarded(a) {
				exempt = append(exempt, a)
			}
		}
		if len(exempt) > 0 {
			l.add(RuleMFAGuardExemptsRemov, 0, s, s.NotAction.Pos,
				fmt.Sprintf("The NotAction of this MFA deny leaves %s out of it: without MFA they are not denied.", strings.Join(exempt, ", ")),
				strings.Join(exempt, ", "))
		}
	case iampolicy.Allow:
		if !s.Action.Present || isStarGrant(s) {
			return
		}
		if o, ok := outcomeOf(s); ok && !o.longTerm && !o.temp {
			return // needs MFA
		}
		var allowed []string
		for _, a := range deviceRemoval {
			m := false
			for _, p := range s.Action.List {
				if glob(p, a, true) {
					m = true
				}
			}
			if m && !l.guarded(a) {
				allowed = append(allowed, a)
			}
		}
		if len(allowed) > 0 {
			l.add(RuleMFARemovalAllowed, 0, s, s.Action.Pos,
				fmt.Sprintf("This Allow grants %s without requiring MFA, and no MFA deny in the document covers them.", strings.Join(allowed, ", ")),
				strings.Join(allowed, ", "))
		}
	}
}

// keyEnrollment flags an Allow that lets a long-term key enrol an MFA
// device in a document that otherwise requires MFA: the enrolled device is
// the attacker's way past every MFA condition.
func (l *linter) keyEnrollment(s *iampolicy.Statement) {
	const enable = "iam:EnableMFADevice"
	if s.Effect != iampolicy.Allow || len(l.guards) == 0 || isStarGrant(s) {
		return
	}
	if c, known := covers(s, enable); !c || !known {
		return
	}
	if o, ok := outcomeOf(s); ok && !o.longTerm {
		return // this Allow itself needs MFA or a session
	}
	for _, d := range l.p.Statements {
		if d.Effect != iampolicy.Deny {
			continue
		}
		if c, known := covers(d, enable); !c || !known {
			continue
		}
		if len(d.Conditions) == 0 {
			return
		}
		if o, ok := outcomeOf(d); ok && o.longTerm && len(o.conds) == len(d.Conditions) {
			return // denied to long-term keys
		}
	}
	pos := s.Action.Pos
	l.add(RuleMFAKeyEnrollment, 0, s, pos,
		"This Allow grants iam:EnableMFADevice to a request signed with a long-term key, and no Deny in the document refuses it: a leaked key can enrol its holder's own MFA device.", enable)
}
