package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/ssotest"
	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// TestVaultSSOEndToEnd drives the keywarden binary with IAM Identity
// Center profiles against an httptest Identity Center (OIDC device flow
// and portal) and the httptest STS behind one endpoint, with the real AWS
// CLI as the client through credential_process: an SSO profile and a
// role chained from it. Sign-in and role credentials are cached in the
// encrypted store, never in plain ~/.aws/sso/cache files.
func TestVaultSSOEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	clis := vaultAWSCLIs(t)
	stsSrv := ststest.Start(t, time.Now)
	idc := ssotest.Start(t, time.Now)
	idc.Pending = 1
	idc.Roles = map[string]bool{"111122223333/Admin": true}
	idc.Issue = func(account, role string, exp time.Time) (string, string, string) {
		return stsSrv.IssueRole("arn:aws:iam::"+account+":role/"+role, exp)
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/client/register", "/device_authorization", "/token", "/federation/credentials"} {
		mux.Handle(p, idc)
	}
	mux.Handle("/", stsSrv)
	both := httptest.NewServer(mux)
	t.Cleanup(both.Close)

	bin := vaultBuildBinary(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	cfg := filepath.Join(dir, "config")
	config := fmt.Sprintf(`[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
region = eu-west-1

[profile deploy]
source_profile = dev
role_arn = arn:aws:iam::444455556666:role/Deploy

[profile dev-cp]
credential_process = %[1]s credential-process dev

[profile deploy-cp]
credential_process = %[1]s credential-process deploy
`, bin)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newVaultE2E(t, bin, both.URL, dir, store, cfg)
	e.env = append(e.env, "KEYWARDEN_NO_BROWSER=1")

	// The first command signs in: URL and code on stderr, JSON on stdout.
	out, errOut, code := e.run("", bin, "credential-process", "dev")
	var pc struct {
		Version                                                int
		AccessKeyId, SecretAccessKey, SessionToken, Expiration string
	}
	if code != 0 || json.Unmarshal([]byte(out), &pc) != nil || pc.Version != 1 || pc.SessionToken == "" {
		t.Fatalf("credential-process dev: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "/start?user_code=ABCD-EFGH") || !strings.Contains(errOut, "shows the code ABCD-EFGH") {
		t.Errorf("sign-in not shown on stderr:\n%s", errOut)
	}
	for _, awsCLI := range clis {
		for _, tc := range []struct{ profile, arn string }{
			{"dev-cp", "assumed-role/Admin/"},
			{"deploy-cp", "assumed-role/Deploy/"},
		} {
			out, errOut, code := e.run("", awsCLI, "sts", "get-caller-identity", "--profile", tc.profile, "--endpoint-url", both.URL, "--output", "json")
			var id struct{ Arn string }
			if code != 0 || json.Unmarshal([]byte(out), &id) != nil || !strings.Contains(id.Arn, tc.arn) {
				t.Errorf("%s --profile %s: %d\n%s%s", awsCLI, tc.profile, code, out, errOut)
			}
		}
	}
	if n := idc.Count("StartDeviceAuthorization"); n != 1 {
		t.Errorf("%d sign-ins, want 1: %v", n, idc.Calls())
	}
	// A role chained from a role on a stored key with MFA (the code given
	// on the command line of credential_process, so the config is written
	// just before use), and the MFA profile itself, through the real CLIs.
	alice := ststest.User{ARN: "arn:aws:iam::111122223333:user/alice", AccessKeyID: vaultTestKeyID, SecretAccessKey: vaultTestSecret,
		MFASerial: "arn:aws:iam::111122223333:mfa/alice", MFASecret: ststest.NewMFASecret(t)}
	stsSrv.AddUser(alice)
	if _, errOut, code := e.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", bin, "add", "work", "--stdin", "--no-verify"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	// The first CLI makes the sessions (one code); the next takes them
	// from keywarden's cache.
	for _, awsCLI := range clis {
		mfa := config + fmt.Sprintf(`
[profile work]
mfa_serial = %[2]s
[profile ops]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops
[profile ops-deep]
source_profile = ops
role_arn = arn:aws:iam::777788889999:role/Deep
[profile deep-cp]
credential_process = %[1]s credential-process ops-deep --mfa-token %[3]s
[profile work-cp]
credential_process = %[1]s credential-process work
`, bin, alice.MFASerial, ststest.Code(t, alice.MFASecret, time.Now()))
		if err := os.WriteFile(cfg, []byte(mfa), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ profile, arn string }{
			{"deep-cp", "assumed-role/Deep/"},
			{"work-cp", "user/alice"}, // the MFA session made for ops, shared
		} {
			out, errOut, code := e.run("", awsCLI, "sts", "get-caller-identity", "--profile", tc.profile, "--endpoint-url", both.URL, "--output", "json")
			var id struct{ Arn string }
			if code != 0 || json.Unmarshal([]byte(out), &id) != nil || !strings.Contains(id.Arn, tc.arn) {
				t.Errorf("%s --profile %s: %d\n%s%s", awsCLI, tc.profile, code, out, errOut)
			}
		}
	}
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// exec and export take the cached credentials.
	if _, errOut, code := e.run("", bin, "exec", "dev", "--", "sh", "-c", `test "$AWS_ACCESS_KEY_ID" = "`+pc.AccessKeyId+`" && test -n "$AWS_SESSION_TOKEN"`); code != 0 {
		t.Errorf("exec dev: %d %s", code, errOut)
	}
	if out, _, code := e.run("", bin, "export", "dev"); code != 0 || !strings.Contains(out, "export AWS_ACCESS_KEY_ID="+pc.AccessKeyId) {
		t.Errorf("export dev: %d %s", code, out)
	}
	if out, _, _ := e.run("", bin, "list"); !strings.Contains(out, "dev ") || !strings.Contains(out, "sso") {
		t.Errorf("list does not show the SSO session:\n%s", out)
	}
	// Nothing in plain text: not in the store, no ~/.aws/sso/cache.
	files, _ := filepath.Glob(filepath.Join(store, "*"))
	for _, p := range files {
		data, _ := os.ReadFile(p)
		for _, s := range []string{"access-", "refresh-", "client-secret", pc.SecretAccessKey, "corp.awsapps"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q in plain text", p, s)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".aws", "sso")); err == nil {
		t.Error("~/.aws/sso was written")
	}
	// clear forgets the sign-in too: the next command signs in again.
	if out, _, code := e.run("", bin, "clear"); code != 0 || !strings.Contains(out, "Cleared 6 cached sessions") {
		t.Errorf("clear: %d %s", code, out)
	}
}
