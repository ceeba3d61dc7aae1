package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/report"
)

var auditTestNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func auditRun(t *testing.T, io_ *IOStreams, args ...string) int {
	t.Helper()
	f := &Factory{IO: io_, Getenv: func(string) string { return "" }, Now: func() time.Time { return auditTestNow }}
	return Main(f, append([]string{"audit"}, args...))
}

const auditFixtures = "../audit/testdata/"

func TestAuditOfflineExitCodes(t *testing.T) {
	io_, out, errOut := Test("")
	code := auditRun(t, io_, "--credential-report", auditFixtures+"credential-report.csv", "--authorization-details", auditFixtures+"authorization-details.json")
	if code != ExitFindings || !strings.Contains(out.String(), "Summary: 3 critical, 6 high") || errOut.Len() != 0 {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	io_, out, _ = Test("")
	if code := auditRun(t, io_, "--credential-report", auditFixtures+"credential-report.csv", "--fail-on", "none"); code != ExitClean {
		t.Errorf("--fail-on none: exit %d", code)
	}
	if !strings.Contains(out.String(), "kw-audit-key-usable-without-mfa: needs the authorization details") {
		t.Errorf("report-only output does not say what it could not check:\n%s", out)
	}
	io_, _, errOut = Test("")
	if code := auditRun(t, io_, "--credential-report", "nope.csv"); code != ExitError || !strings.Contains(errOut.String(), "nope.csv") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
	io_, _, errOut = Test("")
	if code := auditRun(t, io_, "--credential-report", auditFixtures+"authorization-details.json"); code != ExitError || !strings.Contains(errOut.String(), "Content field") {
		t.Errorf("wrong file: exit %d, %s", code, errOut)
	}
	for _, bad := range [][]string{{"--format", "xml"}, {"--fail-on", "severe"}, {"--max-key-age", "ninety"}, {"--allowed-cidr", "10.0.0.0/33"},
		{"--credential-report", "x", "--profile", "p"}, {"extra-arg"}} {
		io_, _, _ = Test("")
		if code := auditRun(t, io_, bad...); code != ExitError {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestAuditOutputFileAndFormats(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"json", "sarif", "csv", "html", "text"} {
		path := filepath.Join(dir, "audit."+format)
		io_, out, errOut := Test("")
		code := auditRun(t, io_, "--credential-report", auditFixtures+"credential-report.json", "--authorization-details", auditFixtures+"authorization-details.json",
			"--format", format, "-o", path, "--fail-on", "critical")
		if code != ExitFindings || out.Len() != 0 || !strings.Contains(errOut.String(), "wrote the "+format+" report to") {
			t.Errorf("%s: exit %d stdout %q stderr %q", format, code, out, errOut)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
			t.Errorf("%s: %v %v", format, st, err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "audit.json"))
	var doc report.Document
	if err := json.Unmarshal(data, &doc); err != nil || doc.Summary.BySeverity["critical"] != 3 {
		t.Errorf("json: %v %+v", err, doc.Summary)
	}
}

func TestAuditPrintRequiredPolicy(t *testing.T) {
	io_, out, _ := Test("")
	if code := auditRun(t, io_, "--print-required-policy"); code != ExitClean {
		t.Fatalf("exit %d", code)
	}
	var d struct{ Statement []struct{ Action []string } }
	if err := json.Unmarshal(out.Bytes(), &d); err != nil || len(d.Statement) != 1 || len(d.Statement[0].Action) != len(inventory.RequiredActions) {
		t.Errorf("policy = %s (%v)", out, err)
	}
}

func TestAuditActionsAndCIDR(t *testing.T) {
	dir := t.TempDir()
	actions := filepath.Join(dir, "actions.txt")
	if err := os.WriteFile(actions, []byte("# just one\ns3:GetObject\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	io_, out, _ := Test("")
	auditRun(t, io_, "--credential-report", auditFixtures+"credential-report.csv", "--authorization-details", auditFixtures+"authorization-details.json",
		"--actions", actions, "--allowed-cidr", "203.0.113.7", "--format", "json")
	var doc struct {
		Extra struct {
			Audit struct {
				Settings struct {
					Actions      []string `json:"actions"`
					AllowedCIDRs []string `json:"allowed_cidrs"`
				} `json:"settings"`
			} `json:"audit"`
		} `json:"extra"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Extra.Audit.Settings
	// The file replaces the built-in list; the escalation actions are
	// always asked after it.
	if len(s.Actions) < 2 || s.Actions[0] != "s3:GetObject" || !slices.Contains(s.Actions, "iam:PutGroupPolicy") || slices.Contains(s.Actions, "s3:PutObject") ||
		strings.Join(s.AllowedCIDRs, ",") != "203.0.113.7/32" {
		t.Errorf("settings = %+v", s)
	}
}

func TestAuditParseDays(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "12w": 84 * 24 * time.Hour, "36h": 36 * time.Hour} {
		if got, err := auditParseDays(in); err != nil || got != want {
			t.Errorf("%s = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"0d", "-5d", "d", "forever", "0s"} {
		if _, err := auditParseDays(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestAuditLiveMoto runs the command itself against moto_server with
// --endpoint-url, with stderr a terminal so that progress is drawn.
func TestAuditLiveMoto(t *testing.T) {
	srv := mototest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx := context.Background()
	c := iam.NewFromConfig(srv.Config())
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("svc")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("svc"), PolicyName: aws.String("all"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("svc")})
	if err != nil {
		t.Fatal(err)
	}
	io_, out, errOut := Test("")
	io_.SetTTY(false, false, true)
	code := Main(&Factory{IO: io_, Getenv: os.Getenv, Now: time.Now}, []string{"audit", "--endpoint-url", srv.URL, "--format", "json"})
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut.String(), "loading access keys and MFA devices") {
		t.Errorf("no progress on a terminal stderr: %q", errOut)
	}
	id := *key.AccessKey.AccessKeyId
	// The full key ID appears only in the respond command that contains
	// the key (pasteable); everywhere else the key is redacted.
	if strings.Count(out.String(), id) != strings.Count(out.String(), "keywarden respond "+id) || !strings.Contains(out.String(), "keywarden respond "+id+" --dry-run") {
		t.Error("the full access key ID is in the report outside the respond command, or the respond command is missing")
	}
	if !strings.Contains(out.String(), `"key": "****************`+id[16:]+`"`) || !strings.Contains(out.String(), `"rule_id": "kw-audit-key-usable-without-mfa"`) {
		t.Errorf("report lacks the redacted key or the exposure finding:\n%s", out)
	}
	// Without a terminal: no progress.
	io_, _, errOut = Test("")
	Main(&Factory{IO: io_, Getenv: os.Getenv, Now: time.Now}, []string{"audit", "--endpoint-url", srv.URL, "--format", "json"})
	if strings.Contains(errOut.String(), "loading") {
		t.Errorf("progress drawn on a non-terminal: %q", errOut)
	}
}

// TestAuditSharedSamples runs the command over the real public exports in
// ../shared/data/iam. (A testscript cannot skip on a missing directory with
// this repository's script setup, so this is a Go test.)
func TestAuditSharedSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "iam")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("../shared/data/iam is absent: skipping the audit of real samples")
	}
	run := func(args ...string) string {
		t.Helper()
		io_, out, errOut := Test("")
		if code := auditRun(t, io_, args...); code != ExitFindings {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		return out.String()
	}
	cr := func(name string) string { return filepath.Join(dir, "credential-reports", name) }
	ad := func(name string) string { return filepath.Join(dir, "authorization-details", name) }

	// cloud-custodian's account report: a user listed twice, N/A and
	// no_information cells, a root with MFA.
	out := run("--credential-report", cr("cloud-custodian__test_account_credential_report__iam.GetCredentialReport_1.csv"))
	for _, want := range []string{"keywarden audit: 644160558196,", `user "christopher" is listed twice`} {
		if !strings.Contains(out, want) {
			t.Errorf("custodian report: no %q", want)
		}
	}
	if strings.Contains(out, "kw-audit-root-no-mfa") {
		t.Error("custodian's root has MFA, yet root-no-mfa")
	}
	// A root with an active key and no MFA; a key never used since 2012.
	out = run("--credential-report", cr("cloud-custodian__test_iam_user_unused_keys__iam.GetCredentialReport_2.csv"), "--format", "csv")
	for _, want := range []string{"\ncritical,kw-audit-root-access-key,The root user has an access key,619193117841,<root_account>,key 1,arn:aws:iam::619193117841:root key 1,IAM.4,1.4,",
		"\ncritical,kw-audit-root-no-mfa,", "\nmedium,kw-audit-key-unused,Active access key unused,619193117841,charmworld,key 1,"} {
		if !strings.Contains(out, want) {
			t.Errorf("custodian unused-keys report: no %q", want)
		}
	}
	// cloudsplaining's authorization details alone: exposure per user.
	out = run("--authorization-details", ad("salesforce__cloudsplaining__test__files__example-authz-details.json"))
	for _, want := range []string{"keywarden audit: 012345678901, 3 users", "Without MFA and from any address, a long-term key of obama", "kw-audit-key-too-old: needs the credential report"} {
		if !strings.Contains(out, want) {
			t.Errorf("cloudsplaining details: no %q", want)
		}
	}
	// cloudmapper's demo: both exports load together.
	out = run("--credential-report", cr("duo-labs__cloudmapper__demo__iam-get-credential-report.csv"),
		"--authorization-details", ad("duo-labs__cloudmapper__demo__iam-get-account-authorization-details.json"), "--format", "json")
	if !strings.Contains(out, `"rule_id": "kw-audit-two-active-keys"`) {
		t.Error("cloudmapper: no two-active-keys finding")
	}
}
