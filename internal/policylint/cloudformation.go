package policylint

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/lazyregexp"
	"github.com/keywarden/keywarden/internal/report"
)

// CloudFormation templates in YAML hold policies as mappings
// (PolicyDocument, AssumeRolePolicyDocument, a bucket policy's
// PolicyDocument). The template is turned into the same JSON tree the JSON
// reader builds, with every position pointing into the YAML file; the
// policies are then found the way they are in any JSON export. Intrinsic
// functions (!Ref, !Sub, Fn::Join ...) become opaque values the rules skip.

// LintCloudFormation lints the IAM policies in a YAML CloudFormation
// template.
func LintCloudFormation(name string, data []byte) ([]report.Finding, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := yamlLineRe().ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		se := &iampolicy.SyntaxError{File: name, Pos: yamlErrPos(err), Msg: strings.TrimPrefix(msg, ": ")}
		return []report.Finding{syntaxFinding(name, se)}, se
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	if se := checkExpansion(name, doc.Content[0]); se != nil {
		return []report.Finding{syntaxFinding(name, se)}, se
	}
	root := yamlToNode(doc.Content[0], 0)
	return lintDocs(name, docsIn(root))
}

// lintDocs lints documents found inside a template or export. Values from
// intrinsic functions are opaque: a document whose structure depends on one
// is skipped, and the others say how many values were not checked. A
// malformed document is a kw-policy-syntax finding and an error; the
// others are still linted.
func lintDocs(name string, docs []nestedDoc) ([]report.Finding, error) {
	var out []report.Finding
	var errs []error
	broken := func(d nestedDoc, se *iampolicy.SyntaxError) {
		se.File = name
		f := syntaxFinding(name, se)
		f.Location.Resource = d.name
		out = append(out, f)
		errs = append(errs, se)
	}
	r := ruleByID()[RuleTFUnresolved]
	note := func(d nestedDoc, msg string) {
		out = append(out, report.Finding{
			RuleID: r.ID, Severity: r.Severity, Title: r.Title, Message: msg,
			Location:    report.Location{Path: name, Line: d.node.Pos.Line, Column: d.node.Pos.Col, Resource: d.name},
			Remediation: r.Fix,
			Fingerprint: fingerprint(r.ID, name, d.name, msg),
		})
	}
	for _, d := range docs {
		if d.err != nil {
			broken(d, d.err)
			continue
		}
		if why := structureUnresolved(d.node); why != "" {
			note(d, why+" comes from an intrinsic function; the document was skipped.")
			continue
		}
		p, err := iampolicy.FromNode(name, d.node)
		if err != nil {
			var se *iampolicy.SyntaxError
			if !errors.As(err, &se) {
				se = &iampolicy.SyntaxError{Pos: d.node.Pos, Msg: err.Error()}
			}
			broken(d, se)
			continue
		}
		out = append(out, Lint(p, d.name)...)
		if n := countUnresolved(d.node); n > 0 {
			note(d, fmt.Sprintf("%d value(s) come from intrinsic functions (Ref, Fn::Sub ...), which keywarden does not evaluate; checks that depend on them were skipped.", n))
		}
	}
	report.Sort(out)
	return out, errors.Join(errs...)
}

// markIntrinsics replaces {"Ref": ...} and {"Fn::X": ...} in a JSON
// template with opaque values.
func markIntrinsics(n *iampolicy.Node, depth int) {
	if depth > 64 {
		return
	}
	for _, e := range n.Elems {
		markIntrinsics(e, depth+1)
	}
	for i := range n.Fields {
		v := n.Fields[i].Value
		if v.Kind == iampolicy.Object && len(v.Fields) == 1 && (v.Fields[0].Key == "Ref" || strings.HasPrefix(v.Fields[0].Key, "Fn::")) {
			n.Fields[i].Value = &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + v.Fields[0].Key, Pos: v.Pos}
			continue
		}
		markIntrinsics(v, depth+1)
	}
	for i, e := range n.Elems {
		if e.Kind == iampolicy.Object && len(e.Fields) == 1 && (e.Fields[0].Key == "Ref" || strings.HasPrefix(e.Fields[0].Key, "Fn::")) {
			n.Elems[i] = &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + e.Fields[0].Key, Pos: e.Pos}
		}
	}
}

// docsIn finds the policies in a template or export. A template's are
// named by their resource's logical ID.
func docsIn(root *iampolicy.Node) []nestedDoc {
	res := root.Get("Resources")
	if res == nil || res.Kind != iampolicy.Object {
		return nestedDocs(root, "", 0)
	}
	var docs []nestedDoc
	for _, f := range res.Fields {
		docs = append(docs, nestedDocs(f.Value, f.Key, 1)...)
	}
	return docs
}

// maxAliasValues bounds the values aliases add to a template once every
// alias is followed. yaml.v3 limits alias expansion only when it decodes
// into Go values, not for a yaml.Node walked here, so a few hundred bytes
// of nested aliases ("billion laughs") would otherwise expand to billions
// of values; and every policy document an alias repeats is linted again,
// so the budget is kept well below what a 1 MiB file can hold: sharing a
// few snippets takes far less.
const maxAliasValues = 1 << 16

// checkExpansion counts the values root expands to, following aliases,
// without building them (sizes are remembered per node, so the count costs
// one pass over the parsed document). It refuses an alias that refers to
// a node holding it (a cycle), and aliases that add more than
// maxAliasValues values, naming the position where the limit was crossed.
func checkExpansion(name string, root *yaml.Node) *iampolicy.SyntaxError {
	const inProgress = -1
	sizes := map[*yaml.Node]int{}
	var size func(y *yaml.Node) (int, *iampolicy.SyntaxError)
	size = func(y *yaml.Node) (int, *iampolicy.SyntaxError) {
		if n, ok := sizes[y]; ok && n != inProgress {
			return n, nil
		}
		total, kids := 1, y.Content
		if y.Kind == yaml.AliasNode && y.Alias != nil {
			if sizes[y.Alias] == inProgress {
				return 0, &iampolicy.SyntaxError{File: name, Pos: iampolicy.Pos{Line: y.Line, Col: y.Column},
					Msg: fmt.Sprintf("alias *%s refers to a node that contains it (an alias cycle)", y.Value)}
			}
			total, kids = 0, []*yaml.Node{y.Alias}
		}
		sizes[y] = inProgress
		for _, c := range kids {
			n, se := size(c)
			if se != nil {
				return 0, se
			}
			total += n
			// The values beyond the parsed nodes are what aliases add.
			if total > len(sizes)+maxAliasValues {
				return 0, &iampolicy.SyntaxError{File: name, Pos: iampolicy.Pos{Line: c.Line, Col: c.Column},
					Msg: fmt.Sprintf("aliases expand the document by more than %d values (nested aliases, a \"billion laughs\" document?)", maxAliasValues)}
			}
		}
		sizes[y] = total
		return total, nil
	}
	_, se := size(root)
	return se
}

var yamlLineRe = lazyregexp.New(`line (\d+)`)

func yamlErrPos(err error) iampolicy.Pos {
	if m := yamlLineRe().FindStringSubmatch(err.Error()); m != nil {
		n := 0
		fmt.Sscan(m[1], &n)
		return iampolicy.Pos{Line: n, Col: 1}
	}
	return iampolicy.Pos{Line: 1, Col: 1}
}

// yamlToNode converts YAML to the JSON tree. A mapping key of the form
// "Fn::X" or "Ref" marks an intrinsic function, as does a local tag (!Sub).
func yamlToNode(y *yaml.Node, depth int) *iampolicy.Node {
	pos := iampolicy.Pos{Line: y.Line, Col: y.Column}
	if depth > 64 {
		return &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + "deep", Pos: pos}
	}
	if strings.HasPrefix(y.Tag, "!") && !strings.HasPrefix(y.Tag, "!!") {
		return &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + y.Tag + " " + shorten(y.Value), Pos: pos}
	}
	switch y.Kind {
	case yaml.AliasNode:
		// checkExpansion has bounded what following aliases costs.
		if y.Alias != nil {
			return yamlToNode(y.Alias, depth+1)
		}
	case yaml.MappingNode:
		if len(y.Content) == 2 {
			k := y.Content[0].Value
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return &iampolicy.Node{Kind: iampolicy.String, Str: unresolvedMark + k, Pos: pos}
			}
		}
		n := &iampolicy.Node{Kind: iampolicy.Object, Pos: pos}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k := y.Content[i]
			n.Fields = append(n.Fields, iampolicy.Field{Key: k.Value, KeyPos: iampolicy.Pos{Line: k.Line, Col: k.Column}, Value: yamlToNode(y.Content[i+1], depth+1)})
		}
		return n
	case yaml.SequenceNode:
		n := &iampolicy.Node{Kind: iampolicy.Array, Pos: pos}
		for _, c := range y.Content {
			n.Elems = append(n.Elems, yamlToNode(c, depth+1))
		}
		return n
	case yaml.ScalarNode:
		switch y.Tag {
		case "!!bool":
			return &iampolicy.Node{Kind: iampolicy.Bool, Bool: strings.EqualFold(y.Value, "true"), Pos: pos}
		case "!!int", "!!float":
			return &iampolicy.Node{Kind: iampolicy.Number, Str: y.Value, Pos: pos}
		case "!!null":
			return &iampolicy.Node{Kind: iampolicy.Null, Pos: pos}
		}
		return &iampolicy.Node{Kind: iampolicy.String, Str: y.Value, Pos: pos}
	}
	return &iampolicy.Node{Kind: iampolicy.Null, Pos: pos}
}

func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// isCloudFormationYAML reports whether data looks like a YAML template with
// IAM policies in it.
func isCloudFormationYAML(data []byte) bool {
	return bytes.Contains(data, []byte("PolicyDocument")) &&
		(bytes.Contains(data, []byte("Resources:")) || bytes.Contains(data, []byte("AWSTemplateFormatVersion")))
}

// IsPolicyFile reports whether a file found in a directory walk holds
// policies keywarden reads: a policy or export (.json), a Terraform file, or
// a CloudFormation template with IAM policies (.yaml, .yml, .template).
func IsPolicyFile(name string, data []byte) bool {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".tf"):
		return true
	case strings.HasSuffix(l, ".json"):
		return IsPolicyJSON(data)
	case strings.HasSuffix(l, ".yaml"), strings.HasSuffix(l, ".yml"), strings.HasSuffix(l, ".template"):
		return isCloudFormationYAML(data)
	}
	return false
}
