package iameval

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// eval applies one condition (one operator and key, several values) to the
// request. The rules, from AWS's documentation:
//   - several values for a key: the condition matches if any matches; for
//     a negated operator (StringNotEquals, NotIpAddress, ...) it matches
//     only if none does;
//   - a key missing from the request: false, except for negated
//     operators (true), IfExists forms (true), ForAllValues (true) and
//     ForAnyValue (false); Null tests presence itself;
//   - ForAllValues: every request value must match; ForAnyValue: at least
//     one. A plain operator on a multi-valued key matches if any pair of
//     values matches (negated: if none does).
func (c *ccond) eval(r *evalState) tri {
	if !c.known || len(c.vals) == 0 {
		return no
	}
	e := r.lookup(c.key)
	if c.fam == iampolicy.FamilyNull {
		return c.evalNull(e, r)
	}
	present := e.state == ePresent && len(e.vals) > 0
	switch {
	case present:
		return c.evalValues(e.vals, r)
	case e.state == eAbsent || (e.state == ePresent && len(e.vals) == 0):
		if r.explain {
			r.noteMissing(c.src.Key)
		}
		return c.missing()
	case e.state == eUnknownValue:
		if e.ips != nil && c.fam == iampolicy.FamilyIP {
			t := c.evalIPSet(e.ips)
			if t == maybe {
				r.depend(c.key)
			}
			return t
		}
		r.depend(c.key)
		return maybe
	default: // eMaybe: absent, or present with some value
		r.depend(c.key)
		return maybe
	}
}

// missing is the result for a key absent from the request.
func (c *ccond) missing() tri {
	switch {
	case c.op.IfExists:
		return yes
	case c.op.Set == "ForAllValues":
		return yes
	case c.op.Set == "ForAnyValue":
		return no
	case c.neg:
		return yes
	}
	return no
}

func (c *ccond) evalNull(e *entry, r *evalState) tri {
	var absent tri
	switch e.state {
	case ePresent:
		absent = triOf(len(e.vals) == 0)
	case eUnknownValue:
		absent = no
	case eAbsent:
		absent = yes
		if r.explain {
			r.noteMissing(c.src.Key)
		}
	default:
		r.depend(c.key)
		return maybe
	}
	res := no
	for _, v := range c.vals {
		if !v.ok {
			continue
		}
		if v.b {
			res = or(res, absent)
		} else {
			res = or(res, absent.not())
		}
	}
	return res
}

func (c *ccond) evalValues(vals []string, r *evalState) tri {
	switch c.op.Set {
	case "ForAllValues":
		acc := yes
		for _, v := range vals {
			m := c.anyMatch(v, r)
			if c.neg {
				m = m.not()
			}
			if acc = and(acc, m); acc == no {
				break
			}
		}
		return acc
	case "ForAnyValue":
		acc := no
		for _, v := range vals {
			m := c.anyMatch(v, r)
			if c.neg {
				m = m.not()
			}
			if acc = or(acc, m); acc == yes {
				break
			}
		}
		return acc
	}
	acc := no
	for _, v := range vals {
		if acc = or(acc, c.anyMatch(v, r)); acc == yes {
			break
		}
	}
	if c.neg {
		return acc.not()
	}
	return acc
}

// anyMatch reports whether request value v matches any policy value under
// the operator's positive form (StringNotEquals compares for equality).
func (c *ccond) anyMatch(v string, r *evalState) tri {
	res := no
	switch c.fam {
	case iampolicy.FamilyString:
		for i := range c.vals {
			res = or(res, c.matchString(v, &c.vals[i], r))
			if res == yes {
				break
			}
		}
	case iampolicy.FamilyARN:
		if strings.Count(v, ":") < 5 {
			return no
		}
		for i := range c.vals {
			res = or(res, c.vals[i].g.match(v, r))
			if res == yes {
				break
			}
		}
	case iampolicy.FamilyNumeric:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return no
		}
		for i := range c.vals {
			if c.vals[i].ok && compare(c.cmp, f, c.vals[i].num) {
				return yes
			}
		}
	case iampolicy.FamilyDate:
		t, ok := parseDate(v)
		if !ok {
			return no
		}
		for i := range c.vals {
			if c.vals[i].ok && compare(c.cmp, t, c.vals[i].t) {
				return yes
			}
		}
	case iampolicy.FamilyBool:
		var b bool
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			b = true
		case "false":
		default:
			return no
		}
		for i := range c.vals {
			if c.vals[i].ok && c.vals[i].b == b {
				return yes
			}
		}
	case iampolicy.FamilyBinary:
		bv, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			bv = []byte(v)
		}
		for i := range c.vals {
			if c.vals[i].ok && string(c.vals[i].bin) == string(bv) {
				return yes
			}
		}
	case iampolicy.FamilyIP:
		a, ok := parseAddr(v)
		if !ok {
			return no
		}
		for i := range c.vals {
			if c.vals[i].ok && c.vals[i].pfx.Contains(a) {
				return yes
			}
		}
	}
	return res
}

func parseAddr(v string) (netip.Addr, bool) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

func (c *ccond) matchString(v string, pv *cval, r *evalState) tri {
	switch c.op.Base {
	case "StringLike", "StringNotLike":
		return pv.g.match(v, r)
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		if pv.g.kind != gVars {
			return triOf(strings.EqualFold(v, pv.raw))
		}
		s, t := pv.g.text(r)
		if t != yes {
			return t
		}
		return triOf(strings.EqualFold(v, s))
	default:
		if pv.g.kind != gVars {
			return triOf(v == pv.raw)
		}
		s, t := pv.g.text(r)
		if t != yes {
			return t
		}
		return triOf(v == s)
	}
}

// cmpOp is the comparison of a Numeric or Date operator.
type cmpOp uint8

const (
	cmpEq cmpOp = iota // Equals and NotEquals (the negation is applied later)
	cmpLT
	cmpLE
	cmpGT
	cmpGE
)

// cmpOf reads the comparison from an operator name without its family
// prefix ("LessThanEquals").
func cmpOf(rest string) cmpOp {
	switch rest {
	case "LessThan":
		return cmpLT
	case "LessThanEquals":
		return cmpLE
	case "GreaterThan":
		return cmpGT
	case "GreaterThanEquals":
		return cmpGE
	}
	return cmpEq
}

func compare[T int64 | float64](op cmpOp, a, b T) bool {
	switch op {
	case cmpLT:
		return a < b
	case cmpLE:
		return a <= b
	case cmpGT:
		return a > b
	case cmpGE:
		return a >= b
	}
	return a == b
}

// evalIPSet decides an address condition when the request's address is
// only known to lie in a set (the exposure scenarios).
func (c *ccond) evalIPSet(s *ipSet) tri {
	p := c.ipset
	var t tri
	switch {
	case s.subsetOf(p):
		t = yes
	case !s.intersects(p):
		t = no
	default:
		t = maybe
	}
	if c.neg {
		t = t.not()
	}
	return t
}
