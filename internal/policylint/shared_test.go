package policylint

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
)

// Real policies from ../shared/data (AWS managed policies, inline and trust
// policies of two real accounts, as `aws iam get-account-authorization-details`
// prints them): AWS accepted every one, so none may get a finding that says
// AWS would refuse it, and the linter must not fail on any.
func TestSharedAuthorizationDetails(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "iam", "authorization-details")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skip("../shared/data is absent: skipping the real-policy test")
	}
	docs, findings := 0, map[string]int{}
	adminStar := false
	// Known flaws in the real samples: cloudsplaining's BAD_MFA_POLICY
	// exempts all of IAM (NotAction iam:*) from its MFA deny, so a key
	// without MFA can remove the device; PowerUserAccess grants by NotAction.
	want := map[string]string{
		"BAD_MFA_POLICY":  RuleMFAGuardExemptsRemov,
		"PowerUserAccess": RuleAllowNotAction,
	}
	got := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var root any
		if err := json.Unmarshal(data, &root); err != nil {
			t.Fatal(err)
		}
		for _, d := range policyDocs(root, "") {
			docs++
			fs, err := LintJSON(d.name, d.doc)
			if err != nil {
				t.Errorf("%s: %v", d.name, err)
				continue
			}
			for _, f := range fs {
				findings[f.RuleID]++
				// Old policies keep actions AWS has since retired: an
				// unknown action with no likely typo is a note, no more.
				if strings.HasPrefix(f.RuleID, "kw-policy-") && f.RuleID != RulePolicyVariables &&
					(f.RuleID != RuleUnknownAction || f.Severity != report.SeverityInfo) {
					t.Errorf("%s: %s on a policy AWS accepted: %s", d.name, f.RuleID, f.Message)
				}
				for name, rule := range want {
					if strings.Contains(d.name, "/"+name+".") && f.RuleID == rule {
						got[name] = true
					}
				}
				if f.RuleID == RuleAllowStar && strings.Contains(d.name, "AdministratorAccess") && f.Severity.String() == "critical" {
					adminStar = true
				}
			}
		}
	}
	// The whole export at once, as `policy lint` reads it: the same
	// findings, each named by the policy it is in, at its line.
	for _, file := range files {
		data, _ := os.ReadFile(file)
		fs, err := LintJSON(file, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if strings.HasPrefix(f.RuleID, "kw-policy-") && f.RuleID != RuleUnknownAction || f.Location.Line < 2 || f.Location.Resource == "" {
				t.Errorf("%s: %s at %s", file, f.RuleID, f.Location)
			}
			findings[f.RuleID]--
		}
	}
	for rule, n := range findings {
		if n != 0 {
			t.Errorf("%s: %d more findings document by document than in the whole export", rule, n)
		}
	}
	if docs < 50 {
		t.Errorf("only %d policy documents found", docs)
	}
	for name, rule := range want {
		if !got[name] {
			t.Errorf("%s: no %s finding", name, rule)
		}
	}
	if !adminStar {
		t.Error("AdministratorAccess did not give a critical kw-allow-star")
	}
	t.Logf("%d documents", docs)
}

type namedDoc struct {
	name string
	doc  []byte
}

// policyDocs finds policy documents anywhere in the authorization details:
// objects with a Statement, or URL-encoded strings (the raw API's form).
func policyDocs(v any, path string) []namedDoc {
	var out []namedDoc
	switch x := v.(type) {
	case map[string]any:
		if d, ok := x["IsDefaultVersion"].(bool); ok && !d {
			return nil
		}
		if _, ok := x["Statement"]; ok {
			b, _ := json.Marshal(x)
			return []namedDoc{{path, b}}
		}
		name := path
		for _, k := range []string{"PolicyName", "UserName", "GroupName", "RoleName"} {
			if s, ok := x[k].(string); ok {
				name = path + "/" + s
			}
		}
		for k, e := range x {
			out = append(out, policyDocs(e, name+"."+k)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, policyDocs(e, path)...)
		}
	case string:
		if strings.HasPrefix(x, "%7B") {
			if s, err := url.QueryUnescape(x); err == nil {
				return []namedDoc{{path, []byte(s)}}
			}
		}
	}
	return out
}
