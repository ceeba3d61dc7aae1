package orgaudit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/orgaudit"
)

const denyWithoutMFA = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyWithoutMFA","Effect":"Deny","Action":"*","Resource":"*",
"Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`

// TestLiveMotoOrganization builds, through the SDK against moto_server, an
// organization with three member accounts in two OUs (Prod: one account,
// Dev: two), an SCP on Prod that denies every request made without MFA,
// and in every account (the management account too) a user "admin" with
// an access key and an inline policy allowing everything. The audit must
// find the Dev keys (and the management account's, which SCPs do not
// affect) usable without MFA and the Prod key not.
//
// Observed with moto 5: once SCPs and RCPs are enabled at the root (the
// test enables them), FullAWSAccess / RCPFullAWSAccess attached to the root,
// every OU and every account; AssumeRole of
// arn:aws:iam::ACCOUNT:role/OrganizationAccountAccessRole succeeds without
// the role existing, and IAM calls signed with the session act in ACCOUNT
// (GetCallerIdentity and the users' ARNs name it).
func TestLiveMotoOrganization(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	cfg := srv.Config()
	org := organizations.NewFromConfig(cfg)
	if _, err := org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}); err != nil {
		t.Fatal(err)
	}
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	root := aws.ToString(roots.Roots[0].Id)
	for _, pt := range []orgtypes.PolicyType{orgtypes.PolicyTypeServiceControlPolicy, orgtypes.PolicyTypeResourceControlPolicy} {
		if _, err := org.EnablePolicyType(ctx, &organizations.EnablePolicyTypeInput{RootId: aws.String(root), PolicyType: pt}); err != nil {
			t.Fatal(err)
		}
	}
	ou := map[string]string{}
	for _, name := range []string{"Prod", "Dev"} {
		out, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(root), Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		ou[name] = aws.ToString(out.OrganizationalUnit.Id)
	}
	accounts := map[string]string{} // name -> ID
	for _, a := range []struct{ name, ou string }{{"prod-app", "Prod"}, {"dev-app", "Dev"}, {"dev-data", "Dev"}} {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(a.name), Email: aws.String(a.name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		accounts[a.name] = id
		if _, err := org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(id), SourceParentId: aws.String(root), DestinationParentId: aws.String(ou[a.ou])}); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("DenyWithoutMFA"), Description: aws.String("keys need MFA"),
		Type: orgtypes.PolicyTypeServiceControlPolicy, Content: aws.String(denyWithoutMFA)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: pol.Policy.PolicySummary.Id, TargetId: aws.String(ou["Prod"])}); err != nil {
		t.Fatal(err)
	}
	stsClient := sts.NewFromConfig(cfg)
	seed := func(c aws.Config) {
		t.Helper()
		ic := iam.NewFromConfig(c)
		if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("all"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")}); err != nil {
			t.Fatal(err)
		}
	}
	seed(cfg)
	for _, id := range accounts {
		c := cfg.Copy()
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, "arn:aws:iam::"+id+":role/"+orgaudit.DefaultRoleName))
		seed(c)
	}

	tree, err := orgaudit.LoadLive(ctx, orgaudit.NewOrganizationsClient(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Accounts) != 4 || !tree.Management(mototest.Account) {
		t.Fatalf("accounts %+v, management %q", tree.Accounts, tree.Organization.Organization.MasterAccountID)
	}
	load := orgaudit.LiveLoader(cfg, mototest.Account, orgaudit.DefaultRoleName, inventory.LiveOptions{PollInterval: 10 * time.Millisecond})
	res := orgaudit.Run(ctx, tree, tree.Accounts, load, orgaudit.Options{
		Audit: audit.Options{Now: time.Now(), Exposer: audit.NewEngineExposer()}, Parallel: 2})
	if res.Failed != 0 {
		for _, ar := range res.Accounts {
			t.Logf("%s: %s", ar.ID, ar.Error)
		}
		t.Fatalf("%d accounts failed", res.Failed)
	}
	byID := map[string]orgaudit.AccountResult{}
	for _, ar := range res.Accounts {
		byID[ar.ID] = ar
	}
	tests := []struct {
		name       string
		id         string
		path       string
		scpLevels  int
		usable     bool
		management bool
	}{
		{"prod: the OU's SCP denies keys without MFA", accounts["prod-app"], "Root/Prod", 3, false, false},
		{"dev: FullAWSAccess only", accounts["dev-app"], "Root/Dev", 3, true, false},
		{"dev: second account", accounts["dev-data"], "Root/Dev", 3, true, false},
		{"management account: exempt from SCPs", mototest.Account, "Root", 0, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ar, ok := byID[tc.id]
			if !ok || ar.Result == nil {
				t.Fatalf("account %s not audited", tc.id)
			}
			if wantRCPs := !tc.management; (len(ar.RCPs) > 0) != wantRCPs {
				t.Errorf("RCP levels %+v, want some: %v", ar.RCPs, wantRCPs)
			}
			if ar.Path != tc.path || len(ar.SCPs) != tc.scpLevels || ar.Management != tc.management {
				t.Errorf("path %q, %d SCP levels, management %v; want %q, %d, %v", ar.Path, len(ar.SCPs), ar.Management, tc.path, tc.scpLevels, tc.management)
			}
			if ar.Result.AccountID != tc.id {
				t.Errorf("the audit read account %s, want %s (assumed-role credentials must act in the member account)", ar.Result.AccountID, tc.id)
			}
			if len(ar.Result.Keys) != 1 {
				t.Fatalf("%d keys, want 1: %+v", len(ar.Result.Keys), ar.Result.Keys)
			}
			k := ar.Result.Keys[0]
			if k.WithoutMFA == nil {
				t.Fatal("exposure not evaluated")
			}
			if got := *k.WithoutMFA > 0; got != tc.usable {
				t.Errorf("key usable without MFA for %d actions, want usable=%v", *k.WithoutMFA, tc.usable)
			}
			if got := containsRule(k.Findings, "kw-audit-key-usable-without-mfa"); got != tc.usable {
				t.Errorf("findings %v: without-MFA finding %v, want %v", k.Findings, got, tc.usable)
			}
			if tc.management && !strings.Contains(strings.Join(ar.Result.Warnings, "\n"), "SCPs do not apply") {
				t.Errorf("the management account's report does not say SCPs do not apply: %v", ar.Result.Warnings)
			}
		})
	}
	prod := byID[accounts["prod-app"]]
	if len(prod.SCPs) < 2 {
		t.Fatalf("Prod account SCP levels %+v", prod.SCPs)
	}
	if got := strings.Join(prod.SCPs[1].Policies, ","); !strings.Contains(got, "DenyWithoutMFA") || !strings.Contains(got, "FullAWSAccess") {
		t.Errorf("Prod level SCPs %q, want FullAWSAccess and DenyWithoutMFA", got)
	}
}

func containsRule(list []string, id string) bool {
	for _, s := range list {
		if s == id {
			return true
		}
	}
	return false
}
