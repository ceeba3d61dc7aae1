package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/report/sariftest"
	"github.com/keywarden/keywarden/internal/secretscan"
	"github.com/keywarden/keywarden/internal/vault"
)

// scanTestKey generates a key pair (never a real one) from seed.
func scanTestKey(t *testing.T, seed byte) (string, string) {
	t.Helper()
	r := rand.NewChaCha8([32]byte{seed, 'k', 'w'})
	id, err := awskey.NewID("AKIA", 123456789012, r)
	if err != nil {
		t.Fatal(err)
	}
	s, err := awskey.NewSecret(r)
	if err != nil {
		t.Fatal(err)
	}
	return id, s
}

func scanTestDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scanRun runs the command's run function without a process.
func scanRun(t *testing.T, stdin string, mod func(*scanOptions)) (string, string, int) {
	t.Helper()
	out, errOut, err := scanRunErr(t, stdin, mod)
	return out, errOut, ExitCode(err)
}

// scanRunErr is scanRun, returning the command's error.
func scanRunErr(t *testing.T, stdin string, mod func(*scanOptions)) (string, string, error) {
	t.Helper()
	ios, out, errOut := Test(stdin)
	opts := &scanOptions{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now,
		Repo: ".", MaxFileSize: "10MB", FailOn: "info", Format: "text", VerifyTimeout: 5 * time.Second, VerifyRate: 100}
	mod(opts)
	err := runScan(context.Background(), opts)
	return out.String(), errOut.String(), err
}

func TestScanFilesExitAndRedaction(t *testing.T) {
	id, secret := scanTestKey(t, 1)
	dir := scanTestDir(t, map[string]string{
		"app/.env":  "AWS_ACCESS_KEY_ID=" + id + "\nAWS_SECRET_ACCESS_KEY=" + secret + "\n",
		"README.md": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
		"clean.go":  "package main\n",
	})
	out, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir} })
	if code != ExitFindings {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if strings.Contains(out, secret) || strings.Contains(out, id) {
		t.Fatalf("output holds the key in clear:\n%s", out)
	}
	for _, want := range []string{"app/.env", "critical [aws-access-key-pair]", "account 123456789012", awskey.Redact(id), "(example)", "1 finding: 1 critical (1 suppressed)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.ShowSecrets = true })
	if !strings.Contains(out, secret) {
		t.Errorf("--show-secrets does not show the secret:\n%s", out)
	}

	// Only the example: exit 0.
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{filepath.Join(dir, "README.md")} })
	if code != ExitClean || !strings.Contains(out, "no findings (1 suppressed)") {
		t.Errorf("example only: exit %d\n%s", code, out)
	}
	// --fail-on above the finding's severity: exit 0, still listed.
	_, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.FailOn = "none" })
	if code != ExitClean {
		t.Errorf("--fail-on none: exit %d", code)
	}
}

func TestScanAllowAndBaseline(t *testing.T) {
	id, secret := scanTestKey(t, 2)
	id2, secret2 := scanTestKey(t, 3)
	dir := scanTestDir(t, map[string]string{
		"creds":   "[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n",
		"allowed": "key = " + id2 + " # keywarden:allow\n",
	})
	base := filepath.Join(t.TempDir(), "baseline.json")
	out, errOut, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.WriteBaseline = base })
	if code != ExitClean {
		t.Fatalf("--write-baseline: exit %d\n%s%s", code, out, errOut)
	}
	st, err := os.Stat(base)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("baseline: %v %v", err, st.Mode())
	}
	data, _ := os.ReadFile(base)
	if strings.Contains(string(data), secret) || strings.Contains(string(data), id) {
		t.Fatalf("baseline holds the key:\n%s", data)
	}
	// Move the lines: the baseline still applies.
	os.WriteFile(filepath.Join(dir, "creds"), []byte("# moved\n\n[default]\naws_secret_access_key = "+secret+"\naws_access_key_id = "+id+"\n"), 0o644)
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.Baseline = base })
	if code != ExitClean || !strings.Contains(out, "2 more suppressed") {
		t.Fatalf("with baseline: exit %d\n%s", code, out)
	}
	out, _, _ = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.Baseline = base; o.ShowSuppressed = true })
	if !strings.Contains(out, "(baseline)") || !strings.Contains(out, "(inline)") {
		t.Errorf("--show-suppressed:\n%s", out)
	}
	// A new key is not in the baseline.
	os.WriteFile(filepath.Join(dir, "new.env"), []byte("AWS_SECRET_ACCESS_KEY="+secret2+"\n"), 0o644)
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.Baseline = base })
	if code != ExitFindings || !strings.Contains(out, "new.env") {
		t.Errorf("new key: exit %d\n%s", code, out)
	}
	// A broken baseline is an input error.
	os.WriteFile(base, []byte("{"), 0o600)
	_, errOut, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.Baseline = base })
	if code != ExitError {
		t.Errorf("bad baseline: exit %d %s", code, errOut)
	}
}

func TestScanStdinJSONAndSARIF(t *testing.T) {
	id, secret := scanTestKey(t, 4)
	in := "log line\nexport AWS_ACCESS_KEY_ID=" + id + "\nexport AWS_SECRET_ACCESS_KEY=" + secret + "\n"
	out, _, code := scanRun(t, in, func(o *scanOptions) { o.Paths = []string{"-"}; o.Format = "json" })
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != 1 || doc.Summary.Total != 1 || doc.Findings[0].Location.Path != "-" || doc.Findings[0].Location.Line != 2 {
		t.Fatalf("doc = %+v", doc)
	}
	if strings.Contains(out, secret) {
		t.Fatal("JSON holds the secret")
	}
	out, _, _ = scanRun(t, in, func(o *scanOptions) { o.Paths = []string{"-"}; o.Format = "sarif" })
	if strings.Contains(out, secret) || !strings.Contains(out, `"keywarden/v1"`) {
		t.Fatalf("SARIF:\n%s", out)
	}
	sariftest.Validate(t, []byte(out))
}

func TestScanReportFile(t *testing.T) {
	id, _ := scanTestKey(t, 5)
	dir := scanTestDir(t, map[string]string{"f.txt": id + "\n"})
	rep := filepath.Join(t.TempDir(), "out.sarif")
	out, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.Format = "sarif"; o.ReportFile = rep })
	if code != ExitFindings || !strings.Contains(out, "report written to") {
		t.Fatalf("exit %d: %s", code, out)
	}
	st, err := os.Stat(rep)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("report: %v %v", err, st)
	}
	data, _ := os.ReadFile(rep)
	sariftest.Validate(t, data)
}

func TestScanUsageErrors(t *testing.T) {
	for name, mod := range map[string]func(*scanOptions){
		"format":            func(o *scanOptions) { o.Format = "xml" },
		"size":              func(o *scanOptions) { o.MaxFileSize = "ten" },
		"git and staged":    func(o *scanOptions) { o.Git = true; o.Staged = true },
		"gitignore and git": func(o *scanOptions) { o.Git = true; o.Gitignore = true },
		"canaries":          func(o *scanOptions) { o.VerifyCanaries = true },
		"missing path":      func(o *scanOptions) { o.Paths = []string{filepath.Join(t.TempDir(), "nope")} },
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, code := scanRun(t, "", mod); code != ExitError {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

func TestScanParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10MB": 10 << 20, "512k": 512 << 10, "1G": 1 << 30, "1000": 1000, "2MiB": 2 << 20} {
		if got, err := scanParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "MB", "1T"} {
		if _, err := scanParseSize(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestScanOwnKeys(t *testing.T) {
	id, secret := scanTestKey(t, 6)
	storeID, storeSecret := scanTestKey(t, 12)
	home := t.TempDir()
	credFile := filepath.Join(t.TempDir(), "credentials")
	os.WriteFile(credFile, []byte("[default]\naws_access_key_id = "+id+"\naws_secret_access_key = "+secret+"\n"), 0o600)
	dir := scanTestDir(t, map[string]string{"build.log": "token=x" + id + "y\n", "b64.txt": base64.StdEncoding.EncodeToString([]byte("cfg:"+storeID)) + "\n"})
	env := map[string]string{"HOME": home, "KEYWARDEN_BACKEND": "file", "KEYWARDEN_FILE_DIR": filepath.Join(home, "kw"), "KEYWARDEN_FILE_PASSPHRASE": "test passphrase"}
	getenv := func(k string) string { return env[k] }

	out, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.Getenv = getenv })
	if code != ExitClean {
		t.Fatalf("without --aws-credentials an embedded or encoded ID is not a finding: exit %d\n%s", code, out)
	}
	// No credentials file, no store: a warning, not an error.
	_, errOut, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.AWSCredentials = true; o.Getenv = getenv })
	if code != ExitClean || !strings.Contains(errOut, "found no access key IDs") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The credentials file's ID, inside a longer word.
	env["AWS_SHARED_CREDENTIALS_FILE"] = credFile
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.AWSCredentials = true; o.Getenv = getenv })
	if code != ExitFindings || !strings.Contains(out, "Your own AWS access key") || !strings.Contains(out, "build.log") || strings.Contains(out, "b64.txt") {
		t.Fatalf("credentials file: exit %d\n%s", code, out)
	}
	// A key in keywarden's store, base64-encoded.
	v := &vault.Vault{Store: vault.NewFileStore(env["KEYWARDEN_FILE_DIR"], func(bool) (string, error) { return env["KEYWARDEN_FILE_PASSPHRASE"], nil })}
	if err := v.SetKey("work", &vault.Key{AccessKeyID: storeID, SecretAccessKey: storeSecret, Added: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.AWSCredentials = true; o.Getenv = getenv })
	if code != ExitFindings || !strings.Contains(out, "b64.txt") || !strings.Contains(out, "base64-encoded") || strings.Contains(out, storeSecret) {
		t.Errorf("store: exit %d\n%s", code, out)
	}
	// A store that cannot be unlocked is an error.
	env["KEYWARDEN_FILE_PASSPHRASE"] = "wrong"
	if _, errOut, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.AWSCredentials = true; o.Getenv = getenv }); code != ExitError {
		t.Errorf("wrong passphrase: exit %d %s", code, errOut)
	}
}

func TestScanVerify(t *testing.T) {
	id, secret := scanTestKey(t, 7)
	dir := scanTestDir(t, map[string]string{"creds": "aws_access_key_id=" + id + "\naws_secret_access_key=" + secret + "\n"})
	t.Run("revoked", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(403)
			w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>`))
		}))
		defer srv.Close()
		out, _, code := scanRun(t, "", func(o *scanOptions) {
			o.Paths = []string{dir}
			o.Verify = true
			o.Format = "json"
			o.Getenv = func(k string) string {
				if k == "AWS_ENDPOINT_URL" {
					return srv.URL
				}
				return ""
			}
		})
		var doc report.Document
		if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Findings) != 1 {
			t.Fatalf("%v\n%s", err, out)
		}
		f := doc.Findings[0]
		if code != ExitFindings || f.Properties["verification"] != "revoked" || f.Severity != report.SeverityLow {
			t.Errorf("exit %d finding %+v", code, f)
		}
	})
	t.Run("live on moto", func(t *testing.T) {
		srv := mototest.Start(t)
		out, _, code := scanRun(t, "", func(o *scanOptions) {
			o.Paths = []string{dir}
			o.Verify = true
			o.AWS.EndpointURL = srv.URL
			o.VerifyTimeout = 20 * time.Second
		})
		if code != ExitFindings || !strings.Contains(out, "Verified LIVE: arn:aws:") {
			t.Errorf("exit %d\n%s", code, out)
		}
		// The finding ends with the command that contains the key.
		if !strings.Contains(out, "`keywarden respond "+id+" --dry-run`") || strings.Contains(out, secret) {
			t.Errorf("no respond line for the live key, or the secret is shown:\n%s", out)
		}
	})
}

// scanGitRepo makes a repository in a temp dir; it skips without git.
func scanGitRepo(t *testing.T) (string, func(args ...string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed")
		}
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com",
			"GIT_COMMITTER_NAME=Dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	return dir, git
}

func TestScanGitHistoryAndStaged(t *testing.T) {
	dir, git := scanGitRepo(t)
	id, secret := scanTestKey(t, 8)
	id2, _ := scanTestKey(t, 9)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README", "hello\n")
	git("add", ".")
	git("commit", "-q", "-m", "first", "--date", "2024-01-01T00:00:00Z")
	write("deploy.sh", "export AWS_ACCESS_KEY_ID="+id+"\nexport AWS_SECRET_ACCESS_KEY="+secret+"\n")
	git("add", ".")
	git("commit", "-q", "-m", "add key", "--date", "2024-02-01T00:00:00Z")
	// Edit the file (a new blob with the same secret), then delete it.
	write("deploy.sh", "# deploy\nexport AWS_ACCESS_KEY_ID="+id+"\nexport AWS_SECRET_ACCESS_KEY="+secret+"\n")
	git("commit", "-q", "-am", "edit", "--date", "2024-03-01T00:00:00Z")
	git("rm", "-q", "deploy.sh")
	git("commit", "-q", "-m", "remove key", "--date", "2024-04-01T00:00:00Z")

	// The working tree is clean; the history is not.
	_, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir} })
	if code != ExitClean {
		t.Fatalf("working tree: exit %d", code)
	}
	out, errOut, code := scanRun(t, "", func(o *scanOptions) { o.Git = true; o.Repo = dir; o.Format = "json" })
	if code != ExitFindings {
		t.Fatalf("--git: exit %d\n%s%s", code, out, errOut)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != 1 {
		t.Fatalf("want the pair once (deduplicated across blobs), got %d:\n%s", len(doc.Findings), out)
	}
	f := doc.Findings[0]
	if f.Location.Path != "deploy.sh" || f.Location.Line != 1 || f.Location.Author != "Dev <dev@example.com>" ||
		!strings.HasPrefix(f.Location.Date, "2024-02-01") || len(f.Location.Commit) != 40 {
		t.Errorf("location = %+v (want the commit that introduced it)", f.Location)
	}
	if strings.Contains(out, secret) {
		t.Error("secret in clear")
	}

	// --exclude applies to paths in the history too.
	if _, _, code := scanRun(t, "", func(o *scanOptions) { o.Git = true; o.Repo = dir; o.Excludes = []string{"*.sh"} }); code != ExitClean {
		t.Errorf("--git --exclude: exit %d", code)
	}

	// Staged: only what is about to be committed.
	write("new.txt", "id "+id2+"\n")
	_, _, code = scanRun(t, "", func(o *scanOptions) { o.Staged = true; o.Repo = dir })
	if code != ExitClean {
		t.Errorf("nothing staged: exit %d", code)
	}
	git("add", "new.txt")
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Staged = true; o.Repo = dir })
	if code != ExitFindings || !strings.Contains(out, "new.txt") {
		t.Errorf("staged key: exit %d\n%s", code, out)
	}
}

func TestScanPrePush(t *testing.T) {
	dir, git := scanGitRepo(t)
	id, secret := scanTestKey(t, 10)
	os.WriteFile(filepath.Join(dir, "a.env"), []byte("AWS_ACCESS_KEY_ID="+id+"\nAWS_SECRET_ACCESS_KEY="+secret+"\n"), 0o644)
	git("add", ".")
	git("commit", "-q", "-m", "key")
	head, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	in := "refs/heads/main " + strings.TrimSpace(string(head)) + " refs/heads/main " + strings.Repeat("0", 40) + "\n"
	out, errOut, code := scanRun(t, in, func(o *scanOptions) { o.PrePush = true; o.Repo = dir })
	if code != ExitFindings || !strings.Contains(out, "a.env") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	// A deletion pushes nothing to scan.
	in = "(delete) " + strings.Repeat("0", 40) + " refs/heads/old " + strings.TrimSpace(string(head)) + "\n"
	if _, errOut, code := scanRun(t, in, func(o *scanOptions) { o.PrePush = true; o.Repo = dir }); code != ExitClean {
		t.Errorf("deletion: exit %d %s", code, errOut)
	}
}

func TestScanProgressOnTerminal(t *testing.T) {
	id, _ := scanTestKey(t, 11)
	dir := scanTestDir(t, map[string]string{"a.txt": id + "\n", "b.txt": "nothing\n"})
	ios, _, errOut := Test("")
	ios.SetTTY(false, false, true)
	opts := &scanOptions{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now, Paths: []string{dir},
		Repo: ".", MaxFileSize: "10MB", FailOn: "info", Format: "text", VerifyRate: 1}
	if code := ExitCode(runScan(context.Background(), opts)); code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut.String(), "scanned 2 files, 29 B in ") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

// SARIF URIs must be relative to the repository root, which GitHub code
// scanning resolves them against, whatever path the scan was given.
func TestScanSARIFPathsFromRepoRoot(t *testing.T) {
	id, _ := scanTestKey(t, 7)
	dir := scanTestDir(t, map[string]string{".git/HEAD": "ref: refs/heads/main\n", "svc/conf/f.txt": id + "\n"})
	out, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{filepath.Join(dir, "svc")}; o.Format = "sarif" })
	if code != ExitFindings {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var doc struct {
		Runs []struct {
			Results []struct {
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 1 {
		t.Fatalf("SARIF: %v\n%s", err, out)
	}
	if uri := doc.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI; uri != "svc/conf/f.txt" {
		t.Errorf("uri %q, want svc/conf/f.txt (relative to the repository root)", uri)
	}
	sariftest.Validate(t, []byte(out)) // last: it skips without the schema
}

// A hostile file name must not reach the terminal raw: text output escapes
// control characters in paths.
func TestScanTextEscapesControlCharacters(t *testing.T) {
	id, _ := scanTestKey(t, 8)
	dir := scanTestDir(t, map[string]string{"evil\x1b]0;pwned\x07\nname.txt": id + "\n"})
	out, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir} })
	if code != ExitFindings {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `evil\x1b]0;pwned\a\nname.txt`) {
		t.Errorf("control characters not escaped:\n%q", out)
	}
}

// A baseline must match however the scan is started: written by a scan of
// the repository by absolute path (CI), applied by a scan run from a
// subdirectory with a relative path (a developer), and the other way.
func TestScanBaselineIndependentOfStartingPath(t *testing.T) {
	id, secret := scanTestKey(t, 9)
	dir := scanTestDir(t, map[string]string{
		".git/HEAD":    "ref: refs/heads/main\n",
		"svc/app/.env": "AWS_ACCESS_KEY_ID=" + id + "\nAWS_SECRET_ACCESS_KEY=" + secret + "\n",
	})
	bl := filepath.Join(t.TempDir(), "baseline.json")
	if _, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{dir}; o.WriteBaseline = bl }); code != ExitClean {
		t.Fatalf("write-baseline: exit %d", code)
	}
	t.Chdir(filepath.Join(dir, "svc"))
	out, _, code := scanRun(t, "", func(o *scanOptions) { o.Paths = []string{"app"}; o.Baseline = bl })
	if code != ExitClean {
		t.Errorf("baseline written from %s not applied from svc/: exit %d\n%s", dir, code, out)
	}
	bl2 := filepath.Join(t.TempDir(), "baseline.json")
	scanRun(t, "", func(o *scanOptions) { o.WriteBaseline = bl2 })
	out, _, code = scanRun(t, "", func(o *scanOptions) { o.Paths = []string{filepath.Join(dir, "svc", "app", ".env")}; o.Baseline = bl2 })
	if code != ExitClean {
		t.Errorf("baseline written from svc/ not applied by absolute path: exit %d\n%s", code, out)
	}
}

// An input named explicitly that is skipped gets a notice on stderr, its
// name escaped like every name printed; the reasons and how to include
// each input are table-driven.
func TestScanSkipNotices(t *testing.T) {
	id, _ := scanTestKey(t, 9)
	dir := scanTestDir(t, map[string]string{
		"evil\x1b[2Jname.dat": "\x00" + id,
		"big.txt":             strings.Repeat("x", 100) + id + "\n",
		"lib.jar":             "PK",
	})
	for _, tc := range []struct {
		name, file, want string
	}{
		{"binary", "evil\x1b[2Jname.dat", "skipped " + dir + "/evil?[2Jname.dat: binary (--archives reads their printable strings)\n"},
		{"too large", "big.txt", "skipped " + dir + "/big.txt: larger than --max-file-size (raise --max-file-size to scan it)\n"},
		{"archive", "lib.jar", "skipped " + dir + "/lib.jar: an archive or compressed file (add --archives to look inside)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := scanRun(t, "", func(o *scanOptions) {
				o.Paths = []string{filepath.Join(dir, tc.file)}
				o.MaxFileSize = "64"
			})
			if code != ExitClean || out != "no findings\n" {
				t.Errorf("exit %d, stdout %q", code, out)
			}
			if strings.ContainsRune(errOut, '\x1b') || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q, want %q", errOut, tc.want)
			}
		})
	}
}

// TestScanSkipTextsComplete: every skip reason has words for the summary,
// so a reason added to secretscan is never printed as a bare count.
func TestScanSkipTextsComplete(t *testing.T) {
	for r := secretscan.SkipReason(0); r < secretscan.NumSkipReasons; r++ {
		if scanSkipTexts[r].what == "" {
			t.Errorf("skip reason %s has no text in scanSkipTexts", r)
		}
	}
}
