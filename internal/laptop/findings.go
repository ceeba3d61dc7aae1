package laptop

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awsini"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/secretscan"
)

// Rule IDs of doctor's findings.
const (
	RulePlainKey    = "laptop-plaintext-key"
	RuleTemporary   = "laptop-temporary-credentials"
	RuleLoneSecret  = "laptop-secret-without-id"
	RuleKeyID       = "laptop-key-id"
	RulePermissions = "laptop-aws-permissions"
	RuleNoMFA       = "laptop-profile-without-mfa"
	RuleKeyAge      = "laptop-stored-key-age"
	RuleStore       = "laptop-store-backend"
	RuleNoHook      = "laptop-repository-without-hook"
)

var references = []string{
	"https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-sourcing-external.html",
	"https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html",
}

// Display shows path relative to home as "~/...", so output does not
// depend on where the home directory is.
func Display(home, path string) string {
	if home == "" || !filepath.IsAbs(path) {
		return path
	}
	if rel, err := filepath.Rel(home, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return "~/" + filepath.ToSlash(rel)
	}
	return path
}

// Finding turns a hit into a checklist item: the file, line and key ID in
// full, the secret redacted, and the command that fixes it. now decides
// whether temporary credentials have expired.
func (h *Hit) Finding(home string, now time.Time) report.Finding {
	f := report.Finding{
		Location:   report.Location{Path: Display(home, h.Path), Line: h.Line, Column: h.Col, Resource: h.KeyID},
		References: references,
		Suppressed: h.Suppressed,
		Properties: map[string]any{"form": string(h.Form)},
	}
	if h.Form == FormEnv {
		f.Location.Path = "(environment) $" + h.Var
	}
	if h.KeyID != "" {
		f.Properties["key_id"] = h.KeyID
		if a, ok := awskey.AccountID(h.KeyID); ok {
			f.Properties["account"] = a
		}
	}
	if h.Name != "" {
		f.Properties["profile"] = h.Name
	}
	if !h.When.IsZero() {
		f.Properties["run_at"] = h.When.Format(time.RFC3339)
	}
	var ev []string
	if h.Secret != "" {
		ev = append(ev, "secret "+awskey.Redact(h.Secret))
	}
	if h.Token != "" {
		ev = append(ev, redactToken(h.Token))
	}
	f.Evidence = strings.Join(ev, ", ")
	where := whereText(h)
	switch {
	case h.Temporary():
		f.RuleID, f.Severity, f.Title = RuleTemporary, report.SeverityHigh, "Temporary AWS credentials in plain text"
		f.Message = "Temporary credentials (" + keyText(h) + ") " + where
		switch {
		case h.Expires.IsZero():
			f.Message += "; their expiry is not known."
		case !h.Expires.After(now):
			f.Severity = report.SeverityLow
			f.Message += "; they expired at " + h.Expires.Format(time.RFC3339) + "."
			f.Properties["expires"] = h.Expires.Format(time.RFC3339)
		default:
			f.Message += "; they expire at " + h.Expires.Format(time.RFC3339) + " (in " + h.Expires.Sub(now).Round(time.Minute).String() + ")."
			f.Properties["expires"] = h.Expires.Format(time.RFC3339)
		}
		f.Remediation = "Delete them from " + Display(home, h.Path) + " (they cannot be imported); get sessions from `keywarden exec PROFILE -- COMMAND` instead."
	case h.Pair():
		f.RuleID, f.Severity, f.Title = RulePlainKey, report.SeverityCritical, "Long-term AWS key in plain text"
		f.Message = "The long-term key " + keyText(h) + " with its secret, " + where + "."
		f.Remediation = fixCommand(h)
	case h.Secret != "":
		f.RuleID, f.Severity, f.Title = RuleLoneSecret, report.SeverityHigh, "AWS secret access key in plain text"
		f.Message = "A secret access key with no key ID beside it, " + where + "."
		f.Remediation = "`keywarden import` removes it if its key is found elsewhere on this machine; otherwise `keywarden add NAME` with its key ID, then delete the line."
	default:
		f.RuleID, f.Severity, f.Title = RuleKeyID, report.SeverityInfo, "AWS access key ID"
		f.Message = "The key ID " + keyText(h) + " alone (not a secret), " + where + "."
	}
	f.Fingerprint = secretscan.Fingerprint(f.RuleID, h.KeyID+h.Secret+h.Token, f.Location.Path)
	return f
}

// redactToken shows a session token's ends and length: tokens run to
// hundreds of characters, too many stars to read.
func redactToken(t string) string {
	if len(t) < 16 {
		return "session token " + awskey.Redact(t)
	}
	return fmt.Sprintf("session token %s...%s (%d characters)", t[:4], t[len(t)-4:], len(t))
}

func keyText(h *Hit) string {
	if h.KeyID == "" {
		return "no key ID"
	}
	if a, ok := awskey.AccountID(h.KeyID); ok {
		return h.KeyID + " of account " + a
	}
	return h.KeyID
}

func whereText(h *Hit) string {
	s := ""
	switch h.Form {
	case FormCredentials, FormConfig:
		s = "in the AWS CLI's " + map[Form]string{FormCredentials: "credentials", FormConfig: "config"}[h.Form] + " file"
		if h.Name != "" {
			s = "in profile " + h.Name + " of the AWS CLI's " + map[Form]string{FormCredentials: "credentials", FormConfig: "config"}[h.Form] + " file"
		}
	case FormEnv:
		s = "in the environment variable " + h.Var
	case FormHistory:
		s = "in the " + string(h.Shell) + " history"
		if !h.When.IsZero() {
			s += " (a command run at " + h.When.Format(time.RFC3339) + ")"
		}
	case FormStartup:
		s = "in a shell start-up file, so in every shell's environment"
	case FormProject:
		s = "in a project file"
	case FormTool:
		s = "in another tool's configuration"
	}
	if h.Var != "" && h.Form != FormEnv {
		s += ", set as " + h.Var
	}
	return s
}

// fixCommand is the exact command that fixes a plain-text key.
func fixCommand(h *Hit) string {
	switch h.Form {
	case FormProject, FormTool:
		return "Keep the key in the store and inject it at run time: `keywarden import --fix-project-files` (empties the value here), then run the application with `keywarden exec " + h.Name + " -- COMMAND`."
	case FormEnv:
		return "`keywarden import`, then `unset " + h.Var + " " + strings.Replace(h.Var, "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", 1) + "` and remove them from wherever they are set."
	case FormHistory:
		return "`keywarden import` (replaces the secret in the history with a marker); then clear the running shells' in-memory history."
	}
	return "`keywarden import` (moves the key into the store and removes the plain text)."
}

// CheckPermissions reports ~/.aws or a file in it that users other than
// the owner can read (or, for the directory, list).
func CheckPermissions(home, path string, mode fs.FileMode, dir bool) (report.Finding, bool) {
	bad := mode.Perm()&0o044 != 0
	if dir {
		bad = mode.Perm()&0o055 != 0
	}
	if !bad {
		return report.Finding{}, false
	}
	want, what := "600", "file"
	if dir {
		want, what = "700", "directory"
	}
	d := Display(home, path)
	return report.Finding{
		RuleID: RulePermissions, Severity: report.SeverityMedium,
		Title:       "AWS " + what + " readable by other users",
		Message:     fmt.Sprintf("%s has mode %04o: other users of this machine can read it.", d, mode.Perm()),
		Location:    report.Location{Path: d},
		Remediation: "`chmod " + want + " " + shellPath(d) + "`",
		References:  references,
	}, true
}

func shellPath(d string) string {
	if rest, ok := strings.CutPrefix(d, "~/"); ok {
		return "~/" + shellQuote(rest)
	}
	return shellQuote(d)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CheckMFA reports the profiles of the config file that call AWS with a
// long-term key (from the credentials file, the config file, or
// keywarden's store through credential_process) and have no mfa_serial:
// their calls never carry MFA, so policies that require it refuse them
// and a leaked key needs nothing more. keyed maps the profiles with a key
// in the credentials file to the key's account ("" when unknown), for the
// fix command.
func CheckMFA(home, configPath string, config []awsini.Section, keyed map[string]string) []report.Finding {
	var out []report.Finding
	seen := map[string]bool{}
	for _, s := range config {
		if s.Profile == "" {
			continue
		}
		cp, _ := s.Get("credential_process")
		_, hasKey := s.Get("aws_access_key_id")
		_, isKeyed := keyed[s.Profile]
		if !isKeyed && !hasKey && !strings.Contains(cp, "keywarden credential-process") {
			continue
		}
		if _, ok := s.Get("role_arn"); ok {
			continue
		}
		if _, ok := s.Get("mfa_serial"); ok || seen[s.Profile] {
			continue
		}
		seen[s.Profile] = true
		out = append(out, mfaFinding(home, configPath, s.Profile, keyed[s.Profile], s.Line.No))
	}
	for p, acct := range keyed {
		if !seen[p] && !hasProfile(config, p) {
			out = append(out, mfaFinding(home, configPath, p, acct, 0))
		}
	}
	report.Sort(out)
	return out
}

func hasProfile(secs []awsini.Section, p string) bool {
	for _, s := range secs {
		if s.Profile == p {
			return true
		}
	}
	return false
}

func mfaFinding(home, configPath, profile, account string, line int) report.Finding {
	if account == "" {
		account = "ACCOUNT"
	}
	return report.Finding{
		RuleID: RuleNoMFA, Severity: report.SeverityMedium,
		Title:       "Profile uses a long-term key without MFA",
		Message:     "Profile " + profile + " signs with a long-term key and has no mfa_serial: its calls never carry MFA.",
		Location:    report.Location{Path: Display(home, configPath), Line: line, Column: min(line, 1), Resource: "profile " + profile},
		Remediation: "`aws configure set mfa_serial arn:aws:iam::" + account + ":mfa/DEVICE --profile " + profile + "` (then keywarden asks for the code once per session)",
		References:  references,
	}
}

// MaxKeyAge is the age past which a stored key should be rotated.
const MaxKeyAge = 90 * 24 * time.Hour

// CheckKeyAge reports a stored key older than MaxKeyAge.
func CheckKeyAge(profile, keyID string, born, now time.Time) (report.Finding, bool) {
	age := now.Sub(born)
	if born.IsZero() || age <= MaxKeyAge {
		return report.Finding{}, false
	}
	return report.Finding{
		RuleID: RuleKeyAge, Severity: report.SeverityMedium,
		Title:       "Stored key older than 90 days",
		Message:     fmt.Sprintf("The key %s of profile %s is %d days old.", keyID, profile, int(age.Hours()/24)),
		Location:    report.Location{Resource: "profile " + profile},
		Remediation: "`keywarden rotate " + profile + "`",
		References:  references,
	}, true
}

// StoreFinding says which backend keeps the keys; a file store with no OS
// keychain is fine, and said.
func StoreFinding(backend string) report.Finding {
	f := report.Finding{RuleID: RuleStore, Severity: report.SeverityInfo, Title: "Keys are kept in the " + backend + " store",
		Location: report.Location{Resource: "store " + backend}}
	if backend == "file" {
		f.Message = "No OS keychain is used: keys are in an age-encrypted file, as safe as its passphrase."
	}
	return f
}

// secretHooks are words in a hook script or pre-commit configuration that
// show a secret scanner runs before commits.
var secretHooks = []string{"keywarden-hook", "keywarden scan", "gitleaks", "trufflehog", "detect-secrets", "git-secrets", "ggshield", "talisman"}

// HasSecretHook reports whether any of the texts (the pre-commit hook,
// .pre-commit-config.yaml, a husky hook) runs a secret scanner.
func HasSecretHook(texts ...[]byte) bool {
	for _, t := range texts {
		l := strings.ToLower(string(t))
		for _, w := range secretHooks {
			if strings.Contains(l, w) {
				return true
			}
		}
	}
	return false
}

// HooksPath returns core.hooksPath from a git config file's text, or "":
// a repository (or every repository, from ~/.gitconfig) whose hooks live
// elsewhere than .git/hooks.
func HooksPath(gitconfig []byte) string {
	section, path := "", ""
	for _, l := range awsini.SplitLines(gitconfig) {
		line := strings.TrimSpace(string(gitconfig[l.Start:l.End]))
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.ToLower(strings.TrimSpace(strings.Trim(line, "[]")))
		case section == "core":
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "hookspath") {
				path = strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	return path
}

// HookFinding reports a repository with no secret-scanning hook.
func HookFinding(home, repo string) report.Finding {
	d := Display(home, repo)
	return report.Finding{
		RuleID: RuleNoHook, Severity: report.SeverityLow,
		Title:       "Git repository without a secret-scanning hook",
		Message:     "Commits in " + d + " are not scanned for keys before they are made.",
		Location:    report.Location{Path: d},
		Remediation: "`keywarden hook install -C " + shellPath(d) + "`",
		References:  []string{"https://git-scm.com/docs/githooks#_pre_commit"},
	}
}
