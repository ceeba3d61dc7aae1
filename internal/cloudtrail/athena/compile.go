// Package athena runs keywarden's detection rules on Amazon Athena, over
// the CloudTrail table AWS documents (partition-projected over
// AWSLogs/<account>/CloudTrail/<region>/<date>).
//
// SQL is a sound prefilter and Go is the judge: each rule family becomes
// one query that returns every row that might matter to its rules (never
// fewer), the rows are turned back into CloudTrail records, and the same
// engine as the local reader (package detect) decides. Findings are
// therefore the local engine's by construction, provided the prefilter is
// never narrower than the Go matcher; the DuckDB test holds every rule of
// rules.yaml to that.
//
// A match block compiles to two SQL conditions: Sup, true for every row
// the Go matcher accepts (maybe more), and Sub, true only for rows it
// accepts (maybe fewer). `not` swaps them. A test that SQL cannot decide
// exactly (a CIDR, a policy document, an ARN's account, a JSON path that
// may cross an array) widens to TRUE in Sup and FALSE in Sub; every such
// widening is listed (Plan.Widened) so the command can say it.
//
// compile.go does no I/O.
package athena

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// cond is a pair of SQL conditions bracketing the Go matcher.
type cond struct{ sup, sub string }

var (
	condTrue  = cond{"TRUE", "TRUE"}
	condFalse = cond{"FALSE", "FALSE"}
)

// Widening is a test the SQL prefilter cannot decide exactly: rows it
// might accept are all fetched, and Go decides.
type Widening struct {
	Rule   string `json:"rule"`
	Field  string `json:"field"`
	Op     string `json:"op"`
	Reason string `json:"reason"`
}

func (w Widening) String() string {
	return fmt.Sprintf("%s: %s %s: %s", w.Rule, w.Field, w.Op, w.Reason)
}

// value is how SQL reads one rule field: expr is its text (never NULL
// where known holds), known says when expr is exactly the field's single
// value (empty: always), present is the Go "has a value" test.
type value struct {
	expr    string
	known   string
	present string
	// why is set when the field can never be read exactly.
	why string
}

// str quotes a SQL string literal.
func str(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func col(c string) string { return "COALESCE(" + c + ", '')" }

// boolCol reads a CloudTrail boolean as the Go decoder does (true, True,
// TRUE, false...; anything else is unset).
func boolCol(c string) string {
	return "(CASE WHEN " + c + " IN ('true', 'True', 'TRUE') THEN 'true' WHEN " + c + " IN ('false', 'False', 'FALSE') THEN 'false' ELSE '' END)"
}

// scalarColumns maps the record's fields to the table's columns.
var scalarColumns = map[string]string{
	"eventVersion":             col("eventversion"),
	"eventSource":              col("eventsource"),
	"eventName":                col("eventname"),
	"eventType":                col("eventtype"),
	"eventCategory":            col("eventcategory"),
	"awsRegion":                col("awsregion"),
	"sourceIPAddress":          col("sourceipaddress"),
	"userAgent":                col("useragent"),
	"errorCode":                col("errorcode"),
	"errorMessage":             col("errormessage"),
	"recipientAccountId":       col("recipientaccountid"),
	"vpcEndpointId":            col("vpcendpointid"),
	"readOnly":                 boolCol("readonly"),
	"userIdentity.type":        col("useridentity.type"),
	"userIdentity.principalId": col("useridentity.principalid"),
	"userIdentity.arn":         col("useridentity.arn"),
	"userIdentity.accountId":   col("useridentity.accountid"),
	"userIdentity.accessKeyId": col("useridentity.accesskeyid"),
	"userIdentity.userName":    col("useridentity.username"),
	"userIdentity.invokedBy":   col("useridentity.invokedby"),
	"userIdentity.sessionContext.attributes.mfaAuthenticated": boolCol("useridentity.sessioncontext.attributes.mfaauthenticated"),
	"userIdentity.sessionContext.sessionIssuer.type":          col("useridentity.sessioncontext.sessionissuer.type"),
	"userIdentity.sessionContext.sessionIssuer.arn":           col("useridentity.sessioncontext.sessionissuer.arn"),
	"userIdentity.sessionContext.sessionIssuer.userName":      col("useridentity.sessioncontext.sessionissuer.username"),
	"success":          "(CASE WHEN " + col("errorcode") + " = '' THEN 'true' ELSE 'false' END)",
	"key.kind":         "(CASE WHEN starts_with(" + col("useridentity.accesskeyid") + ", 'AKIA') THEN 'long-term' WHEN starts_with(" + col("useridentity.accesskeyid") + ", 'ASIA') THEN 'temporary' WHEN " + col("useridentity.accesskeyid") + " = '' THEN 'none' ELSE 'other' END)",
	"identity.session": "(CASE WHEN useridentity.sessioncontext IS NULL THEN 'false' ELSE 'true' END)",
}

// rawColumns are the JSON text columns rules look inside.
var rawColumns = map[string]string{
	"requestParameters":   "requestparameters",
	"responseElements":    "responseelements",
	"additionalEventData": "additionaleventdata",
}

var pathSegment = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*$`)

func fieldValue(sch *Schema, name string) (value, error) {
	if e, why, ok := sch.field(name); ok {
		if why != "" {
			return value{why: why}, nil
		}
		return value{expr: e, present: e + " <> ''"}, nil
	}
	if name == "source.kind" {
		// SQL cannot parse an IP address the way Go does; it can tell the
		// AWS service callers, which are neither.
		s := col("sourceipaddress")
		return value{expr: "'service'", known: "(" + s + " = 'AWS Internal' OR " + s + " LIKE '%.amazonaws.com')", present: "TRUE"}, nil
	}
	if e, ok := scalarColumns[name]; ok {
		return value{expr: e, present: e + " <> ''"}, nil
	}
	head, rest, _ := strings.Cut(name, ".")
	c, ok := rawColumns[head]
	if !ok {
		return value{}, fmt.Errorf("unknown field %q", name)
	}
	if rest == "" {
		return value{why: "the whole JSON document is not a scalar"}, nil
	}
	segs := strings.Split(rest, ".")
	for _, s := range segs {
		if !pathSegment().MatchString(s) {
			return value{why: fmt.Sprintf("path segment %q is not a plain JSON key", s)}, nil
		}
	}
	// json_extract_scalar is NULL when the path crosses an array or ends
	// on an object: then Go (which searches arrays) may see values SQL
	// does not, and the test is unknown.
	doc, root := sch.document(head, c)
	e := "json_extract_scalar(" + doc + ", " + str(root+rest) + ")"
	return value{expr: e, known: e + " IS NOT NULL", present: "TRUE"}, nil
}

// compiler collects widenings while compiling one rule.
type compiler struct {
	schema  *Schema
	rule    string
	widened []Widening
}

func (c *compiler) widen(field, op, why string) cond {
	c.widened = append(c.widened, Widening{Rule: c.rule, Field: field, Op: op, Reason: why})
	return cond{"TRUE", "FALSE"}
}

func and(cs []cond) cond { return join(cs, " AND ", condTrue) }

func or(cs []cond) cond { return join(cs, " OR ", condFalse) }

// join combines conditions with a SQL operator; none gives empty.
func join(cs []cond, op string, empty cond) cond {
	if len(cs) == 0 {
		return empty
	}
	if len(cs) == 1 {
		return cs[0]
	}
	var sup, sub []string
	for _, c := range cs {
		sup = append(sup, c.sup)
		sub = append(sub, c.sub)
	}
	return cond{"(" + strings.Join(sup, op) + ")", "(" + strings.Join(sub, op) + ")"}
}

func not(c cond) cond { return cond{"(NOT " + c.sub + ")", "(NOT " + c.sup + ")"} }

// block compiles a match block: every key must hold.
func (c *compiler) block(b map[string]any) (cond, error) {
	var parts []cond
	for _, k := range slices.Sorted(maps.Keys(b)) {
		v := b[k]
		switch k {
		case "any":
			list, ok := v.([]any)
			if !ok {
				return cond{}, fmt.Errorf("any: want a list of match blocks")
			}
			var alts []cond
			for i, it := range list {
				m, ok := it.(map[string]any)
				if !ok {
					return cond{}, fmt.Errorf("any[%d]: want a match block", i)
				}
				a, err := c.block(m)
				if err != nil {
					return cond{}, fmt.Errorf("any[%d]: %w", i, err)
				}
				alts = append(alts, a)
			}
			parts = append(parts, or(alts))
			continue
		case "not":
			m, ok := v.(map[string]any)
			if !ok {
				return cond{}, fmt.Errorf("not: want a match block")
			}
			a, err := c.block(m)
			if err != nil {
				return cond{}, fmt.Errorf("not: %w", err)
			}
			parts = append(parts, not(a))
			continue
		}
		t, err := c.test(k, v)
		if err != nil {
			return cond{}, fmt.Errorf("%s: %w", k, err)
		}
		parts = append(parts, t)
	}
	return and(parts), nil
}

func list(vals []string, f func(string) string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = f(v)
	}
	return strings.Join(q, ", ")
}

// likeEscape escapes a LIKE pattern's wildcards with backslash.
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// test compiles one field's test (a value, a list, or operators).
func (c *compiler) test(field string, v any) (cond, error) {
	fv, err := fieldValue(c.schema, field)
	if err != nil {
		return cond{}, err
	}
	ops, isMap := v.(map[string]any)
	if !isMap {
		ops = map[string]any{"in": v}
	}
	var parts []cond
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		t, err := c.op(field, fv, op, ops[op])
		if err != nil {
			return cond{}, fmt.Errorf("%s: %w", op, err)
		}
		parts = append(parts, t)
	}
	return and(parts), nil
}

// exact wraps an exact condition on fv's single value into the pair,
// unknown rows going to Sup and not to Sub.
func exact(fv value, e string) cond {
	if fv.known == "" {
		return cond{e, e}
	}
	return cond{"(NOT " + fv.known + " OR " + e + ")", "(" + fv.known + " AND " + e + ")"}
}

func (c *compiler) op(field string, fv value, op string, arg any) (cond, error) {
	if fv.why != "" {
		return c.widen(field, op, fv.why), nil
	}
	if op == "in_list" {
		// A tool list is the icontains of its tools' match strings, as
		// the Go matcher tests it.
		name, ok := arg.(string)
		l, found := detect.ToolLists()[name]
		if !ok || !found {
			return cond{}, fmt.Errorf("no tool list %v", arg)
		}
		var needles []any
		for _, t := range l.Tools {
			for _, m := range t.Match {
				needles = append(needles, m)
			}
		}
		op, arg = "icontains", needles
	}
	v, present := fv.expr, fv.present
	has := func(e string) string { return "(" + present + " AND " + e + ")" }
	strs := func() ([]string, error) { return detect.Values(arg) }
	switch op {
	case "in", "equals":
		vals, err := strs()
		if err != nil {
			return cond{}, err
		}
		return exact(fv, has(v+" IN ("+list(vals, str)+")")), nil
	case "iequals":
		vals, err := strs()
		if err != nil {
			return cond{}, err
		}
		if !ascii(vals) {
			return c.widen(field, op, "case folding of non-ASCII text differs between Go and SQL"), nil
		}
		return exact(fv, has("lower("+v+") IN ("+list(vals, func(s string) string { return str(strings.ToLower(s)) })+")")), nil
	case "not_in":
		vals, err := strs()
		if err != nil {
			return cond{}, err
		}
		return not(exact(fv, has(v+" IN ("+list(vals, str)+")"))), nil
	case "prefix", "suffix", "contains", "icontains":
		vals, err := strs()
		if err != nil {
			return cond{}, err
		}
		if op == "icontains" && !ascii(vals) {
			return c.widen(field, op, "case folding of non-ASCII text differs between Go and SQL"), nil
		}
		var alts []string
		for _, w := range vals {
			switch op {
			case "prefix":
				alts = append(alts, "starts_with("+v+", "+str(w)+")")
			case "suffix":
				alts = append(alts, v+" LIKE "+str("%"+likeEscape(w))+" ESCAPE '\\'")
			case "contains":
				alts = append(alts, "strpos("+v+", "+str(w)+") > 0")
			default:
				alts = append(alts, "strpos(lower("+v+"), "+str(strings.ToLower(w))+") > 0")
			}
		}
		e := has("(" + strings.Join(alts, " OR ") + ")")
		if op == "icontains" {
			// Go folds only ASCII letters of the value; SQL's lower()
			// folds more, so it may accept more: fine for Sup only.
			if fv.known == "" {
				return cond{e, "FALSE"}, nil
			}
			return cond{"(NOT " + fv.known + " OR " + e + ")", "FALSE"}, nil
		}
		return exact(fv, e), nil
	case "regex":
		s, ok := arg.(string)
		if !ok {
			return cond{}, fmt.Errorf("want a string")
		}
		if _, err := regexp.Compile(s); err != nil {
			return cond{}, err
		}
		if !portableRegex(s) {
			return c.widen(field, op, "the expression uses syntax whose meaning differs between Go's RE2 and Athena's regular expressions"), nil
		}
		e := has("regexp_like(" + v + ", " + str(s) + ")")
		// Dialects agree on the portable subset; still, only Sup relies
		// on it, so a disagreement costs rows, not findings, in Sub.
		if fv.known == "" {
			return cond{e, "FALSE"}, nil
		}
		return cond{"(NOT " + fv.known + " OR " + e + ")", "FALSE"}, nil
	case "exists":
		want, ok := arg.(bool)
		if !ok {
			return cond{}, fmt.Errorf("want true or false")
		}
		e := "(" + v + " <> '')"
		if !want {
			e = "(" + v + " = '')"
		}
		return exact(fv, e), nil
	case "field", "not_field":
		name, ok := arg.(string)
		if !ok {
			return cond{}, fmt.Errorf("want a field name")
		}
		ov, err := fieldValue(c.schema, name)
		if err != nil {
			return cond{}, err
		}
		if ov.why != "" {
			return c.widen(field, op, ov.why), nil
		}
		e := "(" + present + " AND " + ov.present + " AND " + v + " = " + ov.expr + ")"
		var known []string
		for _, k := range []string{fv.known, ov.known} {
			if k != "" {
				known = append(known, k)
			}
		}
		pair := value{known: strings.Join(known, " AND ")}
		if pair.known != "" {
			pair.known = "(" + pair.known + ")"
		}
		if op == "not_field" {
			return not(exact(pair, e)), nil
		}
		return exact(pair, e), nil
	case "cidr":
		return c.widen(field, op, "SQL does not parse IP addresses as Go does (IPv4-mapped IPv6, zones)"), nil
	case "admin_policy", "grants_outside":
		return c.widen(field, op, "a policy document is judged by keywarden's IAM policy parser"), nil
	case "other_account":
		return c.widen(field, op, "account IDs are read out of ARNs and principals by keywarden"), nil
	}
	return c.widen(field, op, "operator unknown to the SQL compiler"), nil
}

func ascii(vals []string) bool {
	for _, v := range vals {
		for i := 0; i < len(v); i++ {
			if v[i] >= 0x80 {
				return false
			}
		}
	}
	return true
}

// portableRegex accepts expressions built from literals, ., character
// classes without named classes, anchors, alternation, groups and the
// plain quantifiers, which mean the same in RE2, Joni (Athena) and
// DuckDB's RE2.
func portableRegex(s string) bool {
	if strings.Contains(s, "(?") || strings.Contains(s, "[:") || strings.Contains(s, `\p`) || strings.Contains(s, `\P`) ||
		strings.Contains(s, `\Q`) || strings.Contains(s, `\z`) || strings.Contains(s, `\C`) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch c := s[i]; {
			case strings.IndexByte(`.\[](){}|*+?^$/-`, c) >= 0, c == 'd', c == 's', c == 'w', c == 'b':
			default:
				return false
			}
		}
	}
	return true
}

// Match compiles a match block into the SQL condition that holds for
// every row it accepts, with the tests it had to widen.
func Match(ruleID string, block map[string]any) (string, []Widening, error) {
	return matchIn(nil, ruleID, block)
}

// matchIn is Match over the schema's columns.
func matchIn(sch *Schema, ruleID string, block map[string]any) (string, []Widening, error) {
	c := &compiler{schema: sch, rule: ruleID}
	cd, err := c.block(block)
	if err != nil {
		return "", nil, err
	}
	return cd.sup, c.widened, nil
}
