package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault"
	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// vaultFakeTerminal stands in for /dev/tty.
type vaultFakeTerminal struct {
	lines   []string
	secrets []string
	prompts []string
}

func (f *vaultFakeTerminal) ReadLine(p string) (string, error) {
	f.prompts = append(f.prompts, p)
	if len(f.lines) == 0 {
		return "", errors.New("no more input")
	}
	l := f.lines[0]
	f.lines = f.lines[1:]
	return l, nil
}

func (f *vaultFakeTerminal) ReadSecret(p string) (string, error) {
	f.prompts = append(f.prompts, p)
	if len(f.secrets) == 0 {
		return "", errors.New("no more input")
	}
	l := f.secrets[0]
	f.secrets = f.secrets[1:]
	return l, nil
}

func (f *vaultFakeTerminal) Close() error { return nil }

// vaultNoTerminal makes the commands see no terminal, whatever the test
// runs under, and restores the hook afterwards.
func vaultNoTerminal(t *testing.T) {
	old := vaultOpenTerminal
	vaultOpenTerminal = func() (vault.Terminal, error) { return nil, vault.ErrNoTerminal }
	t.Cleanup(func() { vaultOpenTerminal = old })
}

type vaultHarness struct {
	t      *testing.T
	env    map[string]string
	now    time.Time
	outAll bytes.Buffer // every byte any command printed
}

func (h *vaultHarness) run(stdin string, args ...string) (string, string, int) {
	io, out, errOut := Test(stdin)
	f := &Factory{IO: io, Getenv: func(k string) string { return h.env[k] }, Now: func() time.Time { return h.now }}
	code := Main(f, args)
	h.outAll.Write(out.Bytes())
	h.outAll.Write(errOut.Bytes())
	return out.String(), errOut.String(), code
}

const (
	vaultTestKeyID  = "AKIAY34FZKBOKMUTVV7A"
	vaultTestSecret = "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"
)

func TestVaultCommandsFileBackend(t *testing.T) {
	h, stsSrv, user := vaultSTSHarness(t, func(serial string) string {
		return "[profile work]\nmfa_serial = " + serial + "\nregion = eu-central-1\n"
	})
	store := h.env["KEYWARDEN_FILE_DIR"]

	// add verifies with STS and says whose key it is.
	out, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin")
	if code != 0 || !strings.Contains(errOut, "belongs to arn:aws:iam::111122223333:user/alice (account 111122223333)") || !strings.Contains(out, "Added profile work") {
		t.Fatalf("add: %d\n%s%s", code, out, errOut)
	}
	// A key STS refuses is not stored.
	_, errOut, code = h.run("AKIAY34FZKBOKMUTVV7B\n"+strings.Repeat("q", 40)+"\n", "add", "other", "--stdin")
	if code == 0 || !strings.Contains(errOut, "STS did not accept the key AKIA************VV7B, so it was not stored") {
		t.Fatalf("bad key: %d %s", code, errOut)
	}

	// credential-process with --mfa-token: STS checks the TOTP code.
	codeNow := ststest.Code(t, user.MFASecret, h.now)
	out, errOut, code = h.run("", "credential-process", "work", "--mfa-token", codeNow)
	if code != 0 {
		t.Fatalf("credential-process: %d %s", code, errOut)
	}
	var pc vault.ProcessCredentials
	if err := json.Unmarshal([]byte(out), &pc); err != nil || pc.Version != 1 || !strings.HasPrefix(pc.AccessKeyID, "ASIA") || pc.SessionToken == "" || pc.Expiration != "2026-05-01T20:00:00Z" {
		t.Fatalf("credential-process output %s: %v", out, err)
	}
	sessionSecret := pc.SecretAccessKey
	// An hour later, no code: the cached session.
	h.now = h.now.Add(time.Hour)
	out2, errOut, code := h.run("", "credential-process", "work")
	if code != 0 || out2 != out {
		t.Fatalf("cached credential-process: %d %s\n%s", code, errOut, out2)
	}
	if n := stsSrv.Count("GetSessionToken"); n != 1 {
		t.Fatalf("GetSessionToken called %d times", n)
	}
	// export in its three formats, from the same session.
	out, _, code = h.run("", "export", "work")
	if code != 0 || !strings.Contains(out, "export AWS_ACCESS_KEY_ID="+pc.AccessKeyID+"\n") || !strings.Contains(out, "export AWS_REGION=eu-central-1\n") {
		t.Fatalf("export env: %d %s", code, out)
	}
	out, _, _ = h.run("", "export", "work", "--format", "ini")
	if !strings.HasPrefix(out, "[work]\naws_access_key_id = "+pc.AccessKeyID+"\n") {
		t.Fatalf("export ini: %s", out)
	}
	out, _, _ = h.run("", "export", "work", "--format", "json")
	if !strings.Contains(out, `"Version": 1`) {
		t.Fatalf("export json: %s", out)
	}
	// list shows the key (redacted), its age and the session.
	out, _, code = h.run("", "list")
	if code != 0 || !strings.Contains(out, "work     AKIA************VV7A  0d   arn:aws:iam::111122223333:user/alice") ||
		!strings.Contains(out, "session  yes") || !strings.Contains(out, "2026-05-01T20:00:00Z (in 11h0m0s)") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if strings.Contains(out, pc.AccessKeyID) {
		t.Fatalf("list shows the session key unredacted:\n%s", out)
	}
	// 91 days on: the key is old; exit 1 with a warning.
	h.now = h.now.Add(91 * 24 * time.Hour)
	out, errOut, code = h.run("", "list")
	if code != 1 || !strings.Contains(out, "91d (rotate: older than 90 days)") || !strings.Contains(errOut, "older than 90 days") || !strings.Contains(out, "(expired)") {
		t.Fatalf("old key: %d\n%s%s", code, out, errOut)
	}
	// The expired session is not reused; without a code source: fail at once.
	_, errOut, code = h.run("", "credential-process", "work")
	if code != 2 || !strings.Contains(errOut, "no MFA code source") {
		t.Fatalf("expired session without MFA: %d %s", code, errOut)
	}
	// A prompt on the terminal supplies the code.
	tty := &vaultFakeTerminal{lines: []string{ststest.Code(t, user.MFASecret, h.now)}}
	vaultOpenTerminal = func() (vault.Terminal, error) { return tty, nil }
	_, errOut, code = h.run("", "credential-process", "work")
	if code != 0 || len(tty.prompts) != 1 || !strings.Contains(tty.prompts[0], "MFA code for "+user.MFASerial) {
		t.Fatalf("prompted credential-process: %d %s %v", code, errOut, tty.prompts)
	}
	vaultNoTerminal(t)

	// Nothing secret in plain text anywhere: the store's files, every
	// byte of output except credential-process/export's own stdout (the
	// session credentials are their product), and the session secret is
	// not in the store files either.
	files, _ := filepath.Glob(filepath.Join(store, "*"))
	files2, _ := filepath.Glob(filepath.Join(store, ".*"))
	for _, p := range append(files, files2...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{vaultTestSecret, sessionSecret, vaultTestKeyID, "alice"} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains %q in plain text", p, s)
			}
		}
	}
	if bytes.Contains(h.outAll.Bytes(), []byte(vaultTestSecret)) || bytes.Contains(h.outAll.Bytes(), []byte(vaultTestKeyID)) {
		t.Errorf("the long-term key appears in command output:\n%s", h.outAll.String())
	}

	// remove.
	out, _, code = h.run("", "remove", "work")
	if code != 0 || !strings.Contains(out, "Removed profile work") {
		t.Fatalf("remove: %d %s", code, out)
	}
	out, _, _ = h.run("", "list")
	if !strings.Contains(out, "No keys stored") {
		t.Fatalf("after remove: %s", out)
	}
}

func TestVaultAddFromTerminal(t *testing.T) {
	dir := t.TempDir()
	tty := &vaultFakeTerminal{lines: []string{vaultTestKeyID}, secrets: []string{vaultTestSecret, "pw", "pw"}}
	old := vaultOpenTerminal
	vaultOpenTerminal = func() (vault.Terminal, error) { return tty, nil }
	defer func() { vaultOpenTerminal = old }()
	h := &vaultHarness{t: t, now: time.Now(), env: map[string]string{"KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": dir}}
	out, errOut, code := h.run("", "add", "work", "--no-verify")
	if code != 0 {
		t.Fatalf("add: %d %s", code, errOut)
	}
	// The key ID (a line), the secret (hidden), then the new store's
	// passphrase twice (hidden).
	want := []string{"Access key ID: ", "Secret access key: ", "Passphrase for the keywarden store: ", "Passphrase again (a new store): "}
	if strings.Join(tty.prompts, "|") != strings.Join(want, "|") {
		t.Fatalf("prompts %q", tty.prompts)
	}
	if strings.Contains(out+errOut, vaultTestSecret) {
		t.Fatal("secret echoed")
	}
	st := vault.NewFileStore(dir, func(bool) (string, error) { return "pw", nil })
	k, err := (&vault.Vault{Store: st}).GetKey("work")
	if err != nil || k.SecretAccessKey != vaultTestSecret {
		t.Fatalf("stored: %v %v", k, err)
	}
}

// add points at the plain-text copy it replaces, in the shared credentials
// file, and says nothing when there is none.
func TestVaultAddWarnsAboutPlainTextCopy(t *testing.T) {
	vaultNoTerminal(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("[work]\naws_access_key_id = "+vaultTestKeyID+"\naws_secret_access_key = "+vaultTestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &vaultHarness{t: t, now: time.Now(), env: map[string]string{
		"KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": filepath.Join(dir, "store"), "KEYWARDEN_FILE_PASSPHRASE": "pw",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": creds,
	}}
	_, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin", "--no-verify")
	if code != 0 || !strings.Contains(errOut, "warning: "+creds+" still holds this key in plain text") {
		t.Fatalf("add with a plain-text copy: %d %q", code, errOut)
	}
	if strings.Contains(errOut, vaultTestSecret) {
		t.Fatal("the warning shows the secret")
	}
	// The default file, ~/.aws/credentials, without the key: no warning.
	delete(h.env, "AWS_SHARED_CREDENTIALS_FILE")
	h.env["HOME"] = dir
	if err := os.MkdirAll(filepath.Join(dir, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".aws", "credentials"), []byte("[other]\naws_access_key_id = AKIAY34FZKBOKMUTVV7B\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work2", "--stdin", "--no-verify")
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Fatalf("add without a plain-text copy: %d %q", code, errOut)
	}
}

// list shows a rotation that was interrupted (text and JSON), with its
// keys redacted, and exits 1 with advice to run rotate.
func TestVaultListInterruptedRotation(t *testing.T) {
	vaultNoTerminal(t)
	dir := t.TempDir()
	started := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	h := &vaultHarness{t: t, now: started.Add(time.Hour), env: map[string]string{
		"KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": dir, "KEYWARDEN_FILE_PASSPHRASE": "pw", "AWS_CONFIG_FILE": filepath.Join(dir, "config")}}
	v := &vault.Vault{Store: vault.NewFileStore(dir, func(bool) (string, error) { return "pw", nil })}
	old := vault.Key{AccessKeyID: vaultTestKeyID, SecretAccessKey: vaultTestSecret, Added: started}
	if err := v.SetKey("work", &old); err != nil {
		t.Fatal(err)
	}
	const newID, newSecret = "AKIAY34FZKBOKMUTNEW1", "Qw8+Er7Ty6Ui5Op4As3Df2Gh1Jk0LmNbVcXzZx9/"
	for _, rec := range []*vault.PendingRotation{
		{Profile: "work", User: "alice", Old: old, New: &vault.Key{AccessKeyID: newID, SecretAccessKey: newSecret}, Started: started},
		{Profile: "ops\x1b[31m", User: "bob", Old: old, Started: started},
	} {
		if err := v.SetRotation(rec); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := h.run("", "list")
	for _, want := range []string{
		"INTERRUPTED ROTATION  USER   OLD KEY               NEW KEY               STARTED",
		"work                  alice  AKIA************VV7A  AKIA************NEW1  2026-05-01T08:00:00Z",
		"(not recorded)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || !strings.Contains(errOut, "The rotation of profile work was interrupted: run keywarden rotate work to finish it or roll it back.") {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	out2, _, code := h.run("", "list", "--format", "json")
	var js struct {
		Rotations []struct {
			Profile, User, OldKeyID, NewKeyID string
		} `json:"interrupted_rotations"`
	}
	if err := json.Unmarshal([]byte(out2), &js); err != nil || code != 1 || len(js.Rotations) != 2 {
		t.Fatalf("list json: %d %v\n%s", code, err, out2)
	}
	// remove refuses to forget a profile whose rotation is unsettled:
	// the record may hold the only copy of an active key.
	_, errOut3, code := h.run("", "remove", "work")
	if code != 2 || !strings.Contains(errOut3, "run keywarden rotate work first") {
		t.Fatalf("remove with an interrupted rotation: %d %s", code, errOut3)
	}
	if k, err := v.GetKey("work"); err != nil || k.AccessKeyID != vaultTestKeyID {
		t.Fatalf("remove removed the key: %v", err)
	}
	all := out + errOut + out2 + errOut3
	for _, secret := range []string{vaultTestSecret, newSecret, newID, vaultTestKeyID, "\x1b"} {
		if strings.Contains(all, secret) {
			t.Errorf("list printed %q", secret)
		}
	}
}
