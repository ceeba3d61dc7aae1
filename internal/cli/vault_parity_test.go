package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// Role chaining, clear and --no-session through the commands, against the
// httptest STS.
func TestVaultRoleChainClearNoSession(t *testing.T) {
	h, stsSrv, user := vaultSTSHarness(t, func(serial string) string {
		return "[profile work]\nmfa_serial = " + serial + "\nregion = eu-central-1\n" +
			"[profile ops]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/Ops\n" +
			"[profile deep]\nsource_profile = ops\nrole_arn = arn:aws:iam::777788889999:role/Deep\nsession_tags = team=blue\n" +
			"[profile esc]\nsource_profile = work\nrole_arn = arn:aws:iam::444455556666:role/\x1b[31mRed\n"
	})
	if _, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	out, errOut, code := h.run("", "credential-process", "deep", "--mfa-token", ststest.Code(t, user.MFASecret, h.now))
	if code != 0 || !strings.Contains(out, `"SessionToken"`) {
		t.Fatalf("credential-process deep: %d %s%s", code, out, errOut)
	}
	out, _, _ = h.run("", "list")
	for _, want := range []string{"deep ", "ops ", "via session ops", "via session work"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	// A role_arn from the config cannot put a terminal escape on the screen.
	if _, errOut, code := h.run("", "credential-process", "esc"); code != 0 {
		t.Fatalf("credential-process esc: %s", errOut)
	}
	if out, _, _ := h.run("", "list"); strings.Contains(out, "\x1b") || !strings.Contains(out, "role/") {
		t.Errorf("list prints the escape from role_arn:\n%q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clear", "deep"}, "Cleared 1 cached session of profile deep.\n"},
		{[]string{"clear", "deep"}, "Cleared 0 cached sessions of profile deep.\n"},
		{[]string{"clear"}, "Cleared 3 cached sessions.\n"},
	} {
		out, errOut, code := h.run("", tc.args...)
		if code != 0 || out != tc.want {
			t.Errorf("%v: %d %q %s; want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if out, _, _ := h.run("", "list"); strings.Contains(out, "SESSION") || !strings.Contains(out, "AKIA************VV7A") {
		t.Errorf("after clear, the key stays and no session is left:\n%s", out)
	}
	// --no-session: the long-term key, loudly; no STS call.
	calls := len(stsSrv.Calls())
	out, errOut, code = h.run("", "export", "work", "--no-session")
	if code != 0 || !strings.Contains(out, "AWS_SECRET_ACCESS_KEY="+vaultTestSecret) || strings.Contains(out, "AWS_SESSION_TOKEN") ||
		!strings.Contains(errOut, "WARNING: --no-session: the output gets the LONG-TERM access key AKIA************VV7A of profile work") {
		t.Fatalf("export --no-session: %d\n%s%s", code, out, errOut)
	}
	if len(stsSrv.Calls()) != calls {
		t.Error("--no-session called STS for a plain profile")
	}
	// Without it, export never prints the long-term key.
	if _, errOut, code = h.run("", "export", "work"); code != 2 || !strings.Contains(errOut, "no MFA code source") {
		t.Errorf("export without --no-session: %d %s", code, errOut)
	}
	if _, errOut, code = h.run("", "export", "deep", "--no-session"); code == 0 || !strings.Contains(errOut, "no long-term key") {
		t.Errorf("export deep --no-session: %d %s", code, errOut)
	}
}

// vaultSTSHarness runs the commands with no terminal, the file store in a
// temporary directory, the config that config returns (given alice's MFA
// serial) and the httptest STS, which knows alice's key.
func vaultSTSHarness(t *testing.T, config func(serial string) string) (*vaultHarness, *ststest.Server, ststest.User) {
	t.Helper()
	vaultNoTerminal(t)
	dir := t.TempDir()
	h := &vaultHarness{t: t, now: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	stsSrv := ststest.Start(t, func() time.Time { return h.now })
	user := ststest.User{ARN: "arn:aws:iam::111122223333:user/alice", AccessKeyID: vaultTestKeyID, SecretAccessKey: vaultTestSecret,
		MFASerial: "arn:aws:iam::111122223333:mfa/alice", MFASecret: ststest.NewMFASecret(t)}
	stsSrv.AddUser(user)
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(config(user.MFASerial)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = map[string]string{
		"KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": filepath.Join(dir, "store"), "KEYWARDEN_FILE_PASSPHRASE": "pw",
		"AWS_CONFIG_FILE": cfg, "AWS_ENDPOINT_URL": stsSrv.URL,
	}
	return h, stsSrv, user
}

// credential-process with no terminal gets its code from a GUI prompt
// (a fake zenity on PATH that answers the current code); an unknown
// prompt is a usage error before anything else.
func TestVaultPromptZenity(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake prompt program is a shell script")
	}
	h, stsSrv, user := vaultSTSHarness(t, func(serial string) string {
		return "[profile work]\nmfa_serial = " + serial + "\n[profile gui]\nsource_profile = work\nmfa_prompt = zenity\n"
	})
	if _, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin", "--no-verify"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	script, err := os.ReadFile(filepath.Join("..", "vault", "testdata", "fakeprompt", "fake.sh"))
	if err != nil {
		t.Fatal(err)
	}
	bin, logs := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "zenity"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("FAKE_LOG", logs)
	t.Setenv("FAKE_CODE", ststest.Code(t, user.MFASecret, h.now))

	if _, errOut, code := h.run("", "credential-process", "work", "--prompt", "dmenu"); code != 2 || !strings.Contains(errOut, `unknown MFA prompt "dmenu"`) {
		t.Fatalf("--prompt dmenu: %d %s", code, errOut)
	}
	// The profile's mfa_prompt (inherited by nothing else: work has none).
	out, errOut, code := h.run("", "credential-process", "gui")
	if code != 0 || !strings.Contains(out, `"SessionToken"`) || stsSrv.Count("GetSessionToken") != 1 {
		t.Fatalf("credential-process gui: %d %s%s", code, out, errOut)
	}
	if data, err := os.ReadFile(filepath.Join(logs, "zenity")); err != nil || !strings.Contains(string(data), "--text=MFA code for "+user.MFASerial+" (profile gui):") {
		t.Errorf("zenity log: %s %v", data, err)
	}
	// KEYWARDEN_PROMPT chooses for every profile.
	h.env["KEYWARDEN_PROMPT"] = "zenity"
	h.now = h.now.Add(time.Minute)
	t.Setenv("FAKE_CODE", ststest.Code(t, user.MFASecret, h.now))
	if _, errOut, code := h.run("", "credential-process", "work", "--no-cache"); code != 0 {
		t.Fatalf("KEYWARDEN_PROMPT=zenity: %d %s", code, errOut)
	}
}
