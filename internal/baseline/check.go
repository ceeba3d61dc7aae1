package baseline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/report"
)

// Snapshot is what the checker needs to know of an account, read by
// LoadSnapshot (or built by tests). Nil slices and zero values mean "none
// found"; Errors lists what could not be read, so that a part that could
// not be read is reported as unknown, never as present or missing.
type Snapshot struct {
	Account string
	Region  string
	Trails  []TrailState
	// Rules by region: the EventBridge rules of the default bus.
	Rules map[string][]RuleState
	// Topics by ARN: confirmed email/other subscriptions.
	Topics map[string]TopicState
	// GuardDuty is true when an enabled detector exists in Region.
	GuardDuty bool
	// ConfigRecording is true when a recorder is recording in Region.
	ConfigRecording bool
	// ConfigRules are the source identifiers of the Config rules.
	ConfigRules []string
	Budgets     int
	// PasswordPolicy is nil when the account has none.
	PasswordPolicy *PasswordPolicy
	// KeyHolders are users with an active access key, each with whether
	// an MFA guard (a Deny on BoolIfExists aws:MultiFactorAuthPresent
	// false) applies to them through a group or their own policies.
	KeyHolders []KeyHolder
	// Errors maps a part to why it could not be read.
	Errors map[Part]string
}

// TrailState is one trail as DescribeTrails and GetTrailStatus give it.
type TrailState struct {
	Name, ARN, HomeRegion string
	MultiRegion           bool
	Logging               bool
	LogFileValidation     bool
	KMS                   bool
	Organization          bool
}

// RuleState is one EventBridge rule.
type RuleState struct {
	Name    string
	Pattern string // JSON
	Enabled bool
	Targets []string
}

// TopicState is one SNS topic's confirmed subscriptions.
type TopicState struct {
	Confirmed int
}

// KeyHolder is a user with an active access key.
type KeyHolder struct {
	User    string
	Guarded bool
}

// Rule IDs of the check's findings.
const (
	RuleMissing = "kw-baseline-missing"
	RuleWeak    = "kw-baseline-weak"
	RuleUnknown = "kw-baseline-unreadable"
)

// Check compares a snapshot with the plan and returns one finding for
// every part of the baseline that is missing or weaker than the plan's,
// and an info finding for every part that is present.
func Check(p *Plan, s *Snapshot) []report.Finding {
	c := &checker{p: p, s: s}
	for _, part := range p.Parts {
		if why, ok := s.Errors[part]; ok {
			c.add(RuleUnknown, report.SeverityMedium, part, "could not be read", why, "Grant the read permissions of --print-required-policy and run again.")
			continue
		}
		switch part {
		case PartTrail:
			c.trail()
		case PartAlerts:
			c.alerts()
		case PartDetectors:
			c.detectors()
		case PartCost:
			c.cost()
		case PartIdentity:
			c.identity()
		}
	}
	report.Sort(c.out)
	return c.out
}

type checker struct {
	p   *Plan
	s   *Snapshot
	out []report.Finding
}

func (c *checker) add(rule string, sev report.Severity, part Part, title, msg, fix string) {
	c.out = append(c.out, report.Finding{
		RuleID: rule, Severity: sev, Title: title, Message: msg, Remediation: fix,
		Location:    report.Location{Resource: string(part)},
		Fingerprint: rule + ":" + string(part) + ":" + title,
		Properties:  map[string]any{"part": string(part)},
	})
}

func (c *checker) present(part Part, title, msg string) {
	c.add("kw-baseline-present", report.SeverityInfo, part, title, msg, "")
}

func (c *checker) generate(part Part) string {
	return "keywarden baseline generate --only " + string(part) + " (see its --help for the flags of this part)"
}

func (c *checker) trail() {
	var best *TrailState
	for i := range c.s.Trails {
		t := &c.s.Trails[i]
		if t.MultiRegion && t.Logging && (best == nil || (t.LogFileValidation && !best.LogFileValidation)) {
			best = t
		}
	}
	if best == nil {
		c.add(RuleMissing, report.SeverityHigh, PartTrail, "no multi-region trail is logging",
			fmt.Sprintf("%d trail(s) found, none both multi-region and logging: API calls in some regions go unrecorded.", len(c.s.Trails)),
			c.generate(PartTrail))
		return
	}
	var weak []string
	if !best.LogFileValidation {
		weak = append(weak, "log-file validation is off (tampering with the logs cannot be proved)")
	}
	if !best.KMS {
		weak = append(weak, "logs are not encrypted with a KMS key")
	}
	if c.p.Org && !best.Organization {
		weak = append(weak, "it is not an organization trail")
	}
	if len(weak) > 0 {
		c.add(RuleWeak, report.SeverityMedium, PartTrail, "trail "+best.Name+" is weaker than the baseline", strings.Join(weak, "; ")+".", c.generate(PartTrail))
		return
	}
	c.present(PartTrail, "trail "+best.Name+" is multi-region, logging, validated and encrypted", "")
}

func (c *checker) alerts() {
	var missing []string
	for _, a := range Alerts() {
		region := c.p.Region
		if a.Global {
			region = GlobalRegion
		}
		if !c.covered(a, region) {
			missing = append(missing, fmt.Sprintf("%s (in %s)", a.ID, region))
		}
	}
	if len(missing) > 0 {
		c.add(RuleMissing, report.SeverityHigh, PartAlerts, fmt.Sprintf("%d of %d alerts are missing", len(missing), len(Alerts())),
			"No enabled EventBridge rule, with a target topic that has a confirmed subscription, matches: "+strings.Join(missing, ", ")+".",
			c.generate(PartAlerts))
		return
	}
	c.present(PartAlerts, "every alert has a rule with a confirmed subscriber", "")
}

// covered: an enabled rule in region whose pattern fires on everything the
// alert's pattern fires on, targeting a topic someone confirmed.
func (c *checker) covered(a Alert, region string) bool {
	want := normalise(a.Pattern)
	for _, r := range c.s.Rules[region] {
		if !r.Enabled {
			continue
		}
		var have map[string]any
		if json.Unmarshal([]byte(r.Pattern), &have) != nil {
			continue
		}
		if !PatternCovers(have, want) {
			continue
		}
		for _, t := range r.Targets {
			if c.s.Topics[t].Confirmed > 0 {
				return true
			}
		}
	}
	return false
}

// normalise passes a pattern through JSON, so literals compare alike.
func normalise(p map[string]any) map[string]any {
	b, _ := json.Marshal(p)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// PatternCovers reports whether the EventBridge pattern have matches
// every event that want matches: each constraint of have is implied by a
// constraint of want. A field have constrains and want does not makes have
// narrower; a list in have must hold every alternative of want's list.
// It is conservative: where it cannot tell, it answers false.
func PatternCovers(have, want map[string]any) bool {
	for k, hv := range have {
		wv, ok := want[k]
		if !ok {
			return false
		}
		switch hv := hv.(type) {
		case map[string]any:
			wm, ok := wv.(map[string]any)
			if !ok || !PatternCovers(hv, wm) {
				return false
			}
		case []any:
			wl, ok := wv.([]any)
			if !ok {
				return false
			}
			for _, w := range wl {
				if !slices.ContainsFunc(hv, func(h any) bool { return alternativeCovers(h, w) }) {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

// alternativeCovers: h (one alternative of have) matches every value w
// matches.
func alternativeCovers(h, w any) bool {
	hb, _ := json.Marshal(h)
	wb, _ := json.Marshal(w)
	if string(hb) == string(wb) {
		return true
	}
	hp, ok := h.(map[string]any)
	if !ok {
		return false
	}
	prefix, ok := hp["prefix"].(string)
	if !ok || len(hp) != 1 {
		return false
	}
	switch w := w.(type) {
	case string:
		return strings.HasPrefix(w, prefix)
	case map[string]any:
		wp, ok := w["prefix"].(string)
		return ok && len(w) == 1 && strings.HasPrefix(wp, prefix)
	}
	return false
}

func (c *checker) detectors() {
	if !c.s.GuardDuty {
		c.add(RuleMissing, report.SeverityHigh, PartDetectors, "GuardDuty is not enabled in "+c.p.Region,
			"AWS's own detection of credential misuse is off.", c.generate(PartDetectors))
	}
	if !c.s.ConfigRecording {
		c.add(RuleMissing, report.SeverityMedium, PartDetectors, "AWS Config is not recording in "+c.p.Region,
			"Without a recorder the Config rules judge nothing.", c.generate(PartDetectors))
	}
	var missing []string
	for _, r := range c.p.ConfigRules() {
		if !slices.Contains(c.s.ConfigRules, r.Identifier) {
			missing = append(missing, r.Identifier)
		}
	}
	if len(missing) > 0 {
		c.add(RuleMissing, report.SeverityMedium, PartDetectors, fmt.Sprintf("%d Config rules are missing", len(missing)),
			strings.Join(missing, ", "), c.generate(PartDetectors))
	}
	if c.s.GuardDuty && c.s.ConfigRecording && len(missing) == 0 {
		c.present(PartDetectors, "GuardDuty, the Config recorder and every Config rule are on", "")
	}
}

func (c *checker) cost() {
	if c.s.Budgets == 0 {
		c.add(RuleMissing, report.SeverityMedium, PartCost, "no AWS Budgets budget",
			"A leaked key's first visible sign is often the bill; nothing alerts on it.", c.generate(PartCost))
		return
	}
	c.present(PartCost, fmt.Sprintf("%d budget(s)", c.s.Budgets), "")
}

func (c *checker) identity() {
	pp, want := c.s.PasswordPolicy, CISPasswordPolicy
	switch {
	case pp == nil:
		c.add(RuleMissing, report.SeverityMedium, PartIdentity, "no account password policy",
			"IAM's default allows 8-character passwords with no reuse prevention.", c.generate(PartIdentity))
	default:
		var weak []string
		if pp.MinLength < want.MinLength {
			weak = append(weak, fmt.Sprintf("minimum length %d < %d", pp.MinLength, want.MinLength))
		}
		if pp.ReusePrevention < want.ReusePrevention {
			weak = append(weak, fmt.Sprintf("reuse prevention %d < %d", pp.ReusePrevention, want.ReusePrevention))
		}
		for _, r := range []struct {
			have bool
			name string
		}{{pp.RequireLowercase, "lower-case"}, {pp.RequireUppercase, "upper-case"}, {pp.RequireNumbers, "numbers"}, {pp.RequireSymbols, "symbols"}} {
			if !r.have {
				weak = append(weak, r.name+" not required")
			}
		}
		if len(weak) > 0 {
			c.add(RuleWeak, report.SeverityLow, PartIdentity, "password policy is weaker than CIS", strings.Join(weak, "; ")+".", c.generate(PartIdentity))
		} else {
			c.present(PartIdentity, "password policy at CIS strength", "")
		}
	}
	var bare []string
	for _, k := range c.s.KeyHolders {
		if !k.Guarded {
			bare = append(bare, k.User)
		}
	}
	if len(bare) > 0 {
		slices.Sort(bare)
		c.add(RuleMissing, report.SeverityHigh, PartIdentity, fmt.Sprintf("%d user(s) with active keys are not under an MFA guard", len(bare)),
			"A leaked key of theirs works without MFA: "+strings.Join(bare, ", ")+".",
			"Add them to the MFA guard group: "+c.generate(PartIdentity)+", then aws iam add-user-to-group --group-name "+c.p.MFASpec.Group+" --user-name USER")
	} else if len(c.s.KeyHolders) > 0 {
		c.present(PartIdentity, fmt.Sprintf("all %d user(s) with active keys are under an MFA guard", len(c.s.KeyHolders)), "")
	}
}

// HasMFAGuard reports whether a policy document holds the MFA guard: a
// Deny whose condition is BoolIfExists aws:MultiFactorAuthPresent false,
// the only form that also binds long-term keys (see DESIGN.md).
func HasMFAGuard(doc []byte) bool {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal(doc, &d) != nil {
		return false
	}
	var sts []map[string]json.RawMessage
	if json.Unmarshal(d.Statement, &sts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(d.Statement, &one) != nil {
			return false
		}
		sts = []map[string]json.RawMessage{one}
	}
	for _, st := range sts {
		var effect string
		_ = json.Unmarshal(st["Effect"], &effect)
		var cond map[string]map[string]json.RawMessage
		if effect != "Deny" || json.Unmarshal(st["Condition"], &cond) != nil {
			continue
		}
		for op, keys := range cond {
			if op != "BoolIfExists" {
				continue
			}
			for k, v := range keys {
				if !strings.EqualFold(k, "aws:MultiFactorAuthPresent") {
					continue
				}
				var vals []any
				if json.Unmarshal(v, &vals) != nil {
					var one any
					_ = json.Unmarshal(v, &one)
					vals = []any{one}
				}
				for _, x := range vals {
					if strings.EqualFold(fmt.Sprint(x), "false") {
						return true
					}
				}
			}
		}
	}
	return false
}
