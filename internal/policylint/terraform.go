package policylint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/zclconf/go-cty/cty"
)

// Terraform holds IAM policies in three shapes: aws_iam_policy_document
// data sources (blocks), `policy = jsonencode({...})` (an HCL object) and
// `policy = <<EOF ... EOF` (JSON text). All three are turned into the same
// JSON tree iampolicy reads, with every position pointing into the .tf
// file, so findings name the line to fix.
//
// Expressions keywarden cannot evaluate (variables, resource attributes,
// function calls) become opaque values that the rules skip; a document
// whose Version or Effect is such an expression is skipped with an info
// note.

// policyAttrs are the resource arguments that hold a policy document.
var policyAttrs = map[string]bool{"policy": true, "assume_role_policy": true}

// LintTerraform lints the IAM policies in one Terraform file.
func LintTerraform(name string, data []byte) ([]report.Finding, error) {
	if se := checkHCLNesting(name, data); se != nil {
		return []report.Finding{syntaxFinding(name, se)}, se
	}
	f, diags := hclsyntax.ParseConfig(data, name, hcl.InitialPos)
	if diags.HasErrors() {
		se := diagError(name, diags)
		return []report.Finding{syntaxFinding(name, se)}, se
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil, nil
	}
	t := &tfReader{file: name, src: data}
	t.body(body, nil)
	report.Sort(t.findings)
	return t.findings, errors.Join(t.errs...)
}

func diagError(name string, diags hcl.Diagnostics) *iampolicy.SyntaxError {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		se := &iampolicy.SyntaxError{File: name, Msg: d.Summary}
		if d.Detail != "" {
			se.Msg += ": " + d.Detail
		}
		if d.Subject != nil {
			se.Pos = hclPos(d.Subject.Start)
		} else {
			se.Pos = iampolicy.Pos{Line: 1, Col: 1}
		}
		return se
	}
	return &iampolicy.SyntaxError{File: name, Pos: iampolicy.Pos{Line: 1, Col: 1}, Msg: "invalid Terraform"}
}

func hclPos(p hcl.Pos) iampolicy.Pos {
	return iampolicy.Pos{Offset: p.Byte, Line: p.Line, Col: p.Column}
}

type tfReader struct {
	file     string
	src      []byte
	findings []report.Finding
	errs     []error // malformed policies inside the file
}

// body walks blocks, looking for policy documents. path names the
// enclosing block ("resource.aws_iam_policy.x").
func (t *tfReader) body(b *hclsyntax.Body, path []string) {
	for _, blk := range b.Blocks {
		p := append(slices.Clone(path), blk.Type)
		p = append(p, blk.Labels...)
		if blk.Type == "data" && len(blk.Labels) == 2 && blk.Labels[0] == "aws_iam_policy_document" {
			t.policyDocument(blk, strings.Join(p, "."))
			continue
		}
		if len(path) > 0 || blk.Type == "resource" {
			for _, name := range sortedAttrNames(blk.Body) {
				if policyAttrs[name] {
					t.policyAttr(blk.Body.Attributes[name], strings.Join(p, ".")+"."+name)
				}
			}
		}
		if len(path) < 8 {
			t.body(blk.Body, p)
		}
	}
}

func sortedAttrNames(b *hclsyntax.Body) []string {
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (t *tfReader) note(where string, pos hcl.Pos, msg string) {
	r := ruleByID()[RuleTFUnresolved]
	t.findings = append(t.findings, report.Finding{
		RuleID: r.ID, Severity: r.Severity, Title: r.Title, Message: msg + " " + r.LongTerm,
		Location:    report.Location{Path: t.file, Line: pos.Line, Column: pos.Column, Resource: where},
		Remediation: r.Fix, Fingerprint: fingerprint(r.ID, t.file, where, msg),
	})
}

// lint runs the rules over a JSON tree built from Terraform.
func (t *tfReader) lint(root *iampolicy.Node, where string, pos hcl.Pos) {
	if root.Kind == iampolicy.String && unresolved(root.Str) {
		t.note(where, pos, fmt.Sprintf("The policy comes from %s.", displayValue(root.Str)))
		return
	}
	if root.Kind != iampolicy.Object {
		t.note(where, pos, "The policy is not an object.")
		return
	}
	// Keys that are expressions (an operator or condition key from a
	// variable) cannot be judged; leave them out rather than report them
	// as unknown operators.
	dropped := dropUnresolvedKeys(root)
	if why := structureUnresolved(root); why != "" {
		t.note(where, pos, why+" comes from an expression; the document was skipped.")
		return
	}
	p, err := iampolicy.FromNode(t.file, root)
	if err != nil {
		t.note(where, pos, err.Error())
		return
	}
	if n := countUnresolved(root) + dropped; n > 0 {
		t.note(where, pos, fmt.Sprintf("%d value(s) come from Terraform expressions.", n))
	}
	t.findings = append(t.findings, Lint(p, where)...)
}

// structureUnresolved names the part of a document that decides its
// meaning (Version, a statement, an Effect) and comes from an expression,
// or returns "".
func structureUnresolved(root *iampolicy.Node) string {
	isU := func(n *iampolicy.Node) bool { return n != nil && n.Kind == iampolicy.String && unresolved(n.Str) }
	if isU(root.Get("Version")) {
		return "Version"
	}
	st := root.Get("Statement")
	if st == nil {
		return ""
	}
	if isU(st) {
		return "Statement"
	}
	elems := st.Elems
	if st.Kind == iampolicy.Object {
		elems = []*iampolicy.Node{st}
	}
	for _, e := range elems {
		if isU(e) {
			return "A statement"
		}
		if e.Kind == iampolicy.Object && isU(e.Get("Effect")) {
			return "An Effect"
		}
	}
	return ""
}

func dropUnresolvedKeys(n *iampolicy.Node) int {
	c := 0
	kept := n.Fields[:0]
	for _, f := range n.Fields {
		if unresolved(f.Key) {
			c++
			continue
		}
		c += dropUnresolvedKeys(f.Value)
		kept = append(kept, f)
	}
	n.Fields = kept
	for _, e := range n.Elems {
		c += dropUnresolvedKeys(e)
	}
	return c
}

func countUnresolved(n *iampolicy.Node) int {
	c := 0
	if n.Kind == iampolicy.String && unresolved(n.Str) {
		c++
	}
	for _, e := range n.Elems {
		c += countUnresolved(e)
	}
	for _, f := range n.Fields {
		c += countUnresolved(f.Value)
	}
	return c
}

// policyAttr reads `policy = ...`.
func (t *tfReader) policyAttr(a *hclsyntax.Attribute, where string) {
	start := a.Expr.Range().Start
	switch e := a.Expr.(type) {
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "jsonencode" && len(e.Args) == 1 {
			t.lint(t.node(e.Args[0]), where, start)
			return
		}
		t.note(where, start, fmt.Sprintf("The policy comes from %s(...).", e.Name))
	case *hclsyntax.ScopeTraversalExpr:
		// data.aws_iam_policy_document.x.json is linted where it is
		// defined; anything else is out of reach.
		if tr := e.Traversal; len(tr) > 1 && tr.RootName() == "data" {
			if a, ok := tr[1].(hcl.TraverseAttr); ok && a.Name == "aws_iam_policy_document" {
				return
			}
		}
		t.note(where, start, fmt.Sprintf("The policy comes from %s.", t.text(e)))
	case *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr, *hclsyntax.LiteralValueExpr:
		if len(a.Expr.Variables()) > 0 {
			t.note(where, start, "The policy text interpolates Terraform expressions.")
			return
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			t.note(where, start, "The policy text could not be evaluated.")
			return
		}
		t.jsonText(a.Expr, v.AsString(), where)
	default:
		t.note(where, start, "The policy is an expression keywarden does not evaluate.")
	}
}

// jsonText parses a policy written as a string (usually a heredoc) and
// maps positions back into the .tf file.
func (t *tfReader) jsonText(expr hclsyntax.Expression, text, where string) {
	rng := expr.Range()
	heredoc := strings.HasPrefix(string(t.src[min(rng.Start.Byte, len(t.src)):]), "<<")
	base := rng.Start
	if te, ok := expr.(*hclsyntax.TemplateExpr); ok && len(te.Parts) > 0 {
		base = te.Parts[0].Range().Start
	}
	srcLines := strings.Split(string(t.src), "\n")
	textLines := strings.Split(text, "\n")
	mapPos := func(p iampolicy.Pos) iampolicy.Pos {
		if !heredoc {
			return iampolicy.Pos{Offset: base.Byte, Line: base.Line, Col: base.Column}
		}
		line := base.Line + p.Line - 1
		col := p.Col
		if p.Line == 1 {
			col = base.Column + p.Col - 1
		} else if line-1 < len(srcLines) && p.Line-1 < len(textLines) {
			// <<-EOF strips indentation: find the text line's place in
			// the source line.
			sl, tl := srcLines[line-1], textLines[p.Line-1]
			if strings.HasSuffix(strings.TrimRight(sl, "\r"), strings.TrimRight(tl, "\r")) {
				col = len(strings.TrimRight(sl, "\r")) - len(strings.TrimRight(tl, "\r")) + p.Col
			}
		}
		return iampolicy.Pos{Line: line, Col: col}
	}
	root, err := iampolicy.ParseJSON([]byte(text))
	if err != nil {
		if se, ok := err.(*iampolicy.SyntaxError); ok {
			se.File = t.file
			se.Pos = mapPos(se.Pos)
			f := syntaxFinding(t.file, se)
			f.Location.Resource = where
			t.findings = append(t.findings, f)
			t.errs = append(t.errs, se)
		}
		return
	}
	shift(root, mapPos)
	t.lint(root, where, rng.Start)
}

func shift(n *iampolicy.Node, f func(iampolicy.Pos) iampolicy.Pos) {
	n.Pos = f(n.Pos)
	for _, e := range n.Elems {
		shift(e, f)
	}
	for i := range n.Fields {
		n.Fields[i].KeyPos = f(n.Fields[i].KeyPos)
		shift(n.Fields[i].Value, f)
	}
}

// node turns an HCL expression into a JSON tree node. Objects and tuples
// are walked so that every value keeps its own position; anything that
// cannot be evaluated without variables or functions becomes an opaque
// unresolved string.
func (t *tfReader) node(expr hclsyntax.Expression) *iampolicy.Node {
	pos := hclPos(expr.Range().Start)
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		n := &iampolicy.Node{Kind: iampolicy.Object, Pos: pos}
		for _, it := range e.Items {
			key, ok := t.key(it.KeyExpr)
			if !ok {
				key = unresolvedMark + t.text(it.KeyExpr)
			}
			n.Fields = append(n.Fields, iampolicy.Field{Key: key, KeyPos: hclPos(it.KeyExpr.Range().Start), Value: t.node(it.ValueExpr)})
		}
		return n
	case *hclsyntax.TupleConsExpr:
		n := &iampolicy.Node{Kind: iampolicy.Array, Pos: pos}
		for _, x := range e.Exprs {
			n.Elems = append(n.Elems, t.node(x))
		}
		return n
	case *hclsyntax.ParenthesesExpr:
		return t.node(e.Expression)
	}
	if len(expr.Variables()) == 0 {
		if v, diags := expr.Value(nil); !diags.HasErrors() {
			if n, ok := ctyNode(v, pos, 0); ok {
				return n
			}
		}
	}
	return &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + t.text(expr), Pos: pos}
}

// key reads an object key: a bare name or a string.
func (t *tfReader) key(expr hclsyntax.Expression) (string, bool) {
	if k, ok := expr.(*hclsyntax.ObjectConsKeyExpr); ok {
		if !k.ForceNonLiteral {
			if kw := hcl.ExprAsKeyword(k.Wrapped); kw != "" {
				return kw, true
			}
		}
		expr = k.Wrapped
	}
	if len(expr.Variables()) > 0 {
		return "", false
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// text is an expression's source, shortened, for messages.
func (t *tfReader) text(expr hclsyntax.Expression) string {
	r := expr.Range()
	if r.Start.Byte < 0 || r.End.Byte > len(t.src) || r.Start.Byte > r.End.Byte {
		return "expression"
	}
	s := strings.Join(strings.Fields(string(t.src[r.Start.Byte:r.End.Byte])), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// ctyNode converts an evaluated value.
func ctyNode(v cty.Value, pos iampolicy.Pos, depth int) (*iampolicy.Node, bool) {
	if depth > 32 || !v.IsWhollyKnown() {
		return nil, false
	}
	if v.IsNull() {
		return &iampolicy.Node{Kind: iampolicy.Null, Pos: pos}, true
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return &iampolicy.Node{Kind: iampolicy.String, Str: v.AsString(), Pos: pos}, true
	case ty == cty.Bool:
		return &iampolicy.Node{Kind: iampolicy.Bool, Bool: v.True(), Pos: pos}, true
	case ty == cty.Number:
		bf := v.AsBigFloat()
		return &iampolicy.Node{Kind: iampolicy.Number, Str: bf.Text('f', -1), Pos: pos}, true
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		n := &iampolicy.Node{Kind: iampolicy.Array, Pos: pos}
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			c, ok := ctyNode(ev, pos, depth+1)
			if !ok {
				return nil, false
			}
			n.Elems = append(n.Elems, c)
		}
		return n, true
	case ty.IsObjectType() || ty.IsMapType():
		n := &iampolicy.Node{Kind: iampolicy.Object, Pos: pos}
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			c, ok := ctyNode(ev, pos, depth+1)
			if !ok {
				return nil, false
			}
			n.Fields = append(n.Fields, iampolicy.Field{Key: k.AsString(), KeyPos: pos, Value: c})
		}
		return n, true
	}
	return nil, false
}

// policyDocument converts a data "aws_iam_policy_document" block.
func (t *tfReader) policyDocument(blk *hclsyntax.Block, where string) {
	b := blk.Body
	start := blk.TypeRange.Start
	root := &iampolicy.Node{Kind: iampolicy.Object, Pos: hclPos(start)}
	str := func(v string, pos iampolicy.Pos) *iampolicy.Node {
		return &iampolicy.Node{Kind: iampolicy.String, Str: v, Pos: pos}
	}
	// The provider writes Version 2012-10-17 unless told otherwise.
	if a, ok := b.Attributes["version"]; ok {
		root.Fields = append(root.Fields, iampolicy.Field{Key: "Version", KeyPos: hclPos(a.NameRange.Start), Value: t.node(a.Expr)})
	} else {
		root.Fields = append(root.Fields, iampolicy.Field{Key: "Version", KeyPos: hclPos(start), Value: str(iampolicy.Version2012, hclPos(start))})
	}
	if a, ok := b.Attributes["policy_id"]; ok {
		root.Fields = append(root.Fields, iampolicy.Field{Key: "Id", KeyPos: hclPos(a.NameRange.Start), Value: t.node(a.Expr)})
	}
	for _, n := range []string{"source_policy_documents", "override_policy_documents", "source_json", "override_json"} {
		if a, ok := b.Attributes[n]; ok {
			t.note(where, a.NameRange.Start, n+" merges other documents in; only this block's own statements were checked.")
		}
	}
	stmts := &iampolicy.Node{Kind: iampolicy.Array, Pos: hclPos(start)}
	for _, sb := range b.Blocks {
		switch sb.Type {
		case "statement":
			stmts.Elems = append(stmts.Elems, t.statementBlock(sb))
		case "dynamic":
			t.note(where, sb.TypeRange.Start, "A dynamic block's statements were not checked.")
		}
	}
	if len(stmts.Elems) > 0 {
		root.Fields = append(root.Fields, iampolicy.Field{Key: "Statement", KeyPos: hclPos(start), Value: stmts})
	} else if _, ok := b.Attributes["source_policy_documents"]; ok {
		return
	}
	t.lint(root, where, start)
}

var tfStatementAttrs = []struct{ tf, json string }{
	{"sid", "Sid"}, {"effect", "Effect"},
	{"actions", "Action"}, {"not_actions", "NotAction"},
	{"resources", "Resource"}, {"not_resources", "NotResource"},
}

func (t *tfReader) statementBlock(sb *hclsyntax.Block) *iampolicy.Node {
	pos := hclPos(sb.TypeRange.Start)
	n := &iampolicy.Node{Kind: iampolicy.Object, Pos: pos}
	for _, m := range tfStatementAttrs {
		if a, ok := sb.Body.Attributes[m.tf]; ok {
			n.Fields = append(n.Fields, iampolicy.Field{Key: m.json, KeyPos: hclPos(a.NameRange.Start), Value: t.node(a.Expr)})
		} else if m.tf == "effect" {
			// The provider's default.
			n.Fields = append(n.Fields, iampolicy.Field{Key: "Effect", KeyPos: pos, Value: &iampolicy.Node{Kind: iampolicy.String, Str: "Allow", Pos: pos}})
		}
	}
	principals := map[string]*iampolicy.Node{}
	conds := &iampolicy.Node{Kind: iampolicy.Object}
	byTest := map[string]*iampolicy.Node{}
	for _, cb := range sb.Body.Blocks {
		attr := func(name string) *iampolicy.Node {
			if a, ok := cb.Body.Attributes[name]; ok {
				return t.node(a.Expr)
			}
			return &iampolicy.Node{Kind: iampolicy.Null, Pos: hclPos(cb.TypeRange.Start)}
		}
		switch cb.Type {
		case "principals", "not_principals":
			key := "Principal"
			if cb.Type == "not_principals" {
				key = "NotPrincipal"
			}
			typ, ids := attr("type"), attr("identifiers")
			p := principals[key]
			if p == nil {
				p = &iampolicy.Node{Kind: iampolicy.Object, Pos: hclPos(cb.TypeRange.Start)}
				principals[key] = p
			}
			if typ.Kind == iampolicy.String && typ.Str == "*" {
				principals[key] = &iampolicy.Node{Kind: iampolicy.String, Str: "*", Pos: typ.Pos}
				continue
			}
			if typ.Kind == iampolicy.String && p.Kind == iampolicy.Object {
				p.Fields = append(p.Fields, iampolicy.Field{Key: typ.Str, KeyPos: typ.Pos, Value: ids})
			}
		case "condition":
			test, variable, values := attr("test"), attr("variable"), attr("values")
			if test.Kind != iampolicy.String || variable.Kind != iampolicy.String {
				continue
			}
			if unresolved(test.Str) || unresolved(variable.Str) {
				// Counted in the unresolved note through the values.
				values = &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + "condition", Pos: test.Pos}
				n.Fields = append(n.Fields, iampolicy.Field{Key: unresolvedMark + "condition", Value: values})
				continue
			}
			op := byTest[test.Str]
			if op == nil {
				if conds.Pos.Line == 0 {
					conds.Pos = hclPos(cb.TypeRange.Start)
				}
				op = &iampolicy.Node{Kind: iampolicy.Object, Pos: test.Pos}
				byTest[test.Str] = op
				conds.Fields = append(conds.Fields, iampolicy.Field{Key: test.Str, KeyPos: test.Pos, Value: op})
			}
			op.Fields = append(op.Fields, iampolicy.Field{Key: variable.Str, KeyPos: variable.Pos, Value: values})
		}
	}
	for _, k := range []string{"Principal", "NotPrincipal"} {
		if p := principals[k]; p != nil {
			n.Fields = append(n.Fields, iampolicy.Field{Key: k, KeyPos: p.Pos, Value: p})
		}
	}
	if len(conds.Fields) > 0 {
		n.Fields = append(n.Fields, iampolicy.Field{Key: "Condition", KeyPos: conds.Pos, Value: conds})
	}
	return n
}
