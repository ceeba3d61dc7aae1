package iampolicy

import (
	"fmt"
	"strings"
	"sync"
)

// Operator is a parsed condition operator: an optional set qualifier, the
// base operator and the IfExists suffix.
type Operator struct {
	// Set is "", "ForAnyValue" or "ForAllValues".
	Set string
	// Base is the canonical operator name without qualifier or IfExists,
	// e.g. "StringLike".
	Base     string
	IfExists bool
}

func (o Operator) String() string {
	s := o.Base
	if o.IfExists {
		s += "IfExists"
	}
	if o.Set != "" {
		s = o.Set + ":" + s
	}
	return s
}

// Family is the kind of comparison an operator makes.
type Family string

// Operator families.
const (
	FamilyString  Family = "String"
	FamilyNumeric Family = "Numeric"
	FamilyDate    Family = "Date"
	FamilyBool    Family = "Bool"
	FamilyBinary  Family = "Binary"
	FamilyIP      Family = "IpAddress"
	FamilyARN     Family = "Arn"
	FamilyNull    Family = "Null"
)

// operators lists every base operator AWS defines, with its family and
// whether it is negated (true when none of the values may match).
var operators = map[string]struct {
	family  Family
	negated bool
}{
	"StringEquals":              {FamilyString, false},
	"StringNotEquals":           {FamilyString, true},
	"StringEqualsIgnoreCase":    {FamilyString, false},
	"StringNotEqualsIgnoreCase": {FamilyString, true},
	"StringLike":                {FamilyString, false},
	"StringNotLike":             {FamilyString, true},
	"NumericEquals":             {FamilyNumeric, false},
	"NumericNotEquals":          {FamilyNumeric, true},
	"NumericLessThan":           {FamilyNumeric, false},
	"NumericLessThanEquals":     {FamilyNumeric, false},
	"NumericGreaterThan":        {FamilyNumeric, false},
	"NumericGreaterThanEquals":  {FamilyNumeric, false},
	"DateEquals":                {FamilyDate, false},
	"DateNotEquals":             {FamilyDate, true},
	"DateLessThan":              {FamilyDate, false},
	"DateLessThanEquals":        {FamilyDate, false},
	"DateGreaterThan":           {FamilyDate, false},
	"DateGreaterThanEquals":     {FamilyDate, false},
	"Bool":                      {FamilyBool, false},
	"BinaryEquals":              {FamilyBinary, false},
	"IpAddress":                 {FamilyIP, false},
	"NotIpAddress":              {FamilyIP, true},
	"ArnEquals":                 {FamilyARN, false},
	"ArnLike":                   {FamilyARN, false},
	"ArnNotEquals":              {FamilyARN, true},
	"ArnNotLike":                {FamilyARN, true},
	"Null":                      {FamilyNull, false},
}

// canonical maps lower-cased operator names to their canonical spelling.
// IAM itself rejects any other spelling; ParseOperator accepts it so that a
// policy with a miscased operator can still be evaluated and the miscasing
// reported (FromNode records it as a Problem).
var canonical = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(operators))
	for k := range operators {
		m[strings.ToLower(k)] = k
	}
	return m
})

// ParseOperator reads an operator name such as
// "ForAllValues:StringNotLikeIfExists".
func ParseOperator(s string) (Operator, error) {
	var o Operator
	rest := s
	if i := strings.IndexByte(s, ':'); i >= 0 {
		switch strings.ToLower(s[:i]) {
		case "foranyvalue":
			o.Set = "ForAnyValue"
		case "forallvalues":
			o.Set = "ForAllValues"
		default:
			return o, fmt.Errorf("unknown set operator %q in condition operator %q (want ForAnyValue or ForAllValues)", s[:i], s)
		}
		rest = s[i+1:]
	}
	l := strings.ToLower(rest)
	if strings.HasSuffix(l, "ifexists") {
		o.IfExists = true
		l = strings.TrimSuffix(l, "ifexists")
	}
	base, ok := canonical()[l]
	if !ok {
		return o, fmt.Errorf("unknown condition operator %q", s)
	}
	o.Base = base
	if base == "Null" && (o.IfExists || o.Set != "") {
		return o, fmt.Errorf("condition operator %q: Null takes neither IfExists nor a set qualifier", s)
	}
	return o, nil
}

// Family returns the operator's family.
func (o Operator) Family() Family { return operators[o.Base].family }

// Negated reports whether the operator is a "Not" form, for which a request
// matches only when none of the policy's values match.
func (o Operator) Negated() bool { return operators[o.Base].negated }

// Operators lists the base operator names, for help and fuzzing.
func Operators() []string {
	out := make([]string, 0, len(operators))
	for k := range operators {
		out = append(out, k)
	}
	return out
}
