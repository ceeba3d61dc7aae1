package policylint

import (
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
)

// The rules are independent: one pass reports every problem of a
// statement, so fixing one never makes another appear that was there all
// along. Each case lists what one pass finds (low and above), then fixes
// the problems one at a time; after each fix the findings must be a subset
// of the first pass.
func TestEveryProblemInOnePass(t *testing.T) {
	selfService := `["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ResyncMFADevice","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:GetUser","iam:ChangePassword","sts:GetSessionToken"]`
	tests := []struct {
		name  string
		doc   string
		want  []string
		fixes [][2]string // old, new
	}{
		{
			name: "Bool deny with a wide NotAction",
			doc:  `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":["iam:*","sts:GetSessionToken"],"Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`,
			want: []string{RuleMFADenyBool, RuleMFAGuardExemptsActions, RuleMFAGuardExemptsRemov},
			fixes: [][2]string{
				{`"Bool"`, `"BoolIfExists"`},
				{`["iam:*","sts:GetSessionToken"]`, selfService},
			},
		},
		{
			name: "Bool and a plain MFA age test",
			doc:  `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":["iam:*MFADevice","sts:*"],"Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"},"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}}]}`,
			want: []string{RuleMFADenyBool, RuleMFAAgeUnbound, RuleMFAGuardExemptsActions, RuleMFAGuardExemptsRemov, RuleMFASelfServiceDenied},
			fixes: [][2]string{
				{`"Bool"`, `"BoolIfExists"`},
				{`"NumericGreaterThan"`, `"NumericGreaterThanIfExists"`},
				{`["iam:*MFADevice","sts:*"]`, selfService},
			},
		},
		{
			name: "Null deny that also denies self-service",
			doc:  `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":["iam:*"],"Resource":"*","Condition":{"Null":{"aws:MultiFactorAuthPresent":"true"}}},{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`,
			want: []string{RuleMFANullDeny, RuleMFAGuardExemptsActions, RuleMFAGuardExemptsRemov, RuleAllowNotAction},
			fixes: [][2]string{
				{`"Null":{"aws:MultiFactorAuthPresent":"true"}`, `"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}`},
				{`"NotAction":["iam:*"]`, `"NotAction":` + selfService},
				{`"NotAction":"iam:*"`, `"Action":"ec2:*"`},
			},
		},
	}
	rulesOf := func(t *testing.T, doc string) []string {
		t.Helper()
		fs, err := LintJSON("p.json", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			if f.Severity >= report.SeverityLow && !slices.Contains(out, f.RuleID) {
				out = append(out, f.RuleID)
			}
		}
		slices.Sort(out)
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := rulesOf(t, tt.doc)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(first, want) {
				t.Fatalf("one pass found %v, want %v", first, want)
			}
			doc := tt.doc
			for i, fix := range tt.fixes {
				if !strings.Contains(doc, fix[0]) {
					t.Fatalf("fix %d: %q not in the document", i, fix[0])
				}
				doc = strings.Replace(doc, fix[0], fix[1], 1)
				for _, r := range rulesOf(t, doc) {
					if !slices.Contains(first, r) {
						t.Errorf("after fix %d (%s): %s appeared, which the first pass did not report", i+1, fix[1], r)
					}
				}
			}
			if left := rulesOf(t, doc); len(left) > 0 {
				t.Errorf("after every fix: %v", left)
			}
		})
	}
}

// kw-policy-unknown-action: the severity follows what the unknown value
// does in its statement.
func TestUnknownAction(t *testing.T) {
	tests := []struct {
		stmt    string
		sev     report.Severity // 0: no finding
		message string
	}{
		{`"Effect":"Deny","Action":"iam:CreateAccesKey"`, report.SeverityMedium, `"iam:CreateAccesKey" is not an action of iam (did you mean iam:CreateAccessKey?)`},
		{`"Effect":"Allow","NotAction":"s3:DeleteBuckett"`, report.SeverityMedium, "did you mean s3:DeleteBucket?"},
		{`"Effect":"Allow","Action":"s3:GetObjectt"`, report.SeverityLow, "did you mean s3:GetObject?"},
		{`"Effect":"Deny","NotAction":"iam:EnableMFADevic"`, report.SeverityLow, "did you mean iam:EnableMFADevice?"},
		{`"Effect":"Allow","Action":"iam:RequestSmsMfaRegistration"`, report.SeverityInfo, "An action AWS retired, or a misspelling"},
		{`"Effect":"Deny","Action":"ec22:RunInstances"`, report.SeverityInfo, `the service prefix "ec22" is not in keywarden's action catalogue`},
		{`"Effect":"Deny","Action":"s3:Gett*"`, report.SeverityInfo, `"s3:Gett*" matches no action`},
		{`"Effect":"Deny","Action":"GetObject"`, report.SeverityMedium, "AWS refuses the document"},
		{`"Effect":"Deny","Action":["s3:Get*","*","iam:*MFADevice","EC2:runinstances"]`, 0, ""},
	}
	for _, tt := range tests {
		doc := `{"Version":"2012-10-17","Statement":[{` + tt.stmt + `,"Resource":"*"}]}`
		fs, err := LintJSON("p.json", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			if f.RuleID != RuleUnknownAction {
				continue
			}
			got = append(got, f.Message)
			if f.Severity != tt.sev || !strings.Contains(f.Message, tt.message) {
				t.Errorf("%s: %s %q, want %s %q", tt.stmt, f.Severity, f.Message, tt.sev, tt.message)
			}
		}
		if want := min(int(tt.sev), 1); len(got) != want {
			t.Errorf("%s: %d findings %q, want %d", tt.stmt, len(got), got, want)
		}
	}
}

// The finding points at the unknown value itself, not at its list.
func TestUnknownActionPosition(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["s3:GetObject","s3:DeleteObjectt"],"Resource":"*"}]}`
	fs, err := LintJSON("p.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Index(doc, `"s3:DeleteObjectt"`) + 1
	for _, f := range fs {
		if f.RuleID == RuleUnknownAction {
			if f.Location.Line != 1 || f.Location.Column != want {
				t.Errorf("at %d:%d, want 1:%d", f.Location.Line, f.Location.Column, want)
			}
			return
		}
	}
	t.Errorf("no %s finding: %v", RuleUnknownAction, ids(fs))
}
