package policylint

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
)

// AWS: "No permissions are required for a user to get a session token ...
// You cannot use policies to control authentication operations." A Deny
// that covers sts:GetSessionToken therefore takes nothing away, and must not
// be reported as a lock-out (iameval, which keywarden policy simulate uses,
// allows the call whatever the policies say).
func TestSelfServiceIgnoresGetSessionToken(t *testing.T) {
	// Binds only long-term keys: console sessions can still enrol, and a
	// Deny cannot take GetSessionToken away, so no lock-out.
	nullDeny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:MultiFactorAuthPresent":"true"}}}]}`
	fs, err := LintJSON("null.json", []byte(nullDeny))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.RuleID == RuleMFASelfServiceDenied {
			t.Errorf("lock-out reported for a Deny that only covers sts:GetSessionToken among self-service: %s", f.Message)
		}
	}
	// Denies enrolment to sessions without MFA: a lock-out, but the
	// finding must not claim GetSessionToken is taken away.
	allDeny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	fs, err = LintJSON("all.json", []byte(allDeny))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range fs {
		if f.RuleID != RuleMFASelfServiceDenied {
			continue
		}
		found = true
		if strings.Contains(f.Message, "GetSessionToken") || strings.Contains(f.Evidence, "GetSessionToken") {
			t.Errorf("finding claims sts:GetSessionToken is denied: %s / %s", f.Message, f.Evidence)
		}
	}
	if !found {
		t.Errorf("no %s for a Deny of every action without MFA", RuleMFASelfServiceDenied)
	}
}

// kw-allow-star is downgraded to info only when an MFA deny covers every
// action but self-service: a guard whose NotAction exempts iam:* leaves a
// leaked key the whole of IAM (iameval allows iam:AttachUserPolicy there).
func TestAllowStarNeedsAFullGuard(t *testing.T) {
	path, data := fixture(t, RuleMFAGuardExemptsActions, "bad")
	fs, err := LintFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	star := false
	for _, f := range fs {
		if f.RuleID == RuleAllowStar {
			star = true
			if f.Severity != report.SeverityCritical {
				t.Errorf("%s: %s, want critical: %s", RuleAllowStar, f.Severity, f.Message)
			}
		}
	}
	if !star {
		t.Errorf("no %s finding: %v", RuleAllowStar, ids(fs))
	}
	path, data = fixture(t, RuleMFAGuardExemptsActions, "ok")
	fs, err = LintFile(path, data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Severity >= report.SeverityLow {
			t.Errorf("%s: %s (%s)", path, f.RuleID, f.Severity)
		}
	}
}
