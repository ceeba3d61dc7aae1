package policylint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

// Every rule has a fixture that triggers it (RULE.bad.json or .tf) and a
// near miss that must not (RULE.ok.*), under testdata/rules.
var wantSeverity = map[string]report.Severity{
	RuleMFADenyBool:            report.SeverityHigh,
	RuleMFAAllowIfExists:       report.SeverityHigh,
	RuleMFAValue:               report.SeverityHigh,
	RuleMFAOperator:            report.SeverityHigh,
	RuleMFAAgeUnbound:          report.SeverityHigh,
	RuleMFAUnbound:             report.SeverityHigh,
	RuleMFANullDeny:            report.SeverityMedium,
	RuleMFABlocksMFA:           report.SeverityLow,
	RuleMFASelfServiceDenied:   report.SeverityLow,
	RuleMFAGuardExemptsRemov:   report.SeverityHigh,
	RuleMFAGuardExemptsActions: report.SeverityHigh,
	RuleMFARemovalAllowed:      report.SeverityHigh,
	RuleMFAAllowOnly:           report.SeverityInfo,
	RuleMFAKeyEnrollment:       report.SeverityHigh,
	RuleNetNoServiceExc:        report.SeverityLow,
	RuleNetPrivateRange:        report.SeverityLow,
	RuleNetBadCIDR:             report.SeverityLow,
	RuleNetIPv4Only:            report.SeverityLow,
	RuleNetNoVPCE:              report.SeverityInfo,
	RuleNetGuardUnbound:        report.SeverityHigh,
	RuleAllowStar:              report.SeverityCritical,
	RuleAllowNotAction:         report.SeverityHigh,
	RuleAllowNotResource:       report.SeverityHigh,
	RulePolicyVariables:        report.SeverityLow,
	RuleSyntax:                 report.SeverityMedium,
	RuleVersion:                report.SeverityMedium,
	RuleEffect:                 report.SeverityMedium,
	RuleOperator:               report.SeverityMedium,
	RuleDuplicateSid:           report.SeverityMedium,
	RuleElement:                report.SeverityMedium,
	RuleValue:                  report.SeverityMedium,
	RuleEmpty:                  report.SeverityMedium,
	RuleUnknownAction:          report.SeverityLow,
	RuleTFUnresolved:           report.SeverityInfo,
}

func fixture(t *testing.T, id, kind string) (string, []byte) {
	t.Helper()
	for _, ext := range []string{".json", ".tf"} {
		p := filepath.Join("testdata", "rules", id+"."+kind+ext)
		if data, err := os.ReadFile(p); err == nil {
			return p, data
		}
	}
	t.Fatalf("no fixture testdata/rules/%s.%s.{json,tf}", id, kind)
	return "", nil
}

func TestRules(t *testing.T) {
	if len(wantSeverity) != len(rules) {
		t.Errorf("%d rules in the catalogue, %d in this table", len(rules), len(wantSeverity))
	}
	for _, r := range rules {
		t.Run(r.ID, func(t *testing.T) {
			if !strings.HasPrefix(r.ID, "kw-") || r.Title == "" || r.LongTerm == "" || r.Fix == "" {
				t.Errorf("rule %+v lacks id prefix, title, long-term effect or fix", r)
			}
			want, ok := wantSeverity[r.ID]
			if !ok {
				t.Fatalf("rule %s has no expected severity", r.ID)
			}
			path, data := fixture(t, r.ID, "bad")
			fs, _ := LintFile(path, data)
			var hit *report.Finding
			for i := range fs {
				if fs[i].RuleID == r.ID {
					hit = &fs[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("%s: no %s finding; got %v", path, r.ID, ids(fs))
			}
			if hit.Severity != want {
				t.Errorf("%s: severity %s, want %s", path, hit.Severity, want)
			}
			if hit.Location.Path != path || hit.Location.Line < 1 || hit.Location.Column < 1 {
				t.Errorf("%s: location %+v", path, hit.Location)
			}
			if hit.Remediation == "" || hit.Message == "" || hit.Title == "" {
				t.Errorf("%s: finding lacks message, title or fix: %+v", path, hit)
			}
			if r.ID != RuleSyntax && r.ID != RuleEmpty && r.ID != RuleVersion && r.ID != RuleTFUnresolved && !strings.Contains(hit.Location.Resource, "Statement[") {
				t.Errorf("%s: resource %q does not name the statement", path, hit.Location.Resource)
			}
			if _, ok := hit.Properties["long_term_key"]; !ok && r.ID != RuleSyntax && r.ID != RuleTFUnresolved {
				t.Errorf("%s: no long_term_key property", path)
			}

			path, data = fixture(t, r.ID, "ok")
			fs, err := LintFile(path, data)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, f := range fs {
				if f.RuleID == r.ID {
					t.Errorf("%s (near miss): %s fired: %s", path, r.ID, f.Message)
				}
			}
		})
	}
}

// readTestdata reads testdata/ELEM... and returns its path too.
func readTestdata(t *testing.T, elem ...string) (string, []byte) {
	t.Helper()
	path := filepath.Join(append([]string{"testdata"}, elem...)...)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

func ids(fs []report.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+"("+f.Severity.String()+")")
	}
	return out
}

// The right pattern, as DESIGN.md's table puts it: nothing at or above low.
func TestCorrectGuardIsClean(t *testing.T) {
	path, data := fixture(t, RuleMFASelfServiceDenied, "ok")
	fs, err := LintFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if report.AtOrAbove(fs, report.SeverityLow) {
		t.Fatalf("findings: %v", ids(fs))
	}
}

// DESIGN.md's MFA table, row by row, through the evaluator.
func TestMFATable(t *testing.T) {
	tests := []struct {
		effect, op, value string
		want              string // rule that must fire, "" for none at or above low
	}{
		{"Deny", "BoolIfExists", "false", ""},
		{"Deny", "Bool", "false", RuleMFADenyBool},
		{"Allow", "Bool", "true", ""},
		{"Allow", "BoolIfExists", "true", RuleMFAAllowIfExists},
		{"Deny", "Null", "true", RuleMFANullDeny},
		{"Allow", "StringEquals", "true", RuleMFAOperator},
		{"Deny", "StringNotEqualsIfExists", "true", RuleMFAOperator},
	}
	for _, tt := range tests {
		action := `"NotAction": ["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ResyncMFADevice","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:GetUser","iam:ChangePassword","sts:GetSessionToken"]`
		if tt.effect == "Allow" {
			action = `"Action": "ec2:*"`
		}
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"` + tt.effect + `",` + action + `,"Resource":"*","Condition":{"` + tt.op + `":{"aws:MultiFactorAuthPresent":"` + tt.value + `"}}}]}`
		fs, err := LintJSON("t.json", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			if f.Severity >= report.SeverityLow {
				got = append(got, f.RuleID)
			}
		}
		if tt.want == "" && len(got) > 0 || tt.want != "" && (len(got) == 0 || got[0] != tt.want) {
			t.Errorf("%s %s %s: got %v, want %q", tt.effect, tt.op, tt.value, got, tt.want)
		}
	}
}

func TestTrailingCommaPosition(t *testing.T) {
	path, data := fixture(t, RuleSyntax, "bad")
	fs, err := LintFile(path, data)
	var se *iampolicy.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if got := err.Error(); got != path+":5:3: trailing comma before ']'" {
		t.Errorf("error = %q", got)
	}
	if len(fs) != 1 || fs[0].Location.Line != 5 || fs[0].Location.Column != 3 {
		t.Errorf("findings = %+v", fs)
	}
}

func TestTerraformPositions(t *testing.T) {
	_, data := readTestdata(t, "terraform", "mixed.tf")
	fs, err := LintTerraform("mixed.tf", data)
	if err != nil {
		t.Fatal(err)
	}
	// line of the offending condition in each of the three shapes
	want := []struct {
		rule     string
		line     int
		resource string
	}{
		{RuleMFAAllowIfExists, 10, "resource.aws_iam_policy.jsonencoded.policy Statement[0]"},
		{RuleMFADenyBool, 27, "resource.aws_iam_role_policy.heredoc.policy Statement[0] (Sid DenyNoMFA)"},
		{RuleMFANullDeny, 42, "data.aws_iam_policy_document.doc Statement[0] (Sid NullDeny)"},
		{RuleTFUnresolved, 53, "resource.aws_iam_policy.fromvar.policy"},
	}
	for _, w := range want {
		found := false
		for _, f := range fs {
			if f.RuleID == w.rule && f.Location.Line == w.line && f.Location.Resource == w.resource {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s at line %d (%s); got:", w.rule, w.line, w.resource)
			for _, f := range fs {
				t.Logf("  %s %s %s", f.RuleID, f.Location, f.Message)
			}
		}
	}
	// A heredoc's JSON error is mapped to the .tf line.
	bad := []byte("resource \"aws_iam_policy\" \"x\" {\n  policy = <<EOF\n{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [],\n}\nEOF\n}\n")
	fs, _ = LintTerraform("bad.tf", bad)
	if len(fs) != 1 || fs[0].RuleID != RuleSyntax || fs[0].Location.Line != 6 {
		t.Errorf("heredoc syntax error: %+v", fs)
	}
	// Malformed HCL: error with position.
	_, err = LintTerraform("broken.tf", []byte("resource \"a\" \"b\" {\n  policy = \n"))
	var se *iampolicy.SyntaxError
	if !errors.As(err, &se) || se.Pos.Line < 2 || !strings.HasPrefix(err.Error(), "broken.tf:") {
		t.Errorf("broken HCL: %v", err)
	}
}

func TestUnwrapCLIOutput(t *testing.T) {
	doc := `{"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}, "VersionId": "v1", "IsDefaultVersion": true}}`
	fs, err := LintJSON("v.json", []byte(doc))
	if err != nil || len(fs) != 1 || fs[0].RuleID != RuleAllowStar {
		t.Fatalf("got %v %v", ids(fs), err)
	}
}

func TestSARIF(t *testing.T) {
	var all []report.Finding
	for _, r := range rules {
		path, data := fixture(t, r.ID, "bad")
		fs, _ := LintFile(path, data)
		all = append(all, fs...)
	}
	var b bytes.Buffer
	if err := report.WriteSARIF(&b, report.Tool{Name: "keywarden policy lint", Version: "test"}, Rules(), all); err != nil {
		t.Fatal(err)
	}
	sariftest.Validate(t, b.Bytes())
}

func TestGlob(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"iam:*MFADevice", "iam:DeactivateMFADevice", true},
		{"iam:*", "iam:GetUser", true},
		{"iam:Get?ser", "iam:GetUser", true},
		{"iam:Get*", "iam:ListUsers", false},
		{"*", "", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
	}
	for _, tt := range tests {
		if got := glob(tt.p, tt.s, true); got != tt.want {
			t.Errorf("glob(%q, %q) = %v", tt.p, tt.s, got)
		}
	}
}

func FuzzLint(f *testing.F) {
	for _, dir := range []string{filepath.Join("testdata", "rules"), filepath.Join("testdata", "export")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".json") {
				if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
					f.Add(data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := LintJSON("fuzz.json", data)
		if err != nil {
			var se *iampolicy.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %T: %v", err, err)
			}
		}
		for _, f := range fs {
			if f.RuleID == "" || f.Severity < report.SeverityInfo || f.Location.Line < 1 {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}

func FuzzTerraform(f *testing.F) {
	for _, dir := range []string{filepath.Join("testdata", "rules"), filepath.Join("testdata", "terraform"), filepath.Join("..", "policygen", "testdata", "golden")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tf") {
				if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
					f.Add(data)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := LintTerraform("fuzz.tf", data)
		if err != nil {
			var se *iampolicy.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %T: %v", err, err)
			}
		}
		for _, f := range fs {
			if f.RuleID == "" || f.Severity < report.SeverityInfo {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}

// The user documentation lists every rule.
func TestDocsListEveryRule(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "policy.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if !strings.Contains(string(doc), "| `"+r.ID+"` | ") {
			t.Errorf("docs/policy.md does not list %s", r.ID)
		}
	}
}

// A role trust policy requiring MFA with Bool is the documented pattern:
// no finding at all.
func TestTrustPolicyWithMFA(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`
	fs, err := LintJSON("trust.json", []byte(doc))
	if err != nil || len(fs) != 0 {
		t.Fatalf("%v %v", ids(fs), err)
	}
}

// Expressions where keys, operators or whole policies belong are noted,
// never reported as malformed.
func TestTerraformExpressionsAreNotFindings(t *testing.T) {
	src := `
locals {
  op = "BoolIfExists"
}
resource "aws_iam_policy" "a" {
  policy = jsonencode(local.doc)
}
resource "aws_iam_policy" "b" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect = "Deny", Action = "*", Resource = "*"
      Condition = { (local.op) = { "aws:MultiFactorAuthPresent" = "false" } }
    }]
  })
}
data "aws_iam_policy_document" "c" {
  statement {
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]
    condition {
      test     = local.op
      variable = "aws:MultiFactorAuthPresent"
      values   = ["false"]
    }
  }
}
`
	fs, err := LintTerraform("x.tf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.RuleID != RuleTFUnresolved {
			t.Errorf("unexpected %s: %s", f.RuleID, f.Message)
		}
	}
	if len(fs) != 3 {
		t.Errorf("want one note per policy, got %v", ids(fs))
	}
}

// An authorization-details export: every policy in it, named by its owner,
// URL-encoded documents included, old policy versions left out.
func TestAuthorizationDetailsExport(t *testing.T) {
	path, data := readTestdata(t, "export", "authorization-details.json")
	if !IsPolicyJSON(data) || IsPolicyJSON([]byte(`{"name": "x"}`)) {
		t.Error("IsPolicyJSON")
	}
	fs, err := LintJSON(path, data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fs {
		got[f.RuleID] = f.Location.Resource
	}
	if r := got[RuleMFADenyBool]; r != "alice raw Statement[0]" {
		t.Errorf("URL-encoded user policy: %q (%v)", r, got)
	}
	if r := got[RuleMFAAllowIfExists]; r != "ci trust Statement[0]" {
		t.Errorf("trust policy: %q (%v)", r, got)
	}
	if _, ok := got[RuleAllowStar]; ok {
		t.Errorf("an old, non-default policy version was linted: %v", got)
	}
}

func TestCloudFormationTemplate(t *testing.T) {
	path, data := readTestdata(t, "cloudformation", "template.yaml")
	fs, err := LintFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		rule, resource string
		line           int
	}{
		{RuleMFADenyBool, "RequireMFA Statement[0] (Sid DenyNoMFA)", 29},
		{RuleMFAAllowIfExists, "Deployer trust Statement[0]", 40},
		{RuleNetPrivateRange, "Deployer office-only Statement[0]", 51},
		{RuleTFUnresolved, "Deployer office-only", 44},
	}
	for _, w := range want {
		found := false
		for _, f := range fs {
			if f.RuleID == w.rule && f.Location.Resource == w.resource && f.Location.Line == w.line {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s at %d (%s)", w.rule, w.line, w.resource)
		}
	}
	for _, f := range fs {
		if strings.HasPrefix(f.RuleID, "kw-policy-") || f.RuleID == RuleNetBadCIDR || f.RuleID == RuleNetIPv4Only {
			t.Errorf("false finding from an intrinsic function: %s %s %s", f.RuleID, f.Location, f.Message)
		}
	}
	// Malformed YAML: error with the line.
	_, err = LintFile("bad.yaml", []byte("Resources:\n  A:\n    Type: x\n  B: [\n"))
	var se *iampolicy.SyntaxError
	if !errors.As(err, &se) || se.Pos.Line != 4 || strings.Contains(se.Msg, "line 4") {
		t.Errorf("bad YAML: %v", err)
	}
}

func FuzzCloudFormation(f *testing.F) {
	hostile, _ := filepath.Glob(filepath.Join("testdata", "hostile", "*.yaml"))
	for _, p := range append([]string{filepath.Join("testdata", "cloudformation", "template.yaml"), filepath.Join("..", "policygen", "testdata", "golden", "full.yaml")}, hostile...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := LintCloudFormation("fuzz.yaml", data)
		if err != nil {
			var se *iampolicy.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %T: %v", err, err)
			}
		}
		for _, f := range fs {
			if f.RuleID == "" || f.Severity < report.SeverityInfo {
				t.Fatalf("bad finding %+v", f)
			}
		}
	})
}

func TestCloudFormationJSONTemplate(t *testing.T) {
	path, data := readTestdata(t, "cloudformation", "template.json")
	fs, err := LintFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.RuleID+"@"+f.Location.Resource)
	}
	want := []string{RuleMFAAllowIfExists + "@Deployer trust Statement[0]", RuleTFUnresolved + "@Deployer trust"}
	if !slices.Equal(got, want) && !slices.Equal(got, []string{want[1], want[0]}) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestEmptyStatementList(t *testing.T) {
	fs, err := LintJSON("e.json", []byte(`{"Version": "2012-10-17", "Statement": []}`))
	if err != nil || len(fs) != 1 || fs[0].RuleID != RuleEmpty {
		t.Fatalf("%v %v", ids(fs), err)
	}
}
