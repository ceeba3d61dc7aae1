// Package report holds the one Finding type every keywarden command reports
// through, and its renderers. Keeping a single type means the scanner, the
// linter, the auditor and the CloudTrail detector produce text, JSON and
// SARIF that look alike and that CI systems can consume the same way.
package report

import (
	"fmt"
	"sort"
	"strings"
)

// Severity orders findings by risk. The zero value is invalid so that a
// finding built without one is caught by Validate.
type Severity int

// Severities from least to most severe.
const (
	SeverityInfo Severity = iota + 1
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = map[Severity]string{
	SeverityInfo:     "info",
	SeverityLow:      "low",
	SeverityMedium:   "medium",
	SeverityHigh:     "high",
	SeverityCritical: "critical",
}

// SeverityNames lists the accepted names, least severe first, for help text.
const SeverityNames = "info|low|medium|high|critical"

func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity reads a severity name, case-insensitively. "none" is
// accepted as a threshold above critical, so --fail-on none never fails.
func ParseSeverity(s string) (Severity, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for k, v := range severityNames {
		if v == l {
			return k, nil
		}
	}
	if l == "none" {
		return SeverityCritical + 1, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want %s or none)", s, SeverityNames)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Location says where a finding is. Only the fields that apply are set: a
// file position for the scanner and the linter, a commit for git history, a
// resource (user, key, statement) for the auditor and the detector.
type Location struct {
	Path      string `json:"path,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
	Commit    string `json:"commit,omitempty"`
	Author    string `json:"author,omitempty"`
	Date      string `json:"date,omitempty"`
	// Resource names the AWS thing the finding is about: an ARN, a user
	// name, a redacted key ID, a statement ("Statement[2] Sid=DenyNoMFA").
	Resource string `json:"resource,omitempty"`
}

// String renders the location compactly: path:line:col, or the resource.
func (l Location) String() string {
	var b strings.Builder
	if l.Path != "" {
		b.WriteString(l.Path)
		if l.Line > 0 {
			fmt.Fprintf(&b, ":%d", l.Line)
			if l.Column > 0 {
				fmt.Fprintf(&b, ":%d", l.Column)
			}
		}
	}
	if l.Commit != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		c := l.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		b.WriteString("@" + c)
	}
	if l.Resource != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(l.Resource)
	}
	return b.String()
}

// Finding is one thing a command found. Evidence must already be redacted
// by whoever builds the finding: renderers print it as it is.
type Finding struct {
	RuleID      string   `json:"rule_id"`
	Severity    Severity `json:"severity"`
	Title       string   `json:"title"`
	Message     string   `json:"message,omitempty"`
	Location    Location `json:"location"`
	Evidence    string   `json:"evidence,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	References  []string `json:"references,omitempty"`
	// Fingerprint identifies the finding across runs (for baselines and
	// SARIF's partialFingerprints). It must not contain a secret.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Suppressed says why the finding does not count (example, baseline,
	// inline allow, ignore file); empty when it counts.
	Suppressed string `json:"suppressed,omitempty"`
	// Properties carries command-specific detail (account, key kind,
	// allowed actions ...). Values must be JSON-encodable and secret-free.
	Properties map[string]any `json:"properties,omitempty"`
}

// Rule describes a rule for SARIF's tool.driver.rules and for --list-rules
// output. Commands that have a rule catalogue pass it to the renderers.
type Rule struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Severity    Severity `json:"severity"`
	Description string   `json:"description,omitempty"`
	Remediation string   `json:"remediation,omitempty"`
	References  []string `json:"references,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// Counts tallies the findings that count (not suppressed) by severity.
func Counts(fs []Finding) map[Severity]int {
	m := map[Severity]int{}
	for _, f := range fs {
		if f.Suppressed == "" {
			m[f.Severity]++
		}
	}
	return m
}

// AtOrAbove reports whether any finding that counts is at least threshold.
// Commands use it to choose exit code 1.
func AtOrAbove(fs []Finding, threshold Severity) bool {
	for _, f := range fs {
		if f.Suppressed == "" && f.Severity >= threshold {
			return true
		}
	}
	return false
}

// Sort orders findings by path, line, column, then severity (most severe
// first) and rule, so output is stable across runs and worker schedules.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Location.Path != b.Location.Path {
			return a.Location.Path < b.Location.Path
		}
		if a.Location.Line != b.Location.Line {
			return a.Location.Line < b.Location.Line
		}
		if a.Location.Column != b.Location.Column {
			return a.Location.Column < b.Location.Column
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		return a.Location.Resource < b.Location.Resource
	})
}
