// Package respond handles one leaked AWS access key from start to end:
// identify whose it is and what it can do, contain it (deactivate it,
// revoke the sessions already issued from it, contain the keys it
// created), investigate what it did from CloudTrail, and write it all down
// in a report that also says how to undo every change.
//
// The shape follows DESIGN.md: what is read from AWS (Identify, the
// CloudTrail events) goes into pure functions (Plan, Investigate, the key
// graph) that decide what to do; Execute then makes the planned calls
// through a small interface, so --dry-run prints exactly the plan that
// would run, and tests drive the same code against moto_server.
package respond

import (
	"time"

	"github.com/keywarden/keywarden/internal/audit"
)

// Status is where one step of the containment stands.
type Status string

// Step statuses.
const (
	// Planned: computed, not (yet) made. A --dry-run leaves every step here.
	Planned Status = "planned"
	// Done: the call succeeded.
	Done Status = "done"
	// Failed: the call was made and AWS refused it (Error says why).
	Failed Status = "failed"
	// NotDone: an earlier step failed, so this one was not attempted.
	NotDone Status = "not-done"
	// Already: the account was already in the wanted state (an earlier
	// run, or someone else, did it); nothing was changed.
	Already Status = "already-done"
	// Declined: the step needs confirmation and did not get it.
	Declined Status = "declined"
)

// Report is everything one run of `keywarden respond` found and did. It
// is written as JSON (and read back by --undo), so its field names are a
// format: add fields, never rename them.
type Report struct {
	Tool     string    `json:"tool"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	DryRun   bool      `json:"dry_run"`
	// KeyID is the key the user asked about; Subject is the long-term key
	// responded to (the same, or the key behind an ASIA session).
	KeyID   string `json:"key_id"`
	Subject string `json:"subject_key_id"`

	Identity *Identity `json:"identity"`
	// Stopped says why the response stopped after identifying the key
	// (another account, a root key, an unknown key); Advice what to do.
	Stopped string   `json:"stopped,omitempty"`
	Advice  []string `json:"advice,omitempty"`

	Steps []*Step `json:"steps"`
	// Persistence lists what the key created or changed that keywarden
	// does not undo by itself, each with the command that undoes it.
	Persistence []Resource `json:"persistence,omitempty"`
	// RoleSessions are the roles the key assumed (their sessions outlive
	// the key unless --revoke-role-sessions).
	RoleSessions []string `json:"role_sessions,omitempty"`

	Investigation *Investigation `json:"investigation,omitempty"`
	ToDo          []string       `json:"to_do"`
	// UndoOf names the report an --undo run reversed.
	UndoOf string `json:"undo_of,omitempty"`
}

// Identity is what the Identify stage learnt about the key.
type Identity struct {
	KeyID string `json:"key_id"`
	// Kind is "long-term" (AKIA) or "temporary" (ASIA).
	Kind string `json:"kind"`
	// KeyAccount is the account decoded from the ID offline ("" for IDs
	// that predate the encoding); CallerAccount the account of the
	// credentials keywarden runs with.
	KeyAccount    string `json:"key_account,omitempty"`
	CallerAccount string `json:"caller_account,omitempty"`
	CallerARN     string `json:"caller_arn,omitempty"`

	Root     bool      `json:"root,omitempty"`
	User     string    `json:"user,omitempty"`
	UserARN  string    `json:"user_arn,omitempty"`
	Status   string    `json:"status,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	LastUsed *LastUse  `json:"last_used,omitempty"`

	OtherKeys       []KeyState `json:"other_keys,omitempty"`
	MFADevices      []string   `json:"mfa_devices,omitempty"`
	ConsolePassword bool       `json:"console_password"`
	Groups          []string   `json:"groups,omitempty"`
	// Policies name every policy that applies: "inline:NAME",
	// "group/G/inline:NAME", or a managed policy's ARN.
	Policies []string `json:"policies,omitempty"`
	// Exposure is what the key can do without MFA and from any address,
	// evaluated with the audit's engine.
	Exposure *audit.Exposure `json:"exposure,omitempty"`
	// ExposureProblem says why the exposure could not be evaluated.
	ExposureProblem string `json:"exposure_problem,omitempty"`

	// What is already in place (from an earlier run): the names of the
	// user's inline policies and attached managed policies.
	InlinePolicies   []string `json:"-"`
	AttachedPolicies []string `json:"-"`

	// Session: for an ASIA key, how it was made and from which key.
	Session *SessionOrigin `json:"session,omitempty"`
}

// LastUse is the key's last use as IAM records it.
type LastUse struct {
	Date    time.Time `json:"date"`
	Service string    `json:"service,omitempty"`
	Region  string    `json:"region,omitempty"`
}

// KeyState is one access key and its status.
type KeyState struct {
	ID      string    `json:"id"`
	User    string    `json:"user,omitempty"`
	Status  string    `json:"status"`
	Created time.Time `json:"created,omitzero"`
}

// SessionOrigin says where an ASIA key came from, as CloudTrail recorded
// it.
type SessionOrigin struct {
	EventName string    `json:"event_name"`
	EventTime time.Time `json:"event_time"`
	// ParentKey is the key that made the call (an AKIA key, or another
	// session); RoleARN the role assumed, for AssumeRole.
	ParentKey string `json:"parent_key_id,omitempty"`
	ParentARN string `json:"parent_arn,omitempty"`
	RoleARN   string `json:"role_arn,omitempty"`
}

// Resource is something the key created or changed, found in CloudTrail.
type Resource struct {
	Kind    string    `json:"kind"`
	ARN     string    `json:"arn"`
	Region  string    `json:"region,omitempty"`
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
	KeyID   string    `json:"key_id"`
	EventID string    `json:"event_id,omitempty"`
	// Undo is the command that removes or reverses it (review it first).
	Undo string `json:"undo,omitempty"`
	// Contained says the response took care of it (a created access key
	// that was deactivated).
	Contained bool `json:"contained,omitempty"`
}
