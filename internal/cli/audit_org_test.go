package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/mototest"
)

// TestAuditOrgLiveMoto runs `keywarden audit --org` itself against
// moto_server: an organization with one account in an OU whose SCP denies
// requests without MFA and one directly under the root, each with an
// administrator's key. The JSON report must give the two keys different
// verdicts, exempt the management account, and --exclude-accounts must
// leave an account out.
func TestAuditOrgLiveMoto(t *testing.T) {
	srv := mototest.Start(t)
	srv.SetEnv(t)
	ctx := context.Background()
	cfg := srv.Config()
	org := organizations.NewFromConfig(cfg)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(org.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}))
	roots, err := org.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil {
		t.Fatal(err)
	}
	root := roots.Roots[0].Id
	must(org.EnablePolicyType(ctx, &organizations.EnablePolicyTypeInput{RootId: root, PolicyType: orgtypes.PolicyTypeServiceControlPolicy}))
	ou, err := org.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: root, Name: aws.String("Locked")})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := org.CreatePolicy(ctx, &organizations.CreatePolicyInput{Name: aws.String("DenyWithoutMFA"), Description: aws.String("MFA"), Type: orgtypes.PolicyTypeServiceControlPolicy,
		Content: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	must(org.AttachPolicy(ctx, &organizations.AttachPolicyInput{PolicyId: pol.Policy.PolicySummary.Id, TargetId: ou.OrganizationalUnit.Id}))
	ids := map[string]string{}
	for _, name := range []string{"locked", "open"} {
		out, err := org.CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = aws.ToString(out.CreateAccountStatus.AccountId)
		c := cfg.Copy()
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), "arn:aws:iam::"+ids[name]+":role/OrganizationAccountAccessRole"))
		ic := iam.NewFromConfig(c)
		must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("admin")}))
		must(ic.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("admin"), PolicyName: aws.String("all"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}))
		must(ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("admin")}))
	}
	must(org.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(ids["locked"]), SourceParentId: root, DestinationParentId: ou.OrganizationalUnit.Id}))

	run := func(args ...string) (int, string, string) {
		io_, out, errOut := Test("")
		code := Main(&Factory{IO: io_, Getenv: os.Getenv, Now: time.Now}, append([]string{"audit", "--org", "--endpoint-url", srv.URL, "--report-timeout", "10s"}, args...))
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("--format", "json")
	if code != ExitFindings || errOut != "" {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Extra struct {
			Org struct {
				Failed   int `json:"failed"`
				Accounts []struct {
					ID         string            `json:"id"`
					Path       string            `json:"ou_path"`
					Management bool              `json:"management_account"`
					SCPs       []json.RawMessage `json:"scps"`
					Audit      struct {
						Keys []struct {
							User       string `json:"user"`
							WithoutMFA *int   `json:"without_mfa"`
						} `json:"keys"`
					} `json:"audit"`
				} `json:"accounts"`
			} `json:"audit_org"`
		} `json:"extra"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range doc.Extra.Org.Accounts {
		verdict := "no keys"
		for _, k := range a.Audit.Keys {
			if k.User == "admin" && k.WithoutMFA != nil {
				verdict = map[bool]string{true: "usable without MFA", false: "not usable without MFA"}[*k.WithoutMFA > 0]
			}
		}
		got[a.ID] = a.Path + ": " + verdict
		if a.Management != (a.ID == mototest.Account) || a.Management && len(a.SCPs) != 0 {
			t.Errorf("%s: management %v with %d SCP levels", a.ID, a.Management, len(a.SCPs))
		}
	}
	want := map[string]string{
		ids["locked"]:    "Root/Locked: not usable without MFA",
		ids["open"]:      "Root: usable without MFA",
		mototest.Account: "Root: no keys",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if doc.Extra.Org.Failed != 0 || len(got) != 3 {
		t.Errorf("failed %d, accounts %v", doc.Extra.Org.Failed, got)
	}

	code, out, _ = run("--exclude-accounts", ids["open"]+","+mototest.Account, "--fail-on", "none")
	if code != ExitClean || !strings.Contains(out, "1 accounts audited, 0 failed") {
		t.Errorf("--exclude-accounts: exit %d\n%s", code, out)
	}
}
