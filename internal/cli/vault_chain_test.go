package cli

import (
	"encoding/json"
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
	h, stsSrv, user := vaultSTSHarness(t, func(serial string) string {
		return "[profile work]\nmfa_serial = " + serial + "\n\n" +
			"[profile ops]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Ops\n\n" +
			"[profile audit]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Audit\n\n" +
			"[profile long]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Ops\nduration_seconds = 7200\n"
	})
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
