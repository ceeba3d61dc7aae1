package secretscan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
)

// Rule IDs of the scanner's findings.
const (
	RulePair         = "aws-access-key-pair"
	RuleSecret       = "aws-secret-access-key"
	RuleKeyID        = "aws-access-key-id"
	RuleSessionToken = "aws-session-token"
	RuleBedrock      = "aws-bedrock-api-key"
)

// Suppression reasons, as report.Finding.Suppressed carries them.
const (
	SuppressedExample  = "example"
	SuppressedInline   = "inline" // keywarden:allow on the line (SARIF: inSource)
	SuppressedBaseline = "baseline"
)

var references = []string{
	"https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html",
	"https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html",
}

// Rules describes every rule, for SARIF's rule table and the docs.
func Rules() []report.Rule {
	return []report.Rule{
		{ID: RulePair, Title: "AWS access key with its secret", Severity: report.SeverityCritical,
			Description: "An access key ID and its secret access key in the same place: whoever reads them can call AWS as the key's owner.",
			Remediation: rotateAdvice, References: references, Tags: []string{"secret", "aws"}},
		{ID: RuleSecret, Title: "AWS secret access key", Severity: report.SeverityHigh,
			Description: "A secret access key assigned to a name that says AWS. With the key ID (often nearby, or guessable from logs) it gives full use of the key.",
			Remediation: rotateAdvice, References: references, Tags: []string{"secret", "aws"}},
		{ID: RuleKeyID, Title: "AWS access key ID", Severity: report.SeverityLow,
			Description: "An access key ID alone: not usable without its secret, but it names the account and the user, and often travels with the secret.",
			Remediation: "Check whether the secret was exposed too (history, other files). Remove the ID from the file; if the secret may have leaked, rotate the key.",
			References:  references, Tags: []string{"secret", "aws"}},
		{ID: RuleSessionToken, Title: "AWS session token", Severity: report.SeverityMedium,
			Description: "A temporary session token: usable with its key pair until it expires (up to 36 hours).",
			Remediation: "Remove it; if the temporary key pair leaked with it, revoke the role's active sessions.",
			References:  references, Tags: []string{"secret", "aws"}},
		{ID: RuleBedrock, Title: "Amazon Bedrock API key", Severity: report.SeverityCritical,
			Description: "An Amazon Bedrock API key: a bearer token that calls Bedrock as its owner on its own. Long-term keys (ABSK…) are critical; short-term ones (bedrock-api-key-…, 12 hours at most) high.",
			Remediation: bedrockLongAdvice, References: bedrockReferences, Tags: []string{"secret", "aws", "bedrock"}},
	}
}

var bedrockReferences = []string{"https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html"}

const bedrockLongAdvice = "Deactivate or delete the key now (Bedrock console, API keys; or `aws iam update-service-specific-credential --status Inactive` on its BedrockAPIKey-… user), check CloudTrail for calls made with it (additionalEventData.callWithBearerToken), then remove it from the file and from history."

const bedrockShortAdvice = "The token works until it expires (12 hours at most, or the end of the session that made it): revoke the sessions of the key that signed it (its key ID is shown), check CloudTrail for calls made with it, and remove it."

const temporaryAdvice = "Temporary credentials stay valid until they expire (up to 36 hours): revoke the role's active sessions now (IAM console, role, \"Revoke active sessions\"), check CloudTrail for their use, find how they leaked, and remove them."

const rotateAdvice = "Deactivate and rotate the key now (IAM console or `aws iam update-access-key --status Inactive`), check CloudTrail for its use, then remove it from the file and from history; a key that reached a remote must be treated as leaked."

// Origin says where scanned data came from, for the finding's location.
type Origin struct {
	Path   string
	Commit string
	Author string
	Date   string // RFC 3339
	// Key, when set, is the path the fingerprint is computed from instead
	// of Path: the path from the root of the repository, so that a
	// baseline matches however the scan was started ("keywarden scan" at
	// the root, "keywarden scan /abs/repo" in CI, from a subdirectory, or
	// the hook's --staged).
	Key string
}

// FindingOptions tune ToFinding.
type FindingOptions struct {
	ShowSecrets bool
}

// ToFinding turns a match into a report finding. Evidence is redacted
// unless opt.ShowSecrets; the fingerprint holds no secret.
func ToFinding(m Match, o Origin, opt FindingOptions) report.Finding {
	show := func(s string) string {
		if opt.ShowSecrets {
			return s
		}
		return awskey.Redact(s)
	}
	f := report.Finding{References: references, Properties: map[string]any{}}
	kind := ""
	if m.KeyID != "" {
		kind = string(awskey.KindOf(m.KeyID))
		f.Properties["key_id"] = awskey.Redact(m.KeyID)
		f.Properties["kind"] = kind
		if m.Account != "" {
			f.Properties["account"] = m.Account
		}
	}
	acct := ""
	if m.Account != "" {
		acct = " of account " + m.Account
	}
	var ev []string
	switch m.Kind {
	case KindPair:
		f.RuleID = RulePair
		f.Severity = report.SeverityCritical
		if awskey.KindOf(m.KeyID) != awskey.KindLongTerm {
			f.Severity = report.SeverityHigh
		}
		f.Title = "AWS access key with its secret"
		f.Message = fmt.Sprintf("A %s%s with its secret access key", kind, acct)
		if m.Token != "" {
			f.Message += " and a session token"
			f.Properties["session_token"] = true
		}
		f.Message += fmt.Sprintf(" (secret at line %d).", m.SecretSpan.Line)
		f.Properties["secret_line"] = m.SecretSpan.Line
		ev = append(ev, show(m.KeyID), show(m.Secret))
		f.Remediation = rotateAdvice
		if awskey.KindOf(m.KeyID) == awskey.KindTemporary {
			f.Remediation = temporaryAdvice
		}
	case KindKeyID:
		// Alone, an ID signs nothing: low, so that a committed scan
		// report or a log full of IDs does not fail the default
		// --fail-on (medium). The user's own IDs are critical (below).
		f.RuleID = RuleKeyID
		f.Severity = report.SeverityLow
		f.Title = "AWS access key ID"
		f.Message = fmt.Sprintf("A %s%s, without its secret nearby.", kind, acct)
		ev = append(ev, show(m.KeyID))
		f.Remediation = "Check whether the secret was exposed too; remove the ID, and rotate the key if the secret may have leaked."
	case KindSecret:
		f.RuleID = RuleSecret
		f.Severity = report.SeverityHigh
		f.Title = "AWS secret access key"
		f.Message = fmt.Sprintf("A secret access key assigned to %q.", m.Context)
		if m.WeakEvidence {
			f.Severity = report.SeverityMedium
			f.Message = fmt.Sprintf("A secret access key assigned to %q; only a comment nearby says AWS.", m.Context)
		}
		ev = append(ev, show(m.Secret))
		f.Remediation = rotateAdvice
	case KindSessionToken:
		f.RuleID = RuleSessionToken
		f.Severity = report.SeverityMedium
		f.Title = "AWS session token"
		f.Message = fmt.Sprintf("A session token assigned to %q.", m.Context)
		ev = append(ev, show(m.Token))
		f.Remediation = "Remove it; if its key pair leaked too, revoke the session."
	case KindBedrock:
		bedrockFinding(&f, m, acct)
		if opt.ShowSecrets {
			ev = append(ev, m.Secret)
		} else {
			ev = append(ev, redactBedrock(m.Secret))
		}
	}
	if m.Context != "" {
		f.Properties["context"] = m.Context
	}
	if m.OwnKey {
		f.Severity = report.SeverityCritical
		f.Title = "Your own AWS access key"
		f.Message = "One of your own keys (from your AWS credentials): " + f.Message
		f.Properties["own_key"] = true
	}
	if m.Encoding != "" {
		f.Properties["encoding"] = m.Encoding
		f.Message += " Written " + map[string]string{
			"base64": "base64-encoded", "hex": "hex-encoded", "binary": "in the printable strings of a binary file", "lowercase": "in lower case", "embedded": "inside a longer word",
		}[m.Encoding] + "."
	}
	f.Evidence = strings.Join(ev, " ")
	sp := m.Primary()
	f.Location = report.Location{Path: o.Path, Line: sp.Line, Column: sp.Col, EndLine: sp.Line,
		EndColumn: sp.Col + (sp.End - sp.Start), Commit: o.Commit, Author: o.Author, Date: o.Date}
	key := o.Path
	if o.Key != "" {
		key = o.Key
	}
	f.Fingerprint = Fingerprint(f.RuleID, credentialOf(m), key)
	switch {
	case m.Example:
		f.Suppressed = SuppressedExample
		f.Severity = report.SeverityInfo
		f.Message = "AWS documentation example or placeholder, not a real key. " + f.Message
		f.Remediation = ""
	case m.Allowed:
		f.Suppressed = SuppressedInline
	}
	return f
}

// bedrockFinding fills in the finding of an Amazon Bedrock API key.
func bedrockFinding(f *report.Finding, m Match, acct string) {
	b := m.Bedrock
	if b == nil {
		b = &Bedrock{}
	}
	f.RuleID = RuleBedrock
	f.Title = "Amazon Bedrock API key"
	f.References = bedrockReferences
	if m.Account != "" {
		f.Properties["account"] = m.Account
	}
	if b.LongTerm {
		f.Severity = report.SeverityCritical
		f.Properties["bedrock_key"] = "long-term"
		f.Properties["user"] = b.User
		f.Message = fmt.Sprintf("A long-term Amazon Bedrock API key%s (IAM user %s).", acct, b.User)
		f.Remediation = bedrockLongAdvice
		return
	}
	f.Severity = report.SeverityHigh
	f.Properties["bedrock_key"] = "short-term"
	f.Properties["key_id"] = awskey.Redact(b.KeyID)
	f.Properties["kind"] = string(awskey.KindOf(b.KeyID))
	f.Properties["region"] = b.Region
	f.Message = fmt.Sprintf("A short-term Amazon Bedrock API key%s, signed by %s in %s", acct, awskey.Redact(b.KeyID), b.Region)
	if !b.Expires.IsZero() {
		f.Properties["expires"] = b.Expires.UTC().Format(time.RFC3339)
		f.Message += ", valid until " + b.Expires.UTC().Format(time.RFC3339)
	}
	f.Message += "."
	f.Remediation = bedrockShortAdvice
}

// redactBedrock keeps a Bedrock key's prefix and last four characters.
func redactBedrock(v string) string {
	prefix := bedrockLongPrefix
	if strings.HasPrefix(v, bedrockShortPrefix) {
		prefix = bedrockShortPrefix
	}
	if len(v) < len(prefix)+8 {
		return strings.Repeat("*", len(v))
	}
	return prefix + strings.Repeat("*", 16) + v[len(v)-4:]
}

// credentialOf is the value a finding is keyed on: the secret when there is
// one (so a baseline survives a key ID typo fix), else the ID or token.
func credentialOf(m Match) string {
	switch {
	case m.Secret != "":
		return m.Secret
	case m.KeyID != "":
		return m.KeyID
	}
	return m.Token
}

// Fingerprint identifies a finding across runs and line moves: a SHA-256
// of the rule, the credential and the path. A secret access key has 240
// random bits, so its hash reveals nothing; the hash is truncated to 128
// bits, which is plenty to tell findings apart.
func Fingerprint(rule, credential, path string) string {
	h := sha256.New()
	h.Write([]byte("keywarden-scan/v1\x00"))
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write([]byte(credential))
	h.Write([]byte{0})
	h.Write([]byte(path))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
