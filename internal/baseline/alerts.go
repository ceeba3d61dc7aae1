package baseline

// Alert is one EventBridge rule of the alerts part: an event pattern and
// the risk it answers. Global alerts match events that AWS delivers to
// EventBridge in us-east-1 only (IAM, the STS global endpoint, console
// sign-in, and account-wide Health events); they are deployed there
// whatever the home region.
type Alert struct {
	ID          string // short name: the rule is "<name>-<ID>"
	Description string
	Global      bool
	Pattern     map[string]any
}

const (
	apiCall       = "AWS API Call via CloudTrail"
	consoleSignIn = "AWS Console Sign In via CloudTrail"
)

func strs(s ...string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// cloudTrailPattern matches API calls of one service by event name.
func cloudTrailPattern(service string, names ...string) map[string]any {
	return map[string]any{
		"source":      strs("aws." + service),
		"detail-type": strs(apiCall),
		"detail": map[string]any{
			"eventSource": strs(service + ".amazonaws.com"),
			"eventName":   strs(names...),
		},
	}
}

func prefixes(p ...string) []any {
	out := make([]any, len(p))
	for i, v := range p {
		out[i] = map[string]any{"prefix": v}
	}
	return out
}

// Alerts are the rules of the alerts part, in render order.
func Alerts() []Alert {
	adminAttach := cloudTrailPattern("iam", "AttachUserPolicy", "AttachGroupPolicy", "AttachRolePolicy")
	adminAttach["detail"].(map[string]any)["requestParameters"] = map[string]any{
		"policyArn": strs("arn:aws:iam::aws:policy/AdministratorAccess"),
	}
	quarantine := cloudTrailPattern("iam", "AttachUserPolicy")
	quarantine["detail"].(map[string]any)["requestParameters"] = map[string]any{
		"policyArn": prefixes("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine"),
	}
	return []Alert{
		{ID: "access-key-changes", Global: true,
			Description: "An access key was created, changed or deleted: a leaked key's holder often makes a second one to keep access.",
			Pattern:     cloudTrailPattern("iam", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")},
		{ID: "mfa-device-removed", Global: true,
			Description: "An MFA device was deactivated or deleted: the first step to signing in without it.",
			Pattern:     cloudTrailPattern("iam", "DeactivateMFADevice", "DeleteVirtualMFADevice")},
		{ID: "login-profile-changes", Global: true,
			Description: "A console password was created or changed: turns a leaked key into console access.",
			Pattern:     cloudTrailPattern("iam", "CreateLoginProfile", "UpdateLoginProfile", "DeleteLoginProfile")},
		{ID: "admin-policy-attached", Global: true,
			Description: "AdministratorAccess was attached to a user, group or role: the classic privilege escalation.",
			Pattern:     adminAttach},
		{ID: "quarantine-policy-attached", Global: true,
			Description: "AWS attached its compromised-key quarantine policy: AWS found one of your keys in public. The key is still active.",
			Pattern:     quarantine},
		{ID: "root-activity", Global: true,
			Description: "The root user signed in or made an API call: it should almost never be used.",
			Pattern: map[string]any{
				"detail-type": strs(apiCall, consoleSignIn),
				"detail":      map[string]any{"userIdentity": map[string]any{"type": strs("Root")}},
			}},
		{ID: "console-signin-without-mfa", Global: true,
			Description: "A console sign-in without MFA succeeded.",
			Pattern: map[string]any{
				"source":      strs("aws.signin"),
				"detail-type": strs(consoleSignIn),
				"detail": map[string]any{
					"eventName":           strs("ConsoleLogin"),
					"additionalEventData": map[string]any{"MFAUsed": strs("No")},
					"responseElements":    map[string]any{"ConsoleLogin": strs("Success")},
				},
			}},
		{ID: "credentials-exposed", Global: true,
			Description: "AWS Health AWS_RISK_CREDENTIALS_EXPOSED: AWS telling you a key of yours is public.",
			Pattern: map[string]any{
				"source":      strs("aws.health"),
				"detail-type": strs("AWS Health Event"),
				"detail":      map[string]any{"eventTypeCode": strs("AWS_RISK_CREDENTIALS_EXPOSED")},
			}},
		{ID: "trail-changes",
			Description: "A trail was stopped, deleted or changed, or its event selectors were: intruders blind the logs first.",
			Pattern:     cloudTrailPattern("cloudtrail", "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors")},
		{ID: "detectors-disabled",
			Description: "GuardDuty, AWS Config or Security Hub was disabled or weakened.",
			Pattern: map[string]any{
				"source":      strs("aws.guardduty", "aws.config", "aws.securityhub"),
				"detail-type": strs(apiCall),
				"detail": map[string]any{
					"eventName": strs("DeleteDetector", "DisassociateFromMasterAccount", "DisassociateFromAdministratorAccount",
						"StopMonitoringMembers", "DeleteConfigurationRecorder", "StopConfigurationRecorder",
						"DeleteDeliveryChannel", "DisableSecurityHub"),
				},
			}},
		{ID: "guardduty-credential-findings",
			Description: "GuardDuty found IAM credential misuse or exfiltration.",
			Pattern: map[string]any{
				"source":      strs("aws.guardduty"),
				"detail-type": strs("GuardDuty Finding"),
				"detail": map[string]any{"type": prefixes(
					"UnauthorizedAccess:IAMUser/", "CredentialAccess:IAMUser/", "Exfiltration:IAMUser/",
					"Persistence:IAMUser/", "PrivilegeEscalation:IAMUser/", "Impact:IAMUser/",
					"Discovery:IAMUser/", "DefenseEvasion:IAMUser/", "InitialAccess:IAMUser/",
					"Policy:IAMUser/", "Stealth:IAMUser/", "PenTest:IAMUser/")},
			}},
	}
}
