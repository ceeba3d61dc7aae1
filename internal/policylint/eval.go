package policylint

import (
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// The MFA rules decide what a statement does by evaluating its MFA
// conditions the way AWS does, in the three kinds of request that matter:
// one signed with a long-term key (no MFA keys at all), a temporary session
// made without MFA (aws:MultiFactorAuthPresent "false", no age) and a fresh
// MFA session. Other condition keys are left out: they are assumed to
// match, since the question is only what the MFA conditions let through.

const (
	keyMFAPresent = "aws:multifactorauthpresent"
	keyMFAAge     = "aws:multifactorauthage"
)

type requestCtx struct {
	name string
	keys map[string]string // lower-cased key -> value; missing = absent
}

var (
	ctxLongTerm  = requestCtx{"long-term key", map[string]string{}}
	ctxTempNoMFA = requestCtx{"temporary session without MFA", map[string]string{keyMFAPresent: "false"}}
	ctxMFA       = requestCtx{"MFA session", map[string]string{keyMFAPresent: "true", keyMFAAge: "0"}}
)

func isMFAKey(k string) bool {
	k = strings.ToLower(k)
	return k == keyMFAPresent || k == keyMFAAge
}

// positive maps a negated operator to the one it negates.
var positive = map[string]string{
	"StringNotEquals":           "StringEquals",
	"StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
	"StringNotLike":             "StringLike",
	"NumericNotEquals":          "NumericEquals",
	"DateNotEquals":             "DateEquals",
	"NotIpAddress":              "IpAddress",
	"ArnNotEquals":              "ArnEquals",
	"ArnNotLike":                "ArnLike",
}

// holds evaluates one condition in a request context. Keys and boolean
// values compare case-insensitively, as AWS does.
func holds(c iampolicy.Condition, x requestCtx) bool {
	v, present := x.keys[strings.ToLower(c.Key)]
	op := c.Op
	if op.Base == "Null" {
		for _, pv := range c.Values {
			switch strings.ToLower(pv.S) {
			case "true":
				if !present {
					return true
				}
			case "false":
				if present {
					return true
				}
			}
		}
		return false
	}
	if !present {
		switch {
		case op.IfExists:
			return true
		case op.Set == "ForAllValues":
			return true
		case op.Set == "ForAnyValue":
			return false
		}
		// A negated operator matches when the key is absent.
		return op.Negated()
	}
	base := op.Base
	if p, ok := positive[base]; ok {
		base = p
	}
	match := false
	for _, pv := range c.Values {
		if compare(base, v, pv.S) {
			match = true
			break
		}
	}
	if op.Negated() {
		return !match
	}
	return match
}

func compare(base, req, pol string) bool {
	switch base {
	case "StringEquals":
		return req == pol
	case "StringEqualsIgnoreCase":
		return strings.EqualFold(req, pol)
	case "StringLike":
		return glob(pol, req, false)
	case "Bool":
		return isBool(pol) && strings.EqualFold(req, pol)
	case "NumericEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
		a, err1 := strconv.ParseFloat(req, 64)
		b, err2 := strconv.ParseFloat(pol, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		switch base {
		case "NumericEquals":
			return a == b
		case "NumericLessThan":
			return a < b
		case "NumericLessThanEquals":
			return a <= b
		case "NumericGreaterThan":
			return a > b
		default:
			return a >= b
		}
	}
	return false
}

func isBool(s string) bool {
	l := strings.ToLower(s)
	return l == "true" || l == "false"
}

// mfaConds returns the statement's conditions on MFA keys, and false when
// they cannot be judged (an unknown operator, a value from a Terraform
// expression).
func mfaConds(s *iampolicy.Statement) ([]iampolicy.Condition, bool) {
	var out []iampolicy.Condition
	for _, c := range s.Conditions {
		if !isMFAKey(c.Key) {
			continue
		}
		if !c.OpKnown {
			return nil, false
		}
		for _, v := range c.Values {
			if unresolved(v.S) {
				return nil, false
			}
		}
		out = append(out, c)
	}
	return out, true
}

// applies reports whether all the MFA conditions hold in x.
func applies(cs []iampolicy.Condition, x requestCtx) bool {
	for _, c := range cs {
		if !holds(c, x) {
			return false
		}
	}
	return true
}

// glob matches s against a pattern with * and ?. fold makes it
// case-insensitive for ASCII (action names), without allocating.
func glob(pattern, s string, fold bool) bool {
	eq := func(a, b byte) bool {
		if a == b {
			return true
		}
		if !fold {
			return false
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	// Iterative matcher with backtracking on the last star: never
	// recursive, so hostile patterns cannot blow the stack.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || eq(pattern[p], s[i])):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// probeUser stands for the caller when matching resources that use
// ${aws:username}.
const probeUser = "kw-probe-user"

// resourceFor is the resource an action is evaluated against: the caller's
// own user or MFA device, or "*" for actions without a resource.
func resourceFor(action string) string {
	switch strings.ToLower(action) {
	case "iam:createvirtualmfadevice", "iam:deletevirtualmfadevice":
		return "arn:aws:iam::111122223333:mfa/" + probeUser
	case "sts:getsessiontoken", "iam:listvirtualmfadevices":
		return "*"
	}
	if svc := iampolicy.ServiceOf(action); svc != "iam" {
		return "arn:aws:" + svc + ":us-east-1:111122223333:kw-probe"
	}
	return "arn:aws:iam::111122223333:user/" + probeUser
}

// broadProbes are ordinary actions a guard is meant to cover; a Deny that
// covers none of them is a targeted statement, not an MFA guard.
var broadProbes = []string{"ec2:RunInstances", "s3:GetObject", "iam:CreateAccessKey", "sts:AssumeRole", "lambda:InvokeFunction"}

// broad reports whether s covers ordinary actions (when it cannot tell, it
// says yes, the safer assumption for the findings that depend on it).
func broad(s *iampolicy.Statement) bool {
	for _, a := range broadProbes {
		if c, known := covers(s, a); c || !known {
			return true
		}
	}
	return false
}

func matchResource(pattern, res string) bool {
	if res == "*" {
		return pattern == "*"
	}
	pattern = strings.ReplaceAll(pattern, "${aws:username}", probeUser)
	return glob(pattern, res, false)
}

// covers reports whether statement s applies to action on its usual
// resource, ignoring conditions. ok is false when it cannot tell (values
// from Terraform expressions).
func covers(s *iampolicy.Statement, action string) (bool, bool) {
	for _, vs := range [][]string{s.Action.List, s.NotAction.List, s.Resource.List, s.NotResource.List} {
		for _, v := range vs {
			if unresolved(v) {
				return false, false
			}
		}
	}
	anyMatch := func(list []string, f func(string) bool) bool {
		for _, x := range list {
			if f(x) {
				return true
			}
		}
		return false
	}
	actMatch := func(p string) bool { return glob(p, action, true) }
	switch {
	case s.Action.Present && !anyMatch(s.Action.List, actMatch):
		return false, true
	case s.NotAction.Present && anyMatch(s.NotAction.List, actMatch):
		return false, true
	}
	res := resourceFor(action)
	resMatch := func(p string) bool { return matchResource(p, res) }
	switch {
	case s.Resource.Present && !anyMatch(s.Resource.List, resMatch):
		return false, true
	case s.NotResource.Present && anyMatch(s.NotResource.List, resMatch):
		return false, true
	}
	return true, true
}
