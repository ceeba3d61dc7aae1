package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// DefaultActions are the sensitive actions the exposure checks ask about:
// what an attacker holding a leaked key reaches for first. They take over
// identities (IAM, STS), read data and secrets, run compute (and so
// spend), destroy things, and blind the defenders. The list is short on
// purpose: each answer names the statement that allows it, so a reader can
// follow every one. --actions FILE replaces it.
var DefaultActions = []string{
	// identity takeover and persistence
	"iam:CreateUser",
	"iam:CreateAccessKey",
	"iam:CreateLoginProfile",
	"iam:UpdateLoginProfile",
	"iam:AttachUserPolicy",
	"iam:PutUserPolicy",
	"iam:AttachRolePolicy",
	"iam:CreatePolicyVersion",
	"iam:UpdateAssumeRolePolicy",
	"iam:PassRole",
	"iam:DeactivateMFADevice",
	"iam:DeleteVirtualMFADevice",
	"sts:AssumeRole",
	"sts:GetFederationToken",
	// data and secrets
	"s3:ListAllMyBuckets",
	"s3:GetObject",
	"s3:PutObject",
	"s3:DeleteObject",
	"s3:PutBucketPolicy",
	"secretsmanager:GetSecretValue",
	"ssm:GetParameter",
	"kms:Decrypt",
	"dynamodb:Scan",
	"rds:CreateDBSnapshot",
	"ec2:CreateSnapshot",
	// compute, spend and remote execution
	"ec2:RunInstances",
	"ec2:AuthorizeSecurityGroupIngress",
	"lambda:CreateFunction",
	"lambda:UpdateFunctionCode",
	"ssm:SendCommand",
	"ecr:GetAuthorizationToken",
	// destruction
	"ec2:TerminateInstances",
	"s3:DeleteBucket",
	"rds:DeleteDBInstance",
	"kms:ScheduleKeyDeletion",
	// blinding the defenders
	"cloudtrail:StopLogging",
	"cloudtrail:DeleteTrail",
	"guardduty:DeleteDetector",
	"organizations:LeaveOrganization",
}

// ParseActions reads an action list: one action per line ("service:Name"),
// blank lines and "#" comments ignored. name is used in errors.
func ParseActions(name string, data []byte) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !validAction(s) {
			return nil, fmt.Errorf("%s:%d: %q is not an action (want service:ActionName, e.g. iam:CreateAccessKey)", name, line, clip(s))
		}
		if key := strings.ToLower(s); !seen[key] {
			seen[key] = true
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no actions listed", name)
	}
	return out, nil
}

func validAction(s string) bool {
	i := strings.IndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || strings.Count(s, ":") != 1 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ':' || c == '-' || c == '*' || c == '?' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
