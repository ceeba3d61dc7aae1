package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/mototest"
)

const selfService = `["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ResyncMFADevice","iam:ListMFADevices","iam:ListVirtualMFADevices","iam:GetUser","iam:ChangePassword","sts:GetSessionToken"]`

func guard(op string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"DenyWithoutMFA","Effect":"Deny","NotAction":` + selfService +
		`,"Resource":"*","Condition":{"` + op + `":{"aws:MultiFactorAuthPresent":"false"}}}]}`
}

// seedMoto builds, through the SDK, an account with a correctly guarded
// group (BoolIfExists), a group with the Bool mistake, a user with an
// inline policy only, MFA devices and keys.
func seedMoto(t *testing.T, ctx context.Context, c *iam.Client) {
	t.Helper()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("DevAccess"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Sid":"Dev","Effect":"Allow","Action":["s3:*","ec2:*","lambda:*"],"Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	for group, op := range map[string]string{"mfa-good": "BoolIfExists", "mfa-bool": "Bool"} {
		must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(group)}))
		must(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(group), PolicyArn: pol.Policy.Arn}))
		must(c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String("RequireMFA"), PolicyDocument: aws.String(guard(op))}))
	}
	for _, u := range []struct {
		name, group string
		keys        int
	}{{"alice", "mfa-good", 1}, {"bob", "mfa-bool", 2}, {"carol", "", 1}, {"dora", "mfa-bool", 0}} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name)}))
		if u.group != "" {
			must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(u.group), UserName: aws.String(u.name)}))
		}
		for i := 0; i < u.keys; i++ {
			must(c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.name)}))
		}
	}
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("carol"), PolicyName: aws.String("app"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}`)}))
	must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("bob"), Password: aws.String("Correct-horse-battery-9")}))
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	must(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))
}

// TestLiveMoto runs the live loader and the audit against moto_server.
//
// What moto 5.2.1 returns, as observed: GetAccountAuthorizationDetails
// with URL-encoded policy documents; GenerateCredentialReport answers
// STARTED and the report is ready at the next call, with a fixed
// GeneratedTime (2015-02-02T20:02:02Z), "not_supported" in the password
// last-used and in the keys' last-used region and service columns, and a
// last-used date only for the key that signed requests; GetAccessKeyLastUsed
// gives "N/A" service and region and no date; ListMFADevices,
// ListVirtualMFADevices and GetAccountSummary work. Keys created seconds
// ago cannot be old or unused, so the age checks are covered by the offline
// fixtures; this test pins the live path and the per-key verdicts.
func TestLiveMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := srv.Config()
	client := inventory.NewIAMClient(cfg)
	seedMoto(t, ctx, client)
	// A password policy short of CIS: read live, judged per item.
	if _, err := client.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(10),
		PasswordReusePrevention: aws.Int32(24), RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true, RequireLowercaseCharacters: true}); err != nil {
		t.Fatal(err)
	}

	var stages []string
	acct, err := inventory.Load(ctx, client, sts.NewFromConfig(cfg), inventory.LiveOptions{PollInterval: 50 * time.Millisecond,
		Progress: func(stage string, _, _ int) { stages = append(stages, stage) }})
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != mototest.Account || !acct.Sources.Live || !acct.Sources.CredentialReport || !acct.Sources.AuthorizationDetails || !acct.Sources.KeyIDs {
		t.Errorf("account %s sources %+v", acct.ID, acct.Sources)
	}
	if len(stages) == 0 || stages[len(stages)-1] != "done" {
		t.Errorf("progress stages = %v", stages)
	}
	alice, bob := acct.User("alice"), acct.User("bob")
	if alice == nil || bob == nil || len(acct.Users) != 4 {
		t.Fatalf("users = %d", len(acct.Users))
	}
	if len(alice.MFADevices) != 1 || !alice.MFADevices[0].Virtual || alice.MFAActive != inventory.Yes {
		t.Errorf("alice MFA = %+v (%v)", alice.MFADevices, alice.MFAActive)
	}
	if len(bob.Keys) != 2 || !strings.HasPrefix(bob.Keys[0].ID, "AKIA") || bob.Keys[0].Slot != 1 || bob.Keys[1].Slot != 2 {
		t.Errorf("bob keys = %+v", bob.Keys)
	}
	if bob.Password.Enabled != inventory.Yes {
		t.Errorf("bob password = %+v", bob.Password)
	}
	if len(acct.User("carol").Inline) != 1 || acct.User("carol").Inline[0].File != "user/carol/inline/app" {
		t.Errorf("carol inline = %+v", acct.User("carol").Inline)
	}
	if acct.Summary["Users"] != 4 {
		t.Errorf("summary = %v", acct.Summary)
	}
	if pp := acct.PasswordPolicy; !acct.Sources.PasswordPolicy || pp == nil || !pp.Exists || pp.MinimumPasswordLength != 10 || pp.PasswordReusePrevention != 24 {
		t.Errorf("password policy = %+v (source %v)", pp, acct.Sources.PasswordPolicy)
	}

	r := audit.Run(acct, audit.Options{Now: time.Now(), Exposer: audit.NewEngineExposer()})
	rows := map[string]audit.KeyRow{}
	for _, k := range r.Keys {
		rows[k.User+" "+k.Key] = k
		if k.Key != "" && !strings.HasPrefix(k.Key, "****************") && k.User != inventory.RootUserName {
			t.Errorf("key not redacted: %q", k.Key)
		}
	}
	verdict := func(user string, slot int) audit.KeyRow {
		t.Helper()
		u := acct.User(user)
		k := rows[user+" "+u.Keys[slot].Label()]
		if k.WithoutMFA == nil {
			t.Fatalf("%s key %d not evaluated: %+v", user, slot+1, k)
		}
		return k
	}
	// The BoolIfExists guard binds: alice's key can do nothing sensitive.
	if a := verdict("alice", 0); *a.WithoutMFA != 0 || *a.FromAnywhere != 0 {
		t.Errorf("alice = %d without MFA, %d from anywhere", *a.WithoutMFA, *a.FromAnywhere)
	}
	// The Bool mistake: both of bob's keys act without MFA, and the guard
	// is named as inert.
	for slot := 0; slot < 2; slot++ {
		b := verdict("bob", slot)
		if *b.WithoutMFA == 0 || b.Exposure == nil || len(b.Exposure.InertMFAGuards) != 1 || !strings.HasPrefix(b.Exposure.InertMFAGuards[0], "group/mfa-bool/inline/RequireMFA") {
			t.Errorf("bob key %d = %+v", slot+1, b)
		}
	}
	if c := verdict("carol", 0); *c.WithoutMFA != 2 {
		t.Errorf("carol = %d without MFA, want s3:GetObject and s3:PutObject", *c.WithoutMFA)
	}
	fs := map[string]bool{}
	for _, f := range r.Findings {
		u, _ := f.Properties["user"].(string)
		fs[f.RuleID+" "+u] = true
	}
	if !fs[audit.RulePasswordLength+" "] || fs[audit.RulePasswordReuse+" "] || fs[audit.RulePasswordComplexity+" "] {
		t.Errorf("password-policy findings = %v", fs)
	}
	for _, w := range []string{
		audit.RuleKeyWithoutMFA + " bob", audit.RuleKeyWithoutMFA + " carol",
		audit.RuleTwoActiveKeys + " bob", audit.RuleConsoleNoMFA + " bob",
		audit.RuleKeyUserNoMFA + " bob", audit.RuleKeyUserNoMFA + " carol",
	} {
		if !fs[w] {
			t.Errorf("missing %s", w)
		}
	}
	for _, nw := range []string{audit.RuleKeyWithoutMFA + " alice", audit.RuleKeyUserNoMFA + " alice", audit.RuleKeyWithoutMFA + " dora", audit.RuleConsoleNoMFA + " carol"} {
		if fs[nw] {
			t.Errorf("unexpected %s", nw)
		}
	}
}

// rootVirtualMFA adds to moto's answer the virtual device AWS lists for a
// root user that enrolled an authenticator app (moto cannot create one).
type rootVirtualMFA struct{ inventory.IAMAPI }

func (c rootVirtualMFA) ListVirtualMFADevices(ctx context.Context, in *iam.ListVirtualMFADevicesInput, o ...func(*iam.Options)) (*iam.ListVirtualMFADevicesOutput, error) {
	out, err := c.IAMAPI.ListVirtualMFADevices(ctx, in, o...)
	if err != nil {
		return nil, err
	}
	out.VirtualMFADevices = append(out.VirtualMFADevices, iamtypes.VirtualMFADevice{
		SerialNumber: aws.String("arn:aws:iam::" + mototest.Account + ":mfa/root-account-mfa-device"),
		User:         &iamtypes.User{Arn: aws.String("arn:aws:iam::" + mototest.Account + ":root"), UserName: aws.String("<root_account>")}})
	return out, nil
}

// TestLiveRootVirtualMFA: live, a virtual device listed for the root ARN
// is the root's MFA, and CIS 1.6 asks for a hardware one; without it, no
// finding. Offline the check is listed as not run.
func TestLiveRootVirtualMFA(t *testing.T) {
	srv := mototest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := srv.Config()
	client := inventory.NewIAMClient(cfg)
	for _, tt := range []struct {
		name   string
		client inventory.IAMAPI
		want   bool
	}{
		{"root device listed", rootVirtualMFA{client}, true},
		{"no root device", client, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			acct, err := inventory.Load(ctx, tt.client, sts.NewFromConfig(cfg), inventory.LiveOptions{PollInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			r := audit.Run(acct, audit.Options{Now: time.Now()})
			got := false
			for _, f := range r.Findings {
				got = got || f.RuleID == audit.RuleRootVirtualMFA
			}
			for _, s := range r.Skipped {
				if s.Check == audit.RuleRootVirtualMFA {
					t.Errorf("skipped live: %s", s.Reason)
				}
			}
			if got != tt.want {
				t.Errorf("root-virtual-mfa finding = %v, want %v (root %+v)", got, tt.want, acct.Root)
			}
		})
	}
}
