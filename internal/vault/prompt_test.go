package vault

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakePrompts puts the fake prompt program on a PATH of its own under
// every name the adapters run, and returns the directory its calls are
// logged in.
func fakePrompts(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake prompt programs are shell scripts")
	}
	script, err := os.ReadFile(filepath.Join("testdata", "fakeprompt", "fake.sh"))
	if err != nil {
		t.Fatal(err)
	}
	bin, logs := t.TempDir(), t.TempDir()
	for _, n := range []string{"ykman", "zenity", "kdialog", "osascript", "powershell.exe", "pass", "notify-send"} {
		if err := os.WriteFile(filepath.Join(bin, n), script, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv("FAKE_LOG", logs)
	t.Setenv("FAKE_CODE", "123456")
	t.Setenv("FAKE_EXIT", "0")
	t.Setenv("KEYWARDEN_FILE_PASSPHRASE", "store-secret")
	return logs
}

func readLog(t *testing.T, logs, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(logs, name))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestPromptAdapters(t *testing.T) {
	const serial = "arn:aws:iam::111122223333:mfa/alice"
	text := "MFA code for " + serial + " (profile work):"
	for _, tc := range []struct {
		prompt  string
		chain   MFAChain
		profile string
		program string
		args    []string
		stderr  string
	}{
		{prompt: "ykman", program: "ykman", args: []string{"oath", "accounts", "code", "--single", serial}, stderr: "touch your YubiKey for the MFA code of profile work"},
		{prompt: "ykman", chain: MFAChain{YkmanAccount: "aws:alice"}, program: "ykman", args: []string{"oath", "accounts", "code", "--single", "aws:alice"}},
		{prompt: "zenity", program: "zenity", args: []string{"--entry", "--title=keywarden", "--text=" + text}},
		{prompt: "kdialog", program: "kdialog", args: []string{"--title", "keywarden", "--inputbox", text}},
		{prompt: "osascript", program: "osascript", args: []string{"-e", `text returned of (display dialog "` + text + `" default answer "" with title "keywarden" with icon caution)`}},
		// A profile name cannot break out of the AppleScript or PowerShell string.
		{prompt: "osascript", profile: `x" & (do shell script "id") & "`, program: "osascript",
			args: []string{"-e", `text returned of (display dialog "MFA code for ` + serial + ` (profile x\" & (do shell script \"id\") & \"):" default answer "" with title "keywarden" with icon caution)`}},
		{prompt: "wincredui", program: "powershell.exe", args: []string{"-NoProfile", "-NonInteractive", "-Command",
			"$c = $Host.UI.PromptForCredential('keywarden', '" + text + "', 'mfa', ''); if ($c) { $c.GetNetworkCredential().Password } else { exit 1 }"}},
		{prompt: "wincredui", profile: "it's", program: "powershell.exe", args: []string{"-NoProfile", "-NonInteractive", "-Command",
			"$c = $Host.UI.PromptForCredential('keywarden', 'MFA code for " + serial + " (profile it''s):', 'mfa', ''); if ($c) { $c.GetNetworkCredential().Password } else { exit 1 }"}},
		{prompt: "pass", program: "pass", args: []string{"otp", "keywarden/mfa/alice"}},
		{prompt: "pass", chain: MFAChain{PassPrefix: "aws/otp"}, program: "pass", args: []string{"otp", "aws/otp/alice"}},
	} {
		t.Run(tc.prompt+"/"+tc.profile, func(t *testing.T) {
			logs := fakePrompts(t)
			var stderr bytes.Buffer
			c := tc.chain
			c.Choice, c.Stderr = tc.prompt, &stderr
			profile := tc.profile
			if profile == "" {
				profile = "work"
			}
			code, err := c.Token(context.Background(), MFARequest{Serial: serial, Profile: profile})
			if err != nil || code != "123456" {
				t.Fatalf("Token = %q, %v", code, err)
			}
			got := readLog(t, logs, tc.program)
			want := append(append([]string{}, tc.args...), "passphrase=unset", "serial="+serial)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s called with\n%q\nwant\n%q", tc.program, got, want)
			}
			if !strings.Contains(stderr.String(), "prompt program talking on stderr") || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want the program's own and %q", stderr.String(), tc.stderr)
			}
			notified := readLog(t, logs, "notify-send")
			if (tc.prompt == "ykman") != (notified != nil) {
				t.Errorf("desktop notification %q for %s", notified, tc.prompt)
			}
		})
	}
}

func TestPromptFailures(t *testing.T) {
	for _, tc := range []struct {
		name, code, exit, prompt, want string
	}{
		{name: "cancelled", code: "", exit: "1", prompt: "zenity", want: `the zenity prompt for profile "work" failed: exit status 1`},
		{name: "garbage", code: "12345x", exit: "0", prompt: "kdialog", want: `the kdialog prompt for profile "work" printed something other than a 6-digit code`},
		{name: "unknown", prompt: "dmenu", want: `unknown MFA prompt "dmenu" (want one of terminal, ykman, zenity, kdialog, osascript, wincredui, pass`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fakePrompts(t)
			t.Setenv("FAKE_CODE", tc.code)
			t.Setenv("FAKE_EXIT", tc.exit)
			c := MFAChain{Choice: tc.prompt, Stderr: &bytes.Buffer{}}
			_, err := c.Token(context.Background(), MFARequest{Serial: "arn:aws:iam::1:mfa/a", Profile: "work"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A missing program says which.
	t.Setenv("PATH", t.TempDir())
	c := MFAChain{Choice: "ykman", Stderr: &bytes.Buffer{}}
	if _, err := c.Token(context.Background(), MFARequest{Serial: "s", Profile: "work"}); err == nil || !strings.Contains(err.Error(), `"ykman": executable file not found`) {
		t.Errorf("no ykman: %v", err)
	}
}

// Which source answers: --mfa-token, then mfa_process, then --prompt (or
// KEYWARDEN_PROMPT), then the profile's mfa_prompt, then the terminal.
func TestPromptPrecedence(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chain  MFAChain
		req    MFARequest
		called string // the fake program run, "" for none
		want   string
	}{
		{name: "token first", chain: MFAChain{Code: "654321", Choice: "zenity"}, req: MFARequest{Prompt: "kdialog"}, want: "654321"},
		{name: "mfa_process before prompts", chain: MFAChain{Choice: "zenity"}, req: MFARequest{MFAProcess: "echo 111111", Prompt: "kdialog"}, want: "111111"},
		{name: "choice before mfa_prompt", chain: MFAChain{Choice: "zenity"}, req: MFARequest{Prompt: "kdialog"}, called: "zenity", want: "123456"},
		{name: "mfa_prompt", req: MFARequest{Prompt: "kdialog"}, called: "kdialog", want: "123456"},
		{name: "terminal chosen", chain: MFAChain{Choice: "terminal", Prompt: func(string) (string, error) { return "222222", nil }}, req: MFARequest{Prompt: "kdialog"}, want: "222222"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := fakePrompts(t)
			if tc.req.MFAProcess != "" {
				t.Setenv("PATH", "/bin:/usr/bin")
			}
			c := tc.chain
			c.Stderr = &bytes.Buffer{}
			tc.req.Serial, tc.req.Profile = "arn:aws:iam::1:mfa/a", "work"
			code, err := c.Token(context.Background(), tc.req)
			if err != nil || code != tc.want {
				t.Fatalf("Token = %q, %v; want %q", code, err, tc.want)
			}
			entries, _ := os.ReadDir(logs)
			var ran []string
			for _, e := range entries {
				ran = append(ran, e.Name())
			}
			if strings.Join(ran, ",") != tc.called {
				t.Errorf("ran %v, want %q", ran, tc.called)
			}
		})
	}
}
