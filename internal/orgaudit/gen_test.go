package orgaudit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/orgaudit"
)

// writeOrgExports writes an --org-exports tree of accounts member accounts
// (plus the management account) of users users each, deterministically:
// OUs Prod (with a nested EU) and Dev, FullAWSAccess everywhere and a
// DenyWithoutMFA SCP on Prod; in each account four groups (administrators,
// developers behind a correct MFA guard, operators behind the Bool mistake,
// readers), an inline policy on every seventh user, one key per user and
// a second on every third.
func writeOrgExports(tb testing.TB, dir string, accounts, users int) {
	tb.Helper()
	type obj = map[string]any
	doc := func(sts ...obj) string {
		b, _ := json.Marshal(obj{"Version": "2012-10-17", "Statement": sts})
		return string(b)
	}
	const mgmt = "100000000000"
	org := obj{
		"Organization":        obj{"Id": "o-generated1", "MasterAccountId": mgmt},
		"Roots":               []obj{{"Id": "r-gen1", "Name": "Root", "PolicyTypes": []obj{{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}}}},
		"OrganizationalUnits": []obj{{"Id": "ou-gen1-prod", "Name": "Prod", "ParentId": "r-gen1"}, {"Id": "ou-gen1-eu", "Name": "EU", "ParentId": "ou-gen1-prod"}, {"Id": "ou-gen1-dev", "Name": "Dev", "ParentId": "r-gen1"}},
		"Policies": []obj{
			{"PolicySummary": obj{"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY"}, "Content": doc(obj{"Effect": "Allow", "Action": "*", "Resource": "*"})},
			{"PolicySummary": obj{"Id": "p-nomfa", "Name": "DenyWithoutMFA", "Type": "SERVICE_CONTROL_POLICY"}, "Content": doc(obj{"Effect": "Deny", "Action": "*", "Resource": "*",
				"Condition": obj{"BoolIfExists": obj{"aws:MultiFactorAuthPresent": "false"}}})},
		},
	}
	targets := map[string][]string{"r-gen1": {"p-FullAWSAccess"}, "ou-gen1-prod": {"p-FullAWSAccess", "p-nomfa"}, "ou-gen1-eu": {"p-FullAWSAccess"}, "ou-gen1-dev": {"p-FullAWSAccess"}}
	parents := []string{"ou-gen1-prod", "ou-gen1-dev", "ou-gen1-eu"}
	var accts []obj
	for i := 0; i <= accounts; i++ {
		id := fmt.Sprintf("1%011d", i)
		parent := "r-gen1"
		if id != mgmt {
			parent = parents[i%len(parents)]
		}
		accts = append(accts, obj{"Id": id, "Name": fmt.Sprintf("account-%02d", i), "Status": "ACTIVE", "ParentId": parent})
		targets[id] = []string{"p-FullAWSAccess"}
		rep, det := genAccountExports(id, users)
		if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
			tb.Fatal(err)
		}
		for name, data := range map[string][]byte{orgaudit.CredentialReportCSV: rep, orgaudit.AuthorizationDetailsFile: det} {
			if err := os.WriteFile(filepath.Join(dir, id, name), data, 0o600); err != nil {
				tb.Fatal(err)
			}
		}
	}
	org["Accounts"], org["Targets"] = accts, targets
	b, err := json.MarshalIndent(org, "", " ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, orgaudit.OrganizationFile), b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// genAccountExports is one account's credential report (CSV) and
// authorization details.
func genAccountExports(acct string, n int) (report, details []byte) {
	type obj = map[string]any
	doc := func(sts ...obj) obj { return obj{"Version": "2012-10-17", "Statement": sts} }
	guard := func(op string) []obj {
		return []obj{{"PolicyName": "RequireMFA", "PolicyDocument": doc(obj{"Effect": "Deny", "NotAction": []string{"iam:*MFADevice", "sts:GetSessionToken"}, "Resource": "*",
			"Condition": obj{op: obj{"aws:MultiFactorAuthPresent": "false"}}})}}
	}
	devArn := "arn:aws:iam::" + acct + ":policy/developers"
	policies := []obj{
		{"PolicyName": "AdministratorAccess", "Arn": "arn:aws:iam::aws:policy/AdministratorAccess", "DefaultVersionId": "v1",
			"PolicyVersionList": []obj{{"VersionId": "v1", "IsDefaultVersion": true, "Document": doc(obj{"Effect": "Allow", "Action": "*", "Resource": "*"})}}},
		{"PolicyName": "developers", "Arn": devArn, "DefaultVersionId": "v1",
			"PolicyVersionList": []obj{{"VersionId": "v1", "IsDefaultVersion": true, "Document": doc(obj{"Effect": "Allow", "Action": []string{"s3:*", "lambda:*", "ec2:*", "iam:PassRole", "logs:*"}, "Resource": "*"})}}},
	}
	groups := []obj{
		{"GroupName": "admins", "Arn": "arn:aws:iam::" + acct + ":group/admins", "AttachedManagedPolicies": []obj{{"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}}},
		{"GroupName": "developers", "Arn": "arn:aws:iam::" + acct + ":group/developers", "AttachedManagedPolicies": []obj{{"PolicyName": "developers", "PolicyArn": devArn}}, "GroupPolicyList": guard("BoolIfExists")},
		{"GroupName": "operators", "Arn": "arn:aws:iam::" + acct + ":group/operators", "AttachedManagedPolicies": []obj{{"PolicyName": "developers", "PolicyArn": devArn}}, "GroupPolicyList": guard("Bool")},
		{"GroupName": "readers", "Arn": "arn:aws:iam::" + acct + ":group/readers", "GroupPolicyList": []obj{{"PolicyName": "read", "PolicyDocument": doc(obj{"Effect": "Allow", "Action": []string{"s3:Get*", "s3:List*", "iam:Get*", "iam:List*"}, "Resource": "*"})}}},
	}
	names := []string{"admins", "developers", "operators", "readers"}
	var rep bytes.Buffer
	rep.WriteString("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n")
	fmt.Fprintf(&rep, "<root_account>,arn:aws:iam::%s:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n", acct)
	var userList []obj
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("u%04d", i)
		arn := "arn:aws:iam::" + acct + ":user/" + name
		u := obj{"UserName": name, "Arn": arn, "Path": "/", "CreateDate": "2025-01-01T00:00:00Z", "GroupList": []string{names[i%len(names)]}}
		if i%7 == 0 {
			u["UserPolicyList"] = []obj{{"PolicyName": "own", "PolicyDocument": doc(obj{"Effect": "Allow", "Action": []string{"secretsmanager:GetSecretValue", "kms:Decrypt"}, "Resource": "*"})}}
		}
		userList = append(userList, u)
		key2 := "false,N/A,N/A,N/A,N/A"
		if i%3 == 0 {
			key2 = "true,2026-06-01T00:00:00+00:00,N/A,N/A,N/A"
		}
		fmt.Fprintf(&rep, "%s,%s,2025-01-01T00:00:00+00:00,%v,N/A,N/A,N/A,%v,true,2025-%02d-01T00:00:00+00:00,2026-11-%02dT00:00:00+00:00,us-east-1,s3,%s,false,N/A,false,N/A\n",
			name, arn, i%2 == 0, i%4 == 1, 1+i%12, 1+i%28, key2)
	}
	details, _ = json.Marshal(obj{"UserDetailList": userList, "GroupDetailList": groups, "RoleDetailList": []obj{}, "Policies": policies})
	return rep.Bytes(), details
}

// -write-org DIR writes the generated 50-account × 200-user exports to
// DIR, to time the command itself:
//
//	go test ./internal/orgaudit -run TestGeneratedOrg -write-org /tmp/org
//	time keywarden audit --org-exports /tmp/org >/dev/null
var writeOrg = flag.String("write-org", "", "write the generated 50 × 200 organization exports to this directory")

func auditExports(tb testing.TB, dir string) *orgaudit.Result {
	tb.Helper()
	tree, err := orgaudit.ReadOrganization(os.DirFS(dir), dir)
	if err != nil {
		tb.Fatal(err)
	}
	accounts, _, err := tree.Select(nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return orgaudit.Run(context.Background(), tree, accounts, orgaudit.ExportsLoader(os.DirFS(dir), dir),
		orgaudit.Options{Audit: audit.Options{Now: now, Exposer: audit.NewEngineExposer()}})
}

// TestGeneratedOrg audits a small generated organization from its exports
// and checks the verdicts by OU: the Prod keys (the SCP) and the
// developers (the correct guard) are not usable without MFA; the Dev and
// management administrators are.
func TestGeneratedOrg(t *testing.T) {
	dir := *writeOrg
	accounts, users := 5, 12
	if dir != "" {
		accounts, users = 50, 200
	} else {
		dir = t.TempDir()
	}
	writeOrgExports(t, dir, accounts, users)
	res := auditExports(t, dir)
	if res.Failed != 0 || len(res.Accounts) != accounts+1 {
		t.Fatalf("failed %d, accounts %d", res.Failed, len(res.Accounts))
	}
	for _, ar := range res.Accounts {
		if ar.Result.Users != users || len(ar.Result.Keys) != users+(users+2)/3 {
			t.Errorf("%s: %d users, %d keys", ar.ID, ar.Result.Users, len(ar.Result.Keys))
		}
		for _, k := range ar.Result.Keys {
			if k.User != "u0000" { // an administrator
				continue
			}
			prod := ar.Path == "Root/Prod" || ar.Path == "Root/Prod/EU"
			if usable := k.WithoutMFA != nil && *k.WithoutMFA > 0; usable == prod {
				t.Errorf("%s (%s) administrator's key usable without MFA: %v", ar.ID, ar.Path, usable)
			}
		}
	}
	if !res.Accounts[0].Management || len(res.Accounts[0].SCPs) != 0 {
		t.Errorf("the management account is %+v", res.Accounts[0])
	}
}

// BenchmarkOrgExports50x200 is the speed target: 50 accounts of
// 200 users each, offline (organization.json and every account's exports
// parsed, every check, text output) in under 10 s.
func BenchmarkOrgExports50x200(b *testing.B) {
	dir := b.TempDir()
	writeOrgExports(b, dir, 50, 200)
	b.ResetTimer()
	for b.Loop() {
		res := auditExports(b, dir)
		if res.Failed != 0 {
			b.Fatal("failed accounts")
		}
		if err := orgaudit.WriteText(io.Discard, res, audit.TextOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
