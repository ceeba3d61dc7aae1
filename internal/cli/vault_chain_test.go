package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault"
	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// Two role profiles and the plain profile on one MFA device: one code,
// given to the first command, serves the other two, and list says which
// role sessions hang on the shared MFA session. A role asking for 2 hours
// still needs a code of its own.
func TestVaultChainedRolesOneCode(t *testing.T) {
	vaultNoTerminal(t)
	dir := t.TempDir()
	h := &vaultHarness{t: t, now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	stsSrv := ststest.Start(t, func() time.Time { return h.now })
	user := ststest.User{ARN: "arn:aws:iam::111122223333:user/alice", AccessKeyID: vaultTestKeyID, SecretAccessKey: vaultTestSecret,
		MFASerial: "arn:aws:iam::111122223333:mfa/alice", MFASecret: ststest.NewMFASecret(t)}
	stsSrv.AddUser(user)
	cfg := filepath.Join(dir, "config")
	config := "[profile work]\nmfa_serial = " + user.MFASerial + "\n\n" +
		"[profile ops]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Ops\n\n" +
		"[profile audit]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Audit\n\n" +
		"[profile long]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Ops\nduration_seconds = 7200\n"
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{
		"KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": filepath.Join(dir, "store"), "KEYWARDEN_FILE_PASSPHRASE": "pw",
		"AWS_CONFIG_FILE": cfg, "AWS_ENDPOINT_URL": stsSrv.URL,
	}
	if out, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin", "--no-verify"); code != 0 {
		t.Fatalf("add: %d %s%s", code, out, errOut)
	}
	process := func(profile string, extra ...string) vault.ProcessCredentials {
		t.Helper()
		out, errOut, code := h.run("", append([]string{"credential-process", profile}, extra...)...)
		var pc vault.ProcessCredentials
		if code != 0 || json.Unmarshal([]byte(out), &pc) != nil {
			t.Fatalf("credential-process %s: %d %s", profile, code, errOut)
		}
		return pc
	}
	// The one code; there is no terminal, so the other two could not ask.
	ops := process("ops", "--mfa-token", ststest.Code(t, user.MFASecret, h.now))
	if ops.Expiration != "2026-05-01T09:00:00Z" {
		t.Fatalf("ops expires %s, want in 1h", ops.Expiration)
	}
	process("audit")
	process("work")
	if n := stsSrv.Count("GetSessionToken"); n != 1 {
		t.Fatalf("GetSessionToken %d times", n)
	}
	// list shows the role sessions hanging on work's MFA session.
	out, _, code := h.run("", "list")
	if code != 0 || !strings.Contains(out, "role arn:aws:iam::444455556666:role/Ops (via session work)") ||
		!strings.Contains(out, "role arn:aws:iam::444455556666:role/Audit (via session work)") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	out, _, _ = h.run("", "list", "--format", "json")
	if !strings.Contains(out, `"via": "work"`) {
		t.Fatalf("list json:\n%s", out)
	}
	// An hour later the role session is renewed without a code.
	h.now = h.now.Add(58 * time.Minute)
	if again := process("ops"); again.AccessKeyID == ops.AccessKeyID {
		t.Fatal("the role session was not renewed")
	}
	// More than 1 hour: AssumeRole with a code from the long-term key.
	_, errOut, code := h.run("", "credential-process", "long")
	if code != 2 || !strings.Contains(errOut, "no MFA code source") {
		t.Fatalf("long role without a code: %d %s", code, errOut)
	}
	long := process("long", "--mfa-token", ststest.Code(t, user.MFASecret, h.now))
	if long.Expiration != "2026-05-01T10:58:00Z" {
		t.Fatalf("long expires %s, want in 2h", long.Expiration)
	}
	calls := stsSrv.Calls()
	if c := calls[len(calls)-1]; c.Action != "AssumeRole" || c.SignedBy != vaultTestKeyID || c.Duration != 7200 || c.Serial != user.MFASerial {
		t.Fatalf("long AssumeRole %+v", c)
	}
}
