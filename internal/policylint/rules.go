package policylint

import (
	"sync"

	"github.com/keywarden/keywarden/internal/report"
)

// rule is one lint rule: what it finds, how bad it usually is, what it does
// to a request signed with a long-term key, and the fix.
type rule struct {
	ID       string
	Severity report.Severity // the usual severity; some rules vary with the outcome
	Title    string
	LongTerm string // what goes wrong for a request signed with a long-term key
	Fix      string
	Refs     []string
}

const (
	refCondKeys  = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"
	refOperators = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
	refSelfMFA   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_iam_mfa-selfmanage.html"
	refDenyIP    = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_deny-ip.html"
	refNotAction = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"
	refNotRes    = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html"
	refGrammar   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"
	refVersion   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"
	refVars      = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"
	refActions   = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
)

// Rule IDs.
const (
	RuleMFADenyBool            = "kw-mfa-deny-bool"
	RuleMFAAllowIfExists       = "kw-mfa-allow-ifexists"
	RuleMFAValue               = "kw-mfa-value"
	RuleMFAOperator            = "kw-mfa-operator"
	RuleMFAAgeUnbound          = "kw-mfa-age-unbound"
	RuleMFAUnbound             = "kw-mfa-unbound"
	RuleMFANullDeny            = "kw-mfa-null-deny"
	RuleMFABlocksMFA           = "kw-mfa-blocks-mfa"
	RuleMFASelfServiceDenied   = "kw-mfa-selfservice-denied"
	RuleMFAGuardExemptsRemov   = "kw-mfa-guard-exempts-device-removal"
	RuleMFAGuardExemptsActions = "kw-mfa-guard-exempts-actions"
	RuleMFARemovalAllowed      = "kw-mfa-device-removal-allowed"
	RuleMFAAllowOnly           = "kw-mfa-allow-condition-only"
	RuleMFAKeyEnrollment       = "kw-mfa-key-enrollment"
	RuleNetNoServiceExc        = "kw-net-no-service-exception"
	RuleNetPrivateRange        = "kw-net-private-range"
	RuleNetBadCIDR             = "kw-net-bad-cidr"
	RuleNetIPv4Only            = "kw-net-ipv4-only"
	RuleNetNoVPCE              = "kw-net-no-vpce-path"
	RuleNetGuardUnbound        = "kw-net-guard-unbound"
	RuleAllowStar              = "kw-allow-star"
	RuleAllowNotAction         = "kw-allow-notaction"
	RuleAllowNotResource       = "kw-allow-notresource"
	RulePolicyVariables        = "kw-policy-variables"
	RuleSyntax                 = "kw-policy-syntax"
	RuleVersion                = "kw-policy-version"
	RuleEffect                 = "kw-policy-effect"
	RuleOperator               = "kw-policy-operator"
	RuleDuplicateSid           = "kw-policy-duplicate-sid"
	RuleElement                = "kw-policy-element"
	RuleValue                  = "kw-policy-value"
	RuleEmpty                  = "kw-policy-empty"
	RuleUnknownAction          = "kw-policy-unknown-action"
	RuleTFUnresolved           = "kw-tf-unresolved"
)

var rules = []rule{
	{RuleMFADenyBool, report.SeverityHigh, "MFA deny uses Bool, which skips long-term keys",
		"A long-term key's requests carry no aws:MultiFactorAuthPresent; Bool is false for an absent key, so the Deny never applies and the key works without MFA.",
		`Use "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"} in the Deny.`, []string{refCondKeys, refOperators}},
	{RuleMFAAllowIfExists, report.SeverityHigh, "MFA allow uses BoolIfExists, which admits long-term keys",
		`IfExists counts the absent aws:MultiFactorAuthPresent as a match, so this Allow grants its actions to a long-term key without MFA (the IAM console's "require MFA" box writes this).`,
		`Use "Bool": {"aws:MultiFactorAuthPresent": "true"} in Allow statements, and better, add a Deny with "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"} (keywarden policy mfa).`, []string{refCondKeys, refOperators}},
	{RuleMFAValue, report.SeverityHigh, "aws:MultiFactorAuthPresent compared with a value that is not true or false",
		"A Bool condition only matches \"true\" or \"false\"; any other value never matches, so a Deny with it skips requests that carry the key, and an Allow with it never applies.",
		`Write the value as "true" or "false".`, []string{refOperators}},
	{RuleMFAOperator, report.SeverityHigh, "aws:MultiFactorAuthPresent tested with an operator that is not Bool or Null",
		"aws:MultiFactorAuthPresent is a boolean key; String, Numeric and other operators do not treat its absence (long-term keys) the way an MFA check needs, and are not documented for it.",
		`Use "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"} in a Deny, or "Bool": {"aws:MultiFactorAuthPresent": "true"} in an Allow.`, []string{refCondKeys, refOperators}},
	{RuleMFAAgeUnbound, report.SeverityHigh, "aws:MultiFactorAuthAge compared so that long-term keys escape",
		"aws:MultiFactorAuthAge is absent from long-term-key requests (and from sessions without MFA): a Numeric test without IfExists is false for them, so a Deny skips them; with IfExists it is true, so an Allow admits them.",
		`In a Deny use "NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": "SECONDS"}; in an Allow use NumericLessThan without IfExists.`, []string{refCondKeys, refOperators}},
	{RuleMFAUnbound, report.SeverityHigh, "MFA condition does not bind requests made without MFA",
		"For a request signed with a long-term key (no MFA keys at all) or a session made without MFA, this statement's MFA conditions evaluate so that MFA is not required.",
		`Use the standard guard: a Deny with "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}.`, []string{refCondKeys, refOperators}},
	{RuleMFANullDeny, report.SeverityMedium, "Null-based MFA deny lets temporary sessions without MFA through",
		"Null aws:MultiFactorAuthPresent = true blocks long-term keys (the key is absent), but a temporary session made without MFA carries the key with \"false\", so it is not denied: a leaked key can mint such a session with AssumeRole and act without MFA.",
		`Use "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}, which denies both.`, []string{refCondKeys}},
	{RuleMFABlocksMFA, report.SeverityLow, "MFA condition refuses or never grants MFA sessions too",
		"Not a bypass: the statement also denies (or never allows) callers who did use MFA, so legitimate MFA users are locked out.",
		"Check the condition's value and operator: a Deny should apply when MFA is absent or false, an Allow when it is true.", []string{refCondKeys}},
	{RuleMFASelfServiceDenied, report.SeverityLow, "MFA deny also denies MFA self-service: users cannot enrol a device",
		"A user without MFA yet (a new user, or one with a new phone) is denied the calls that enrol a device, so they never get an MFA session and the only way out is an administrator.",
		"Exempt the self-service actions on the caller's own user and device: NotAction iam:CreateVirtualMFADevice, iam:EnableMFADevice, iam:ResyncMFADevice, iam:ListMFADevices, iam:ListVirtualMFADevices, iam:GetUser, iam:ChangePassword, sts:GetSessionToken (keywarden policy mfa writes this).", []string{refSelfMFA}},
	{RuleMFAGuardExemptsRemov, report.SeverityHigh, "MFA deny exempts deactivating or deleting MFA devices",
		"The MFA guard's NotAction leaves iam:DeactivateMFADevice / iam:DeleteVirtualMFADevice out of the deny, so anyone holding a leaked long-term key can remove the MFA device without MFA and then enrol their own.",
		"Keep iam:DeactivateMFADevice and iam:DeleteVirtualMFADevice inside the deny (list self-service actions one by one, not iam:*MFADevice).", []string{refSelfMFA}},
	{RuleMFAGuardExemptsActions, report.SeverityHigh, "MFA deny exempts more than MFA self-service",
		"The MFA guard's NotAction leaves out actions a user without MFA does not need (iam:* lets a leaked key create access keys and attach policies; sts:* lets it assume roles), so a request signed with a long-term key is not denied them, and any Allow of them, in this policy or another, works without MFA.",
		"List the self-service actions one by one in the NotAction (iam:CreateVirtualMFADevice, iam:EnableMFADevice, iam:ResyncMFADevice, iam:ListMFADevices, iam:ListVirtualMFADevices, iam:GetUser, iam:ChangePassword, sts:GetSessionToken), and scope them to the caller's own user with a second Deny (keywarden policy mfa writes this).", []string{refSelfMFA}},
	{RuleMFARemovalAllowed, report.SeverityHigh, "MFA devices can be deactivated or deleted without MFA",
		"This Allow lets iam:DeactivateMFADevice / iam:DeleteVirtualMFADevice run without MFA and no MFA deny in the document covers them, so a leaked long-term key can remove the user's MFA.",
		`Add "Bool": {"aws:MultiFactorAuthPresent": "true"} to the statement, or a Deny with "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"} over them.`, []string{refSelfMFA}},
	{RuleMFAAllowOnly, report.SeverityInfo, "MFA is required only by an Allow condition",
		"This statement itself refuses long-term keys, but any other Allow that reaches the user without the condition (a managed policy, another group) lets a long-term key through: MFA enforced by an Allow is only as strong as the weakest other grant.",
		`Add a Deny with "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"} over everything but MFA self-service (keywarden policy mfa).`, []string{refSelfMFA}},
	{RuleMFAKeyEnrollment, report.SeverityHigh, "A long-term key can enrol a new MFA device without MFA",
		"IAM allows up to eight MFA devices per user. This Allow lets a request signed with a long-term key call iam:EnableMFADevice without MFA, and nothing in the document denies that, so whoever holds a leaked key can enrol their own device, get an MFA session with it and pass every MFA condition.",
		`Add a Deny of iam:CreateVirtualMFADevice and iam:EnableMFADevice with "Null": {"aws:MultiFactorAuthPresent": "true"} (requests signed with a long-term key), so devices are enrolled from the console (keywarden policy mfa writes this).`, []string{refSelfMFA, refCondKeys}},
	{RuleNetNoServiceExc, report.SeverityLow, "Network condition without an exception for calls AWS services make for the user",
		"When a service calls another on the user's behalf (CloudFormation creating instances, Athena reading S3, S3 calling KMS), aws:SourceIp is the service's address, so this statement refuses those calls and such workflows break.",
		`In the Deny add "BoolIfExists": {"aws:ViaAWSService": "false"} (every service), or "StringNotEqualsIfExists": {"aws:CalledViaFirst": [...]} (named services only).`, []string{refDenyIP, refCondKeys}},
	{RuleNetPrivateRange, report.SeverityLow, "Private or reserved range in aws:SourceIp never matches",
		"aws:SourceIp only ever holds the public address AWS saw the request come from; a private (10/8, 172.16/12, 192.168/16, fc00::/7 ...) or reserved range never matches, so users inside it are denied (or never allowed).",
		"List the public egress addresses (NAT gateway, office) instead; for traffic through VPC endpoints use aws:SourceVpce or aws:VpcSourceIp.", []string{refCondKeys}},
	{RuleNetBadCIDR, report.SeverityLow, "aws:SourceIp value is not an IP address or CIDR",
		"The value cannot match any address: AWS refuses the policy, or the condition never matches.",
		"Write an IPv4 or IPv6 address or CIDR, such as 203.0.113.0/24 or 2001:db8::/32.", []string{refOperators}},
	{RuleNetIPv4Only, report.SeverityLow, "IPv4-only network allowlist refuses IPv6 callers",
		"Dual-stack AWS endpoints bring callers over IPv6; an allowlist with only IPv4 ranges refuses them even from the allowed networks.",
		"Add the networks' IPv6 prefixes to the aws:SourceIp list.", []string{refCondKeys}},
	{RuleNetNoVPCE, report.SeverityInfo, "Network condition has no path for requests through VPC endpoints",
		"Requests through a VPC endpoint carry aws:SourceVpce, aws:SourceVpc and aws:VpcSourceIp instead of a public aws:SourceIp, so NotIpAddress alone denies them.",
		`If you use VPC endpoints, add "StringNotEqualsIfExists": {"aws:SourceVpce": ["vpce-..."]} to the Deny.`, []string{refCondKeys}},
	{RuleNetGuardUnbound, report.SeverityHigh, "Network deny does not apply to direct calls from outside the allowlist",
		"A call made directly with a leaked key (not through an AWS service, not through a VPC endpoint) from an address outside the allowlist carries aws:ViaAWSService \"false\" and no aws:CalledVia or aws:SourceVpce. Another condition of this Deny is false for such a request (ForAnyValue on an absent key, a plain operator on an absent key, aws:ViaAWSService \"true\"), and conditions in one statement are ANDed: the Deny never applies, and the key works from any address.",
		`Write the exceptions so that an absent key keeps the Deny in force: "BoolIfExists": {"aws:ViaAWSService": "false"}, "StringNotEqualsIfExists": {"aws:CalledViaFirst": [...]}, "StringNotEqualsIfExists": {"aws:SourceVpce": [...]} (keywarden policy mfa --allow-cidr writes this).`, []string{refDenyIP, refCondKeys, refOperators}},
	{RuleAllowStar, report.SeverityCritical, "Allow of * on * without conditions",
		"Anyone holding a leaked long-term key can do anything in the account, with no MFA and from anywhere.",
		"Grant only the actions needed, and add an MFA deny guard (keywarden policy mfa).", nil},
	{RuleAllowNotAction, report.SeverityHigh, "Allow with NotAction grants everything else",
		"NotAction in an Allow grants every action not listed, including actions of services added later; a leaked long-term key gets all of them.",
		"List the allowed actions with Action instead.", []string{refNotAction}},
	{RuleAllowNotResource, report.SeverityHigh, "Allow with NotResource grants every other resource",
		"NotResource in an Allow grants the actions on every resource not listed, in every account the principal can reach; a leaked long-term key gets all of them.",
		"List the allowed resources with Resource instead.", []string{refNotRes}},
	{RulePolicyVariables, report.SeverityLow, "Policy variables without Version 2012-10-17 are not substituted",
		"Without \"Version\": \"2012-10-17\" AWS reads ${aws:username} literally, so statements scoped to the caller's own user match nothing: self-service stops working.",
		`Set "Version": "2012-10-17".`, []string{refVersion, refVars}},
	{RuleSyntax, report.SeverityMedium, "Malformed policy document",
		"AWS refuses the document, so none of its protections is in force.",
		"Fix the document (JSON, HCL or YAML) at the position given.", []string{refGrammar}},
	{RuleVersion, report.SeverityMedium, "Unknown policy Version",
		"AWS refuses the document, so none of its protections is in force.",
		`Use "Version": "2012-10-17".`, []string{refVersion}},
	{RuleEffect, report.SeverityMedium, "Missing or invalid Effect",
		"AWS refuses the document (Effect must be \"Allow\" or \"Deny\", case-sensitive), so none of its protections is in force.",
		`Write "Effect": "Allow" or "Effect": "Deny".`, []string{refGrammar}},
	{RuleOperator, report.SeverityMedium, "Unknown or miscased condition operator",
		"AWS refuses the document, so none of its protections is in force.",
		"Use an operator AWS defines (StringEquals, BoolIfExists, NotIpAddress, ...), optionally with ForAnyValue:/ForAllValues: and IfExists.", []string{refOperators}},
	{RuleDuplicateSid, report.SeverityMedium, "Duplicate Sid",
		"IAM refuses a policy whose statement IDs repeat, so none of its protections is in force.",
		"Give every statement a unique Sid.", []string{refGrammar}},
	{RuleElement, report.SeverityMedium, "Unknown or misplaced policy element",
		"AWS refuses the document (an unknown element, or a statement without exactly one of Action and NotAction), so none of its protections is in force.",
		"Use the elements AWS defines: Version, Id, Statement; Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition.", []string{refGrammar}},
	{RuleValue, report.SeverityMedium, "Invalid value in a policy element",
		"AWS refuses the document, so none of its protections is in force.",
		"Write element values as a string or a list of strings, and conditions as objects of keys.", []string{refGrammar}},
	{RuleEmpty, report.SeverityMedium, "Policy has no statements",
		"The document grants and denies nothing; if it was meant as a guard, nothing is guarded.",
		"Add the statements, or remove the document.", []string{refGrammar}},
	{RuleUnknownAction, report.SeverityLow, "Action matches nothing in AWS's action catalogue",
		"A misspelt action (s3:GetObjectt) matches no request: in a Deny the action meant is not refused, so whatever the Deny was to stop gets through; in an Allow it grants nothing. A value without a service prefix makes AWS refuse the document.",
		"Spell the action as AWS's Service Authorization Reference does (keywarden suggests the closest known action). A service prefix keywarden does not know is reported as info: a service newer than the built-in catalogue, or a typo.", []string{refActions}},
	{RuleTFUnresolved, report.SeverityInfo, "Terraform or CloudFormation expression not evaluated",
		"Parts of this policy come from Terraform variables, resources or functions, or CloudFormation intrinsic functions, which keywarden does not evaluate; checks that depend on them were skipped.",
		"Lint the rendered or deployed policy too (terraform show -json, aws iam get-policy-version).", nil},
}

var ruleByID = sync.OnceValue(func() map[string]*rule {
	m := make(map[string]*rule, len(rules))
	for i := range rules {
		m[rules[i].ID] = &rules[i]
	}
	return m
})

// Rules returns the rule catalogue, for SARIF's rule list, --list-rules and
// the documentation.
func Rules() []report.Rule {
	out := make([]report.Rule, len(rules))
	for i, r := range rules {
		out[i] = report.Rule{ID: r.ID, Title: r.Title, Severity: r.Severity, Description: r.LongTerm, Remediation: r.Fix, References: r.Refs, Tags: []string{"iam", "policy"}}
	}
	return out
}

// problemRules maps iampolicy's structural problem codes to rules.
var problemRules = map[string]string{
	"version":       RuleVersion,
	"effect":        RuleEffect,
	"operator":      RuleOperator,
	"duplicate-sid": RuleDuplicateSid,
	"field":         RuleElement,
	"value":         RuleValue,
	"empty":         RuleEmpty,
}
