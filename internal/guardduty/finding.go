// Package guardduty reads Amazon GuardDuty findings (as GuardDuty exports
// them to S3, as `aws guardduty get-findings` prints them, as EventBridge
// delivers them, or from the API) and keeps those about access keys and
// credentials, so `keywarden detect` can show them beside its own findings
// for the same key.
//
// Decoding works on an io.Reader and does no other I/O; listing files and
// S3 objects is the caller's, calling the API is FromAPI's.
package guardduty

import (
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/report"
)

// Finding is the part of a GuardDuty finding that says which key or
// credential it is about, what GuardDuty saw, and when.
type Finding struct {
	ID          string
	Arn         string
	Type        string
	Title       string
	Description string
	AccountID   string
	Region      string
	// Severity is GuardDuty's number, 0.1 to 10 (9 and above critical).
	Severity  float64
	CreatedAt time.Time
	UpdatedAt time.Time
	// FirstSeen and LastSeen are the activity's (service.eventFirstSeen,
	// eventLastSeen); Count is how often GuardDuty saw it.
	FirstSeen time.Time
	LastSeen  time.Time
	Count     int
	Archived  bool

	// From resource.accessKeyDetails.
	AccessKeyID string
	PrincipalID string
	UserName    string
	UserType    string

	// From service.action.awsApiCallAction.
	API           string
	ServiceName   string
	RemoteIP      string
	RemoteCountry string
	RemoteOrg     string
}

// credentialTypes are the finding type prefixes about keys and
// credentials (GuardDuty's "IAMUser" resource family, credential access
// of any resource, and the instance credential theft findings), from
// https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-iam.html
// and guardduty_finding-types-ec2.html.
var credentialTypes = []string{
	"CredentialAccess:",
	"DefenseEvasion:IAMUser/",
	"Discovery:IAMUser/",
	"Exfiltration:IAMUser/",
	"Impact:IAMUser/",
	"InitialAccess:IAMUser/",
	"PenTest:IAMUser/",
	"Persistence:IAMUser/",
	"Policy:IAMUser/",
	"PrivilegeEscalation:IAMUser/",
	"Recon:IAMUser/",
	"Stealth:IAMUser/",
	"UnauthorizedAccess:IAMUser/",
	"UnauthorizedAccess:EC2/MetadataDNSRebind",
}

// AboutCredentials reports whether the finding is about an access key or
// a credential: it names an access key, or its type is one of the IAM
// user and credential access families.
func (f *Finding) AboutCredentials() bool {
	if f.AccessKeyID != "" {
		return true
	}
	for _, p := range credentialTypes {
		if strings.HasPrefix(f.Type, p) {
			return true
		}
	}
	return false
}

// Level maps GuardDuty's severity number to keywarden's severities:
// GuardDuty calls 1.0-3.9 low, 4.0-6.9 medium, 7.0-8.9 high and 9.0-10.0
// critical (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html).
func (f *Finding) Level() report.Severity {
	switch {
	case f.Severity >= 9:
		return report.SeverityCritical
	case f.Severity >= 7:
		return report.SeverityHigh
	case f.Severity >= 4:
		return report.SeverityMedium
	case f.Severity > 0:
		return report.SeverityLow
	}
	return report.SeverityInfo
}

// Actor is who the finding is about: the access key ID, else the user
// name, else the account.
func (f *Finding) Actor() string {
	switch {
	case f.AccessKeyID != "":
		return f.AccessKeyID
	case f.UserName != "":
		return f.UserName
	}
	return "account " + f.AccountID
}
