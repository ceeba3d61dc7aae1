package audit_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
)

// privescPaths maps the users of an iam-vulnerable style account (one
// user per published path, named after it) to the path each must reach.
var privescPaths = []struct {
	user  string
	paths []string // the paths reached for certain, sorted
}{
	{"privesc1-CreateNewPolicyVersion-user", []string{"iam-create-policy-version"}},
	{"privesc2-SetExistingDefaultPolicyVersion-user", []string{"iam-set-default-policy-version"}},
	{"privesc3-CreateEC2WithExistingInstanceProfile-user", []string{"ec2-run-instances-pass-role"}},
	{"privesc4-CreateAccessKey-user", []string{"iam-create-access-key"}},
	{"privesc5-CreateLoginProfile-user", []string{"iam-create-login-profile"}},
	{"privesc6-UpdateLoginProfile-user", []string{"iam-update-login-profile"}},
	{"privesc7-AttachUserPolicy-user", []string{"iam-attach-user-policy"}},
	{"privesc8-AttachGroupPolicy-user", []string{"iam-attach-group-policy"}},
	{"privesc9-AttachRolePolicy-user", []string{"iam-attach-role-policy"}},
	{"privesc10-PutUserPolicy-user", []string{"iam-put-user-policy"}},
	{"privesc11-PutGroupPolicy-user", []string{"iam-put-group-policy"}},
	{"privesc12-PutRolePolicy-user", []string{"iam-put-role-policy"}},
	{"privesc13-AddUserToGroup-user", []string{"iam-add-user-to-group"}},
	{"privesc14-UpdatingAssumeRolePolicy-user", []string{"iam-update-assume-role-policy"}},
	{"privesc15-PassExistingRoleToNewLambdaThenInvoke-user", []string{"lambda-create-invoke-pass-role"}},
	{"privesc16-PassRoleToNewLambdaThenTriggerWithNewDynamo-user", []string{"lambda-create-event-source-pass-role"}},
	{"privesc17-EditExistingLambdaFunctionWithRole-user", []string{"lambda-update-function-code"}},
	{"privesc18-PassExistingRoleToNewGlueDevEndpoint-user", []string{"glue-create-dev-endpoint-pass-role"}},
	{"privesc19-UpdateExistingGlueDevEndpoint-user", []string{"glue-update-dev-endpoint"}},
	{"privesc20-PassExistingRoleToCloudFormation-user", []string{"cloudformation-create-stack-pass-role"}},
	{"privesc21-PassExistingRoleToNewDataPipeline-user", []string{"datapipeline-pass-role"}},
	{"privesc-cloudFormationUpdateStack-user", []string{"cloudformation-update-stack"}},
	{"privesc-codeBuildCreateProjectPassRole-user", []string{"codebuild-create-project-pass-role"}},
	{"privesc-sageMakerCreateNotebookPassRole-user", []string{"sagemaker-notebook-pass-role", "sagemaker-presigned-notebook-url"}},
	{"privesc-sageMakerCreatePresignedNotebookURL-user", []string{"sagemaker-presigned-notebook-url"}},
	{"privesc-ssmSendCommand-user", []string{"ssm-send-command"}},
	{"privesc-ssmStartSession-user", []string{"ssm-start-session"}},
	{"privesc-ec2InstanceConnect-user", []string{"ec2-instance-connect"}},
	{"privesc-ecsRunTaskPassRole-user", []string{"ecs-run-task-pass-role"}},
	{"privesc-glueCreateJobPassRole-user", []string{"glue-create-job-pass-role"}},
	// sts:AssumeRole reaches admin only because privesc-high-priv-role
	// trusts the account and holds AdministratorAccess.
	{"privesc-assumePrivilegedRole-user", []string{"sts-assume-privileged-role"}},
	// Half a path is no path; a binding MFA deny stops the whole key.
	{"fp-passRoleOnly-user", nil},
	{"fp-lambdaCreateWithoutPassRole-user", nil},
	{"fp-mfaGuarded-user", nil},
}

func privescAccount(t *testing.T, withReport bool) *inventory.Account {
	t.Helper()
	return exports(t, filepath.Join("testdata", "privesc"), withReport, true)
}

// sharedDetails audits an authorization-details file of ../shared/data
// (skipping when it is absent) and returns the without-MFA findings by user.
func sharedDetails(t *testing.T, file string) (*inventory.Account, map[string]report.Finding) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Skip("shared sample absent: ", err)
	}
	a := inventory.New()
	if err := a.ParseAuthorizationDetails(filepath.Base(file), data); err != nil {
		t.Fatal(err)
	}
	return a, withoutMFAByUser(run(t, a, nil))
}

// withoutMFAByUser indexes the without-MFA findings by user name.
func withoutMFAByUser(r *audit.Result) map[string]report.Finding {
	out := map[string]report.Finding{}
	for _, f := range r.Findings {
		if f.RuleID == audit.RuleKeyWithoutMFA {
			out[f.Properties["user"].(string)] = f
		}
	}
	return out
}

func TestEscalationPathsReached(t *testing.T) {
	r := run(t, privescAccount(t, true), nil)
	fs := withoutMFAByUser(r)
	for _, tt := range privescPaths {
		t.Run(tt.user, func(t *testing.T) {
			f, ok := fs[tt.user]
			got, _ := f.Properties["escalation_paths"].([]string)
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tt.paths, ",") {
				t.Fatalf("paths = %v, want %v (finding %v: %s)", got, tt.paths, ok, f.Message)
			}
			if len(tt.paths) == 0 {
				return
			}
			// Severity follows reach: an escalation path is critical, and
			// the finding names the path and its actions.
			if f.Severity != report.SeverityCritical || !strings.Contains(f.Message, "Critical: it reaches") || !strings.Contains(f.Message, tt.paths[0]+" (") {
				t.Errorf("finding = %s %s", f.Severity, f.Message)
			}
			if n := row(t, r, tt.user, "key 1").WithoutMFA; n == nil || *n == 0 {
				t.Errorf("row counts %v actions", n)
			}
		})
	}
	// The near misses still have findings (PassRole, CreateFunction are
	// sensitive), graded by the catalogue's access level, not critical.
	for _, u := range []string{"fp-passRoleOnly-user", "fp-lambdaCreateWithoutPassRole-user"} {
		if f := fs[u]; f.Severity != report.SeverityHigh || !strings.Contains(f.Message, "access level Write") {
			t.Errorf("%s: %s %s", u, f.Severity, f.Message)
		}
	}
	if _, ok := fs["fp-mfaGuarded-user"]; ok {
		t.Error("the MFA guard binds, yet a without-MFA finding")
	}
}

// TestEscalationWithoutRoleTrust: without a privileged role that trusts
// the caller, sts:AssumeRole alone is no escalation path.
func TestEscalationWithoutRoleTrust(t *testing.T) {
	a := privescAccount(t, true)
	a.Roles = nil
	f := withoutMFAByUser(run(t, a, nil))["privesc-assumePrivilegedRole-user"]
	if paths := f.Properties["escalation_paths"]; paths != nil || f.Severity == report.SeverityCritical {
		t.Errorf("paths %v, severity %s", paths, f.Severity)
	}
}

func TestEscalationPathsData(t *testing.T) {
	if len(audit.EscalationPaths()) < 30 {
		t.Fatalf("only %d paths", len(audit.EscalationPaths()))
	}
	for _, p := range audit.EscalationPaths() {
		for _, ref := range p.References {
			if !strings.HasPrefix(ref, "https://") {
				t.Errorf("%s: reference %q is not a URL", p.ID, ref)
			}
		}
		for _, a := range p.Actions {
			if _, ok := iamdata.Lookup(a); !ok {
				t.Errorf("%s: %s is not in the catalogue", p.ID, a)
			}
		}
	}
	sens := strings.Join(audit.SensitiveActions(audit.DefaultActions), ",")
	for _, a := range audit.PermissionsManagementActions() {
		if !strings.Contains(sens, a) {
			t.Errorf("%s (Permissions management) is not asked", a)
		}
	}
	for _, want := range []string{"iam:PutGroupPolicy", "iam:AttachGroupPolicy", "iam:SetDefaultPolicyVersion", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"} {
		if !strings.Contains(sens, want+",") {
			t.Errorf("%s is not asked", want)
		}
	}
}

// TestEscalationSharedAccount runs over a public iam-vulnerable account
// export in ../shared/data when one is there: each privesc user must get
// a path. Skips when the data is absent.
func TestEscalationSharedAccount(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "iam", "authorization-details", "*iam-vulnerable*.json"))
	if len(files) == 0 {
		t.Skip("no iam-vulnerable account export in ../shared/data/iam/authorization-details")
	}
	for _, file := range files {
		a, fs := sharedDetails(t, file)
		want := map[string][]string{}
		for _, tt := range privescPaths {
			want[tt.user] = tt.paths
		}
		for _, u := range a.Users {
			if !strings.HasPrefix(u.Name, "privesc") {
				continue
			}
			f := fs[u.Name]
			got, _ := f.Properties["escalation_paths"].([]string)
			if len(got) == 0 {
				t.Errorf("%s: %s reaches no escalation path (%s)", filepath.Base(file), u.Name, f.Message)
				continue
			}
			if w := want[u.Name]; len(w) > 0 && !strings.Contains(","+strings.Join(got, ",")+",", ","+w[0]+",") {
				t.Errorf("%s: %s reaches %v, want %s", filepath.Base(file), u.Name, got, w[0])
			}
		}
	}
}

// TestEscalationRealSamples: the real public account exports. cloudsplaining's
// test account has AdministratorAccess users and one with
// AWSLambdaFullAccess; neither carries an MFA guard.
func TestEscalationRealSamples(t *testing.T) {
	file := filepath.Join("..", "..", "..", "shared", "data", "iam", "authorization-details", "salesforce__cloudsplaining__test__files__example-authz-details.json")
	_, fs := sharedDetails(t, file)
	// obama: AdministratorAccess, attached and through the admin group.
	if f := fs["obama"]; f.Properties["admin_equivalent"] != true || !strings.Contains(f.Message, "every sensitive action asked about is allowed") {
		t.Errorf("obama = %v %s", f.Properties["admin_equivalent"], f.Message)
	}
	for _, u := range []string{"obama", "userwithlotsofpermissions"} {
		if paths, _ := fs[u].Properties["escalation_paths"].([]string); len(paths) < 20 {
			t.Errorf("%s reaches %d paths", u, len(paths))
		}
	}
}
