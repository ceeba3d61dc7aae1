package policylint

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

func nest(open, inner, close string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// Inputs built to exhaust memory or the stack end as one kw-policy-syntax
// finding naming the file and a position, and an error: never a hang, a
// runaway allocation or a fatal stack overflow.
func TestHostileInputs(t *testing.T) {
	const deep = 100_000
	fixture := func(name string) string {
		_, data := readTestdata(t, "hostile", name)
		return string(data)
	}
	cfn := "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      PolicyDocument: "
	tests := []struct {
		name, file, data string
		want             string // in the error
		line             int    // of the finding, 0: any
	}{
		// Nine levels of nine aliases: 476 bytes, 9^9 values expanded.
		{"billion laughs", "bomb.yaml", fixture("billion-laughs.yaml"), "aliases expand the document by more than 65536 values", 0},
		// One policy repeated 11,111 times by aliases: each copy would be
		// linted again.
		{"a policy repeated by aliases", "amp.yaml", fixture("alias-amplification.yaml"), "aliases expand the document by more than 65536 values", 16},
		{"alias cycle in a sequence", "cycle.yaml", fixture("alias-cycle-sequence.yaml"), "alias *loop refers to a node that contains it", 3},
		{"alias cycle in a mapping", "cycle.yaml", fixture("alias-cycle-mapping.yaml"), "alias *role refers to a node that contains it", 7},
		{"100k nested YAML sequences", "deep.yaml", cfn + nest("[", "", "]", deep) + "\n", "exceeded max depth", 0},
		{"100k nested YAML mappings", "deep.yaml", cfn + nest("{a: ", "1", "}", deep) + "\n", "exceeded max depth", 0},
		{"100k parentheses", "deep.tf", "locals {\n  a = " + nest("(", "1", ")", deep) + "\n}\n", "nested more than 1000 levels", 2},
		{"100k objects in jsonencode", "deep.tf", "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode(" + nest("{a = ", "1", "}", deep) + ")\n}\n", "nested more than 1000 levels", 2},
		{"100k nested templates", "deep.tf", "locals {\n  a = " + nest(`"${`, "1", `}"`, deep) + "\n}\n", "nested more than 1000 levels", 2},
		{"100k for expressions", "deep.tf", "locals {\n  a = " + nest("[for x in ", "y", " : x]", deep/10) + "\n}\n", "nested more than 1000 levels", 2},
		{"500k unary operators", "deep.tf", "locals {\n  a = " + strings.Repeat("!", 500_000) + "true\n}\n", "nested more than 1000 levels", 2},
		{"500k minus signs after a number", "deep.tf", "locals {\n  a = 1" + strings.Repeat("-", 500_000) + "1\n}\n", "nested more than 1000 levels", 2},
		{"unary operators on 400k lines", "deep.tf", "locals {\n  a = (" + strings.Repeat("-\n", 400_000) + "1)\n}\n", "nested more than 1000 levels", 1000},
		{"unary operators between comments", "deep.tf", "locals {\n  a = " + strings.Repeat("-/**/!#\n", 100_000) + "1\n}\n", "nested more than 1000 levels", 0},
		{"invalid UTF-8", "bad.tf", "locals {\n  a = \"\xe8\"0((((\n}\n", "invalid UTF-8", 2},
		{"100k nested blocks", "deep.tf", nest("b {\n", "", "}\n", deep), "nested more than 1000 levels", 1001},
		// hclsyntax trims the closing marker's line, so the ")" lines are
		// code after each heredoc and the parentheses stay open.
		{"parentheses around heredocs", "deep.tf", "locals {\n  a = " + strings.Repeat("(<<EOF\n  EOF\n", 1500) + "1" + strings.Repeat(")", 1500) + "\n}\n", "nested more than 1000 levels", 1998},
		{"100k arrays in a heredoc policy", "deep.tf", "resource \"aws_iam_policy\" \"p\" {\n  policy = <<EOF\n{\"Statement\": " + nest("[", "", "]", deep) + "}\nEOF\n}\n", "nested more than 64 levels", 0},
		{"100k arrays in JSON", "deep.json", `{"Statement": ` + nest("[", "", "]", deep) + "}", "nested more than 64 levels", 1},
		{"100k objects in JSON", "deep.json", `{"Statement": ` + nest(`{"a": `, "1", "}", deep) + "}", "nested more than 64 levels", 1},
		{"100k arrays in a JSON template", "deep.template.json", `{"Resources": {"R": {"Properties": {"PolicyDocument": ` + nest("[", "", "]", deep) + "}}}}", "nested more than 64 levels", 1},
		{"100k arrays on stdin", "<stdin>", nest("[", "", "]", deep), "nested more than 64 levels", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := LintFile(tt.file, []byte(tt.data))
			var se *iampolicy.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a syntax error", err, err)
			}
			if !strings.Contains(se.Msg, tt.want) || !strings.HasPrefix(err.Error(), tt.file+":") {
				t.Errorf("error %q, want %q naming %s", err, tt.want, tt.file)
			}
			var syntax int
			for _, f := range fs {
				if f.RuleID == RuleSyntax {
					syntax++
					if f.Location.Path != tt.file || f.Location.Line < 1 || tt.line != 0 && f.Location.Line != tt.line {
						t.Errorf("finding at %+v, want %s line %d", f.Location, tt.file, tt.line)
					}
				}
			}
			if syntax != 1 {
				t.Errorf("%d kw-policy-syntax findings, want 1: %v", syntax, ids(fs))
			}
		})
	}
}

// Nesting the scanner must not count: brackets in strings, heredocs,
// comments and escaped template sequences; names with dashes. Each input
// holds 5,000 such brackets and is valid HCL.
func TestHCLNestingIgnoresText(t *testing.T) {
	many := strings.Repeat("(", 5000)
	tests := map[string]string{
		"string":                    "a = \"" + many + "\"\n",
		"escaped quote":             "a = \"\\\"" + many + "\"\n",
		"escaped interp":            "a = \"$${" + many + "\"\n",
		"heredoc":                   "a = <<EOF\n" + many + "\nEOF\n",
		"indented marker":           "a = <<-EOT\n  " + many + "\n  EOT\n",
		"hash comment":              "# " + many + "\na = 1\n",
		"slash comment":             "// " + many + "\na = 1\n",
		"block comment":             "/* " + many + " */\na = 1\n",
		"dashed name":               "a = x" + strings.Repeat("-y", 2000) + "\n",
		"dashes in a name":          "a = x" + strings.Repeat("-", 5000) + "1\n",
		"interp closes":             "a = \"${" + "x}" + many + "\"\n",
		"999 parentheses":           "a = " + nest("(", "1", ")", 999) + "\n",
		"binary minus":              "a = 1" + strings.Repeat(" - 1", 2000) + "\n",
		"binary minus across lines": "a = (1" + strings.Repeat("\n- 1", 2000) + ")\n",
		"negated calls":             "a = [" + strings.Repeat("!f(x), -(1), ", 2000) + "]\n",
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			if _, diags := hclsyntax.ParseConfig([]byte(src), "t.tf", hcl.InitialPos); diags.HasErrors() {
				t.Fatalf("test input is not valid HCL: %s", diags.Error())
			}
			if off, ok := hclNesting([]byte(src), maxHCLNesting); !ok {
				t.Errorf("refused at offset %d: %q", off, src[max(0, off-10):min(len(src), off+10)])
			}
		})
	}
}

// Aliases within the budget are followed: a policy shared by two
// resources is linted for each.
func TestCloudFormationSharedPolicyAlias(t *testing.T) {
	src := `AWSTemplateFormatVersion: "2010-09-09"
Resources:
  First:
    Type: AWS::IAM::Policy
    Properties:
      PolicyDocument: &doc
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Action: "*"
            Resource: "*"
            Condition: {Bool: {aws:MultiFactorAuthPresent: "false"}}
  Second:
    Type: AWS::IAM::Policy
    Properties:
      PolicyDocument: *doc
`
	fs, err := LintCloudFormation("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var where []string
	for _, f := range fs {
		if f.RuleID == RuleMFADenyBool {
			where = append(where, f.Location.Resource)
		}
	}
	if len(where) != 2 || !strings.HasPrefix(where[0], "First ") || !strings.HasPrefix(where[1], "Second ") {
		t.Errorf("kw-mfa-deny-bool in %q, want First and Second", where)
	}
}

// A URL-encoded document in an export that is malformed (or nested too
// deep) is reported where its string is, with the position in the decoded
// text: never skipped silently. The export's other documents are linted.
func TestExportMalformedEncodedDocuments(t *testing.T) {
	path, data := readTestdata(t, "export", "url-encoded-malformed.json")
	fs, err := LintJSON(path, data)
	want := []string{
		path + ":7:18: URL-encoded policy document, at 1:78 of the decoded text: nested more than 64 levels deep",
		path + ":16:18: URL-encoded policy document, at 1:34 of the decoded text: trailing comma before '}'",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("error %v, want %q", err, want)
	}
	got := map[string]string{}
	for _, f := range fs {
		got[f.Location.Resource] = f.RuleID
	}
	if got["Deep"] != RuleSyntax || got["Bad"] != RuleSyntax || got["Good Statement[0]"] != RuleAllowStar {
		t.Errorf("findings by resource %v", got)
	}
}

// lexDepth is how deeply hclsyntax's own lexer (a state machine, no
// recursion) nests brackets, quotes, heredocs and template sequences.
func lexDepth(src []byte) int {
	toks, _ := hclsyntax.LexConfig(src, "f.tf", hcl.InitialPos)
	d, deepest := 0, 0
	for _, tok := range toks {
		switch tok.Type {
		case hclsyntax.TokenOParen, hclsyntax.TokenOBrack, hclsyntax.TokenOBrace, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			d++
			deepest = max(deepest, d)
		case hclsyntax.TokenCParen, hclsyntax.TokenCBrack, hclsyntax.TokenCBrace, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			d = max(0, d-1)
		}
	}
	return deepest
}

// The nesting scanner never lets through what hclsyntax's lexer nests
// deeper than the limit (it may refuse more: unary operators, closers
// that match nothing).
func FuzzHCLNesting(f *testing.F) {
	for _, s := range []string{
		"a = ((((((((((1))))))))))\n",
		"a = \"${\"${\"${\"${\"${x}\"}\"}\"}\"}\"\n",
		"a = <<EOF\n${[[[[[[[[[1]]]]]]]]]}\n  EOF\nb = [[[[[[[[[[1]]]]]]]]]]\n",
		"a = <<-EOT\n  %{ if x }${(((((((((1)))))))))}%{ endif }\n  EOT\n",
		"# ((((((((((\n/* [[[[[[[[[[ */ a = \"$${((((((((((\"\n",
		"b { c { d { e { f { g { h { i { j {}}}}}}}}}\n",
	} {
		f.Add([]byte(s))
	}
	const limit = 8
	f.Fuzz(func(t *testing.T, src []byte) {
		if !utf8.Valid(src) {
			t.Skip("checkHCLNesting refuses it before scanning")
		}
		off, ok := hclNesting(src, limit)
		if !ok && (off < 0 || off > len(src)) {
			t.Fatalf("offset %d outside the input (%d bytes)", off, len(src))
		}
		if d := lexDepth(src); ok && d > limit {
			t.Fatalf("accepted, but hclsyntax's lexer nests %d levels: %q", d, src)
		}
	})
}
