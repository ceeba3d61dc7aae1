// Package audit runs keywarden's checks over an account inventory and
// returns findings: the usual hygiene (old, unused, doubled and forgotten
// keys, root keys, MFA), and what no benchmark asks: whether each active key
// can still act without MFA, or from any address, judged by evaluating the
// owner's real policies the way AWS does (package iameval).
//
// It does no I/O and reads no clock: the caller passes the inventory and
// the time, so a test pins both and a report can be reproduced.
package audit

import (
	"github.com/keywarden/keywarden/internal/report"
)

// Check ids.
const (
	RuleKeyTooOld        = "kw-audit-key-too-old"
	RuleKeyUnused        = "kw-audit-key-unused"
	RuleTwoActiveKeys    = "kw-audit-two-active-keys"
	RuleInitialSetupKey  = "kw-audit-initial-setup-key"
	RuleInactiveKey      = "kw-audit-inactive-key"
	RuleRootAccessKey    = "kw-audit-root-access-key"
	RuleRootNoMFA        = "kw-audit-root-no-mfa"
	RuleConsoleNoMFA     = "kw-audit-console-no-mfa"
	RuleKeyUserNoMFA     = "kw-audit-key-user-no-mfa"
	RuleKeyWithoutMFA    = "kw-audit-key-usable-without-mfa"
	RuleKeyFromAnywhere  = "kw-audit-key-usable-from-anywhere"
	RuleRoleWouldDo      = "kw-audit-role-would-do"
	RuleIncompletePolicy = "kw-audit-policy-data-incomplete"

	RulePasswordLength     = "kw-audit-password-min-length"
	RulePasswordReuse      = "kw-audit-password-reuse"
	RulePasswordExpiry     = "kw-audit-password-expiry"
	RulePasswordComplexity = "kw-audit-password-complexity"
	RuleRootUsed           = "kw-audit-root-used"
	RuleRootVirtualMFA     = "kw-audit-root-virtual-mfa"
	RulePasswordUnused     = "kw-audit-password-unused"
	RuleUserDirectPolicy   = "kw-audit-user-direct-policy"
	RuleAdminPolicy        = "kw-audit-admin-policy"
	RuleKeyDateInvalid     = "kw-audit-key-date-invalid"
)

// Need is the data a check needs.
type Need uint8

// The data sources a check may need.
const (
	NeedReport         Need = 1 << iota // the credential report
	NeedDetails                         // the authorization details (policies)
	NeedEngine                          // the policy evaluation engine
	NeedPasswordPolicy                  // the account's password policy
	NeedMFADevices                      // the MFA devices themselves (live)
)

// Check describes one check: its id, severity, the controls it maps to,
// and how to fix what it finds.
type Check struct {
	ID          string
	Title       string
	Severity    report.Severity
	SecurityHub string // Security Hub control id, e.g. "IAM.3"
	CIS         string // CIS AWS Foundations Benchmark v3.0 recommendation
	Description string
	Remediation string
	References  []string
	Needs       Need
}

// Controls renders the mapped controls: "Security Hub IAM.3, CIS 1.14".
func (c Check) Controls() string {
	s := ""
	if c.SecurityHub != "" {
		s = "Security Hub " + c.SecurityHub
	}
	if c.CIS != "" {
		if s != "" {
			s += ", "
		}
		s += "CIS " + c.CIS
	}
	return s
}

const (
	refRotate  = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#rotating_access_keys_console"
	refUnused  = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html"
	refRoot    = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_add-key.html"
	refMFA     = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html"
	refMFAPol  = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent"
	refSrcIP   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceip"
	refRoles   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#bp-workloads-use-roles"
	refSHubIAM = "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html"
	refPwPol   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html"
	refRootUse = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management"
	refGroups  = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_groups_manage_attach-policy.html"
	refLeast   = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
	refCIS     = "https://www.cisecurity.org/benchmark/amazon_web_services"
)

// Checks is the catalogue, in the order findings are explained in docs.
var Checks = []Check{
	{ID: RuleRootAccessKey, Title: "The root user has an access key", Severity: report.SeverityCritical,
		SecurityHub: "IAM.4", CIS: "1.4", Needs: NeedReport,
		Description: "A root access key can do anything in the account and no IAM policy can restrict it; only SCPs can.",
		Remediation: "Delete the root user's access keys (sign in as root: Security credentials > Access keys). Use IAM users or roles, with `keywarden add` and `keywarden exec` on laptops.",
		References:  []string{refRoot, refSHubIAM}},
	{ID: RuleRootNoMFA, Title: "The root user has no MFA", Severity: report.SeverityCritical,
		SecurityHub: "IAM.9", CIS: "1.5", Needs: NeedReport,
		Description: "Whoever learns the root password owns the account.",
		Remediation: "Enable MFA on the root user (sign in as root: Security credentials > Assign MFA device), preferably a hardware or passkey device.",
		References:  []string{refMFA, refSHubIAM}},
	{ID: RuleKeyWithoutMFA, Title: "Access key usable without MFA", Severity: report.SeverityCritical, Needs: NeedReport | NeedDetails | NeedEngine,
		Description: "The owner's policies, evaluated as AWS does for a request signed with the long-term key (aws:MultiFactorAuthPresent absent), allow sensitive actions: a leaked key can use them. The severity follows the reach: critical for administrator power (every sensitive action, or a published privilege-escalation path), high for actions that change things, medium for reads, low for listings; one step lower for what is only perhaps allowed, or when the user's keys are unknown.",
		Remediation: "Attach a deny that binds long-term keys: `keywarden policy mfa --group GROUP --member USER` generates one (Deny with BoolIfExists aws:MultiFactorAuthPresent false); users then work through `keywarden exec PROFILE` MFA sessions. Check a policy with `keywarden policy lint FILE`.",
		References:  []string{refMFAPol}},
	{ID: RuleKeyFromAnywhere, Title: "Access key usable from any address", Severity: report.SeverityCritical, Needs: NeedReport | NeedDetails | NeedEngine,
		Description: "The owner's policies allow sensitive actions for a call signed with the long-term key from an address an attacker controls: outside the allowed networks (--allowed-cidr) and every network the account's policies name, with no VPC endpoint or AWS service in between. Without --allowed-cidr, when the answers are those of the without-MFA check, that finding says both and this one is not repeated. The severity follows the reach, as for the without-MFA check.",
		Remediation: "Restrict where keys work: `keywarden policy mfa --group GROUP --allow-cidr CIDR` adds a network deny (NotIpAddress aws:SourceIp, kept working for VPC endpoints with --allow-vpce and for AWS services calling on the user's behalf).",
		References:  []string{refSrcIP}},
	{ID: RuleConsoleNoMFA, Title: "Console user without MFA", Severity: report.SeverityHigh,
		SecurityHub: "IAM.5", CIS: "1.10", Needs: NeedReport,
		Description: "The user has a console password and no MFA device.",
		Remediation: "Have the user enrol an MFA device (IAM console > Users > Security credentials > Assign MFA), then enforce it with `keywarden policy mfa --group GROUP`.",
		References:  []string{refMFA, refSHubIAM}},
	{ID: RuleKeyTooOld, Title: "Active access key older than the maximum age", Severity: report.SeverityMedium,
		SecurityHub: "IAM.3", CIS: "1.14", Needs: NeedReport,
		Description: "Long-term keys never expire; rotating them bounds how long a leaked copy stays useful.",
		Remediation: "The key's owner runs `keywarden rotate PROFILE` (creates a new key, stores it, checks it works, deactivates then deletes the old one).",
		References:  []string{refRotate, refSHubIAM}},
	{ID: RuleKeyUnused, Title: "Active access key unused", Severity: report.SeverityMedium,
		SecurityHub: "IAM.22", CIS: "1.12", Needs: NeedReport,
		Description: "An active key not used for the maximum unused period, or never used and older than it. Unlike most tools, a key never used does not pass forever: it is judged by its age.",
		Remediation: "Deactivate it (`aws iam update-access-key --status Inactive`), then delete it; if it is still needed, the owner runs `keywarden rotate PROFILE` instead.",
		References:  []string{refUnused, refSHubIAM}},
	{ID: RuleKeyUserNoMFA, Title: "User with active keys and no MFA device", Severity: report.SeverityMedium,
		SecurityHub: "IAM.19", Needs: NeedReport,
		Description: "Without an MFA device the user cannot get MFA sessions, so MFA cannot be required of the keys without locking the user out: the key alone is the whole credential.",
		Remediation: "Enrol an MFA device for the user, keep the key in `keywarden add` and use it through `keywarden exec PROFILE` MFA sessions, then enforce with `keywarden policy mfa --group GROUP`.",
		References:  []string{refMFA, refSHubIAM}},
	{ID: RuleTwoActiveKeys, Title: "User with two active access keys", Severity: report.SeverityLow,
		CIS: "1.13", Needs: NeedReport,
		Description: "Two active keys are normal only during a rotation; otherwise one is usually forgotten somewhere.",
		Remediation: "Finish the rotation: `keywarden rotate PROFILE` replaces a key and deactivates the old one; delete the key that is no longer used.",
		References:  []string{refRotate}},
	{ID: RuleInitialSetupKey, Title: "Access key created with the user (initial setup)", Severity: report.SeverityLow,
		CIS: "1.11", Needs: NeedReport,
		Description: "A console user whose key was created together with the user: keys handed out by default at setup are often unneeded.",
		Remediation: "Delete the key if the user does not need programmatic access; otherwise the owner runs `keywarden rotate PROFILE` to replace it with one created deliberately.",
		References:  []string{refRotate}},
	{ID: RuleInactiveKey, Title: "Inactive access key left in place", Severity: report.SeverityLow, Needs: NeedReport,
		Description: "An inactive key can be reactivated by anyone with iam:UpdateAccessKey; if it is not needed it should not exist.",
		Remediation: "Delete it: `aws iam delete-access-key --user-name USER --access-key-id ID` (`keywarden rotate PROFILE` deletes the old key itself when it finishes).",
		References:  []string{refUnused}},
	{ID: RuleRoleWouldDo, Title: "Programmatic user whose keys serve a single service (a role would do)", Severity: report.SeverityInfo, Needs: NeedReport,
		Description: "A user without a console password whose every active key was last used by one AWS service: typically a workload that could use an IAM role (instance profile, task role, Lambda role, IAM Roles Anywhere) with temporary credentials instead of a long-term key.",
		Remediation: "Give the workload a role, move it to the role's credentials, then delete the key. `keywarden detect` on CloudTrail shows where the key is used from.",
		References:  []string{refRoles}},
	{ID: RuleIncompletePolicy, Title: "Policy data incomplete for a user", Severity: report.SeverityInfo, Needs: NeedDetails,
		Description: "A managed policy, group or permissions boundary attached to the user is missing from the authorization details, or one of the user's or groups' inline policies could not be read, so the exposure checks may understate (or, for a missing boundary or Deny, overstate) what the user's keys can do.",
		Remediation: "Export the full authorization details (`aws iam get-account-authorization-details` without --filter) or audit live with `keywarden audit --profile PROFILE`."},
	// Account checks, as CIS and Prowler run them: the password policy,
	// the root user's use and MFA, console passwords, how policies are
	// attached, and data errors.
	{ID: RulePasswordLength, Title: "Password policy allows passwords shorter than 14 characters", Severity: report.SeverityMedium,
		SecurityHub: "IAM.15", CIS: "1.8", Needs: NeedPasswordPolicy,
		Description: "CIS 1.8 (v3.0; 1.9 in v1.2): the account password policy must require at least 14 characters. Without a policy AWS requires 8.",
		Remediation: "`aws iam update-account-password-policy --minimum-password-length 14` (give every other setting too: the call replaces the whole policy), then `keywarden audit` again.",
		References:  []string{refPwPol, refCIS, refSHubIAM}},
	{ID: RulePasswordReuse, Title: "Password policy does not prevent reusing the last 24 passwords", Severity: report.SeverityMedium,
		SecurityHub: "IAM.16", CIS: "1.9", Needs: NeedPasswordPolicy,
		Description: "CIS 1.9 (v3.0; 1.10 in v1.2): the account password policy must prevent reusing the last 24 passwords.",
		Remediation: "`aws iam update-account-password-policy --password-reuse-prevention 24` (with the other settings: the call replaces the whole policy), then `keywarden audit` again.",
		References:  []string{refPwPol, refCIS, refSHubIAM}},
	{ID: RulePasswordExpiry, Title: "Password policy lets passwords live longer than 90 days", Severity: report.SeverityLow,
		SecurityHub: "IAM.17", Needs: NeedPasswordPolicy,
		Description: "CIS v1.2 1.11: when passwords expire, they must expire within 90 days. (CIS v3.0 dropped the item, following NIST SP 800-63B; a policy that sets no expiry passes.)",
		Remediation: "`aws iam update-account-password-policy --max-password-age 90` (with the other settings), or no expiry at all; then `keywarden audit` again.",
		References:  []string{refPwPol, refCIS, refSHubIAM}},
	{ID: RulePasswordComplexity, Title: "Password policy does not require a character class", Severity: report.SeverityLow,
		SecurityHub: "IAM.7", Needs: NeedPasswordPolicy,
		Description: "CIS v1.2 1.5 to 1.8 (Security Hub IAM.11 to IAM.14): the password policy must require an uppercase letter, a lowercase letter, a symbol and a number; one finding per class missing. CIS v3.0 relies on length instead.",
		Remediation: "`aws iam update-account-password-policy --require-uppercase-characters --require-lowercase-characters --require-symbols --require-numbers` (with the other settings), then `keywarden audit` again.",
		References:  []string{refPwPol, refCIS, refSHubIAM}},
	{ID: RuleRootUsed, Title: "The root user was used recently", Severity: report.SeverityHigh,
		CIS: "1.7", Needs: NeedReport,
		Description: "The credential report shows the root user's password or an access key used within the last 30 days: the root user must not serve daily or administrative work.",
		Remediation: "Find out who used it and why (`keywarden detect` on CloudTrail: the userIdentity type Root); do the work with an IAM role or user instead, and keep the root credentials locked away.",
		References:  []string{refRootUse, refCIS}},
	{ID: RuleRootVirtualMFA, Title: "The root user's MFA is a virtual device", Severity: report.SeverityHigh,
		SecurityHub: "IAM.6", CIS: "1.6", Needs: NeedMFADevices,
		Description: "The root user's MFA device is an authenticator app (ListVirtualMFADevices lists it), which lives on a phone or laptop with everything else; CIS asks for a hardware device.",
		Remediation: "Sign in as root and replace the virtual device with a hardware TOTP token or a FIDO security key (Security credentials > Multi-factor authentication), then `keywarden audit --profile PROFILE` again.",
		References:  []string{refMFA, refCIS, refSHubIAM}},
	{ID: RulePasswordUnused, Title: "Console password unused", Severity: report.SeverityMedium,
		SecurityHub: "IAM.22", CIS: "1.12", Needs: NeedReport,
		Description: "A console password not used for the maximum unused period (--max-unused, 45 days), or never used and set longer ago than that.",
		Remediation: "Remove the console password: `aws iam delete-login-profile --user-name USER`; give it back when the user needs it, with MFA enforced by `keywarden policy mfa --group GROUP --member USER`.",
		References:  []string{refUnused, refSHubIAM}},
	{ID: RuleUserDirectPolicy, Title: "Policies attached directly to a user", Severity: report.SeverityLow,
		SecurityHub: "IAM.2", CIS: "1.15", Needs: NeedDetails,
		Description: "The user has managed policies attached or inline policies of its own: permissions should come through groups (or roles), where they can be seen and reviewed together.",
		Remediation: "Move the policies to a group and add the user to it: `aws iam add-user-to-group --user-name USER --group-name GROUP`, then detach or delete the user's own; `keywarden policy mfa --group GROUP --member USER` adds the MFA guard to the same group.",
		References:  []string{refGroups, refCIS, refSHubIAM}},
	{ID: RuleAdminPolicy, Title: "Policy grants full administrative privileges", Severity: report.SeverityHigh,
		SecurityHub: "IAM.1", CIS: "1.16", Needs: NeedDetails,
		Description: "A customer-managed or inline policy has an unconditional Allow of every action (\"*\") on every resource (\"*\"): reported per policy, with what it is attached to.",
		Remediation: "Replace it with the actions the principals need (`keywarden policy lint FILE` checks the result); keep administrator access on a role assumed with MFA.",
		References:  []string{refLeast, refCIS, refSHubIAM}},
	{ID: RuleKeyDateInvalid, Title: "Access key created in the future (data error)", Severity: report.SeverityInfo, Needs: NeedReport,
		Description: "The export dates the key's creation after the audit: its age and use cannot be judged, so the age and unused checks leave it out rather than call it unused.",
		Remediation: "Export the credential report again (`aws iam generate-credential-report`) or audit live (`keywarden audit --profile PROFILE`); check the clock of whatever produced the export.",
		References:  []string{refUnused}},
}

// CheckByID returns the check with id, or nil.
func CheckByID(id string) *Check {
	for i := range Checks {
		if Checks[i].ID == id {
			return &Checks[i]
		}
	}
	return nil
}

// Rules returns the catalogue as report rules (for SARIF), tagged with the
// controls each maps to.
func Rules() []report.Rule {
	out := make([]report.Rule, 0, len(Checks))
	for _, c := range Checks {
		r := report.Rule{ID: c.ID, Title: c.Title, Severity: c.Severity, Description: c.Description,
			Remediation: c.Remediation, References: c.References, Tags: []string{"aws", "iam"}}
		if c.SecurityHub != "" {
			r.Tags = append(r.Tags, "securityhub:"+c.SecurityHub)
		}
		if c.CIS != "" {
			r.Tags = append(r.Tags, "cis-aws-foundations:"+c.CIS)
		}
		out = append(out, r)
	}
	return out
}
