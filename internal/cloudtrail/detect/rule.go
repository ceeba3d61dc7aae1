// Package detect finds signs of access key abuse in CloudTrail records.
//
// Rules are data: rules.yaml, embedded in the binary, holds every rule's
// metadata (id, title, severity, MITRE ATT&CK technique, description,
// false positives, references) and, wherever a rule is a match on fields,
// the match itself. Stateful rules (first seen, bursts, sequences) name a
// kind and its parameters in the same file; their logic is code here,
// because counting and baselines do not fit a field match.
//
// The package does no I/O: records come in through Worker.Observe, prior
// baselines through Finalize, and findings go out as values.
package detect

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keywarden/keywarden/internal/lazyregexp"
	"github.com/keywarden/keywarden/internal/report"
)

//go:embed rules.yaml
var builtinRules []byte

// Kinds of rule.
const (
	KindMatch     = "match"      // every matching event counts
	KindFirstSeen = "first-seen" // a key's first use of a new address, network, region or user agent
	KindBurst     = "burst"      // at least Threshold matching events (or distinct values) within Window
	KindSequence  = "sequence"   // an event matching Match, then Threshold events matching Then within Window
	// KindInstanceCredentials: credentials delivered to an EC2 instance
	// used from an address where a long-term user key was also used.
	KindInstanceCredentials = "instance-credentials-reuse"
	// KindLogBucket: a field match on an S3 bucket call that counts only
	// when the bucket (requestParameters.bucketName) receives CloudTrail
	// logs, as the run learns from CreateTrail, UpdateTrail, DescribeTrails,
	// GetTrail and bucket policies that let cloudtrail.amazonaws.com write.
	KindLogBucket = "log-bucket"
	// KindAdminRole: a field match on a call that hands a role to
	// compute (the logged face of iam:PassRole) that counts only when the
	// role (Subject) is an administrator's: granted AdministratorAccess,
	// IAMFullAccess or * on * in the same logs, held by an instance profile
	// that was, or named like one.
	KindAdminRole = "admin-role"
	// KindKeyInUse: a field match on a KMS key (Subject, by default
	// requestParameters.keyId) that counts only when the same logs show
	// the key in use: cryptographic calls with it, or resources configured
	// with it.
	KindKeyInUse = "key-in-use"
	// KindDormant: a long-term key used again after Window without use.
	KindDormant = "dormant"
	// KindAgentSwitch: a long-term key taking up Threshold tools (user
	// agent families) within Window.
	KindAgentSwitch = "agent-switch"
	// KindInstanceOutside: credentials delivered to an EC2 instance or an
	// ECS task used from a public address outside AWS's published ranges
	// that is not the session's own (the address of its first call).
	KindInstanceOutside = "instance-credentials-outside"
)

// Scopes of a first-seen rule: what a value must be new to.
const (
	ScopeKey     = "key"     // new for the access key (the default)
	ScopeAccount = "account" // new for the whole account: no key of it used it
)

// Dimensions a first-seen rule can watch.
const (
	DimAddress   = "address"
	DimNetwork   = "network"
	DimRegion    = "region"
	DimUserAgent = "user-agent"
	// DimLaunchRegion: the regions instances were launched in
	// (successful ec2:RunInstances).
	DimLaunchRegion = "launch-region"
)

// Dimensions lists them in a fixed order (the order of Baseline.Dims).
var Dimensions = []string{DimAddress, DimNetwork, DimRegion, DimUserAgent, DimLaunchRegion}

// NumDims is the number of dimensions.
const NumDims = 5

// Rule is one detection rule as written in rules.yaml.
type Rule struct {
	ID             string          `yaml:"id" json:"id"`
	Title          string          `yaml:"title" json:"title"`
	SeverityName   string          `yaml:"severity" json:"-"`
	Severity       report.Severity `yaml:"-" json:"severity"`
	Attack         string          `yaml:"attack" json:"attack"`
	AttackName     string          `yaml:"attack_name" json:"attack_name"`
	Tactic         string          `yaml:"tactic" json:"tactic"`
	Kind           string          `yaml:"kind" json:"kind"`
	Description    string          `yaml:"description" json:"description"`
	FalsePositives string          `yaml:"false_positives" json:"false_positives"`
	Remediation    string          `yaml:"remediation" json:"remediation,omitempty"`
	References     []string        `yaml:"references" json:"references"`
	Match          map[string]any  `yaml:"match" json:"match,omitempty"`
	// Evidence names fields whose values the finding shows (e.g. the
	// policy ARN attached).
	Evidence []string `yaml:"evidence" json:"evidence,omitempty"`
	// Created names what the event created, as "what=field" (e.g.
	// "access key=responseElements.accessKey.accessKeyId"): the finding
	// names the new key, user, role or policy version.
	Created []string `yaml:"created" json:"created,omitempty"`
	// Undo lists commands that reverse the event, with {field}
	// placeholders filled from the event (e.g. "aws cloudtrail
	// start-logging --name {requestParameters.name}"); a command whose
	// fields the event lacks is left out.
	Undo []string `yaml:"undo" json:"undo,omitempty"`

	// first-seen
	Dimension  string   `yaml:"dimension" json:"dimension,omitempty"`
	FirstEvent []string `yaml:"first_event" json:"first_event,omitempty"`
	WarmupText string   `yaml:"warmup" json:"warmup,omitempty"`
	// Scope: key (default) or account.
	Scope string `yaml:"scope" json:"scope,omitempty"`
	// burst and sequence
	Threshold  int    `yaml:"threshold" json:"threshold,omitempty"`
	WindowText string `yaml:"window" json:"window,omitempty"`
	// Distinct counts distinct values of a field (alternatives separated
	// by "|") instead of events.
	Distinct string         `yaml:"distinct" json:"distinct,omitempty"`
	Then     map[string]any `yaml:"then" json:"then,omitempty"`
	// Subject names the field (alternatives separated by "|") holding
	// the resource a fact-kind rule judges.
	Subject string `yaml:"subject" json:"subject,omitempty"`

	Window time.Duration `yaml:"-" json:"-"`
	Warmup time.Duration `yaml:"-" json:"-"`
}

var (
	idRE     = lazyregexp.New(`^ct-[a-z0-9]+(-[a-z0-9]+)*$`)
	attackRE = lazyregexp.New(`^T\d{4}(\.\d{3})?$`)
)

// Builtin returns the embedded rules, validated. It panics if the
// embedded file is broken: that is a build defect the tests catch.
func Builtin() []*Rule {
	rs, err := Parse(builtinRules)
	if err != nil {
		panic("detect: embedded rules.yaml: " + err.Error())
	}
	return rs
}

// Parse reads and validates a rule file.
func Parse(data []byte) ([]*Rule, error) {
	var doc struct {
		Rules []*Rule `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, r := range doc.Rules {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i+1, r.ID, err)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("rule %s: duplicate id", r.ID)
		}
		seen[r.ID] = true
	}
	return doc.Rules, nil
}

// Combine adds extra rules (from a user's file) to base, refusing
// duplicate ids and rules that do not compile.
func Combine(base, extra []*Rule) ([]*Rule, error) {
	seen := map[string]bool{}
	for _, r := range base {
		seen[r.ID] = true
	}
	out := append([]*Rule(nil), base...)
	for _, r := range extra {
		if seen[r.ID] {
			return nil, fmt.Errorf("rule %s: an id already in use", r.ID)
		}
		seen[r.ID] = true
		out = append(out, r)
	}
	if _, err := New(out, Options{}); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *Rule) validate() error {
	if !idRE().MatchString(r.ID) {
		return fmt.Errorf("id %q must look like ct-word-word", r.ID)
	}
	sev, err := report.ParseSeverity(r.SeverityName)
	if err != nil || sev > report.SeverityCritical {
		return fmt.Errorf("severity %q", r.SeverityName)
	}
	r.Severity = sev
	if !attackRE().MatchString(r.Attack) || r.AttackName == "" || r.Tactic == "" {
		return fmt.Errorf("needs attack (Txxxx[.yyy]), attack_name and tactic")
	}
	if r.Title == "" || strings.TrimSpace(r.Description) == "" || strings.TrimSpace(r.FalsePositives) == "" || len(r.References) == 0 {
		return fmt.Errorf("needs title, description, false_positives and references")
	}
	if r.Kind == "" {
		r.Kind = KindMatch
	}
	if r.WindowText != "" {
		if r.Window, err = time.ParseDuration(r.WindowText); err != nil || r.Window <= 0 {
			return fmt.Errorf("window %q", r.WindowText)
		}
	}
	r.Warmup = time.Hour
	if r.WarmupText != "" {
		if r.Warmup, err = time.ParseDuration(r.WarmupText); err != nil || r.Warmup < 0 {
			return fmt.Errorf("warmup %q", r.WarmupText)
		}
	}
	switch r.Kind {
	case KindMatch, KindLogBucket, KindKeyInUse:
		if len(r.Match) == 0 {
			return fmt.Errorf("a %s rule needs match", r.Kind)
		}
	case KindAdminRole:
		if len(r.Match) == 0 || r.Subject == "" {
			return fmt.Errorf("an admin-role rule needs match and subject")
		}
	case KindFirstSeen:
		if dimIndex(r.Dimension) < 0 {
			return fmt.Errorf("dimension %q (want %s)", r.Dimension, strings.Join(Dimensions, ", "))
		}
		switch r.Scope {
		case "":
			r.Scope = ScopeKey
		case ScopeKey, ScopeAccount:
		default:
			return fmt.Errorf("scope %q (want %s or %s)", r.Scope, ScopeKey, ScopeAccount)
		}
	case KindBurst:
		if len(r.Match) == 0 || r.Threshold < 2 || r.Window == 0 {
			return fmt.Errorf("a burst rule needs match, threshold >= 2 and window")
		}
	case KindInstanceCredentials, KindInstanceOutside:
	case KindAgentSwitch:
		if r.Threshold < 2 || r.Window == 0 {
			return fmt.Errorf("an agent-switch rule needs threshold >= 2 and window")
		}
	case KindDormant:
		if r.Window < 24*time.Hour {
			return fmt.Errorf("a dormant rule needs a window of at least 24h")
		}
	case KindSequence:
		if len(r.Match) == 0 || len(r.Then) == 0 || r.Threshold < 1 || r.Window == 0 {
			return fmt.Errorf("a sequence rule needs match, then, threshold and window")
		}
	default:
		return fmt.Errorf("unknown kind %q", r.Kind)
	}
	for _, c := range r.Created {
		what, f, ok := strings.Cut(c, "=")
		if !ok || what == "" {
			return fmt.Errorf("created %q: want \"what=field\"", c)
		}
		if _, err := getter(f); err != nil {
			return fmt.Errorf("created %q: %w", c, err)
		}
	}
	for _, u := range r.Undo {
		if _, err := compileUndo(u); err != nil {
			return err
		}
	}
	if r.Subject != "" && r.Kind != KindLogBucket && r.Kind != KindAdminRole && r.Kind != KindKeyInUse {
		return fmt.Errorf("subject is for the log-bucket, admin-role and key-in-use kinds")
	}
	fields := append(append([]string{}, r.Evidence...), strings.Split(r.Distinct, "|")...)
	for _, f := range append(fields, strings.Split(r.Subject, "|")...) {
		if f == "" {
			continue
		}
		if _, err := getter(f); err != nil {
			return err
		}
	}
	return nil
}

// subjectFields is the subject of a fact-kind rule, with its default.
func (r *Rule) subjectFields() string {
	switch {
	case r.Subject != "":
		return r.Subject
	case r.Kind == KindLogBucket:
		return "requestParameters.bucketName"
	case r.Kind == KindKeyInUse:
		return "requestParameters.keyId"
	}
	return ""
}

func dimIndex(d string) int {
	for i, x := range Dimensions {
		if x == d {
			return i
		}
	}
	return -1
}

// Report describes the rule for --list-rules and SARIF.
func (r *Rule) Report() report.Rule {
	return report.Rule{
		ID: r.ID, Title: r.Title, Severity: r.Severity,
		Description: strings.TrimSpace(r.Description),
		Remediation: strings.TrimSpace(r.Remediation),
		References:  r.References,
		Tags:        []string{"mitre-attack:" + r.Attack, "tactic:" + r.Tactic, "kind:" + r.Kind},
	}
}

// AttackURL is the ATT&CK page of the rule's technique.
func (r *Rule) AttackURL() string {
	return "https://attack.mitre.org/techniques/" + strings.ReplaceAll(r.Attack, ".", "/") + "/"
}
