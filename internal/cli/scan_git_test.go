package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/gitsource"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/secretscan"
	"github.com/spf13/cobra"
)

// scanGitOutput runs git in dir and returns its trimmed output.
func scanGitOutput(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// Every key pair planted in a history of 200 commits is reported, once,
// in every run: the scanner once lost about one in a thousand. The
// repository is written with git fast-import, in about a second.
func TestScanGitFindsEveryPlantedPair(t *testing.T) {
	dir, _ := scanGitRepo(t)
	const commits, perCommit = 200, 5
	var stream bytes.Buffer
	for c := range commits {
		fmt.Fprintf(&stream, "commit refs/heads/main\ncommitter Dev <dev@example.com> %d +0000\ndata 2\nc\n", 1700000000+c*60)
		for k := range perCommit {
			n := c*perCommit + k
			r := rand.NewChaCha8([32]byte{byte(n), byte(n >> 8), 'p'})
			id, err1 := awskey.NewID("AKIA", 123456789012, r)
			secret, err2 := awskey.NewSecret(r)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			content := fmt.Sprintf("[profile p%d]\naws_access_key_id = %s\naws_secret_access_key = %s\n", n, id, secret)
			fmt.Fprintf(&stream, "M 100644 inline svc%03d/%sconfig%d.ini\ndata %d\n%s\n", c, strings.Repeat("nested/", n%29), n, len(content), content)
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &stream
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	out, errOut, code := scanRun(t, "", func(o *scanOptions) { o.Git = true; o.Repo = dir; o.Format = "json" })
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	pairs := map[string]int{}
	for _, f := range doc.Findings {
		if f.RuleID == secretscan.RulePair {
			pairs[f.Location.Path]++
		}
	}
	if len(pairs) != commits*perCommit || doc.Summary.Total != commits*perCommit {
		t.Fatalf("pairs in %d files (%d findings in all), want %d", len(pairs), doc.Summary.Total, commits*perCommit)
	}
	for p, n := range pairs {
		if n != 1 {
			t.Errorf("%s: %d pairs", p, n)
		}
	}
}

// scanGitMissingRepo is a repository of three commits whose second one
// introduced two keys, one of them in a blob deleted from .git/objects
// (a damaged copy; a partial clone lacks blobs the same way). It returns
// the repository, that commit and the lost blob.
func scanGitMissingRepo(t *testing.T) (dir, commit, lost string) {
	t.Helper()
	dir, git := scanGitRepo(t)
	id, secret := scanTestKey(t, 21)
	id2, secret2 := scanTestKey(t, 22)
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README", "hello\n")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	write("conf/lost.env", "AWS_ACCESS_KEY_ID="+id+"\nAWS_SECRET_ACCESS_KEY="+secret+"\n")
	write("kept.env", "AWS_ACCESS_KEY_ID="+id2+"\nAWS_SECRET_ACCESS_KEY="+secret2+"\n")
	git("add", ".")
	git("commit", "-q", "-m", "two")
	commit = scanGitOutput(t, dir, "rev-parse", "HEAD")
	lost = scanGitOutput(t, dir, "rev-parse", "HEAD:conf/lost.env")
	if err := os.Remove(filepath.Join(dir, ".git", "objects", lost[:2], lost[2:])); err != nil {
		t.Fatal(err)
	}
	return dir, commit, lost
}

func TestScanGitMissingObject(t *testing.T) {
	dir, commit, lost := scanGitMissingRepo(t)

	// By default: exit 2, naming the blob's path and commit.
	// Every time: the error once lost the race to "context canceled".
	for range 5 {
		err := runScan(context.Background(), scanGitTestOptions(dir, nil))
		if ExitCode(err) != ExitError {
			t.Fatalf("exit %d (%v), want 2", ExitCode(err), err)
		}
		msg := err.Error()
		for _, want := range []string{`"conf/lost.env"`, commit, lost, "--allow-missing-objects"} {
			if !strings.Contains(msg, want) {
				t.Fatalf("error %q does not name %s", msg, want)
			}
		}
	}

	// --allow-missing-objects: the rest is scanned, the missing blob
	// counted and listed on stderr.
	ios, _, errOut := Test("")
	opts := scanGitTestOptions(dir, ios)
	col := &scanCollector{byFP: map[string]int{}, seen: map[string]int{}, pairs: map[int]scanPair{}}
	src := &secretscan.Sources{Detector: secretscan.New(secretscan.Options{}), MaxFileSize: 10 << 20,
		Stats: &secretscan.Stats{}, Warn: col.warn}
	res, err := scanGitWith(context.Background(), opts, scanGitOptions{AllowMissingObjects: true}, src, col)
	if err != nil {
		t.Fatal(err)
	}
	if len(col.findings) != 1 || col.findings[0].Location.Path != "kept.env" || col.findings[0].RuleID != secretscan.RulePair {
		t.Errorf("findings = %+v, want the pair of kept.env", col.findings)
	}
	if len(res.Missing) != 1 || res.Missing[0].Path != "conf/lost.env" || res.Missing[0].Commit != commit {
		t.Errorf("missing = %+v", res.Missing)
	}
	wantErr := "keywarden: warning: 1 blob missing from the repository not scanned (--allow-missing-objects):\n" +
		"  conf/lost.env (commit " + commit[:12] + ", blob " + lost + ")\n"
	if errOut.String() != wantErr {
		t.Errorf("stderr = %q\nwant %q", errOut.String(), wantErr)
	}
}

func scanGitTestOptions(repo string, ios *IOStreams) *scanOptions {
	if ios == nil {
		ios, _, _ = Test("")
	}
	return &scanOptions{IO: ios, Getenv: func(string) string { return "" }, Git: true, Repo: repo,
		MaxFileSize: "10MB", FailOn: "info", Format: "text", VerifyRate: 1}
}

func TestScanWriteMissing(t *testing.T) {
	var blobs []gitsource.Blob
	for i := range 22 {
		blobs = append(blobs, gitsource.Blob{OID: strings.Repeat("a", 40), Path: fmt.Sprintf("p%02d\x1b[31m", i), Commit: strings.Repeat("c", 40)})
	}
	blobs[0].Commit = "" // a tag's blob
	var b bytes.Buffer
	scanWriteMissing(&b, blobs)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1+scanMissingListed+1 || !strings.HasPrefix(lines[0], "keywarden: warning: 22 blobs missing") ||
		lines[len(lines)-1] != "  and 2 more" || strings.Contains(b.String(), "\x1b") {
		t.Errorf("output:\n%s", b.String())
	}
	if !strings.HasPrefix(lines[1], "  p00") || !strings.HasSuffix(lines[1], "(blob "+strings.Repeat("a", 40)+")") {
		t.Errorf("blob without a commit: %q", lines[1])
	}
	b.Reset()
	scanWriteMissing(&b, nil)
	if b.Len() != 0 {
		t.Errorf("nothing missing: %q", b.String())
	}
}

// `scan --git DIR`, as other scanners take it: DIR is the repository when
// it is not a revision of the current one.
func TestScanGitTarget(t *testing.T) {
	dir, git := scanGitRepo(t)
	git("commit", "-q", "--allow-empty", "-m", "one")
	git("branch", "feature")
	if err := os.Mkdir(filepath.Join(dir, "feature"), 0o755); err != nil { // a directory named like a branch
		t.Fatal(err)
	}
	plain := t.TempDir()
	ctx := context.Background()
	tests := []struct {
		name, repo, arg     string
		wantRepo, wantRange string
		wantErr             string
	}{
		{"a range", dir, "main~0..feature", dir, "main~0..feature", ""},
		{"a branch before a directory of that name", dir, "feature", dir, "feature", ""},
		{"a repository", ".", dir, dir, "", ""},
		{"its .git directory", ".", filepath.Join(dir, ".git"), filepath.Join(dir, ".git"), "", ""},
		{"a repository besides --repo", dir, filepath.Join(dir, ".git"), "", "", "name one repository"},
		{"neither", dir, "nosuchref", "", "", "nosuchref is neither a revision of the repository in " + dir + " nor a git repository: did you mean --repo nosuchref?"},
		{"neither, outside a repository", plain, "path/to/repo", "", "", "did you mean --repo path/to/repo?"},
		{"a forbidden option", dir, "--output=x", "", "", "not allowed"},
		{"control characters", dir, "x\x1b[2J", "", "", "x?[2J is neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, rng, err := scanGitTarget(ctx, tt.repo, tt.arg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ExitCode(err) != ExitError {
					t.Fatalf("err = %v (exit %d), want %q", err, ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil || repo != tt.wantRepo || rng != tt.wantRange {
				t.Errorf("= %q, %q, %v; want %q, %q", repo, rng, err, tt.wantRepo, tt.wantRange)
			}
		})
	}
}

func TestAddScanGitFlags(t *testing.T) {
	var g scanGitOptions
	cmd := &cobra.Command{Use: "scan", RunE: func(*cobra.Command, []string) error { return nil }}
	addScanGitFlags(cmd, &g)
	cmd.SetArgs([]string{"--allow-missing-objects"})
	if err := cmd.Execute(); err != nil || !g.AllowMissingObjects {
		t.Errorf("err %v, options %+v", err, g)
	}
}

func TestLeaveCoreForGit(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		t.Skip("one CPU: nothing to leave")
	}
	restore := leaveCoreForGit(func(string) string { return "" })
	if got := runtime.GOMAXPROCS(0); got != n-1 {
		t.Errorf("GOMAXPROCS during the scan = %d, want %d", got, n-1)
	}
	restore()
	if got := runtime.GOMAXPROCS(0); got != n {
		t.Errorf("GOMAXPROCS after = %d, want %d", got, n)
	}
	restore = leaveCoreForGit(func(k string) string { return map[string]string{"GOMAXPROCS": "2"}[k] })
	if got := runtime.GOMAXPROCS(0); got != n {
		t.Errorf("with GOMAXPROCS set by the user: %d, want %d", got, n)
	}
	restore()
}
