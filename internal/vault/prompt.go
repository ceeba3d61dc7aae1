package vault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"
)

// Prompts are the ways to ask for an MFA code (--prompt, KEYWARDEN_PROMPT,
// mfa_prompt). "terminal" reads /dev/tty; the others run a program whose
// stdout is the code, so credential-process works when an IDE or a GUI
// calls it with no terminal.
var Prompts = []string{"terminal", "ykman", "zenity", "kdialog", "osascript", "wincredui", "pass"}

// Prompt asks for an MFA code for req; text is the question to show.
type Prompt interface {
	Code(ctx context.Context, req MFARequest, text string) (string, error)
}

// programPrompt is a prompt that is a program: argv builds its command
// line; notice, when set, is said on stderr (and as a desktop
// notification where notify-send exists) before it runs.
type programPrompt struct {
	name   string
	argv   func(req MFARequest, text string) []string
	notice func(req MFARequest) string
	c      *MFAChain
}

func (p *programPrompt) Code(ctx context.Context, req MFARequest, text string) (string, error) {
	if p.notice != nil {
		msg := p.notice(req)
		fmt.Fprintf(p.c.stderr(), "keywarden: %s\n", msg)
		p.c.notify(ctx, msg)
	}
	return runCodeProgram(ctx, p.argv(req, text), fmt.Sprintf("the %s prompt for profile %q", p.name, req.Profile), p.c.ProcessTimeout, p.c.stderr(), req)
}

// prompt returns the named prompt; nil for "terminal".
func (c *MFAChain) prompt(name string) (Prompt, error) {
	pp := &programPrompt{name: name, c: c}
	switch name {
	case "terminal":
		return nil, nil
	case "ykman":
		// ykman prints the code of one OATH account; the YubiKey may want
		// a touch first, which the user must be told about.
		pp.argv = func(req MFARequest, _ string) []string {
			account := c.YkmanAccount
			if account == "" {
				account = req.Serial
			}
			return []string{"ykman", "oath", "accounts", "code", "--single", account}
		}
		pp.notice = func(req MFARequest) string {
			return fmt.Sprintf("touch your YubiKey for the MFA code of profile %s", req.Profile)
		}
	case "zenity":
		pp.argv = func(_ MFARequest, text string) []string {
			return []string{"zenity", "--entry", "--title=keywarden", "--text=" + text}
		}
	case "kdialog":
		pp.argv = func(_ MFARequest, text string) []string {
			return []string{"kdialog", "--title", "keywarden", "--inputbox", text}
		}
	case "osascript":
		pp.argv = func(_ MFARequest, text string) []string {
			return []string{"osascript", "-e", `text returned of (display dialog "` + appleScriptEscape(text) + `" default answer "" with title "keywarden" with icon caution)`}
		}
	case "wincredui":
		// PowerShell's PromptForCredential shows the Windows credential
		// dialog (CredUI); the code is typed as its password.
		pp.argv = func(_ MFARequest, text string) []string {
			return []string{"powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
				"$c = $Host.UI.PromptForCredential('keywarden', '" + powerShellEscape(text) + "', 'mfa', ''); if ($c) { $c.GetNetworkCredential().Password } else { exit 1 }"}
		}
	case "pass":
		// pass-otp: the TOTP seed kept in pass under PREFIX/DEVICE, where
		// DEVICE is the last part of the MFA serial.
		pp.argv = func(req MFARequest, _ string) []string {
			prefix := c.PassPrefix
			if prefix == "" {
				prefix = "keywarden/mfa"
			}
			return []string{"pass", "otp", prefix + "/" + path.Base(req.Serial)}
		}
	default:
		return nil, fmt.Errorf("unknown MFA prompt %q (want one of %s, or mfa_process in the profile for any other program)", name, strings.Join(Prompts, ", "))
	}
	return pp, nil
}

// CheckPrompt reports whether name is a known prompt.
func CheckPrompt(name string) error {
	var c MFAChain
	_, err := c.prompt(name)
	return err
}

func (c *MFAChain) stderr() io.Writer {
	if c.Stderr != nil {
		return c.Stderr
	}
	return os.Stderr
}

// notify shows msg as a desktop notification where notify-send exists;
// it is a courtesy, so any failure is ignored.
func (c *MFAChain) notify(ctx context.Context, msg string) {
	bin, err := exec.LookPath("notify-send")
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "keywarden", msg)
	cmd.Env = withoutPassphrase(os.Environ())
	_ = cmd.Run()
}

// runCodeProgram runs argv, which prints an MFA code on stdout (at most 4
// KiB of it is read), within timeout; what names it in errors. Its
// stderr goes to stderr so that it can talk to the user. Like exec's
// command it is someone else's program: it gets our environment but not
// the store's passphrase.
func runCodeProgram(ctx context.Context, argv []string, what string, timeout time.Duration, stderr io.Writer, req MFARequest) (string, error) {
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: 4096}
	cmd.Stderr = stderr
	cmd.Env = append(withoutPassphrase(os.Environ()), "KEYWARDEN_MFA_SERIAL="+req.Serial, "KEYWARDEN_MFA_PROFILE="+req.Profile)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s did not finish within %s", what, timeout)
		}
		return "", fmt.Errorf("%s failed: %v", what, err)
	}
	code := strings.TrimSpace(out.String())
	if !ValidMFACode(code) {
		return "", fmt.Errorf("%s printed something other than a 6-digit code", what)
	}
	return code, nil
}

// appleScriptEscape makes s safe inside an AppleScript string literal.
func appleScriptEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ").Replace(s)
}

// powerShellEscape makes s safe inside a PowerShell single-quoted string.
func powerShellEscape(s string) string {
	return strings.NewReplacer(`'`, `''`, "\u2018", "''", "\u2019", "''", "\n", " ", "\r", " ").Replace(s)
}
