package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keywarden/keywarden/internal/laptop/laptoptest"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// motoUserKey makes an IAM user in moto and returns its new access key.
func motoUserKey(t *testing.T, m *mototest.Server, user string) *iamtypes.AccessKey {
	t.Helper()
	ctx := context.Background()
	admin := iam.NewFromConfig(m.Config())
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	return k.AccessKey
}

// TestImportAWSCLIMoto runs the real AWS CLI (pyenv's v1 and Debian's v2
// where installed) against moto_server through a profile whose key is in
// ~/.aws/credentials, then imports it with the keywarden binary (verified
// by moto's STS), and runs the AWS CLI again through the rewritten profile:
// it must work with no change of habit while the secret is gone from disk.
func TestImportAWSCLIMoto(t *testing.T) {
	m := mototest.Start(t)
	clis := vaultAWSCLIs(t)
	k := motoUserKey(t, m, "bob")
	keyID, secret := *k.AccessKeyId, *k.SecretAccessKey

	home := t.TempDir()
	awsDir := filepath.Join(home, ".aws")
	if err := os.Mkdir(awsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	creds := fmt.Sprintf("# team keys\n[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n[other]\nregion = eu-west-1\n", keyID, secret)
	if err := os.WriteFile(filepath.Join(awsDir, "credentials"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(awsDir, "config"), []byte("[profile dev]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := vaultBuildBinary(t)
	e := &vaultE2E{t: t, bin: bin}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "KEYWARDEN_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "PATH=") {
			e.env = append(e.env, kv)
		}
	}
	// credential_process runs "keywarden": the binary is first on PATH.
	e.env = append(e.env, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "KEYWARDEN_BACKEND=file", "KEYWARDEN_FILE_DIR="+filepath.Join(home, "store"), "KEYWARDEN_FILE_PASSPHRASE=e2e-pass",
		"AWS_ENDPOINT_URL="+m.URL, "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")

	callerIdentity := func(when string) {
		t.Helper()
		for _, awsCLI := range clis {
			out, errOut, code := e.run("", awsCLI, "sts", "get-caller-identity", "--profile", "dev", "--endpoint-url", m.URL, "--output", "json")
			var id struct{ Account, Arn string }
			if code != 0 || json.Unmarshal([]byte(out), &id) != nil || id.Account != mototest.Account {
				t.Fatalf("%s %s the import: %d\n%s%s", awsCLI, when, code, out, errOut)
			}
		}
	}
	for _, awsCLI := range clis {
		ver, _, _ := e.run("", awsCLI, "--version")
		t.Logf("AWS CLI %s: %s", awsCLI, strings.TrimSpace(ver))
	}
	callerIdentity("before")

	out, errOut, code := e.run("", bin, "import", "--root", awsDir)
	if code != 0 || !strings.Contains(out, "Stored "+keyID+" as dev in the file store.") {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	got, err := os.ReadFile(filepath.Join(awsDir, "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# team keys\n\n[other]\nregion = eu-west-1\n"; string(got) != want {
		t.Errorf("credentials after import:\n%q\nwant\n%q", got, want)
	}
	config, _ := os.ReadFile(filepath.Join(awsDir, "config"))
	if want := "[profile dev]\nregion = us-east-1\ncredential_process = keywarden credential-process dev\n"; string(config) != want {
		t.Errorf("config after import:\n%q\nwant\n%q", config, want)
	}
	callerIdentity("after")

	// doctor: nothing of the key is left; no secret in any output or file.
	out, errOut, code = e.run("", bin, "doctor", "--fail-on", "high", "--root", awsDir)
	if code != 0 {
		t.Fatalf("doctor after import: %d\n%s%s", code, out, errOut)
	}
	if bytes.Contains(e.output.Bytes(), []byte(secret)) {
		t.Error("the secret was printed")
	}
	for _, f := range []string{"credentials", "config"} {
		if data, _ := os.ReadFile(filepath.Join(awsDir, f)); bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s still holds the secret", f)
		}
	}
}

// TestImportVerifiesWithSTS: a key STS refuses (revoked, invalid) is
// reported and neither stored nor removed; the valid one is imported.
func TestImportVerifiesWithSTS(t *testing.T) {
	sts := ststest.Start(t, func() time.Time { return time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) })
	sts.AddUser(ststest.User{ARN: "arn:aws:iam::123456789012:user/alice", AccessKeyID: laptoptest.Work.ID, SecretAccessKey: laptoptest.Work.Secret})
	home := laptoptest.FakeHome(t)
	h := newImportHarness(t, home)
	o, out, errOut := h.options()
	o.Offline = false
	o.EndpointURL = sts.URL
	err := h.run(o)
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d (%v), want 1 (keys not imported)\n%s%s", ExitCode(err), err, out, errOut)
	}
	if !strings.Contains(errOut.String(), "not imported: "+laptoptest.Personal.ID+" (default): STS did not accept the key") {
		t.Errorf("the refused key is not reported:\n%s", errOut)
	}
	keys := h.stored()
	if len(keys) != 1 || keys["work"] == nil || keys["work"].ARN != "arn:aws:iam::123456789012:user/alice" {
		t.Fatalf("stored %v, want only work with its ARN", keys)
	}
	// The refused key's places are untouched; the accepted key's are clean.
	bashrc, _ := os.ReadFile(filepath.Join(home, "dotfiles", "bashrc"))
	if !bytes.Contains(bashrc, []byte(laptoptest.Personal.Secret)) {
		t.Error("the refused key was removed from .bashrc")
	}
	hist, _ := os.ReadFile(filepath.Join(home, ".bash_history"))
	if bytes.Contains(hist, []byte(laptoptest.Work.Secret)) {
		t.Error("the imported key is still in the bash history")
	}
}

// TestDoctorOnlineKeyAge: with --online the age of a stored key comes from
// IAM's creation date (moto's), not from when it was added to the store.
func TestDoctorOnlineKeyAge(t *testing.T) {
	m := mototest.Start(t)
	ctx := context.Background()
	k := motoUserKey(t, m, "carol")
	created := k.CreateDate.UTC()
	h := newImportHarness(t, t.TempDir())
	o, _, _ := h.options()
	v, err := o.open()
	if err != nil {
		t.Fatal(err)
	}
	// The store says the key was added 60 days after IAM made it.
	if err := v.SetKey("carol", &vault.Key{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey, Added: created.Add(60 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, online := range []bool{false, true} {
		o, out, _ := h.options()
		o.Now = func() time.Time { return created.Add(100 * 24 * time.Hour) }
		d := &doctorOptions{laptopOptions: o.laptopOptions, Format: "text", FailOn: "medium", Online: online}
		d.EndpointURL = m.URL
		err := runDoctor(ctx, d)
		aged := strings.Contains(out.String(), "The key "+*k.AccessKeyId+" of profile carol is 100 days old.")
		if aged != online || (online && ExitCode(err) != ExitFindings) {
			t.Errorf("--online=%v: exit %d, key reported old: %v\n%s", online, ExitCode(err), aged, out)
		}
	}
}
