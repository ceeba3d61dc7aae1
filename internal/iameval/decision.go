// Package iameval evaluates AWS requests against IAM policies the way AWS
// documents it: an explicit Deny in any policy wins; otherwise every layer
// that applies (service and resource control policies at each level of the
// organisation, the resource-based policy, identity policies, the
// permissions boundary, the session policy and the VPC endpoint policy)
// must allow, with the documented exceptions for resource-based policies
// in the same account.
//
// Policies are compiled once (actions lower-cased, wildcard patterns split,
// CIDRs, dates and numbers parsed) so that an audit can ask millions of
// questions cheaply. A context key absent from a request is absent: it is
// never guessed to be present. The exposure API (Compile, Exposure) goes
// further and reasons about keys the caller cannot know, answering
// "depends" rather than guessing.
package iameval

// Decision is the outcome of evaluating one request.
type Decision uint8

// The three outcomes AWS documents.
const (
	// ImplicitlyDenied: nothing denied the request, but some layer that
	// must allow it did not.
	ImplicitlyDenied Decision = iota
	// Allowed: no explicit deny, and every layer allowed.
	Allowed
	// ExplicitlyDenied: a Deny statement in some policy matched.
	ExplicitlyDenied
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allowed"
	case ExplicitlyDenied:
		return "ExplicitlyDenied"
	default:
		return "ImplicitlyDenied"
	}
}

// MarshalText implements encoding.TextMarshaler.
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// StatementRef names one statement of one policy.
type StatementRef struct {
	// Policy is the policy's File (a path, an ARN, or "user/alice/inline/Name").
	Policy string `json:"policy"`
	// Index is the statement's 0-based position in the policy.
	Index int    `json:"index"`
	Sid   string `json:"sid,omitempty"`
	// Layer is the evaluation layer the policy sat in (identity, boundary,
	// scp[0], ...); empty in the exposure API, where it is implied.
	Layer string `json:"layer,omitempty"`
}

// String renders "policy.json Statement[2] (Sid DenyNoMFA)".
func (r StatementRef) String() string {
	s := r.Policy + " Statement[" + itoa(r.Index) + "]"
	if r.Sid != "" {
		s += " (Sid " + r.Sid + ")"
	}
	return s
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}
