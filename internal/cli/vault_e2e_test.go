package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keywarden/keywarden/internal/mototest"
)

// vaultBuildBinary builds keywarden into a temporary directory.
func vaultBuildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "keywarden")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/keywarden/keywarden/cmd/keywarden")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// vaultAWSCLIs returns the AWS CLIs to test with: the one on PATH (AWS CLI
// v1 from pyenv on our machines) and Debian's /usr/bin/aws (v2) when it is
// a different program. Outside CI, none is a skip; in CI, a failure.
func vaultAWSCLIs(t *testing.T) []string {
	var out []string
	if p, err := exec.LookPath("aws"); err == nil {
		out = append(out, p)
	}
	if _, err := os.Stat("/usr/bin/aws"); err == nil && (len(out) == 0 || out[0] != "/usr/bin/aws") {
		out = append(out, "/usr/bin/aws")
	}
	if len(out) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("no AWS CLI (aws) found, and CI must run the compatibility tests")
		}
		t.Skip("no AWS CLI (aws) on PATH: skipping the AWS CLI compatibility test (apt-get install awscli to run it)")
	}
	return out
}

// vaultMotoAlice resets moto and makes user alice with one access key.
func vaultMotoAlice(t *testing.T, m *mototest.Server) (admin *iam.Client, keyID, secret string) {
	t.Helper()
	ctx := context.Background()
	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	admin = iam.NewFromConfig(m.Config())
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	return admin, *k.AccessKey.AccessKeyId, *k.AccessKey.SecretAccessKey
}

// newVaultE2E runs commands with a clean environment: the file backend in
// store, the config file cfg, AWS at endpoint, HOME at dir.
func newVaultE2E(t *testing.T, bin, endpoint, dir, store, cfg string) *vaultE2E {
	e := &vaultE2E{t: t, bin: bin}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "KEYWARDEN_") && !strings.HasPrefix(kv, "HOME=") {
			e.env = append(e.env, kv)
		}
	}
	e.env = append(e.env, "HOME="+dir, "KEYWARDEN_BACKEND=file", "KEYWARDEN_FILE_DIR="+store, "KEYWARDEN_FILE_PASSPHRASE=e2e-pass",
		"AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "nothing"), "AWS_ENDPOINT_URL="+endpoint,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=stale-should-be-removed")
	return e
}

type vaultE2E struct {
	t      *testing.T
	bin    string
	env    []string
	output bytes.Buffer
}

func (e *vaultE2E) cmd(stdin string, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = e.env
	c.Stdin = strings.NewReader(stdin)
	return c
}

// run runs a command and returns stdout, stderr and the exit code.
func (e *vaultE2E) run(stdin, name string, args ...string) (string, string, int) {
	e.t.Helper()
	c := e.cmd(stdin, name, args...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	e.output.Write(out.Bytes())
	e.output.Write(errOut.Bytes())
	return out.String(), errOut.String(), code
}

// TestVaultEndToEndMoto drives the keywarden binary against moto_server,
// with the real AWS CLI as the client: add (verified by STS), exec,
// credential_process and exec --server, signals, rotate. Then it greps the
// store and every byte of output for the long-term secrets.
func TestVaultEndToEndMoto(t *testing.T) {
	m := mototest.Start(t)
	clis := vaultAWSCLIs(t)
	ctx := context.Background()
	admin, keyID, secret := vaultMotoAlice(t, m)

	dir := t.TempDir()
	bin := vaultBuildBinary(t)
	store := filepath.Join(dir, "store")
	cfg := filepath.Join(dir, "config")
	// moto checks neither MFA codes nor durations (the httptest STS tests
	// do): mfa_process here just exercises the MFA path end to end.
	config := fmt.Sprintf(`[profile alice]
region = us-east-1
mfa_serial = arn:aws:iam::123456789012:mfa/alice
mfa_process = echo 123456

[profile alice-cp]
region = us-east-1
credential_process = %s credential-process alice
`, bin)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newVaultE2E(t, bin, m.URL, dir, store, cfg)
	// add, verified against moto's STS.
	out, errOut, code := e.run(keyID+"\n"+secret+"\n", bin, "add", "alice", "--stdin")
	if code != 0 || !strings.Contains(errOut, "belongs to arn:aws:iam::123456789012:user/alice") {
		t.Fatalf("add: %d\n%s%s", code, out, errOut)
	}

	// exec: the environment, the exit status, AWS_PROFILE removed.
	_, errOut, code = e.run("", bin, "exec", "alice", "--", "sh", "-c",
		`test -n "$AWS_ACCESS_KEY_ID" && test -n "$AWS_SESSION_TOKEN" && test -n "$AWS_CREDENTIAL_EXPIRATION" && test "$AWS_REGION" = us-east-1 && test -z "$AWS_PROFILE" && test -z "$KEYWARDEN_FILE_PASSPHRASE" && test "$KEYWARDEN_PROFILE" = alice && exit 42`)
	if code != 42 {
		t.Fatalf("exec exit status %d, want 42 (the child's): %s", code, errOut)
	}
	// stdin passes through.
	out, _, code = e.run("piped input\n", bin, "exec", "alice", "--", "cat")
	if code != 0 || out != "piped input\n" {
		t.Fatalf("exec stdin: %d %q", code, out)
	}
	// Nested exec is refused unless asked.
	_, errOut, code = e.run("", bin, "exec", "alice", "--", bin, "exec", "alice", "--", "true")
	if code != 2 || !strings.Contains(errOut, "already inside keywarden exec") {
		t.Fatalf("nested: %d %s", code, errOut)
	}
	// (The child does not inherit the store's passphrase: it gives it again.)
	if _, errOut, code = e.run("", bin, "exec", "alice", "--", "env", "KEYWARDEN_FILE_PASSPHRASE=e2e-pass", bin, "exec", "--nested", "alice", "--", "true"); code != 0 {
		t.Fatalf("nested with --nested: %d %s", code, errOut)
	}

	// Signals reach the child: SIGTERM to keywarden, the child's trap
	// answers with its own status.
	c := e.cmd("", bin, "exec", "alice", "--", "sh", "-c", `trap 'exit 43' TERM; echo ready; while :; do sleep 0.1; done`)
	stdout, _ := c.StdoutPipe()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child said %q", line)
	}
	_ = c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 43 {
			t.Fatalf("after SIGTERM: %v, want exit 43", err)
		}
	case <-time.After(20 * time.Second):
		_ = c.Process.Kill()
		t.Fatal("the child did not get SIGTERM")
	}

	// The real AWS CLI, through credential_process and through exec --server.
	for _, awsCLI := range clis {
		ver, _, _ := e.run("", awsCLI, "--version")
		t.Logf("AWS CLI %s: %s", awsCLI, strings.TrimSpace(ver))
		out, errOut, code = e.run("", awsCLI, "sts", "get-caller-identity", "--profile", "alice-cp", "--endpoint-url", m.URL, "--output", "json")
		var id struct{ Account, Arn string }
		if code != 0 || json.Unmarshal([]byte(out), &id) != nil || id.Account != mototest.Account {
			t.Fatalf("%s via credential_process: %d\n%s%s", awsCLI, code, out, errOut)
		}
		out, errOut, code = e.run("", bin, "exec", "alice", "--server", "--", awsCLI, "sts", "get-caller-identity", "--endpoint-url", m.URL, "--output", "json")
		if code != 0 || json.Unmarshal([]byte(out), &id) != nil || id.Account != mototest.Account {
			t.Fatalf("%s via exec --server: %d\n%s%s", awsCLI, code, out, errOut)
		}
		// The server hands out credentials, not the environment.
		_, errOut, code = e.run("", bin, "exec", "alice", "--server", "--", "sh", "-c",
			`test -z "$AWS_ACCESS_KEY_ID" && test -n "$AWS_CONTAINER_AUTHORIZATION_TOKEN" && case "$AWS_CONTAINER_CREDENTIALS_FULL_URI" in http://127.0.0.1:*) exit 0;; esac; exit 1`)
		if code != 0 {
			t.Fatalf("exec --server environment: %d %s", code, errOut)
		}
		// exec --ec2-server: the AWS CLI reads the instance metadata
		// endpoint (IMDSv2), though the environment said
		// AWS_EC2_METADATA_DISABLED=true.
		out, errOut, code = e.run("", bin, "exec", "alice", "--ec2-server", "--", awsCLI, "sts", "get-caller-identity", "--endpoint-url", m.URL, "--output", "json")
		if code != 0 || json.Unmarshal([]byte(out), &id) != nil || id.Account != mototest.Account {
			t.Fatalf("%s via exec --ec2-server: %d\n%s%s", awsCLI, code, out, errOut)
		}
		_, errOut, code = e.run("", bin, "exec", "alice", "--ec2-server", "--", "sh", "-c",
			`test -z "$AWS_ACCESS_KEY_ID" && test -z "$AWS_EC2_METADATA_DISABLED" && test -z "$AWS_CONTAINER_CREDENTIALS_FULL_URI" && case "$AWS_EC2_METADATA_SERVICE_ENDPOINT" in http://127.0.0.1:*/) exit 0;; esac; exit 1`)
		if code != 0 {
			t.Fatalf("exec --ec2-server environment: %d %s", code, errOut)
		}
	}
	if _, errOut, code = e.run("", bin, "exec", "alice", "--server", "--ec2-server", "--", "true"); code != 2 || !strings.Contains(errOut, "none of the others can be") {
		t.Fatalf("--server with --ec2-server: %d %s", code, errOut)
	}

	// rotate: dry run, then for real; the AWS CLI keeps working after.
	out, errOut, code = e.run("", bin, "rotate", "alice", "--dry-run")
	if code != 0 || !strings.Contains(errOut, "would create a new key") {
		t.Fatalf("rotate --dry-run: %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = e.run("", bin, "rotate", "alice")
	if code != 0 || !strings.Contains(out, "Rotated the key of user alice") || !strings.Contains(errOut, "deleted the old key") {
		t.Fatalf("rotate: %d\n%s%s", code, out, errOut)
	}
	keys, err := admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil || len(keys.AccessKeyMetadata) != 1 || *keys.AccessKeyMetadata[0].AccessKeyId == keyID {
		t.Fatalf("after rotate the account has %+v", keys)
	}
	newID := *keys.AccessKeyMetadata[0].AccessKeyId
	if out, errOut, code = e.run("", clis[0], "sts", "get-caller-identity", "--profile", "alice-cp", "--endpoint-url", m.URL); code != 0 {
		t.Fatalf("after rotate: %d %s%s", code, out, errOut)
	}
	out, _, _ = e.run("", bin, "list")
	if !strings.Contains(out, "AKIA************"+newID[16:]) {
		t.Fatalf("list after rotate:\n%s", out)
	}
	// Two keys: rotate stops and changes nothing.
	if _, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = e.run("", bin, "rotate", "alice")
	if code != 1 || !strings.Contains(errOut, "already has two access keys") {
		t.Fatalf("rotate with two keys: %d %s", code, errOut)
	}

	// No long-term secret anywhere in plain text: the store directory and
	// every byte every command printed.
	entries, _ := os.ReadDir(store)
	for _, ent := range entries {
		data, _ := os.ReadFile(filepath.Join(store, ent.Name()))
		for _, s := range []string{secret, keyID, newID} {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s holds %q in plain text", ent.Name(), s)
			}
		}
		if fi, _ := ent.Info(); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %o", ent.Name(), fi.Mode().Perm())
		}
	}
	if bytes.Contains(e.output.Bytes(), []byte(secret)) || bytes.Contains(e.output.Bytes(), []byte(keyID)) {
		t.Errorf("the long-term key appears in output:\n%s", e.output.String())
	}
}

// TestVaultRotateKilledMoto kills `keywarden rotate` with SIGKILL in the
// middle, for real, through a proxy in front of moto_server that sends the
// signal when it sees a chosen request: once when CreateAccessKey has been
// answered (the answer never reaches keywarden), once when the new key is
// first tried (it is created, recorded and stored). list then shows the
// interrupted rotation, and the next rotate rolls it back or finishes it.
func TestVaultRotateKilledMoto(t *testing.T) {
	m := mototest.Start(t)
	bin := vaultBuildBinary(t)
	ctx := context.Background()
	var (
		mu     sync.Mutex
		victim *os.Process
		killAt func(action, signer string, answered bool) bool
	)
	signer := regexp.MustCompile(`Credential=([A-Z0-9]+)/`)
	kill := func(action, by string, answered bool) {
		mu.Lock()
		defer mu.Unlock()
		if victim != nil && killAt != nil && killAt(action, by, answered) {
			_ = victim.Kill()
			victim, killAt = nil, nil
		}
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		by := ""
		if sm := signer.FindStringSubmatch(r.Header.Get("Authorization")); sm != nil {
			by = sm[1]
		}
		kill(form.Get("Action"), by, false)
		req, _ := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, m.URL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		reply, _ := io.ReadAll(resp.Body)
		kill(form.Get("Action"), by, true)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(reply)
	}))
	defer proxy.Close()

	for _, tc := range []struct {
		name   string
		killAt func(oldID string) func(action, signer string, answered bool) bool
		// want is what the next rotate says, and its exit code.
		want     string
		wantCode int
		// newWins: the account and the store end with the new key.
		newWins bool
	}{
		{"CreateAccessKey answered, answer lost", func(string) func(string, string, bool) bool {
			return func(action, _ string, answered bool) bool { return action == "CreateAccessKey" && answered }
		}, "Rolled back the interrupted rotation of user alice", 1, false},
		{"new key stored, first tried", func(oldID string) func(string, string, bool) bool {
			return func(action, by string, answered bool) bool {
				return action == "GetCallerIdentity" && by != oldID && strings.HasPrefix(by, "AKIA") && !answered
			}
		}, "Finished the interrupted rotation of user alice", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admin, oldID, secret := vaultMotoAlice(t, m)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config")
			if err := os.WriteFile(cfg, []byte("[profile alice]\nregion = us-east-1\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\nmfa_process = echo 123456\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			e := newVaultE2E(t, bin, proxy.URL, dir, filepath.Join(dir, "store"), cfg)
			if _, errOut, code := e.run(oldID+"\n"+secret+"\n", bin, "add", "alice", "--stdin"); code != 0 {
				t.Fatalf("add: %d %s", code, errOut)
			}
			keys := func() map[string]string {
				out, err := admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
				if err != nil {
					t.Fatal(err)
				}
				ks := map[string]string{}
				for _, k := range out.AccessKeyMetadata {
					ks[*k.AccessKeyId] = string(k.Status)
				}
				return ks
			}

			c := e.cmd("", bin, "rotate", "alice")
			var errOut bytes.Buffer
			c.Stderr = &errOut
			mu.Lock()
			if err := c.Start(); err != nil {
				mu.Unlock()
				t.Fatal(err)
			}
			victim, killAt = c.Process, tc.killAt(oldID)
			mu.Unlock()
			err := c.Wait()
			if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("rotate was not killed: %v\n%s", err, errOut.String())
			}
			if ks := keys(); len(ks) != 2 {
				t.Fatalf("after the kill the user has %v", ks)
			}

			out, stderr, code := e.run("", bin, "list")
			if code != 1 || !strings.Contains(out, "INTERRUPTED ROTATION") || !strings.Contains(stderr, "run keywarden rotate alice to finish it or roll it back") {
				t.Fatalf("list after the kill: %d\n%s%s", code, out, stderr)
			}
			out, stderr, code = e.run("", bin, "rotate", "alice")
			if code != tc.wantCode || !strings.Contains(out, tc.want) || !strings.Contains(stderr, "was interrupted") {
				t.Fatalf("rotate after the kill: %d\n%s%s", code, out, stderr)
			}
			ks := keys()
			if len(ks) != 1 {
				t.Fatalf("settled to %v", ks)
			}
			_, oldLeft := ks[oldID]
			if oldLeft == tc.newWins {
				t.Fatalf("settled to %v (old key %s)", ks, oldID)
			}
			out, stderr, code = e.run("", bin, "list")
			if code != 0 || strings.Contains(out, "INTERRUPTED") {
				t.Fatalf("list after settling: %d\n%s%s", code, out, stderr)
			}
			// The stored key is the one left, and it works.
			if _, stderr, code = e.run("", bin, "exec", "alice", "--no-cache", "--", "true"); code != 0 {
				t.Fatalf("exec with the settled key: %d %s", code, stderr)
			}
			for id := range ks {
				if !strings.Contains(out, "AKIA************"+id[16:]) {
					t.Fatalf("list shows another key than %s:\n%s", id, out)
				}
			}
			if bytes.Contains(e.output.Bytes(), []byte(secret)) {
				t.Error("the old secret appears in output")
			}
		})
	}
}
