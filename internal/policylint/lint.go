// Package policylint finds the mistakes that make MFA and network
// conditions in IAM policies silently not apply to leaked long-term keys,
// that lock users out of enrolling MFA, or that break calls AWS services
// make on a user's behalf; and grants that are unsafe whatever the
// conditions. Each finding names the statement, says what happens to a
// request signed with a long-term key, and gives the fix.
//
// It reads policy JSON and the policies inside Terraform files. It does no
// I/O: callers pass the bytes.
package policylint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
)

// unresolvedMark prefixes a value that came from a Terraform expression
// keywarden did not evaluate. It holds a NUL so no real policy value can
// look like it.
const unresolvedMark = "\x00tf:"

func unresolved(s string) bool { return strings.HasPrefix(s, unresolvedMark) }

// LintFile lints one input: a policy document or an export holding many
// (JSON), a Terraform file (.tf) or a CloudFormation template (.yaml, .yml,
// .template); stdin is recognised by its content. The findings include a
// kw-policy-syntax finding when the input is malformed; err is then the
// *iampolicy.SyntaxError (or another error), naming file, line and column.
func LintFile(name string, data []byte) ([]report.Finding, error) {
	switch kindOf(name, data) {
	case "terraform":
		return LintTerraform(name, data)
	case "cloudformation":
		return LintCloudFormation(name, data)
	}
	return LintJSON(name, data)
}

// kindOf decides how to read an input: by its name, or for stdin and
// unknown extensions by its content.
func kindOf(name string, data []byte) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".tf"):
		return "terraform"
	case strings.HasSuffix(l, ".json"):
		return "json"
	case strings.HasSuffix(l, ".yaml"), strings.HasSuffix(l, ".yml"), strings.HasSuffix(l, ".template"):
		return "cloudformation"
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), " \t\r\n")
	switch {
	case len(t) == 0 || t[0] == '{' || t[0] == '[':
		return "json"
	case bytes.Contains(data, []byte("AWSTemplateFormatVersion")) || bytes.HasPrefix(t, []byte("Resources:")):
		return "cloudformation"
	}
	return "terraform"
}

// LintJSON lints a policy document. It also accepts the wrappers the AWS
// CLI prints around one: {"PolicyVersion": {"Document": ...}} from
// get-policy-version and {"PolicyDocument": ...} from get-*-policy.
func LintJSON(name string, data []byte) ([]report.Finding, error) {
	root, err := iampolicy.ParseJSON(data)
	if err != nil {
		var se *iampolicy.SyntaxError
		if errors.As(err, &se) {
			se.File = name
			return []report.Finding{syntaxFinding(name, se)}, se
		}
		return nil, err
	}
	root = unwrap(root)
	if root.Kind == iampolicy.Object && root.Get("Statement") == nil {
		// Not a policy itself: an export holding many (get-account-
		// authorization-details), or something else.
		if root.Get("Resources") != nil {
			markIntrinsics(root, 0) // a JSON CloudFormation template
		}
		if docs := docsIn(root); len(docs) > 0 {
			return lintDocs(name, docs)
		}
	}
	p, err := iampolicy.FromNode(name, root)
	if err != nil {
		var se *iampolicy.SyntaxError
		if errors.As(err, &se) {
			return []report.Finding{syntaxFinding(name, se)}, se
		}
		return nil, err
	}
	return Lint(p, ""), nil
}

// IsPolicyJSON reports whether data is a JSON policy document (or one of
// the AWS CLI's wrappers around one). Directory walks use it to pass over
// the other JSON files a repository holds (package.json, tsconfig.json ...).
func IsPolicyJSON(data []byte) bool {
	root, err := iampolicy.ParseJSON(data)
	if err != nil {
		// A malformed file that mentions a Statement is a broken policy:
		// lint it so the error is reported.
		return bytes.Contains(data, []byte(`"Statement"`))
	}
	root = unwrap(root)
	return root.Kind == iampolicy.Object && (root.Get("Statement") != nil || len(nestedDocs(root, "", 0)) > 0)
}

type nestedDoc struct {
	name string
	node *iampolicy.Node
	err  *iampolicy.SyntaxError // a URL-encoded document that is malformed
}

// nestedDocs finds the policy documents inside an export such as
// `aws iam get-account-authorization-details`: objects with a Statement,
// and URL-encoded document strings (the raw API's form). Each is named by
// the user, group, role or policy it belongs to.
func nestedDocs(n *iampolicy.Node, path string, depth int) []nestedDoc {
	if depth > 16 {
		return nil
	}
	var out []nestedDoc
	switch n.Kind {
	case iampolicy.Object:
		if v := n.Get("IsDefaultVersion"); v != nil && v.Kind == iampolicy.Bool && !v.Bool {
			return nil // an old policy version, not in force
		}
		if n.Get("Statement") != nil && depth > 0 {
			return []nestedDoc{{name: strings.TrimPrefix(path, " "), node: n}}
		}
		for _, k := range []string{"UserName", "GroupName", "RoleName", "PolicyName", "VersionId"} {
			if v := n.Get(k); v != nil && v.Kind == iampolicy.String {
				path += " " + v.Str
			}
		}
		for _, f := range n.Fields {
			p := path
			if f.Key == "AssumeRolePolicyDocument" {
				p += " trust"
			}
			out = append(out, nestedDocs(f.Value, p, depth+1)...)
		}
	case iampolicy.Array:
		for _, e := range n.Elems {
			out = append(out, nestedDocs(e, path, depth+1)...)
		}
	case iampolicy.String:
		if strings.HasPrefix(n.Str, "%7B") {
			name := strings.TrimPrefix(path, " ")
			// Positions inside the decoded text mean nothing in the file:
			// point at the string, and say where in the document.
			s, err := url.QueryUnescape(n.Str)
			if err != nil {
				return []nestedDoc{{name: name, err: &iampolicy.SyntaxError{Pos: n.Pos, Msg: "URL-encoded policy document: " + err.Error()}}}
			}
			d, err := iampolicy.ParseJSON([]byte(s))
			var se *iampolicy.SyntaxError
			if errors.As(err, &se) {
				return []nestedDoc{{name: name, err: &iampolicy.SyntaxError{Pos: n.Pos, Msg: fmt.Sprintf("URL-encoded policy document, at %s of the decoded text: %s", se.Pos, se.Msg)}}}
			}
			if err == nil && d.Kind == iampolicy.Object && d.Get("Statement") != nil {
				shift(d, func(iampolicy.Pos) iampolicy.Pos { return n.Pos })
				return []nestedDoc{{name: name, node: d}}
			}
		}
	}
	return out
}

func unwrap(n *iampolicy.Node) *iampolicy.Node {
	if n.Kind != iampolicy.Object || n.Get("Statement") != nil {
		return n
	}
	if pv := n.Get("PolicyVersion"); pv != nil && pv.Kind == iampolicy.Object {
		if d := pv.Get("Document"); d != nil && d.Kind == iampolicy.Object {
			return d
		}
	}
	if d := n.Get("PolicyDocument"); d != nil && d.Kind == iampolicy.Object {
		return d
	}
	return n
}

func syntaxFinding(name string, se *iampolicy.SyntaxError) report.Finding {
	r := ruleByID()[RuleSyntax]
	return report.Finding{
		RuleID: r.ID, Severity: r.Severity, Title: r.Title,
		Message:     se.Msg + ". " + r.LongTerm,
		Location:    report.Location{Path: name, Line: se.Pos.Line, Column: se.Pos.Col},
		Remediation: r.Fix, References: r.Refs,
		Fingerprint: fingerprint(r.ID, name, "", se.Msg),
	}
}

// linter holds one document's state while the rules run.
type linter struct {
	p        *iampolicy.Policy
	prefix   string // names the document inside a file (Terraform)
	findings []report.Finding
	seen     map[string]bool
	guards   []*iampolicy.Statement
}

// Lint runs every rule over a parsed policy. prefix names the document
// inside its file (a Terraform block), or is empty.
func Lint(p *iampolicy.Policy, prefix string) []report.Finding {
	l := &linter{p: p, prefix: prefix, seen: map[string]bool{}}
	l.structure()
	l.findGuards()
	for _, s := range p.Statements {
		l.mfa(s)
		l.selfService(s)
		l.deviceRemoval(s)
		l.guardScope(s)
		l.keyEnrollment(s)
		l.network(s)
		l.grants(s)
		l.actions(s)
	}
	l.variables()
	report.Sort(l.findings)
	return l.findings
}

func (l *linter) resource(s *iampolicy.Statement) string {
	lbl := "document"
	if s != nil {
		lbl = s.Label()
	}
	if l.prefix != "" {
		return l.prefix + " " + lbl
	}
	return lbl
}

// add records a finding once per rule, statement and evidence.
func (l *linter) add(id string, sev report.Severity, s *iampolicy.Statement, pos iampolicy.Pos, msg, evidence string) {
	r := ruleByID()[id]
	if sev == 0 {
		sev = r.Severity
	}
	res := l.resource(s)
	key := id + "\x00" + res + "\x00" + evidence
	if l.seen[key] {
		return
	}
	l.seen[key] = true
	if pos.Line == 0 && s != nil {
		pos = s.Pos
	}
	if pos.Line == 0 {
		pos = l.p.Pos
	}
	props := map[string]any{"long_term_key": r.LongTerm}
	if s != nil {
		props["statement"] = s.Index
		if s.Sid != "" {
			props["sid"] = s.Sid
		}
	}
	l.findings = append(l.findings, report.Finding{
		RuleID: id, Severity: sev, Title: r.Title, Message: msg,
		Location: report.Location{Path: l.p.File, Line: pos.Line, Column: pos.Col, Resource: res},
		Evidence: evidence, Remediation: r.Fix, References: r.Refs,
		Fingerprint: fingerprint(id, l.p.File, res, evidence),
		Properties:  props,
	})
}

func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:8])
}

func (l *linter) structure() {
	hasEmpty := false
	for _, pr := range l.p.Problems {
		hasEmpty = hasEmpty || pr.Code == "empty"
	}
	if len(l.p.Statements) == 0 && !hasEmpty {
		r := ruleByID()[RuleEmpty]
		l.add(RuleEmpty, 0, nil, l.p.Pos, "The Statement list is empty. "+r.LongTerm, "")
	}
	for _, pr := range l.p.Problems {
		id, ok := problemRules[pr.Code]
		if !ok {
			id = RuleElement
		}
		var s *iampolicy.Statement
		if pr.Statement >= 0 {
			for _, st := range l.p.Statements {
				if st.Index == pr.Statement {
					s = st
				}
			}
		}
		r := ruleByID()[id]
		l.add(id, 0, s, pr.Pos, pr.Msg+". "+r.LongTerm, "")
	}
}

// condText renders a condition for evidence: "BoolIfExists aws:X = false".
func condText(c iampolicy.Condition) string {
	vals := make([]string, len(c.Values))
	for i, v := range c.Values {
		vals[i] = displayValue(v.S)
		if v.Kind == iampolicy.String {
			vals[i] = fmt.Sprintf("%q", displayValue(v.S))
		}
	}
	return fmt.Sprintf("%s %s = %s", c.Operator, c.Key, strings.Join(vals, ", "))
}

// displayValue shows a value for humans, turning the unresolved marker
// back into the Terraform expression it came from.
func displayValue(s string) string {
	if unresolved(s) {
		return "${" + strings.TrimPrefix(s, unresolvedMark) + "}"
	}
	return s
}

func (l *linter) variables() {
	if l.p.Version == iampolicy.Version2012 {
		return
	}
	for _, s := range l.p.Statements {
		var vals []string
		vals = append(vals, s.Resource.List...)
		vals = append(vals, s.NotResource.List...)
		for _, c := range s.Conditions {
			vals = append(vals, c.Strings()...)
		}
		for _, v := range vals {
			if strings.Contains(v, "${") && !unresolved(v) {
				ver := "no Version (so 2008-10-17)"
				if l.p.HasVersion {
					ver = fmt.Sprintf("Version %q", l.p.Version)
				}
				l.add(RulePolicyVariables, 0, s, s.Pos, fmt.Sprintf("The document has %s and uses the policy variable in %q, which AWS then reads literally.", ver, v), v)
				break
			}
		}
	}
}
