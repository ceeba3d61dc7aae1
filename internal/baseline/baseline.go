// Package baseline is the protection baseline every team is told to set up
// after a key incident (a trail, alerts on the changes an intruder makes,
// GuardDuty and Config, a budget alarm, a password policy and the MFA
// guard), held as data so that one description renders as Terraform and as
// CloudFormation and is checked against a live account.
//
// The package builds text and judges snapshots: it does no AWS calls and
// writes no files. The live snapshot loader is in live.go, the only file
// that talks to AWS.
package baseline

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/keywarden/keywarden/internal/lazyregexp"
	"github.com/keywarden/keywarden/internal/policygen"
)

// Part is one independently chosen piece of the baseline.
type Part string

// The parts, in the order they are rendered and checked.
const (
	PartTrail     Part = "trail"
	PartAlerts    Part = "alerts"
	PartDetectors Part = "detectors"
	PartCost      Part = "cost"
	PartIdentity  Part = "identity"
)

// AllParts lists every part in order.
var AllParts = []Part{PartTrail, PartAlerts, PartDetectors, PartCost, PartIdentity}

// GlobalRegion is where IAM, the STS global endpoint and console sign-in
// deliver their events to EventBridge, and where Cost Explorer lives.
const GlobalRegion = "us-east-1"

// Options is what the user asked for.
type Options struct {
	// Parts chosen; empty means all.
	Parts []Part
	// Region is the home region of the regional resources.
	Region string
	// Name prefixes resource names ("keywarden" by default).
	Name string
	// Org makes the trail an organization trail and the access analyzer
	// organization-wide (run from the management account).
	Org bool
	// ObjectLock turns on S3 Object Lock (governance mode) for the log
	// bucket, with ObjectLockDays of retention.
	ObjectLock     bool
	ObjectLockDays int
	// Emails subscribe to the alert topics.
	Emails []string
	// Budget is the monthly cost budget in USD.
	Budget float64
	// AnomalyThreshold is the cost anomaly impact, in USD, that alerts.
	AnomalyThreshold float64
	// MaxKeyAge is ACCESS_KEYS_ROTATED's maxAccessKeyAge, in days.
	MaxKeyAge int
	// MaxUnusedDays is IAM_USER_UNUSED_CREDENTIALS_CHECK's age, in days.
	MaxUnusedDays int
	// MFA configures the MFA guard group (the same builder as policy mfa).
	MFA policygen.Options
}

// Defaults for the options a user leaves out.
const (
	DefaultName             = "keywarden"
	DefaultBudget           = 500
	DefaultAnomalyThreshold = 100
	DefaultMaxKeyAge        = 90
	DefaultMaxUnusedDays    = 45
	DefaultObjectLockDays   = 365
)

// Plan is validated options with defaults applied: what every renderer and
// the checker work from.
type Plan struct {
	Options
	parts map[Part]bool
	// MFASpec is the MFA guard built by policygen (identity part only).
	MFASpec *policygen.Spec
}

// Has reports whether the plan includes part p.
func (p *Plan) Has(part Part) bool { return p.parts[part] }

// needsLogBucket: the trail writes to it, and Config delivers there too.
func (p *Plan) needsLogBucket() bool { return p.Has(PartTrail) || p.Has(PartDetectors) }

// needsTopic: alerts, budgets and anomaly subscriptions publish to it.
func (p *Plan) needsTopic() bool { return p.Has(PartAlerts) || p.Has(PartCost) }

// section is one group of resources a template holds. Both writers
// emit a plan's sections in the order sections gives: what a plan
// deploys is decided here once and rendered twice.
type section int

const (
	sectionLogBucket section = iota
	sectionTrail
	sectionTopics
	sectionAlerts
	sectionDetectors
	sectionCost
	sectionIdentity
	sectionCount
)

// sections lists the plan's sections in template order.
func (p *Plan) sections() []section {
	needed := [sectionCount]bool{
		sectionLogBucket: p.needsLogBucket(),
		sectionTrail:     p.Has(PartTrail),
		sectionTopics:    p.needsTopic(),
		sectionAlerts:    p.Has(PartAlerts),
		sectionDetectors: p.Has(PartDetectors),
		sectionCost:      p.Has(PartCost),
		sectionIdentity:  p.Has(PartIdentity),
	}
	var out []section
	for s, ok := range needed {
		if ok {
			out = append(out, section(s))
		}
	}
	return out
}

var (
	regionRE = lazyregexp.New(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}$`)
	nameRE   = lazyregexp.New(`^[a-z0-9][a-z0-9-]{0,29}$`)
)

// ErrInvalid wraps every validation error, so callers can exit 2.
var ErrInvalid = errors.New("invalid baseline options")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// NewPlan validates the options and applies defaults. Nothing is rendered
// from options that fail here.
func NewPlan(o Options) (*Plan, error) {
	p := &Plan{Options: o, parts: map[Part]bool{}}
	if len(o.Parts) == 0 {
		p.Parts = append([]Part(nil), AllParts...)
	}
	for _, part := range p.Parts {
		known := false
		for _, k := range AllParts {
			known = known || k == part
		}
		if !known {
			return nil, invalid("unknown part %q (want one of trail, alerts, detectors, cost, identity)", part)
		}
		p.parts[part] = true
	}
	if p.Region == "" {
		p.Region = GlobalRegion
	}
	if !regionRE().MatchString(p.Region) {
		return nil, invalid("region %q is not an AWS region name (like eu-west-1)", p.Region)
	}
	if p.Name == "" {
		p.Name = DefaultName
	}
	if !nameRE().MatchString(p.Name) {
		return nil, invalid("name %q must be 1 to 30 lower-case letters, digits or hyphens, starting with a letter or digit", p.Name)
	}
	for _, e := range p.Emails {
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || !strings.Contains(e[strings.IndexByte(e, '@')+1:], ".") {
			return nil, invalid("email %q is not a plain address like ops@example.com", e)
		}
	}
	for _, err := range []error{
		defaultIn(&p.Budget, DefaultBudget, 1, 1e9, "budget %v must be between 1 and 1000000000 USD a month"),
		defaultIn(&p.AnomalyThreshold, DefaultAnomalyThreshold, 1, 1e9, "anomaly threshold %v must be between 1 and 1000000000 USD"),
		defaultIn(&p.MaxKeyAge, DefaultMaxKeyAge, 1, 365, "maximum key age %v must be 1 to 365 days (AWS Config's range for ACCESS_KEYS_ROTATED)"),
		defaultIn(&p.MaxUnusedDays, DefaultMaxUnusedDays, 1, 365, "unused-credential age %v must be 1 to 365 days"),
		defaultIn(&p.ObjectLockDays, DefaultObjectLockDays, 1, 36500, "object lock retention %v must be 1 to 36500 days"),
	} {
		if err != nil {
			return nil, err
		}
	}
	if p.Has(PartIdentity) {
		spec, err := policygen.Build(p.MFA)
		if err != nil {
			return nil, invalid("MFA guard: %v", err)
		}
		p.MFASpec = spec
	}
	return p, nil
}

// defaultIn sets *v to def when it is zero (not given), then refuses it
// outside [lo, hi] with msg, which formats the value.
func defaultIn[T int | float64](v *T, def, lo, hi T, msg string) error {
	if *v == 0 {
		*v = def
	}
	if *v < lo || *v > hi {
		return invalid(msg, *v)
	}
	return nil
}

// ConfigRule is an AWS Config managed rule the baseline deploys.
type ConfigRule struct {
	Name       string // the rule's name in the account
	Identifier string // the managed rule's source identifier
	Params     map[string]string
	Risk       string
	// VarParam is the parameter that comes from the module's variable
	// Var (snake case; CloudFormation's parameter is its camel case).
	VarParam, Var string
}

// inputParams are the rule's parameters, with VarParam taken from the
// variable that ref names in the renderer's own syntax; nil for none.
func (r ConfigRule) inputParams(ref func(variable string) any) map[string]any {
	if len(r.Params) == 0 {
		return nil
	}
	out := make(map[string]any, len(r.Params))
	for k, v := range r.Params {
		out[k] = v
	}
	if r.VarParam != "" {
		out[r.VarParam] = ref(r.Var)
	}
	return out
}

// ConfigRules are the managed rules of the detectors part.
func (p *Plan) ConfigRules() []ConfigRule {
	n := p.Name + "-"
	return []ConfigRule{
		{n + "access-keys-rotated", "ACCESS_KEYS_ROTATED", map[string]string{"maxAccessKeyAge": fmt.Sprint(p.MaxKeyAge)},
			"Long-term keys never expire: an old key has had more chances to leak.", "maxAccessKeyAge", "max_access_key_age"},
		{n + "unused-credentials", "IAM_USER_UNUSED_CREDENTIALS_CHECK", map[string]string{"maxCredentialUsageAge": fmt.Sprint(p.MaxUnusedDays)},
			"Unused keys and passwords are attack surface nobody watches.", "maxCredentialUsageAge", "max_unused_credential_age"},
		{n + "user-mfa-enabled", "IAM_USER_MFA_ENABLED", nil,
			"Users without MFA cannot pass the MFA guard, so they keep using bare keys.", "", ""},
		{n + "console-mfa-enabled", "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS", nil,
			"A console password without MFA is one phishing page away from the account.", "", ""},
		{n + "root-mfa-enabled", "ROOT_ACCOUNT_MFA_ENABLED", nil,
			"The root user can do everything and cannot be limited by IAM policies.", "", ""},
		{n + "root-access-key", "IAM_ROOT_ACCESS_KEY_CHECK", nil,
			"A root access key that leaks is the whole account.", "", ""},
		{n + "password-policy", "IAM_PASSWORD_POLICY", map[string]string{
			"MinimumPasswordLength": "14", "PasswordReusePrevention": "24",
			"RequireLowercaseCharacters": "true", "RequireUppercaseCharacters": "true",
			"RequireNumbers": "true", "RequireSymbols": "true"},
			"Weak passwords undo MFA-less console protections.", "", ""},
		{n + "user-no-policies", "IAM_USER_NO_POLICIES_CHECK", nil,
			"Policies attached to users escape the group-level MFA guard.", "", ""},
		{n + "multi-region-trail", "MULTI_REGION_CLOUD_TRAIL_ENABLED", nil,
			"Without a multi-region trail an intruder works unseen in unused regions.", "", ""},
	}
}

// PasswordPolicy is the CIS-strength IAM password policy the identity part
// sets (CIS AWS Foundations 1.8 and 1.9: length 14, reuse 24).
type PasswordPolicy struct {
	MinLength                  int
	ReusePrevention            int
	RequireLowercase           bool
	RequireUppercase           bool
	RequireNumbers             bool
	RequireSymbols             bool
	AllowUsersToChangePassword bool
}

// CISPasswordPolicy is the policy the baseline writes and checks for.
var CISPasswordPolicy = PasswordPolicy{
	MinLength: 14, ReusePrevention: 24,
	RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true,
	AllowUsersToChangePassword: true,
}
