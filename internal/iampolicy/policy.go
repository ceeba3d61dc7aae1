// Package iampolicy reads IAM policy documents into a model that keeps the
// position of every statement, value and condition, so that the linter can
// point at the line that is wrong and the evaluator can say which statement
// decided a request.
//
// It accepts what AWS accepts (a statement as an object or a list, values as
// a string or a list, JSON booleans and numbers where strings belong) and
// records, without failing, what AWS would reject (an unknown Version, a bad
// Effect, an unknown condition operator, duplicate Sids): those are the
// linter's to report. Only a document that is not JSON, or not an object,
// fails to parse.
package iampolicy

import (
	"fmt"
	"sort"
	"strings"
)

// Policy versions AWS accepts.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// MaxDocumentSize bounds what callers should read for one policy. AWS's own
// limits are far smaller (6,144 characters for a managed policy); 1 MiB
// leaves room for pretty-printed and Terraform-embedded documents while
// stopping hostile input.
const MaxDocumentSize = 1 << 20

// Policy is one parsed policy document.
type Policy struct {
	// File names the source in errors and findings.
	File       string
	Version    string
	HasVersion bool
	VersionPos Pos
	ID         string
	Statements []*Statement
	// StatementList is true when Statement was written as a list.
	StatementList bool
	Pos           Pos
	// Problems are things AWS would reject or that are certainly wrong,
	// found while reading; the document is still usable.
	Problems []Problem
}

// Problem is a structural defect in an otherwise readable policy.
type Problem struct {
	Code      string // version, effect, operator, duplicate-sid, field, value, empty
	Pos       Pos
	Statement int // index, or -1 for the document
	Msg       string
}

// Effect is a statement's effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Statement is one statement of a policy.
type Statement struct {
	Index  int
	Sid    string
	HasSid bool
	// Effect is Allow or Deny when valid; EffectRaw keeps what was written.
	Effect    Effect
	EffectRaw string

	Principal    *Principal
	NotPrincipal *Principal

	Action, NotAction     Values
	Resource, NotResource Values

	Conditions []Condition
	Pos        Pos
}

// Label names the statement for humans: "Statement[2] (Sid DenyNoMFA)".
func (s *Statement) Label() string {
	if s.HasSid && s.Sid != "" {
		return fmt.Sprintf("Statement[%d] (Sid %s)", s.Index, s.Sid)
	}
	return fmt.Sprintf("Statement[%d]", s.Index)
}

// Values is an element written as a string or a list of strings.
type Values struct {
	Present bool
	List    []string
	Pos     Pos
	// At holds the position of each value of List, for findings about
	// one value.
	At []Pos
}

// Has reports whether v lists s exactly.
func (v Values) Has(s string) bool {
	for _, x := range v.List {
		if x == s {
			return true
		}
	}
	return false
}

// Principal is a Principal or NotPrincipal element: "*" or a map from
// principal type (AWS, Service, Federated, CanonicalUser) to values.
type Principal struct {
	Wildcard bool // "Principal": "*"
	Types    map[string][]string
	Pos      Pos
}

// Value is one condition value as written. Kind records whether it was a
// JSON string, boolean or number: AWS accepts all three and compares their
// text, but the linter wants to know.
type Value struct {
	S    string
	Kind Kind
	Pos  Pos
}

// Condition is one operator/key pair with its values.
type Condition struct {
	// Operator as written, e.g. "ForAnyValue:StringLikeIfExists".
	Operator string
	Op       Operator
	// OpKnown is false for an operator AWS does not define.
	OpKnown bool
	Key     string
	Values  []Value
	Pos     Pos
}

// Strings returns the condition's values as text.
func (c Condition) Strings() []string {
	out := make([]string, len(c.Values))
	for i, v := range c.Values {
		out[i] = v.S
	}
	return out
}

// Parse reads one policy document. file is used only in messages.
func Parse(file string, data []byte) (*Policy, error) {
	root, err := ParseJSON(data)
	if err != nil {
		if se, ok := err.(*SyntaxError); ok {
			se.File = file
		}
		return nil, err
	}
	return FromNode(file, root)
}

// FromNode builds a policy from an already parsed JSON value. Readers of
// other formats (a CloudFormation template, a Terraform jsonencode) that
// produce a Node use it directly.
func FromNode(file string, root *Node) (*Policy, error) {
	if root.Kind != Object {
		return nil, &SyntaxError{File: file, Pos: root.Pos, Msg: fmt.Sprintf("a policy document is a JSON object, not %s", root.Kind.Article())}
	}
	p := &Policy{File: file, Pos: root.Pos}
	var stmtNode *Node
	for _, f := range root.Fields {
		switch f.Key {
		case "Version":
			p.HasVersion = true
			p.VersionPos = f.Value.Pos
			if f.Value.Kind == String {
				p.Version = f.Value.Str
			} else {
				p.problem("version", f.Value.Pos, -1, "Version must be a string")
			}
		case "Id":
			if f.Value.Kind == String {
				p.ID = f.Value.Str
			}
		case "Statement":
			stmtNode = f.Value
		default:
			p.problem("field", f.KeyPos, -1, fmt.Sprintf("unknown top-level element %q", f.Key))
		}
	}
	if p.HasVersion && p.Version != "" && p.Version != Version2012 && p.Version != Version2008 {
		p.problem("version", p.VersionPos, -1, fmt.Sprintf("unknown Version %q (use %q)", p.Version, Version2012))
	}
	if stmtNode == nil {
		p.problem("empty", root.Pos, -1, "the document has no Statement")
		return p, nil
	}
	var stmts []*Node
	switch stmtNode.Kind {
	case Object:
		stmts = []*Node{stmtNode}
	case Array:
		p.StatementList = true
		stmts = stmtNode.Elems
	default:
		p.problem("field", stmtNode.Pos, -1, "Statement must be an object or a list of objects")
	}
	sids := map[string]int{}
	for i, sn := range stmts {
		if sn.Kind != Object {
			p.problem("field", sn.Pos, i, fmt.Sprintf("Statement[%d] is %s, not an object", i, sn.Kind.Article()))
			continue
		}
		s := p.statement(i, sn)
		if s.HasSid && s.Sid != "" {
			if prev, dup := sids[s.Sid]; dup {
				p.problem("duplicate-sid", s.Pos, i, fmt.Sprintf("Sid %q is used by Statement[%d] too; Sids must be unique in a policy", s.Sid, prev))
			} else {
				sids[s.Sid] = i
			}
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func (p *Policy) problem(code string, pos Pos, stmt int, msg string) {
	p.Problems = append(p.Problems, Problem{Code: code, Pos: pos, Statement: stmt, Msg: msg})
}

func (p *Policy) statement(i int, n *Node) *Statement {
	s := &Statement{Index: i, Pos: n.Pos}
	for _, f := range n.Fields {
		v := f.Value
		switch f.Key {
		case "Sid":
			s.HasSid = true
			if v.Kind == String {
				s.Sid = v.Str
			} else {
				p.problem("value", v.Pos, i, "Sid must be a string")
			}
		case "Effect":
			if v.Kind == String {
				s.EffectRaw = v.Str
			}
			switch {
			case v.Kind == String && v.Str == "Allow":
				s.Effect = Allow
			case v.Kind == String && v.Str == "Deny":
				s.Effect = Deny
			default:
				p.problem("effect", v.Pos, i, fmt.Sprintf("Effect must be \"Allow\" or \"Deny\" (case-sensitive), not %s", show(v)))
			}
		case "Action":
			s.Action = p.values(i, f.Key, v)
		case "NotAction":
			s.NotAction = p.values(i, f.Key, v)
		case "Resource":
			s.Resource = p.values(i, f.Key, v)
		case "NotResource":
			s.NotResource = p.values(i, f.Key, v)
		case "Principal":
			s.Principal = p.principal(i, v)
		case "NotPrincipal":
			s.NotPrincipal = p.principal(i, v)
		case "Condition":
			s.Conditions = p.conditions(i, v)
		default:
			p.problem("field", f.KeyPos, i, fmt.Sprintf("unknown element %q in a statement", f.Key))
		}
	}
	if s.Effect == "" && s.EffectRaw == "" && !hasField(n, "Effect") {
		p.problem("effect", n.Pos, i, "the statement has no Effect")
	}
	if s.Action.Present == s.NotAction.Present {
		p.problem("field", n.Pos, i, "a statement needs exactly one of Action or NotAction")
	}
	return s
}

func hasField(n *Node, k string) bool {
	for _, f := range n.Fields {
		if f.Key == k {
			return true
		}
	}
	return false
}

func show(v *Node) string {
	if v.Kind == String {
		return fmt.Sprintf("%q", v.Str)
	}
	return v.Kind.Article()
}

// scalar turns a string, boolean or number node into text.
func scalar(v *Node) (Value, bool) {
	switch v.Kind {
	case String, Number:
		return Value{S: v.Str, Kind: v.Kind, Pos: v.Pos}, true
	case Bool:
		if v.Bool {
			return Value{S: "true", Kind: Bool, Pos: v.Pos}, true
		}
		return Value{S: "false", Kind: Bool, Pos: v.Pos}, true
	}
	return Value{}, false
}

func (p *Policy) values(i int, key string, v *Node) Values {
	out := Values{Present: true, Pos: v.Pos}
	add := func(e *Node) {
		if e.Kind != String {
			p.problem("value", e.Pos, i, fmt.Sprintf("%s values must be strings, not %s", key, show(e)))
			return
		}
		out.List = append(out.List, e.Str)
		out.At = append(out.At, e.Pos)
	}
	switch v.Kind {
	case Array:
		if len(v.Elems) == 0 {
			p.problem("value", v.Pos, i, fmt.Sprintf("%s is an empty list", key))
		}
		for _, e := range v.Elems {
			add(e)
		}
	default:
		add(v)
	}
	return out
}

func (p *Policy) principal(i int, v *Node) *Principal {
	pr := &Principal{Pos: v.Pos, Types: map[string][]string{}}
	switch v.Kind {
	case String:
		if v.Str == "*" {
			pr.Wildcard = true
		} else {
			p.problem("value", v.Pos, i, "a Principal written as a string must be \"*\"")
		}
	case Object:
		for _, f := range v.Fields {
			switch f.Key {
			case "AWS", "Service", "Federated", "CanonicalUser":
			default:
				p.problem("value", f.KeyPos, i, fmt.Sprintf("unknown principal type %q", f.Key))
			}
			vals := p.values(i, "Principal", f.Value)
			pr.Types[f.Key] = append(pr.Types[f.Key], vals.List...)
		}
	default:
		p.problem("value", v.Pos, i, "Principal must be \"*\" or an object")
	}
	return pr
}

func (p *Policy) conditions(i int, v *Node) []Condition {
	if v.Kind != Object {
		p.problem("value", v.Pos, i, "Condition must be an object")
		return nil
	}
	var out []Condition
	for _, of := range v.Fields {
		op, err := ParseOperator(of.Key)
		known := err == nil
		if err != nil {
			p.problem("operator", of.KeyPos, i, err.Error())
		} else if op.String() != of.Key {
			// IAM refuses operator names in any other case ("Invalid Condition
			// type : stringEquals"); the condition is still read as meant.
			p.problem("operator", of.KeyPos, i, fmt.Sprintf("condition operator %q must be written %q: IAM matches operator names case-sensitively", of.Key, op.String()))
		}
		if of.Value.Kind != Object {
			p.problem("value", of.Value.Pos, i, fmt.Sprintf("the %s block must be an object of condition keys", of.Key))
			continue
		}
		for _, kf := range of.Value.Fields {
			c := Condition{Operator: of.Key, Op: op, OpKnown: known, Key: kf.Key, Pos: kf.KeyPos}
			addVal := func(e *Node) {
				if sv, ok := scalar(e); ok {
					c.Values = append(c.Values, sv)
				} else {
					p.problem("value", e.Pos, i, fmt.Sprintf("condition values must be strings, booleans or numbers, not %s", show(e)))
				}
			}
			if kf.Value.Kind == Array {
				for _, e := range kf.Value.Elems {
					addVal(e)
				}
			} else {
				addVal(kf.Value)
			}
			out = append(out, c)
		}
	}
	return out
}

// SortedTypes returns a principal's types in a stable order.
func (pr *Principal) SortedTypes() []string {
	ts := make([]string, 0, len(pr.Types))
	for t := range pr.Types {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// ServiceOf returns the service prefix of an action ("iam" for
// "iam:CreateUser"), lower-cased.
func ServiceOf(action string) string {
	if i := strings.IndexByte(action, ':'); i >= 0 {
		return strings.ToLower(action[:i])
	}
	return ""
}
