package laptop

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsini"
	"github.com/keywarden/keywarden/internal/report"
)

const (
	testID     = "AKIA6RWJYAX6R5OAJ4XK"
	testSecret = "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"
)

var testKey = Key{Name: "work", KeyID: testID, Secret: testSecret}

func TestPlan(t *testing.T) {
	tests := []struct {
		name  string
		place Place
		data  string
		uses  []Use
		fix   bool
		want  string
		notes string
	}{
		{
			name:  "bash history: the secret only, every other byte kept",
			place: Place{Form: FormHistory, Shell: ShellBash},
			data:  "#1700000000\r\naws configure set aws_secret_access_key " + testSecret + "\r\nls\r\n",
			want:  "#1700000000\r\naws configure set aws_secret_access_key <moved to keywarden: work>\r\nls\r\n",
		},
		{
			name:  "zsh history: metafied bytes around the secret kept",
			place: Place{Form: FormHistory, Shell: ShellZsh},
			data:  ": 1:0;echo \x83\xb4 " + testSecret + " \x83\xb4\n",
			want:  ": 1:0;echo \x83\xb4 <moved to keywarden: work> \x83\xb4\n",
		},
		{
			name:  "start-up file: export lines become comments, indentation kept",
			place: Place{Form: FormStartup, Shell: ShellPOSIX},
			data:  "alias a=b\nexport AWS_ACCESS_KEY_ID=" + testID + "\n  export AWS_SECRET_ACCESS_KEY='" + testSecret + "' # me\necho " + testSecret + " >/dev/null\n",
			want:  "alias a=b\n# AWS_ACCESS_KEY_ID <moved to keywarden: work>\n  # AWS_SECRET_ACCESS_KEY <moved to keywarden: work>\necho <moved to keywarden: work> >/dev/null\n",
		},
		{
			name:  "fish and PowerShell start-up files",
			place: Place{Form: FormStartup, Shell: ShellFish},
			data:  "set -gx AWS_SECRET_ACCESS_KEY " + testSecret + "\n$env:AWS_ACCESS_KEY_ID = \"" + testID + "\"\r\n",
			want:  "# AWS_SECRET_ACCESS_KEY <moved to keywarden: work>\n# AWS_ACCESS_KEY_ID <moved to keywarden: work>\r\n",
		},
		{
			name:  "project file left alone by default",
			place: Place{Form: FormProject},
			data:  "AWS_SECRET_ACCESS_KEY=" + testSecret + "\n",
			want:  "AWS_SECRET_ACCESS_KEY=" + testSecret + "\n",
		},
		{
			name:  "project file emptied with --fix-project-files",
			place: Place{Form: FormProject},
			data:  "aws_secret = \"" + testSecret + "\"\n",
			fix:   true,
			want:  "aws_secret = \"\"\n",
		},
		{
			name:  "config: credential_process after the last setting, key lines removed",
			place: Place{Form: FormConfig},
			data:  "[profile work]\naws_access_key_id = " + testID + "\naws_secret_access_key = " + testSecret + "\nregion = x\n\n[profile b]\n",
			uses:  []Use{{"work", "work"}},
			want:  "[profile work]\nregion = x\ncredential_process = keywarden credential-process work\n\n[profile b]\n",
		},
		{
			name:  "config: credential_process where the next, emptied section's header was",
			place: Place{Form: FormConfig},
			data:  "[profile work]\nregion = x\n[profile old]\naws_access_key_id = " + testID + "\naws_secret_access_key = " + testSecret + "\n",
			uses:  []Use{{"work", "work"}},
			want:  "[profile work]\nregion = x\ncredential_process = keywarden credential-process work\n",
		},
		{
			name:  "config: a role profile is left alone, with a note",
			place: Place{Form: FormConfig},
			data:  "[profile work]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
			uses:  []Use{{"work", "work"}},
			want:  "[profile work]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
			notes: "profile work uses source_profile",
		},
		{
			name:  "config: already done",
			place: Place{Form: FormConfig},
			data:  "[default]\ncredential_process = keywarden credential-process default\n",
			uses:  []Use{{"default", "default"}},
			want:  "[default]\ncredential_process = keywarden credential-process default\n",
		},
		{
			name:  "config: another credential_process",
			place: Place{Form: FormConfig},
			data:  "[profile work]\ncredential_process = aws-vault export --format=json work\n",
			uses:  []Use{{"work", "work"}},
			want:  "[profile work]\ncredential_process = aws-vault export --format=json work\n",
			notes: "already has credential_process",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Plan(tc.place, []byte(tc.data), []Key{testKey}, tc.uses, PlanOptions{FixProjectFiles: tc.fix})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(p.New()); got != tc.want {
				t.Errorf("new content:\n%q\nwant\n%q", got, tc.want)
			}
			if notes := strings.Join(p.Notes, "\n"); !strings.Contains(notes, tc.notes) || (tc.notes == "" && notes != "") {
				t.Errorf("notes %q, want %q", notes, tc.notes)
			}
			// Planning the result again changes nothing: import run twice.
			again, err := Plan(tc.place, p.New(), []Key{testKey}, tc.uses, PlanOptions{FixProjectFiles: tc.fix})
			if err != nil || !again.Empty() {
				t.Errorf("second plan not empty: %+v %v", again.Edits, err)
			}
			if d := p.Diff(); strings.Contains(d, testSecret) {
				t.Errorf("the diff shows the secret:\n%s", d)
			}
		})
	}
}

// TestDiff pins the dry-run diff; an edit starting inside a line (an
// indented export) once made Diff loop for ever.
func TestDiff(t *testing.T) {
	data := "a\n  export AWS_SECRET_ACCESS_KEY=" + testSecret + "\nb\n"
	p, err := Plan(Place{Path: "~/.bashrc", Form: FormStartup}, []byte(data), []Key{testKey}, nil, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "--- ~/.bashrc\n+++ ~/.bashrc\n@@ line 2 @@\n-  export AWS_SECRET_ACCESS_KEY=RAhz********************************GEQU\n+  # AWS_SECRET_ACCESS_KEY <moved to keywarden: work>\n"
	done := make(chan string, 1)
	go func() { done <- p.Diff() }()
	select {
	case got := <-done:
		if got != want {
			t.Errorf("diff:\n%s\nwant\n%s", got, want)
		}
	case <-time.After(10 * time.Second): // a hang, not a timing assertion
		t.Fatal("Diff does not return")
	}
	// Another credential on a changed line is redacted too.
	token := strings.Repeat("IQoJb3JpZ2luX2Vj", 8)
	p, _ = Plan(Place{Path: "h", Form: FormHistory}, []byte("export AWS_SECRET_ACCESS_KEY="+testSecret+" AWS_SESSION_TOKEN="+token+"\n"), []Key{testKey}, nil, PlanOptions{})
	if d := p.Diff(); strings.Contains(d, token) || !strings.Contains(d, "AWS_SESSION_TOKEN=IQoJ****") {
		t.Errorf("a session token on a changed line is shown:\n%s", d)
	}
	p, _ = Plan(Place{Path: "c", Form: FormConfig}, []byte("[default]\nregion = x\n"), nil, []Use{{"work", "work"}}, PlanOptions{})
	if got, want := p.Diff(), "--- c\n+++ c\n@@ line 3 @@\n+\n+[profile work]\n+credential_process = keywarden credential-process work\n"; got != want {
		t.Errorf("insertion diff:\n%q\nwant\n%q", got, want)
	}
}

func TestKeys(t *testing.T) {
	other := Hit{KeyID: "AKIAXLBY3CBO3CYNGOLE", Secret: "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"}
	hits := []Hit{
		{Form: FormHistory, KeyID: testID, Secret: testSecret, Name: "default"},
		{Form: FormCredentials, KeyID: testID, Secret: testSecret, Name: "work"},
		{Form: FormStartup, KeyID: other.KeyID, Secret: other.Secret, Name: "default"},
		{Form: FormProject, KeyID: other.KeyID, Secret: other.Secret, Name: "app"},
		{Form: FormEnv, KeyID: "ASIAWUFVJFTTL3XLBN74", Secret: testSecret, Token: "t"}, // temporary: not imported
		{Form: FormHistory, Secret: testSecret},                                        // lone secret: not a pair
		{Form: FormProject, KeyID: "AKIAIOSFODNN7EXAMPLE", Secret: "x", Suppressed: "example"},
	}
	keys := Keys(hits, nil)
	if len(keys) != 2 || keys[0].Name != "work" || len(keys[0].Hits) != 2 || keys[1].Name != "app" {
		t.Fatalf("keys %+v", keys)
	}
	keys = Keys(hits, map[string]string{other.KeyID: "work"})
	if keys[1].Name != "work-gole" {
		t.Errorf("a clashing name: %q", keys[1].Name)
	}
}

func TestUses(t *testing.T) {
	keys := []Key{
		{Name: "build", Hits: []Hit{{Form: FormCredentials, Name: "ci"}, {Form: FormHistory, Name: "default"}}},
		{Name: "work", Hits: []Hit{{Form: FormCredentials, Name: "work"}, {Form: FormConfig, Name: "work"}}},
		{Name: "app", Hits: []Hit{{Form: FormProject, Name: "app"}}},
	}
	got := Uses(keys)
	want := []Use{{"app", "app"}, {"ci", "build"}, {"work", "work"}}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%v, want %v", got, want)
		}
	}
}

func TestFindingSeverities(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		hit      Hit
		rule     string
		sev      report.Severity
		contains string
	}{
		{Hit{Form: FormCredentials, KeyID: testID, Secret: testSecret, Name: "work"}, RulePlainKey, report.SeverityCritical, "in profile work"},
		{Hit{Form: FormEnv, KeyID: "ASIAWUFVJFTTL3XLBN74", Secret: testSecret, Token: "tok", Expires: now.Add(2 * time.Hour), Var: "AWS_ACCESS_KEY_ID"}, RuleTemporary, report.SeverityHigh, "(in 2h0m0s)"},
		{Hit{Form: FormEnv, KeyID: "ASIAWUFVJFTTL3XLBN74", Secret: testSecret, Expires: now.Add(-time.Hour)}, RuleTemporary, report.SeverityLow, "expired at 2026-12-03T09:00:00Z"},
		{Hit{Form: FormHistory, Shell: ShellBash, Secret: testSecret, When: now}, RuleLoneSecret, report.SeverityHigh, "run at 2026-12-03T10:00:00Z"},
		{Hit{Form: FormProject, KeyID: testID}, RuleKeyID, report.SeverityInfo, "alone"},
	}
	for _, tc := range tests {
		f := tc.hit.Finding("/home/u", now)
		if f.RuleID != tc.rule || f.Severity != tc.sev || !strings.Contains(f.Message, tc.contains) {
			t.Errorf("%+v: %s %s %q", tc.hit, f.RuleID, f.Severity, f.Message)
		}
		if strings.Contains(f.Evidence+f.Message, testSecret) {
			t.Errorf("the secret is in the finding: %+v", f)
		}
	}
}

func TestChecks(t *testing.T) {
	if _, bad := CheckPermissions("/h", "/h/.aws", 0o700, true); bad {
		t.Error("0700 directory reported")
	}
	if f, bad := CheckPermissions("/h", "/h/.aws/credentials", 0o644, false); !bad || f.Remediation != "`chmod 600 ~/.aws/credentials`" {
		t.Errorf("0644 file: %v %+v", bad, f)
	}
	config, err := awsini.Parse("c", []byte("[profile a]\nregion=x\n[profile b]\nmfa_serial=arn\n[profile c]\ncredential_process = keywarden credential-process c\n[profile r]\nrole_arn=x\nsource_profile=a\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	fs := CheckMFA("/h", "/h/.aws/config", config, map[string]string{"a": "111122223333", "b": "", "d": ""})
	var got []string
	for _, f := range fs {
		got = append(got, f.Location.Resource)
	}
	if strings.Join(got, ",") != "profile d,profile a,profile c" {
		t.Errorf("profiles without MFA: %v", got)
	}
	if len(fs) == 3 && !strings.Contains(fs[1].Remediation, "arn:aws:iam::111122223333:mfa/DEVICE --profile a") {
		t.Errorf("fix without the key's account: %s", fs[1].Remediation)
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	if _, old := CheckKeyAge("p", testID, now.Add(-89*24*time.Hour), now); old {
		t.Error("89 days reported")
	}
	if f, old := CheckKeyAge("p", testID, now.Add(-91*24*time.Hour), now); !old || f.Remediation != "`keywarden rotate p`" {
		t.Errorf("91 days: %v %+v", old, f)
	}
	for _, tc := range []struct {
		text string
		want bool
	}{{"#!/bin/sh\n# keywarden-hook v1\n", true}, {"repos:\n- repo: https://github.com/gitleaks/gitleaks\n", true}, {"#!/bin/sh\nmake lint\n", false}} {
		if HasSecretHook([]byte(tc.text)) != tc.want {
			t.Errorf("HasSecretHook(%q) != %v", tc.text, tc.want)
		}
	}
}

func TestHooksPath(t *testing.T) {
	for text, want := range map[string]string{
		"[core]\n\thooksPath = ~/.githooks\n":                   "~/.githooks",
		"[user]\n\thooksPath = x\n[Core]\n\tHooksPath=\"/h\"\n": "/h",
		"[core]\n\tbare = false\n":                              "",
	} {
		if got := HooksPath([]byte(text)); got != want {
			t.Errorf("HooksPath(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestRepoHasHook(t *testing.T) {
	home := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(home, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write("a/.git/hooks/pre-commit", "#!/bin/sh\n# keywarden-hook v1\n")
	write("b/.git/HEAD", "")
	write("c/.git/config", "[core]\n\thooksPath = hooks\n")
	write("c/hooks/pre-commit", "gitleaks protect --staged\n")
	write("global/pre-commit", "trufflehog git file://. --since-commit HEAD\n")
	global := []byte("[core]\n\thooksPath = ~/global\n")
	for _, tc := range []struct {
		repo   string
		global []byte
		want   bool
	}{{"a", nil, true}, {"b", nil, false}, {"c", nil, true}, {"b", global, true}} {
		if got := RepoHasHook(home, filepath.Join(home, tc.repo), tc.global); got != tc.want {
			t.Errorf("%s (global %q): %v, want %v", tc.repo, tc.global, got, tc.want)
		}
	}
}

func TestWalk(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/.env", "a/.env.local", "a/b/c/d/terraform.tfvars", "a/node_modules/x/.env", "go/pkg/mod/m/.env", "a/x.auto.tfvars", "a/docker-compose.prod.yml", "a/readme.md", "r/.git/HEAD"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Walk(context.Background(), []string{root}, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Projects {
		rel, _ := filepath.Rel(root, p.Path)
		got = append(got, filepath.ToSlash(rel))
	}
	if want := "a/.env,a/.env.local,a/docker-compose.prod.yml,a/x.auto.tfvars"; strings.Join(got, ",") != want {
		t.Errorf("project files %v, want %s (node_modules, Go's module cache and depth > 3 skipped)", got, want)
	}
	if len(res.Repos) != 1 || res.Repos[0] != filepath.Join(root, "r") {
		t.Errorf("repos %v", res.Repos)
	}
}

// FuzzPlan plans the removal of a key from arbitrary bytes in every form:
// no panic, and every byte outside the edits is kept.
func FuzzPlan(f *testing.F) {
	f.Add([]byte("[work]\naws_access_key_id = "+testID+"\naws_secret_access_key = "+testSecret+"\n"), uint8(0))
	f.Add([]byte("export AWS_SECRET_ACCESS_KEY="+testSecret+"\n"), uint8(2))
	f.Add([]byte(": 1:0;x "+testSecret+"\x83"), uint8(3))
	forms := []Form{FormCredentials, FormConfig, FormStartup, FormHistory, FormProject}
	f.Fuzz(func(t *testing.T, data []byte, form uint8) {
		p, err := Plan(Place{Form: forms[int(form)%len(forms)]}, data, []Key{testKey}, []Use{{"work", "work"}}, PlanOptions{FixProjectFiles: true})
		if err != nil {
			return
		}
		prev := 0
		for _, e := range p.Edits {
			if e.Start < prev || e.End < e.Start || e.End > len(data) {
				t.Fatalf("bad edit %+v", e)
			}
			prev = e.End
		}
		nw := p.New()
		if len(p.Edits) == 0 && !bytes.Equal(nw, data) {
			t.Fatal("no edit but the content changed")
		}
		if bytes.Contains(nw, []byte(testSecret)) {
			t.Fatal("the secret survived the plan")
		}
		_ = p.Diff()
	})
}
