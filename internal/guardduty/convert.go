package guardduty

import (
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// Kind marks the rules standing for GuardDuty finding types, so output
// can say where a finding came from.
const Kind = "guardduty"

// RulePrefix starts the rule ID of a GuardDuty finding: the finding type
// follows ("guardduty/UnauthorizedAccess:IAMUser/MaliciousIPCaller").
const RulePrefix = "guardduty/"

// typesDoc is GuardDuty's list of finding types.
const typesDoc = "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html"

// Detect turns the finding into a detect.Finding, so it is grouped,
// filtered (--key, --ignore), rendered and notified like keywarden's own.
// Its rule is made for it: ID RulePrefix+type, kind Kind, severity from
// GuardDuty's number.
func (f *Finding) Detect() *detect.Finding {
	title := f.Title
	if title == "" {
		title = f.Type
	}
	rule := &detect.Rule{
		ID: RulePrefix + f.Type, Title: "GuardDuty: " + title, Severity: f.Level(), Kind: Kind,
		Description: f.Description,
		Remediation: "Follow GuardDuty's remediation for " + f.Type + " (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_remediate.html); contain the key first.",
		References:  []string{typesDoc},
	}
	rule.SeverityName = rule.Severity.String()
	principal := f.UserName
	if principal == "" {
		principal = f.PrincipalID
	}
	out := &detect.Finding{
		Rule: rule, Actor: f.Actor(), KeyID: f.AccessKeyID, Principal: principal, Account: f.AccountID,
		Count: max(f.Count, 1), First: f.FirstSeen, Last: f.LastSeen,
	}
	if f.API != "" {
		out.EventNames = []string{f.API}
	}
	if f.RemoteIP != "" {
		out.Sources = []string{f.RemoteIP}
	}
	if f.Region != "" {
		out.Regions = []string{f.Region}
	}
	out.Evidence = append(out.Evidence, "guardduty_finding="+nonEmpty(f.Arn, f.ID), fmt.Sprintf("guardduty_severity=%g", f.Severity))
	if f.UserType != "" {
		out.Evidence = append(out.Evidence, "user_type="+f.UserType)
	}
	var where []string
	for _, s := range []string{f.RemoteCountry, f.RemoteOrg} {
		if s != "" {
			where = append(where, s)
		}
	}
	if len(where) > 0 {
		out.Detail = append(out.Detail, "caller in "+strings.Join(where, ", "))
	}
	if f.Description != "" {
		out.Detail = append(out.Detail, f.Description)
	}
	return out
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
