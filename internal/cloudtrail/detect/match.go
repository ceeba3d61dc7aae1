package detect

import (
	"bytes"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// A matcher decides whether a record satisfies a rule's `match:` block.
// Blocks are compiled once from the rule file into closures over the
// record's fixed fields, so evaluating a rule costs a few string compares;
// fields inside requestParameters/responseElements/additionalEventData are
// read from the raw JSON only when the cheap tests have passed (they are
// evaluated last).
type matcher func(r *cloudtrail.Record) bool

// fieldGetter reads one named field of a record as zero or more values.
type fieldGetter struct {
	name   string
	lazy   bool // inside raw JSON: costly, evaluated last
	scalar func(r *cloudtrail.Record) string
	raw    func(r *cloudtrail.Record) []byte
	path   []string
	// quoted is the path's first key in quotes: JSON without it (and
	// without \u escapes, which could spell it) holds no value there, and
	// a byte search says so faster than the scanner.
	quoted []byte
}

// each calls fn for every value of the field; an absent scalar field
// yields nothing.
func (g *fieldGetter) each(r *cloudtrail.Record, fn func(string) bool) {
	if g.scalar != nil {
		if v := g.scalar(r); v != "" {
			fn(v)
		}
		return
	}
	raw := g.raw(r)
	if g.quoted != nil && !bytes.Contains(raw, g.quoted) && !bytes.Contains(raw, unicodeEscape) {
		return
	}
	cloudtrail.EachValue(raw, g.path, fn)
}

var unicodeEscape = []byte(`\u`)

var scalarFields = map[string]func(r *cloudtrail.Record) string{
	"eventVersion":             func(r *cloudtrail.Record) string { return r.EventVersion },
	"eventSource":              func(r *cloudtrail.Record) string { return r.EventSource },
	"eventName":                func(r *cloudtrail.Record) string { return r.EventName },
	"eventType":                func(r *cloudtrail.Record) string { return r.EventType },
	"eventCategory":            func(r *cloudtrail.Record) string { return r.EventCategory },
	"awsRegion":                func(r *cloudtrail.Record) string { return r.AWSRegion },
	"sourceIPAddress":          func(r *cloudtrail.Record) string { return r.SourceIPAddress },
	"userAgent":                func(r *cloudtrail.Record) string { return r.UserAgent },
	"errorCode":                func(r *cloudtrail.Record) string { return r.ErrorCode },
	"errorMessage":             func(r *cloudtrail.Record) string { return r.ErrorMessage },
	"recipientAccountId":       func(r *cloudtrail.Record) string { return r.RecipientAccount },
	"vpcEndpointId":            func(r *cloudtrail.Record) string { return r.VPCEndpointID },
	"vpcEndpointAccountId":     func(r *cloudtrail.Record) string { return r.VPCEndpointAccount },
	"readOnly":                 func(r *cloudtrail.Record) string { return r.ReadOnly.String() },
	"userIdentity.type":        func(r *cloudtrail.Record) string { return r.UserIdentity.Type },
	"userIdentity.principalId": func(r *cloudtrail.Record) string { return r.UserIdentity.PrincipalID },
	"userIdentity.arn":         func(r *cloudtrail.Record) string { return r.UserIdentity.ARN },
	"userIdentity.accountId":   func(r *cloudtrail.Record) string { return r.UserIdentity.AccountID },
	"userIdentity.accessKeyId": func(r *cloudtrail.Record) string { return r.UserIdentity.AccessKeyID },
	"userIdentity.userName":    func(r *cloudtrail.Record) string { return r.UserIdentity.UserName },
	"userIdentity.invokedBy":   func(r *cloudtrail.Record) string { return r.UserIdentity.InvokedBy },
	"userIdentity.sessionContext.attributes.mfaAuthenticated": func(r *cloudtrail.Record) string {
		return r.UserIdentity.MFAAuthenticated.String()
	},
	"userIdentity.sessionContext.sessionIssuer.type":     func(r *cloudtrail.Record) string { return r.UserIdentity.IssuerType },
	"userIdentity.sessionContext.sessionIssuer.arn":      func(r *cloudtrail.Record) string { return r.UserIdentity.IssuerARN },
	"userIdentity.sessionContext.sessionIssuer.userName": func(r *cloudtrail.Record) string { return r.UserIdentity.IssuerUserName },
	// Derived fields.
	"success": func(r *cloudtrail.Record) string {
		if r.ErrorCode == "" {
			return "true"
		}
		return "false"
	},
	// key.kind: long-term (AKIA), temporary (ASIA) or none.
	"key.kind": func(r *cloudtrail.Record) string {
		id := r.UserIdentity.AccessKeyID
		switch {
		case strings.HasPrefix(id, "AKIA"):
			return "long-term"
		case strings.HasPrefix(id, "ASIA"):
			return "temporary"
		case id == "":
			return "none"
		}
		return "other"
	},
	// source.kind: address (an IP), service (an AWS host name or
	// "AWS Internal") or other.
	"source.kind": func(r *cloudtrail.Record) string {
		if _, ok := r.SourceAddr(); ok {
			return "address"
		}
		s := r.SourceIPAddress
		if s == "AWS Internal" || strings.HasSuffix(s, ".amazonaws.com") {
			return "service"
		}
		return "other"
	},
	// userAgent.tool: the tool of tools.yaml the user agent names.
	"userAgent.tool": func(r *cloudtrail.Record) string { return toolNamed(r.UserAgent) },
	// identity.session: whether the call carried a sessionContext.
	"identity.session": func(r *cloudtrail.Record) string {
		if r.UserIdentity.HasSession {
			return "true"
		}
		return "false"
	},
}

var rawFields = map[string]func(r *cloudtrail.Record) []byte{
	"requestParameters":   func(r *cloudtrail.Record) []byte { return r.RequestParameters },
	"responseElements":    func(r *cloudtrail.Record) []byte { return r.ResponseElements },
	"additionalEventData": func(r *cloudtrail.Record) []byte { return r.AdditionalData },
	"resources":           func(r *cloudtrail.Record) []byte { return r.Resources },
}

// FieldNames lists the fields rules may test, for documentation.
func FieldNames() []string {
	var n []string
	for k := range scalarFields {
		n = append(n, k)
	}
	for k := range rawFields {
		n = append(n, k+".<path>")
	}
	sort.Strings(n)
	return n
}

func getter(name string) (*fieldGetter, error) {
	if f, ok := scalarFields[name]; ok {
		return &fieldGetter{name: name, scalar: f}, nil
	}
	head, rest, _ := strings.Cut(name, ".")
	if f, ok := rawFields[head]; ok {
		var path []string
		if rest != "" {
			path = strings.Split(rest, ".")
		}
		g := &fieldGetter{name: name, lazy: true, raw: f, path: path}
		if len(path) > 0 {
			g.quoted = []byte(`"` + path[0] + `"`)
		}
		return g, nil
	}
	return nil, fmt.Errorf("unknown field %q", name)
}

// compileMatch turns a match block (field -> test, plus any/not) into a
// matcher. It also returns the event names the block requires, when it
// pins eventName, so the engine can index rules by name.
func compileMatch(block map[string]any) (matcher, []string, error) {
	var cheap, costly []matcher
	var names, anyNames []string
	keys := make([]string, 0, len(block))
	for k := range block {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := block[k]
		switch k {
		case "any":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, nil, fmt.Errorf("any: want a list of match blocks")
			}
			var alts []matcher
			var altNames []string
			allPinned := true
			for i, it := range list {
				m, ok := it.(map[string]any)
				if !ok {
					return nil, nil, fmt.Errorf("any[%d]: want a match block", i)
				}
				cm, an, err := compileMatch(m)
				if err != nil {
					return nil, nil, fmt.Errorf("any[%d]: %w", i, err)
				}
				alts = append(alts, cm)
				allPinned = allPinned && len(an) > 0
				altNames = append(altNames, an...)
			}
			if allPinned && names == nil {
				anyNames = altNames
			}
			costly = append(costly, func(r *cloudtrail.Record) bool {
				for _, a := range alts {
					if a(r) {
						return true
					}
				}
				return false
			})
			continue
		case "not":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("not: want a match block")
			}
			cm, _, err := compileMatch(m)
			if err != nil {
				return nil, nil, fmt.Errorf("not: %w", err)
			}
			costly = append(costly, func(r *cloudtrail.Record) bool { return !cm(r) })
			continue
		}
		g, err := getter(k)
		if err != nil {
			return nil, nil, err
		}
		m, err := compileTest(g, v)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", k, err)
		}
		if k == "eventName" {
			names = literalNames(v)
		}
		if g.lazy {
			costly = append(costly, m)
		} else {
			cheap = append(cheap, m)
		}
	}
	if names == nil {
		names = anyNames
	}
	all := append(cheap, costly...)
	return func(r *cloudtrail.Record) bool {
		for _, m := range all {
			if !m(r) {
				return false
			}
		}
		return true
	}, names, nil
}

// literalNames returns the event names a test pins (a string or a list),
// nil when it does not pin them.
func literalNames(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return nil
			}
			out = append(out, s)
		}
		return out
	case map[string]any:
		if len(t) == 1 {
			if in, ok := t["in"]; ok {
				return literalNames(in)
			}
		}
	}
	return nil
}

func toStrings(v any) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case bool:
		return []string{fmt.Sprint(t)}, nil
	case int, int64, float64:
		return []string{fmt.Sprint(t)}, nil
	case []any:
		var out []string
		for _, x := range t {
			s, err := toStrings(x)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %T", v)
}

// compileTest builds the test for one field. A bare value or list means
// equality with any of them; a map names operators, all of which must hold.
func compileTest(g *fieldGetter, v any) (matcher, error) {
	ops, ok := v.(map[string]any)
	if !ok {
		vals, err := toStrings(v)
		if err != nil {
			return nil, err
		}
		return anyValue(g, inSet(vals, false)), nil
	}
	var tests []matcher
	opNames := make([]string, 0, len(ops))
	for k := range ops {
		opNames = append(opNames, k)
	}
	sort.Strings(opNames)
	for _, op := range opNames {
		arg := ops[op]
		var m matcher
		switch op {
		case "in", "equals":
			vals, err := toStrings(arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			m = anyValue(g, inSet(vals, false))
		case "iequals":
			vals, err := toStrings(arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			m = anyValue(g, inSet(vals, true))
		case "not_in":
			vals, err := toStrings(arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			in := anyValue(g, inSet(vals, false))
			m = func(r *cloudtrail.Record) bool { return !in(r) }
		case "prefix", "suffix", "contains", "icontains":
			vals, err := toStrings(arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			m = anyValue(g, stringOp(op, vals))
		case "regex":
			s, ok := arg.(string)
			if !ok {
				return nil, fmt.Errorf("regex: want a string")
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, fmt.Errorf("regex: %w", err)
			}
			m = anyValue(g, re.MatchString)
		case "exists":
			want, ok := arg.(bool)
			if !ok {
				return nil, fmt.Errorf("exists: want true or false")
			}
			m = func(r *cloudtrail.Record) bool {
				found := false
				g.each(r, func(v string) bool { found = v != ""; return !found })
				return found == want
			}
		case "cidr":
			vals, err := toStrings(arg)
			if err != nil {
				return nil, fmt.Errorf("cidr: %w", err)
			}
			var pfx []netip.Prefix
			for _, s := range vals {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return nil, fmt.Errorf("cidr: %w", err)
				}
				pfx = append(pfx, p)
			}
			m = anyValue(g, func(v string) bool {
				a, ok := cloudtrail.ParseAddr(v)
				if !ok {
					return false
				}
				for _, p := range pfx {
					if p.Contains(a) {
						return true
					}
				}
				return false
			})
		case "field", "not_field", "other_account", "grants_outside", "differs_from":
			name, ok := arg.(string)
			if !ok {
				return nil, fmt.Errorf("%s: want a field name", op)
			}
			other, err := getter(name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op, err)
			}
			m = compareFields(op, g, other)
		case "in_list":
			name, ok := arg.(string)
			if !ok {
				return nil, fmt.Errorf("in_list: want a list name")
			}
			pred, err := listContains(name)
			if err != nil {
				return nil, fmt.Errorf("in_list: %w", err)
			}
			m = anyValue(g, pred)
		case "admin_policy":
			want, ok := arg.(bool)
			if !ok {
				return nil, fmt.Errorf("admin_policy: want true or false")
			}
			m = func(r *cloudtrail.Record) bool {
				found := false
				g.each(r, func(v string) bool { found = grantsAdmin(v); return !found })
				return found == want
			}
		default:
			return nil, fmt.Errorf("unknown operator %q", op)
		}
		tests = append(tests, m)
	}
	return func(r *cloudtrail.Record) bool {
		for _, t := range tests {
			if !t(r) {
				return false
			}
		}
		return true
	}, nil
}

// compareFields tests g's values against another field's: equal to one
// (field), to none (not_field), naming another account than its first
// value (other_account), or a policy granting outside it (grants_outside).
// differs_from holds when some value of g is none of the other field's
// values, which must have at least one (an ACL grantee who is not the
// owner).
func compareFields(op string, g, other *fieldGetter) matcher {
	if op == "differs_from" {
		return func(r *cloudtrail.Record) bool {
			var others []string
			other.each(r, func(v string) bool { others = append(others, v); return len(others) < 64 })
			if len(others) == 0 {
				return false
			}
			hit := false
			g.each(r, func(v string) bool {
				hit = v != "" && !slices.Contains(others, v)
				return !hit
			})
			return hit
		}
	}
	pair := func(v, w string) bool { return v == w }
	switch op {
	case "other_account":
		pair = otherAccount
	case "grants_outside":
		pair = grantsOutside
	}
	want := op != "not_field"
	return func(r *cloudtrail.Record) bool {
		var others []string
		other.each(r, func(v string) bool { others = append(others, v); return op == "field" || op == "not_field" })
		if len(others) == 0 && op != "field" && op != "not_field" {
			others = []string{""}
		}
		hit := false
		g.each(r, func(v string) bool {
			for _, w := range others {
				if pair(v, w) {
					hit = true
					return false
				}
			}
			return true
		})
		return hit == want
	}
}

func anyValue(g *fieldGetter, pred func(string) bool) matcher {
	if g.scalar != nil {
		f := g.scalar
		return func(r *cloudtrail.Record) bool {
			v := f(r)
			return v != "" && pred(v)
		}
	}
	return func(r *cloudtrail.Record) bool {
		hit := false
		g.each(r, func(v string) bool { hit = pred(v); return !hit })
		return hit
	}
}

func inSet(vals []string, fold bool) func(string) bool {
	if len(vals) == 1 && !fold {
		w := vals[0]
		return func(v string) bool { return v == w }
	}
	set := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		if fold {
			v = strings.ToLower(v)
		}
		set[v] = struct{}{}
	}
	return func(v string) bool {
		if fold {
			v = strings.ToLower(v)
		}
		_, ok := set[v]
		return ok
	}
}

func stringOp(op string, vals []string) func(string) bool {
	if op == "icontains" {
		for i := range vals {
			vals[i] = strings.ToLower(vals[i])
		}
	}
	if op == "icontains" {
		needles := make([][]byte, len(vals))
		for i, w := range vals {
			needles[i] = []byte(w)
		}
		// Results are cached per value: it runs on every event's user
		// agent, and a trail holds few distinct agents. The cache is
		// bounded; past it values are simply recomputed.
		var cache sync.Map
		var cached atomic.Int64
		search := func(v string) bool {
			var buf [512]byte
			l := buf[:0]
			if len(v) > len(buf) {
				l = make([]byte, 0, len(v))
			}
			for i := 0; i < len(v); i++ {
				c := v[i]
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				l = append(l, c)
			}
			for _, w := range needles {
				if bytes.Contains(l, w) {
					return true
				}
			}
			return false
		}
		return func(v string) bool {
			if hit, ok := cache.Load(v); ok {
				return hit.(bool)
			}
			hit := search(v)
			if cached.Add(1) <= 4096 {
				cache.Store(strings.Clone(v), hit)
			}
			return hit
		}
	}
	return func(v string) bool {
		for _, w := range vals {
			switch op {
			case "prefix":
				if strings.HasPrefix(v, w) {
					return true
				}
			case "suffix":
				if strings.HasSuffix(v, w) {
					return true
				}
			default:
				if strings.Contains(v, w) {
					return true
				}
			}
		}
		return false
	}
}

// parseLoggedPolicy reads a policy document as CloudTrail logs it: a JSON
// object, a JSON string, sometimes URL-encoded.
func parseLoggedPolicy(doc string) (*iampolicy.Policy, error) {
	if strings.HasPrefix(doc, "%7B") || strings.HasPrefix(doc, "%7b") {
		if d, err := url.PathUnescape(doc); err == nil {
			doc = d
		}
	}
	return iampolicy.Parse("policy", []byte(doc))
}

// grantsAdmin reports whether a policy document (as CloudTrail logs it: a
// JSON string, sometimes URL-encoded) allows every action on every
// resource.
func grantsAdmin(doc string) bool {
	p, err := parseLoggedPolicy(doc)
	if err != nil {
		return false
	}
	for _, st := range p.Statements {
		if st.Effect != iampolicy.Allow || st.NotAction.Present || st.NotResource.Present {
			continue
		}
		star := func(vs []string, full ...string) bool {
			for _, v := range vs {
				if v == "*" {
					return true
				}
				for _, f := range full {
					if strings.EqualFold(v, f) {
						return true
					}
				}
			}
			return false
		}
		if star(st.Action.List, "*:*", "iam:*") && star(st.Resource.List) {
			return true
		}
	}
	return false
}
