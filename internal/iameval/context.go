package iameval

import (
	"sort"
	"strings"
)

// tri is a three-valued truth: the exposure API asks questions whose
// answer may hinge on a key nobody can know in advance.
type tri uint8

const (
	no tri = iota
	maybe
	yes
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

func (t tri) not() tri { return 2 - t }

func and(a, b tri) tri { return min(a, b) }
func or(a, b tri) tri  { return max(a, b) }

func (t tri) String() string {
	return [...]string{"no", "maybe", "yes"}[t]
}

// Context is a request context: condition keys and their values. Key
// names are case-insensitive, as in AWS; values are kept as given.
//
// A key that was not set is absent, and a condition on it is evaluated by
// AWS's rule for missing keys. It is never assumed to be present.
type Context struct {
	m map[string]*entry
	// open: keys not set are unknown (may be absent, may hold any value).
	// Only the exposure API builds open contexts.
	open bool
	// closedPrefixes are key prefixes (lower-case) fully known even in an
	// open context: aws:principaltag/ when the principal's tags are known.
	closedPrefixes []string
}

type entryState uint8

const (
	ePresent      entryState = iota // known values
	eUnknownValue                   // present, value unknown
	eAbsent                         // known to be absent
	eMaybe                          // may be absent, value unknown
)

type entry struct {
	name  string
	vals  []string
	multi bool
	state entryState
	ips   *ipSet // eUnknownValue address keys: the possible addresses
}

// NewContext returns an empty request context.
func NewContext() *Context { return &Context{m: map[string]*entry{}} }

// Set gives key a single value, or several (a multi-valued key such as
// aws:TagKeys) when more than one is passed.
func (c *Context) Set(key string, values ...string) {
	c.put(key, &entry{name: key, vals: values, multi: len(values) > 1})
}

// SetMulti gives key a list of values even if the list has one element or
// none: a multi-valued key.
func (c *Context) SetMulti(key string, values ...string) {
	c.put(key, &entry{name: key, vals: values, multi: true})
}

// Add appends a value to key, making it multi-valued when it has several.
func (c *Context) Add(key, value string) {
	if e, ok := c.m[strings.ToLower(key)]; ok && e.state == ePresent {
		e.vals = append(e.vals, value)
		e.multi = len(e.vals) > 1
		return
	}
	c.Set(key, value)
}

func (c *Context) put(key string, e *entry) {
	if c.m == nil {
		c.m = map[string]*entry{}
	}
	c.m[strings.ToLower(key)] = e
}

// Get returns key's values and whether it is present.
func (c *Context) Get(key string) ([]string, bool) {
	if c == nil {
		return nil, false
	}
	e, ok := c.m[strings.ToLower(key)]
	if !ok || e.state != ePresent {
		return nil, false
	}
	return e.vals, true
}

// Keys returns the keys set, as written, sorted.
func (c *Context) Keys() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.m))
	for _, e := range c.m {
		out = append(out, e.name)
	}
	sort.Strings(out)
	return out
}

// Clone returns a copy that can be changed independently.
func (c *Context) Clone() *Context {
	n := &Context{m: make(map[string]*entry, len(c.m)+4), open: c.open, closedPrefixes: c.closedPrefixes}
	for k, e := range c.m {
		cp := *e
		n.m[k] = &cp
	}
	return n
}

// lookup finds a lower-cased key.
func (c *Context) lookup(lk string) *entry {
	if c == nil {
		return &absentEntry
	}
	if e, ok := c.m[lk]; ok && c.m != nil {
		return e
	}
	if !c.open {
		return &absentEntry
	}
	for _, p := range c.closedPrefixes {
		if strings.HasPrefix(lk, p) {
			return &absentEntry
		}
	}
	return &maybeEntry
}

var (
	absentEntry = entry{state: eAbsent}
	maybeEntry  = entry{state: eMaybe}
)

// setState marks a key known-absent, present with an unknown value, or
// unknown (exposure contexts).
func (c *Context) setState(key string, st entryState) {
	c.put(key, &entry{name: key, state: st})
}

// Request is one API call to evaluate.
type Request struct {
	// Action is "service:Name", e.g. "s3:GetObject" (case-insensitive).
	Action string
	// Resource is the ARN acted on, or "*" for actions that take none.
	Resource string
	// Principal is the caller: an IAM user, role, assumed-role session,
	// federated user or root ARN; a service principal such as
	// "cloudtrail.amazonaws.com"; or "*" / "anonymous".
	Principal string
	// ResourceAccount owns the resource. Empty: the account in the
	// resource ARN, or else the principal's own account.
	ResourceAccount string
	// Context holds the condition keys of the request. aws:PrincipalArn,
	// aws:PrincipalAccount, aws:PrincipalType and (for IAM users)
	// aws:username are derived from Principal unless set.
	Context *Context
}
