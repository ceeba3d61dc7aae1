package laptop

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awsini"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/lazyregexp"
	"github.com/keywarden/keywarden/internal/secretscan"
)

// Hit is one plain-text credential found in a place. It holds secrets in
// clear: it becomes a report.Finding (redacted) for printing, and a store
// entry and a rewrite plan for import. Never log it.
type Hit struct {
	Path      string
	Form      Form
	Shell     Shell
	Line, Col int
	KeyID     string
	Secret    string
	Token     string
	// Name is the profile name the place suggests: the credentials or
	// config section, or the variable's name.
	Name string
	// Var is the setting or variable that holds the credential, when known.
	Var string
	// Expires is when temporary credentials expire, when the place says.
	Expires time.Time
	// When is when a history entry holding the credential was run.
	When time.Time
	// Suppressed says why the hit does not count: "example" (AWS's
	// documentation keys), "inline" (keywarden:allow on the line),
	// "keywarden exec" (a session keywarden itself put in the environment).
	Suppressed string
}

// Temporary reports whether the hit is temporary credentials (an ASIA key
// ID, or a session token).
func (h *Hit) Temporary() bool {
	return awskey.KindOf(h.KeyID) == awskey.KindTemporary || (h.KeyID == "" && h.Secret == "" && h.Token != "")
}

// Pair reports whether the hit is a long-term key with its secret: what
// import moves into the store.
func (h *Hit) Pair() bool {
	return h.KeyID != "" && h.Secret != "" && awskey.KindOf(h.KeyID) == awskey.KindLongTerm
}

// Finder finds credentials in the bytes of a place.
type Finder struct {
	Detector *secretscan.Detector
}

// NewFinder returns a finder with the scanner's default detector.
func NewFinder() *Finder { return &Finder{Detector: secretscan.New(secretscan.Options{})} }

// expirySettings are the settings tools write beside temporary credentials.
var expirySettings = []string{"aws_expiration", "expiration", "x_security_token_expires", "aws_credential_expiration", "aws_session_expiration"}

// File returns the credentials in data, read from place p. For the AWS
// CLI's files an *awsini.SyntaxError is returned with what the scanner
// found anyway: such a file is reported and left untouched.
func (f *Finder) File(p Place, data []byte) ([]Hit, error) {
	if p.Form == FormCredentials || p.Form == FormConfig {
		secs, err := awsini.Parse(p.Path, data, p.Form == FormConfig)
		if err != nil {
			return f.scan(p, data), err
		}
		return f.ini(p, data, secs), nil
	}
	return f.scan(p, data), nil
}

// ini reports each section that holds credentials, then whatever else the
// scanner finds outside those settings (a key pasted into a comment).
func (f *Finder) ini(p Place, data []byte, secs []awsini.Section) []Hit {
	var out []Hit
	covered := map[int]bool{}
	for _, s := range secs {
		var h Hit
		first := 0
		for _, st := range s.Settings {
			switch st.Key {
			case "aws_access_key_id":
				h.KeyID = st.Value
			case "aws_secret_access_key":
				h.Secret = st.Value
			case "aws_session_token", "aws_security_token":
				h.Token = st.Value
			default:
				continue
			}
			covered[st.Line.No] = true
			if first == 0 || (st.Key == "aws_access_key_id") {
				first = st.Line.No
				h.Line, h.Col, h.Var = st.Line.No, st.ValStart-st.Line.Start+1, st.Key
			}
		}
		if h.KeyID == "" && h.Secret == "" && h.Token == "" {
			continue
		}
		for _, k := range expirySettings {
			if v, ok := s.Get(k); ok {
				if t, err := time.Parse(time.RFC3339, v); err == nil {
					h.Expires = t.UTC()
				}
			}
		}
		h.Path, h.Form, h.Name = p.Path, p.Form, s.Profile
		if h.Name == "" {
			h.Name = s.Header
		}
		if awskey.IsExampleID(h.KeyID) || awskey.IsExampleSecret(h.Secret) {
			h.Suppressed = secretscan.SuppressedExample
		}
		out = append(out, h)
	}
	for _, h := range f.scan(p, data) {
		if !covered[h.Line] {
			out = append(out, h)
		}
	}
	return out
}

// scan runs the scanner over data and names each match from the variable
// it is assigned to. Histories add when the command was run.
func (f *Finder) scan(p Place, data []byte) []Hit {
	ms := f.Detector.Find(data)
	if len(ms) == 0 {
		return nil
	}
	var entries []Entry
	if p.Form == FormHistory {
		entries = ParseHistory(p.Shell, data)
	}
	out := make([]Hit, 0, len(ms))
	for _, m := range ms {
		sp := m.Primary()
		h := Hit{Path: p.Path, Form: p.Form, Shell: p.Shell, Line: sp.Line, Col: sp.Col,
			KeyID: m.KeyID, Secret: m.Secret, Token: m.Token}
		h.Var = varOnLine(data, sp.Start)
		if h.Var == "" && m.Secret != "" {
			h.Var = varOnLine(data, m.SecretSpan.Start)
		}
		h.Name = NameFromVar(h.Var)
		switch {
		case p.Form == FormProject && h.Name == "default":
			// A project's key is the project's: name it after its directory.
			h.Name = projectName(p.Path)
		case p.Form == FormCredentials || p.Form == FormConfig:
			// Outside the sections' settings (a comment, or a file that
			// could not be parsed): no profile is known.
			h.Name = ""
		}
		if e, ok := EntryAt(entries, sp.Start); ok {
			h.When = e.Time
		}
		switch {
		case m.Example:
			h.Suppressed = secretscan.SuppressedExample
		case m.Allowed:
			h.Suppressed = secretscan.SuppressedInline
		}
		out = append(out, h)
	}
	return out
}

// ParseHistory parses a history in its shell's format.
func ParseHistory(sh Shell, data []byte) []Entry {
	switch sh {
	case ShellZsh:
		return ParseZshHistory(data)
	case ShellFish:
		return ParseFishHistory(data)
	case ShellPowerShell:
		return ParsePSReadLine(data)
	}
	return ParseBashHistory(data)
}

// varRE is compiled on first use, not at start: every command (the
// pre-commit hook's scan among them) would otherwise pay for it.
var varRE = lazyregexp.New(`[A-Za-z0-9_]*(?i:AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_SECURITY_TOKEN|AWS_ACCESS_KEY|AWS_SECRET_KEY)[A-Za-z0-9_]*`)

// varOnLine returns the last AWS credential variable named on the line of
// off before off.
func varOnLine(data []byte, off int) string {
	if off > len(data) {
		return ""
	}
	start := off
	for start > 0 && data[start-1] != '\n' {
		start--
	}
	ms := varRE().FindAllString(string(data[start:off]), -1)
	if len(ms) == 0 {
		return ""
	}
	return ms[len(ms)-1]
}

// FromEnv returns the credentials in an environment (KEY=value strings).
// Temporary credentials that keywarden exec put there (KEYWARDEN_PROFILE
// is set) are marked, not counted.
func FromEnv(env []string) []Hit {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var out []Hit
	seen := map[string]bool{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.Contains(strings.ToUpper(k), "ACCESS_KEY") || !awskey.ValidCredentialID(strings.TrimSpace(v)) {
			continue
		}
		id := strings.TrimSpace(v)
		h := Hit{Path: "(environment)", Form: FormEnv, KeyID: id, Var: k, Name: NameFromVar(k)}
		for _, cand := range []string{"SECRET_ACCESS_KEY", "SECRET_KEY"} {
			if s := vars[strings.Replace(k, "ACCESS_KEY_ID", cand, 1)]; s != "" && k != strings.Replace(k, "ACCESS_KEY_ID", cand, 1) {
				h.Secret = strings.TrimSpace(s)
				break
			}
		}
		h.Token = strings.TrimSpace(vars[strings.Replace(k, "ACCESS_KEY_ID", "SESSION_TOKEN", 1)])
		for _, e := range []string{"AWS_CREDENTIAL_EXPIRATION", "AWS_SESSION_EXPIRATION"} {
			if t, err := time.Parse(time.RFC3339, vars[e]); err == nil {
				h.Expires = t.UTC()
			}
		}
		switch {
		case awskey.IsExampleID(id):
			h.Suppressed = secretscan.SuppressedExample
		case vars["KEYWARDEN_PROFILE"] != "" && h.Temporary():
			h.Suppressed = "keywarden exec"
		}
		if !seen[id+h.Secret] {
			seen[id+h.Secret] = true
			out = append(out, h)
		}
	}
	return out
}

// projectName names a project file's key after the file's directory.
func projectName(path string) string {
	b := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, filepath.Base(filepath.Dir(path)))
	if b = strings.Trim(b, "-."); b == "" {
		return "default"
	}
	return b
}
