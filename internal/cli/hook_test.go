package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hookTestRepo makes a git repository isolated from the machine's git
// configuration, and a stand-in for keywarden that logs its arguments and
// standard input and exits with the code in $KW_STUB_EXIT (the real scan is
// exercised by the testscript scripts hook_*.txtar).
func hookTestRepo(t *testing.T) (repo, stub, log string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("KW_STUB_EXIT", "0")
	repo = t.TempDir()
	hookGit(t, repo, "init", "-q", "-b", "main")
	hookGit(t, repo, "config", "user.name", "T")
	hookGit(t, repo, "config", "user.email", "t@example.com")
	log = filepath.Join(t.TempDir(), "log")
	stub = filepath.Join(t.TempDir(), "keywarden stub's")
	script := "#!/bin/sh\necho \"keywarden $*\" >> \"$KW_LOG\"\nif [ \"$1\" = hook ]; then cat >> \"$KW_LOG\"; fi\nexit $KW_STUB_EXIT\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KW_LOG", log)
	return repo, stub, log
}

func hookGit(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && (len(args) == 0 || (args[0] != "commit" && args[0] != "push")) {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out), err
}

func hookCommit(t *testing.T, repo, file string) error {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, file), []byte(file+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hookGit(t, repo, "add", file)
	_, err := hookGit(t, repo, "commit", "-q", "-m", "add "+file)
	return err
}

func readLog(t *testing.T, log string) string {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(log)
	return string(data)
}

func hookRun(t *testing.T, install bool, opts hookOptions) string {
	t.Helper()
	ios, out, _ := Test("")
	opts.IO = ios
	var err error
	if install {
		err = runHookInstall(t.Context(), &opts)
	} else {
		err = runHookUninstall(t.Context(), &opts)
	}
	if err != nil {
		t.Fatalf("install=%v: %v", install, err)
	}
	return out.String()
}

func TestHookInstallChainsAndUninstallRestores(t *testing.T) {
	repo, stub, log := hookTestRepo(t)
	hooks := filepath.Join(repo, ".git", "hooks")
	existing := "#!/bin/sh\necho \"existing hook ran\" >> \"$KW_LOG\"\nexit $EXISTING_EXIT\n"
	t.Setenv("EXISTING_EXIT", "0")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hooks, "pre-commit"), []byte(existing), 0o755); err != nil {
		t.Fatal(err)
	}

	out := hookRun(t, true, hookOptions{Dir: repo, Command: stub})
	if !strings.Contains(out, "kept as") {
		t.Errorf("install output = %q", out)
	}
	// Installing twice updates ours and keeps the chained hook.
	hookRun(t, true, hookOptions{Dir: repo, Command: stub})
	if data, _ := os.ReadFile(filepath.Join(hooks, "pre-commit.keywarden-chained")); string(data) != existing {
		t.Fatalf("chained hook = %q", data)
	}

	if err := hookCommit(t, repo, "a.txt"); err != nil {
		t.Fatalf("clean commit refused: %v", err)
	}
	if got := readLog(t, log); got != "existing hook ran\nkeywarden scan --staged --quiet\n" {
		t.Errorf("hooks ran: %q", got)
	}

	// keywarden finds something: the commit is refused.
	t.Setenv("KW_STUB_EXIT", "1")
	if err := hookCommit(t, repo, "b.txt"); err == nil {
		t.Error("commit went through although the scan failed")
	}
	readLog(t, log)

	// The existing hook refuses: keywarden does not even run.
	t.Setenv("KW_STUB_EXIT", "0")
	t.Setenv("EXISTING_EXIT", "3")
	if err := hookCommit(t, repo, "c.txt"); err == nil {
		t.Error("commit went through although the chained hook failed")
	}
	if got := readLog(t, log); got != "existing hook ran\n" {
		t.Errorf("hooks ran: %q", got)
	}

	out = hookRun(t, false, hookOptions{Dir: repo})
	if !strings.Contains(out, "restored") {
		t.Errorf("uninstall output = %q", out)
	}
	if data, _ := os.ReadFile(filepath.Join(hooks, "pre-commit")); string(data) != existing {
		t.Errorf("restored hook = %q", data)
	}
	if _, err := os.Stat(filepath.Join(hooks, "pre-commit.keywarden-chained")); !os.IsNotExist(err) {
		t.Errorf("chained copy left behind: %v", err)
	}
	// A hook keywarden did not write is left alone.
	ios, _, _ := Test("")
	if err := runHookUninstall(t.Context(), &hookOptions{IO: ios, Dir: repo}); ExitCode(err) != ExitError {
		t.Errorf("uninstalling a foreign hook: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(hooks, "pre-commit")); string(data) != existing {
		t.Errorf("foreign hook touched: %q", data)
	}
}

func TestHookInstallHonoursHooksPath(t *testing.T) {
	repo, stub, log := hookTestRepo(t)
	hookGit(t, repo, "config", "core.hooksPath", "ci/hooks")
	if err := os.MkdirAll(filepath.Join(repo, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Run from a subdirectory: the relative hooksPath is still the top's.
	hookRun(t, true, hookOptions{Dir: filepath.Join(repo, "sub"), Command: stub})
	path := filepath.Join(repo, "ci", "hooks", "pre-commit")
	if st, err := os.Stat(path); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("hook not installed in core.hooksPath: %v", err)
	}
	if _, err := os.Stat(filepath.Join(repo, ".git", "hooks", "pre-commit")); err == nil {
		t.Error("hook installed in .git/hooks too")
	}
	if err := hookCommit(t, repo, "a.txt"); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, log); got != "keywarden scan --staged --quiet\n" {
		t.Errorf("hook ran: %q", got)
	}
	hookRun(t, false, hookOptions{Dir: repo})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("hook left after uninstall: %v", err)
	}
	out := hookRun(t, false, hookOptions{Dir: repo})
	if !strings.Contains(out, "nothing to do") {
		t.Errorf("second uninstall: %q", out)
	}
}

func TestHookPrePushChains(t *testing.T) {
	repo, stub, log := hookTestRepo(t)
	remote := t.TempDir()
	hookGit(t, remote, "init", "-q", "--bare")
	hookGit(t, repo, "remote", "add", "origin", remote)
	hooks := filepath.Join(repo, ".git", "hooks")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	existing := "#!/bin/sh\necho \"existing pre-push $1\" >> \"$KW_LOG\"\ncat >> \"$KW_LOG\"\n"
	if err := os.WriteFile(filepath.Join(hooks, "pre-push"), []byte(existing), 0o755); err != nil {
		t.Fatal(err)
	}
	hookRun(t, true, hookOptions{Dir: repo, Command: stub, PrePush: true})
	if err := hookCommit(t, repo, "a.txt"); err != nil {
		t.Fatal(err)
	}
	head, _ := hookGit(t, repo, "rev-parse", "HEAD")
	head = strings.TrimSpace(head)
	if out, err := hookGit(t, repo, "push", "-q", "origin", "main"); err != nil {
		t.Fatalf("push refused: %v\n%s", err, out)
	}
	line := "refs/heads/main " + head + " refs/heads/main " + strings.Repeat("0", 40) + "\n"
	want := "existing pre-push origin\n" + line + "keywarden hook run pre-push origin " + remote + "\n" + line
	if got := readLog(t, log); got != want {
		t.Errorf("hooks ran:\n%s\nwant:\n%s", got, want)
	}

	t.Setenv("KW_STUB_EXIT", "1")
	if err := hookCommit(t, repo, "b.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := hookGit(t, repo, "push", "-q", "origin", "main"); err == nil {
		t.Error("push went through although the scan failed")
	}
	hookRun(t, false, hookOptions{Dir: repo, PrePush: true})
	if data, _ := os.ReadFile(filepath.Join(hooks, "pre-push")); string(data) != existing {
		t.Errorf("restored pre-push hook = %q", data)
	}
}

func TestHookScriptQuotesCommand(t *testing.T) {
	s := hookScript("pre-commit", "/opt/it's here/keywarden", "")
	if !strings.Contains(s, `kw='/opt/it'\''s here/keywarden'`) || !strings.Contains(s, hookMarker) {
		t.Errorf("script:\n%s", s)
	}
	s = hookScript("pre-push", "kw", "my base'line.json")
	if !strings.Contains(s, `hook run pre-push --baseline 'my base'\''line.json' "$@"`) {
		t.Errorf("script:\n%s", s)
	}
}

func TestHookInstallOutsideRepo(t *testing.T) {
	hookTestRepo(t)
	ios, _, _ := Test("")
	err := runHookInstall(t.Context(), &hookOptions{IO: ios, Dir: t.TempDir()})
	if ExitCode(err) != ExitError || !strings.Contains(strings.ToLower(err.Error()), "not a git repository") {
		t.Errorf("err = %v", err)
	}
}

// Under the pre-commit framework the push range comes in the environment;
// the hidden `hook run pre-push` scans it with the scan command.
func TestHookRunPrePushFromEnv(t *testing.T) {
	repo, _, _ := hookTestRepo(t)
	if err := hookCommit(t, repo, "base.txt"); err != nil {
		t.Fatal(err)
	}
	// A generated key (awskey.NewID / NewSecret), added then removed.
	creds := "aws_access_key_id = AKIATCH6YDSYTEICJRMM\naws_secret_access_key = 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\n"
	if err := os.WriteFile(filepath.Join(repo, "creds.ini"), []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	hookGit(t, repo, "add", "creds.ini")
	hookGit(t, repo, "commit", "-q", "--no-verify", "-m", "leak")
	hookGit(t, repo, "rm", "-q", "creds.ini")
	hookGit(t, repo, "commit", "-q", "--no-verify", "-m", "unleak")

	run := func(from, to string) (int, string, string) {
		ios, out, errOut := Test("")
		env := map[string]string{"PRE_COMMIT_FROM_REF": from, "PRE_COMMIT_TO_REF": to}
		f := &Factory{IO: ios, Getenv: func(k string) string { return env[k] }}
		err := runHookPrePush(t.Context(), &hookRunOptions{F: f, Dir: repo})
		return ExitCode(err), out.String(), errOut.String()
	}
	code, out, errOut := run("HEAD~2", "HEAD")
	if code != ExitFindings || !strings.Contains(out, "creds.ini") || !strings.Contains(errOut, "push refused") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "SPJ1nlmCP/yDfaIN1fuAZqDfWbA5KvxlaJS8tKwa") {
		t.Error("secret printed in clear")
	}
	if code, out, _ := run("HEAD~1", "HEAD"); code != ExitClean {
		t.Errorf("range without the key: exit %d\n%s", code, out)
	}
	if code, _, _ := run("--output=x", "HEAD"); code != ExitError {
		t.Errorf("option as a ref: exit %d", code)
	}
}
