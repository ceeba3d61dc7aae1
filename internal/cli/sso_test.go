package cli

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/ssotest"
)

// sso populate signs in (device flow against the httptest Identity
// Center), lists accounts and roles page by page, and appends profiles,
// keeping what the file had; a second run adds nothing.
func TestSSOPopulate(t *testing.T) {
	h, _, _ := vaultSTSHarness(t, func(string) string {
		return "# my own comment\n[profile mine]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\n" +
			"[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1"
	})
	idc := ssotest.Start(t, time.Now)
	idc.Roles = map[string]bool{"111122223333/Admin": true, "111122223333/ReadOnly": true, "444455556666/Ops": true}
	h.env["AWS_ENDPOINT_URL"] = idc.URL
	before, err := os.ReadFile(h.env["AWS_CONFIG_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"sso", "populate", "--start-url", "https://corp.awsapps.com/start", "--sso-region", "eu-west-1", "--sso-session", "corp", "--no-browser"}
	out, errOut, code := h.run("", append(args, "--dry-run")...)
	if code != 0 || !strings.Contains(out, "[profile Acct-111122223333-ReadOnly]") || !strings.Contains(errOut, "2 new profiles, 1 already in") {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	if after, _ := os.ReadFile(h.env["AWS_CONFIG_FILE"]); string(after) != string(before) {
		t.Fatal("--dry-run changed the file")
	}
	out, errOut, code = h.run("", args...)
	if code != 0 || !strings.Contains(out, "Added 2 profiles") || !strings.Contains(out, "  Acct-444455556666-Ops\n") {
		t.Fatalf("populate: %d\n%s%s", code, out, errOut)
	}
	after, _ := os.ReadFile(h.env["AWS_CONFIG_FILE"])
	if !strings.HasPrefix(string(after), string(before)+"\n") || !strings.Contains(string(after), "[profile Acct-444455556666-Ops]\nsso_session = corp\nsso_account_id = 444455556666\nsso_role_name = Ops\n") {
		t.Errorf("config now:\n%s", after)
	}
	if st, _ := os.Stat(h.env["AWS_CONFIG_FILE"]); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if n := idc.Count("StartDeviceAuthorization"); n != 1 {
		t.Errorf("%d sign-ins over two runs, want 1 (cached in the store)", n)
	}
	out, errOut, code = h.run("", args...)
	if code != 0 || !strings.Contains(errOut, "0 new profiles, 3 already in") {
		t.Errorf("second run: %d %s%s", code, out, errOut)
	}
	if _, errOut, code := h.run("", "sso", "populate"); code != 2 || !strings.Contains(errOut, "--start-url and --sso-region are required") {
		t.Errorf("no flags: %d %s", code, errOut)
	}
}
