package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
)

const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
	"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
	"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"

// accountCase is one account built from inline exports, and the findings
// (rule id and a piece of the resource or message) the audit must and must
// not give. Dates are relative to now (2026-11-01).
type accountCase struct {
	name     string
	report   string // rows after the header
	details  string
	password string
	mod      func(*inventory.Account)
	want     []string // "rule-id|text in the message"
	notWant  []string // rule ids
}

func (c accountCase) account(t *testing.T) *inventory.Account {
	t.Helper()
	a := inventory.New()
	if c.details != "" {
		if err := a.ParseAuthorizationDetails("details.json", []byte(c.details)); err != nil {
			t.Fatal(err)
		}
	}
	if c.report != "" {
		rep, err := inventory.ParseCredentialReport("report.csv", []byte(reportHeader+c.report))
		if err != nil {
			t.Fatal(err)
		}
		a.ApplyCredentialReport("report.csv", rep)
	}
	if c.password != "" {
		p, err := inventory.ParsePasswordPolicy("password.json", []byte(c.password))
		if err != nil {
			t.Fatal(err)
		}
		a.SetPasswordPolicy(p)
	}
	if c.mod != nil {
		c.mod(a)
	}
	return a
}

const (
	rootRow      = "<root_account>,arn:aws:iam::111122223333:root,2019-01-01T00:00:00+00:00,not_supported,%s,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	adminDetails = `{"UserDetailList":[{"UserName":"ops","Arn":"arn:aws:iam::111122223333:user/ops","CreateDate":"2025-01-01T00:00:00Z",
		"UserPolicyList":[{"PolicyName":"everything","PolicyDocument":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}],
		"AttachedManagedPolicies":[{"PolicyName":"LegacyAdmin","PolicyArn":"arn:aws:iam::111122223333:policy/LegacyAdmin"}],"GroupList":["g"]}],
	"GroupDetailList":[{"GroupName":"g","Arn":"arn:aws:iam::111122223333:group/g","GroupPolicyList":[{"PolicyName":"scoped","PolicyDocument":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}}],"AttachedManagedPolicies":[]}],
	"RoleDetailList":[{"RoleName":"break-glass","Arn":"arn:aws:iam::111122223333:role/break-glass","RolePolicyList":[{"PolicyName":"admin","PolicyDocument":{"Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"]}]}}],"AttachedManagedPolicies":[]}],
	"Policies":[
	 {"PolicyName":"LegacyAdmin","Arn":"arn:aws:iam::111122223333:policy/LegacyAdmin","DefaultVersionId":"v2","PolicyVersionList":[
	  {"VersionId":"v1","IsDefaultVersion":false,"Document":{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}},
	  {"VersionId":"v2","IsDefaultVersion":true,"Document":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}]},
	 {"PolicyName":"Unused","Arn":"arn:aws:iam::111122223333:policy/Unused","DefaultVersionId":"v1","PolicyVersionList":[
	  {"VersionId":"v1","IsDefaultVersion":true,"Document":{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}}]},
	 {"PolicyName":"AdministratorAccess","Arn":"arn:aws:iam::aws:policy/AdministratorAccess","DefaultVersionId":"v1","PolicyVersionList":[
	  {"VersionId":"v1","IsDefaultVersion":true,"Document":{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}]}]}`
)

var accountCases = []accountCase{
	{name: "no password policy fails every CIS item but expiry", password: `{"PasswordPolicy": null}`,
		want: []string{audit.RulePasswordLength + "|no password policy", audit.RulePasswordReuse + "|(CIS 1.9 in v3.0",
			audit.RulePasswordComplexity + "|an uppercase letter (CIS v1.2 1.5", audit.RulePasswordComplexity + "|a number (CIS v1.2 1.8, Security Hub IAM.14)"},
		notWant: []string{audit.RulePasswordExpiry}},
	{name: "a CIS-compliant password policy passes",
		password: `{"PasswordPolicy":{"MinimumPasswordLength":14,"PasswordReusePrevention":24,"MaxPasswordAge":90,"ExpirePasswords":true,"RequireSymbols":true,"RequireNumbers":true,"RequireUppercaseCharacters":true,"RequireLowercaseCharacters":true}}`,
		notWant:  []string{audit.RulePasswordLength, audit.RulePasswordReuse, audit.RulePasswordExpiry, audit.RulePasswordComplexity}},
	{name: "a weak password policy names each item",
		password: `{"PasswordPolicy":{"MinimumPasswordLength":13,"PasswordReusePrevention":23,"MaxPasswordAge":91,"ExpirePasswords":true,"RequireSymbols":true,"RequireNumbers":true,"RequireUppercaseCharacters":true}}`,
		want: []string{audit.RulePasswordLength + "|requires 13 characters, fewer than 14 (CIS 1.8", audit.RulePasswordReuse + "|only the last 23 passwords",
			audit.RulePasswordExpiry + "|after 91 days, more than 90 (CIS v1.2 1.11)", audit.RulePasswordComplexity + "|a lowercase letter (RequireLowercaseCharacters; CIS v1.2 1.6"}},
	{name: "root password used 3 days ago", report: strings.Replace(rootRow, "%s", "2026-10-29T10:00:00+00:00", 1),
		want: []string{audit.RuleRootUsed + "|its password was used on 2026-10-29 (2 days ago) (CIS 1.7)"}},
	{name: "root password used 40 days ago is not recent", report: strings.Replace(rootRow, "%s", "2026-09-22T10:00:00+00:00", 1),
		notWant: []string{audit.RuleRootUsed}},
	{name: "root key used yesterday", report: "<root_account>,arn:aws:iam::111122223333:root,2019-01-01T00:00:00+00:00,not_supported,N/A,not_supported,not_supported,true," +
		"true,2020-01-01T00:00:00+00:00,2026-10-31T10:00:00+00:00,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
		want: []string{audit.RuleRootUsed + "|its access key (key 1) was used on 2026-10-31", audit.RuleRootAccessKey + "|"}},
	{name: "root with a virtual MFA device (live)", report: strings.Replace(rootRow, "%s", "N/A", 1),
		mod:  func(a *inventory.Account) { a.Sources.MFADevices = true; a.Root.MFAVirtual = inventory.Yes },
		want: []string{audit.RuleRootVirtualMFA + "|(CIS 1.6, Security Hub IAM.6)"}, notWant: []string{audit.RuleRootUsed}},
	{name: "root with a hardware MFA device (live)", report: strings.Replace(rootRow, "%s", "N/A", 1),
		mod:     func(a *inventory.Account) { a.Sources.MFADevices = true; a.Root.MFAVirtual = inventory.No },
		notWant: []string{audit.RuleRootVirtualMFA}},
	{name: "console passwords unused for 45 days",
		report: "idle,arn:aws:iam::111122223333:user/idle,2025-01-01T00:00:00+00:00,true,2026-09-01T00:00:00+00:00,2025-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
			"fresh,arn:aws:iam::111122223333:user/fresh,2025-01-01T00:00:00+00:00,true,2026-10-01T00:00:00+00:00,2025-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
			"never,arn:aws:iam::111122223333:user/never,2025-01-01T00:00:00+00:00,true,N/A,2026-08-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
			"newbie,arn:aws:iam::111122223333:user/newbie,2026-10-20T00:00:00+00:00,true,N/A,2026-10-20T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
		want: []string{audit.RulePasswordUnused + "|idle's console password was last used 61 days ago (2026-09-01); the maximum is 45 days (CIS 1.12)",
			audit.RulePasswordUnused + "|never's console password has never been used and was set 92 days ago"}},
	{name: "admin policies per policy, and policies attached to users", details: adminDetails,
		want: []string{audit.RuleAdminPolicy + "|customer-managed policy arn:aws:iam::111122223333:policy/LegacyAdmin (its default version) allows every action on every resource; it is attached to user ops",
			audit.RuleAdminPolicy + "|inline policy everything of user ops",
			audit.RuleAdminPolicy + "|inline policy admin of role break-glass",
			audit.RuleUserDirectPolicy + "|ops has 2 polic(ies) of its own rather than through a group: arn:aws:iam::111122223333:policy/LegacyAdmin, inline everything (CIS 1.15)"}},
	{name: "a key created in the future is a data error, not unused",
		report:  "zed,arn:aws:iam::111122223333:user/zed,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2099-08-10T11:13:31+00:00,2020-01-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
		want:    []string{audit.RuleKeyDateInvalid + "|zed's key 1 is dated 2099-08-10, after the audit (2026-11-01)"},
		notWant: []string{audit.RuleKeyUnused, audit.RuleKeyTooOld}},
}

func TestAccountChecks(t *testing.T) {
	for _, tt := range accountCases {
		t.Run(tt.name, func(t *testing.T) {
			r := audit.Run(tt.account(t), audit.Options{Now: now, Exposer: audit.NewEngineExposer()})
			got := map[string][]string{}
			for _, f := range r.Findings {
				got[f.RuleID] = append(got[f.RuleID], f.Message)
			}
			for _, w := range tt.want {
				id, text, _ := strings.Cut(w, "|")
				found := false
				for _, m := range got[id] {
					found = found || strings.Contains(m, text)
				}
				if !found {
					t.Errorf("no %s saying %q; got %q", id, text, got[id])
				}
			}
			for _, id := range tt.notWant {
				if len(got[id]) > 0 {
					t.Errorf("unexpected %s: %q", id, got[id])
				}
			}
			// The admin-policy check judges each policy once, and never an
			// AWS managed policy or a conditional or NotAction grant.
			if strings.Contains(tt.name, "admin policies") {
				if n := len(got[audit.RuleAdminPolicy]); n != 3 {
					t.Errorf("%d admin-policy findings: %q", n, got[audit.RuleAdminPolicy])
				}
			}
		})
	}
}

func TestRootRecentUseThreshold(t *testing.T) {
	a := accountCases[3].account(t)
	r := audit.Run(a, audit.Options{Now: now, RootRecentUse: 2 * 24 * time.Hour})
	for _, f := range r.Findings {
		if f.RuleID == audit.RuleRootUsed {
			t.Errorf("used 3 days ago, threshold 2 days, yet %s", f.Message)
		}
	}
}
