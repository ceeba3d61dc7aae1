// Package inventory is an account's identity data in one model: users,
// groups, roles, managed and inline policies (default versions), permission
// boundaries, access keys, MFA devices, password state and the root user.
//
// It is filled either live (see Load) or from the exports an administrator
// can hand over without giving keywarden any access: the credential report
// and the authorization details. Each source knows only part of the account,
// so the model records which sources it was built from and the auditor says
// which checks it could not run.
package inventory

import (
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// Account is everything keywarden knows about one AWS account.
type Account struct {
	// ID is the 12-digit account ID, when any source names it.
	ID string
	// Users are the IAM users, sorted by name. The root user is not here.
	Users []*User
	// Groups by name.
	Groups map[string]*Group
	// Roles are listed for completeness; the audit of keys does not use them.
	Roles []*Role
	// Policies are the managed policies, by ARN, with their default version.
	Policies map[string]*ManagedPolicy
	// SCPs are the organisation's service control policies that apply to
	// the account. Each inner list is one level of the organisation (root,
	// OU..., account): a request must be allowed at every level.
	SCPs [][]*iampolicy.Policy
	// Root is the root user, when the credential report was read.
	Root *Root
	// Summary is GetAccountSummary's map (live only).
	Summary map[string]int32
	// PasswordPolicy is the account's password policy; nil when unknown
	// (not read), Exists false when the account has none.
	PasswordPolicy *PasswordPolicy
	// Sources says what the model was built from.
	Sources Sources
	// ReportGenerated is when the credential report was generated (zero
	// when unknown).
	ReportGenerated time.Time
	// ReportLacksLastUse is set by an old credential report without the
	// keys' last-used columns: no key's last use is known from it.
	ReportLacksLastUse bool
	// Warnings are oddities met while loading that the user should know
	// about (a user listed twice, a managed policy missing from the export).
	Warnings []string

	byName map[string]*User
}

// Sources records which data the account was built from. The auditor runs
// only the checks these support.
type Sources struct {
	// CredentialReport: users' passwords, MFA, keys' age and last use, root.
	CredentialReport bool `json:"credential_report"`
	// AuthorizationDetails: users, groups, policies, boundaries.
	AuthorizationDetails bool `json:"authorization_details"`
	// KeyIDs: access key IDs (ListAccessKeys, live only; the credential
	// report has slots, not IDs).
	KeyIDs bool `json:"key_ids"`
	// MFADevices: the devices themselves (live only; the report has a flag).
	MFADevices bool `json:"mfa_devices"`
	// SCPs: service control policies were given.
	SCPs bool `json:"scps"`
	// PasswordPolicy: the account's password policy was read.
	PasswordPolicy bool `json:"password_policy"`
	// Live: read from the AWS API.
	Live bool `json:"live"`
	// Files names the export files read.
	Files []string `json:"files,omitempty"`
}

// Tri is a fact that a source may not know.
type Tri int8

// Tri values. Unknown is the zero value on purpose: a field never filled
// is not silently false.
const (
	Unknown Tri = iota
	No
	Yes
)

func (t Tri) String() string {
	switch t {
	case Yes:
		return "yes"
	case No:
		return "no"
	}
	return "unknown"
}

// TriOf turns a bool into Yes or No.
func TriOf(b bool) Tri {
	if b {
		return Yes
	}
	return No
}

// User is one IAM user.
type User struct {
	Name    string
	ARN     string
	ID      string
	Path    string
	Created time.Time
	Tags    map[string]string

	// Groups the user belongs to, by name.
	Groups []string
	// Inline policies, each with Policy.File "user/NAME/inline/POLICY".
	Inline []*iampolicy.Policy
	// UnreadableInline names inline policies that did not parse and are
	// left out of Inline: the user's policy data is incomplete.
	UnreadableInline []string
	// Managed policy ARNs attached to the user.
	Managed []string
	// Boundary is the ARN of the permissions boundary, if any.
	Boundary string

	Password Password
	// MFAActive says whether the user has an MFA device enabled.
	MFAActive Tri
	// MFADevices lists the devices (live only).
	MFADevices []MFADevice
	// Keys are the user's access keys: at most two.
	Keys []*AccessKey
	// CertActive says whether a signing certificate is active (report).
	CertActive Tri

	// InReport and InDetails say which export named the user.
	InReport, InDetails bool
}

// Password is the console password's state.
type Password struct {
	Enabled Tri
	// LastUsed is zero when never used or unknown; LastUsedState says which.
	LastUsed      time.Time
	LastUsedState Usage
	LastChanged   time.Time
	NextRotation  time.Time
}

// Usage says what is known about when a credential was last used.
type Usage int8

// Usage values.
const (
	// UsageUnknown: the source cannot tell (no_information, an old report
	// without the column, or no source at all).
	UsageUnknown Usage = iota
	// UsageNever: the credential has never been used (N/A).
	UsageNever
	// UsageUsed: LastUsed holds the date.
	UsageUsed
)

func (u Usage) String() string {
	switch u {
	case UsageNever:
		return "never"
	case UsageUsed:
		return "used"
	}
	return "unknown"
}

// AccessKey is one access key of a user or of the root user.
type AccessKey struct {
	// ID is the access key ID; empty when only the credential report was
	// read (it names slots, not keys).
	ID string
	// Slot is 1 or 2: the credential report's access_key_1/_2 columns, in
	// order of creation.
	Slot   int
	Active bool
	// Created is the key's creation date (the report's last_rotated).
	Created time.Time
	// LastUsed is valid when LastUsedState is UsageUsed.
	LastUsed        time.Time
	LastUsedState   Usage
	LastUsedService string
	LastUsedRegion  string
}

// Label names the key for people: its ID redacted to the last four
// characters when known, else its slot.
func (k *AccessKey) Label() string {
	if k.ID != "" {
		return awskey.RedactTail(k.ID)
	}
	if k.Slot == 2 {
		return "key 2"
	}
	return "key 1"
}

// MFADevice is one MFA device of a user.
type MFADevice struct {
	Serial  string
	Enabled time.Time
	// Virtual is true for authenticator apps (ListVirtualMFADevices).
	Virtual bool
}

// Root is the account's root user, from the credential report (or, live,
// from GetAccountSummary when the report is unavailable).
type Root struct {
	ARN       string
	Created   time.Time
	MFAActive Tri
	Password  Password
	Keys      []*AccessKey
	// KeysPresent is GetAccountSummary's AccountAccessKeysPresent, for when
	// the report's slots are not available.
	KeysPresent Tri
	// MFAVirtual says whether a virtual MFA device is assigned to the root
	// user (ListVirtualMFADevices lists it with the root ARN); Unknown when
	// no source shows it.
	MFAVirtual Tri
}

// Group is one IAM group.
type Group struct {
	Name    string
	ARN     string
	ID      string
	Inline  []*iampolicy.Policy
	Managed []string
	// UnreadableInline names inline policies that did not parse.
	UnreadableInline []string
}

// Role is one IAM role.
type Role struct {
	Name     string
	ARN      string
	Inline   []*iampolicy.Policy
	Managed  []string
	Boundary string
	Trust    *iampolicy.Policy
}

// ManagedPolicy is a managed policy with its default version parsed.
type ManagedPolicy struct {
	ARN              string
	Name             string
	DefaultVersionID string
	// Document is the default version, with File set to the ARN. Nil when
	// the export did not include the default version.
	Document *iampolicy.Policy
}

// New returns an empty account.
func New() *Account {
	return &Account{Groups: map[string]*Group{}, Policies: map[string]*ManagedPolicy{}, byName: map[string]*User{}}
}

// User returns the user named name, or nil.
func (a *Account) User(name string) *User {
	if a.byName == nil {
		a.reindex()
	}
	return a.byName[name]
}

func (a *Account) reindex() {
	a.byName = make(map[string]*User, len(a.Users))
	for _, u := range a.Users {
		a.byName[u.Name] = u
	}
}

// userFor returns the user named name, creating it when absent.
func (a *Account) userFor(name string) (*User, bool) {
	if u := a.User(name); u != nil {
		return u, false
	}
	u := &User{Name: name}
	a.Users = append(a.Users, u)
	a.byName[name] = u
	return u, true
}

// sortUsers orders users by name so every output is stable.
func (a *Account) sortUsers() {
	sort.Slice(a.Users, func(i, j int) bool { return a.Users[i].Name < a.Users[j].Name })
}

func (a *Account) warnf(s string) { a.Warnings = append(a.Warnings, s) }

// EffectivePolicies returns what AWS evaluates for a request by u: the
// user's inline and managed policies, and each group's inline and managed
// policies (identity), the user's permissions boundary, and the names of
// managed policies attached but absent from the data and of inline
// policies that did not parse (the result is then uncertain: a missing Allow
// understates what u may do, a missing Deny overstates it).
func (a *Account) EffectivePolicies(u *User) (identity []*iampolicy.Policy, boundary *iampolicy.Policy, missing []string) {
	seen := map[string]bool{}
	addManaged := func(arn string) {
		if seen[arn] {
			return
		}
		seen[arn] = true
		mp := a.Policies[arn]
		if mp == nil || mp.Document == nil {
			missing = append(missing, arn)
			return
		}
		identity = append(identity, mp.Document)
	}
	identity = append(identity, u.Inline...)
	missing = append(missing, u.UnreadableInline...)
	for _, arn := range u.Managed {
		addManaged(arn)
	}
	for _, gn := range u.Groups {
		g := a.Groups[gn]
		if g == nil {
			missing = append(missing, "group/"+gn)
			continue
		}
		identity = append(identity, g.Inline...)
		missing = append(missing, g.UnreadableInline...)
		for _, arn := range g.Managed {
			addManaged(arn)
		}
	}
	if u.Boundary != "" {
		if mp := a.Policies[u.Boundary]; mp != nil && mp.Document != nil {
			boundary = mp.Document
		} else {
			missing = append(missing, u.Boundary+" (permissions boundary)")
		}
	}
	return identity, boundary, missing
}

// ActiveKeys returns the user's active keys.
func (u *User) ActiveKeys() []*AccessKey {
	var out []*AccessKey
	for _, k := range u.Keys {
		if k.Active {
			out = append(out, k)
		}
	}
	return out
}

// AccountFromARN returns the account ID in an IAM ARN
// ("arn:aws:iam::123456789012:user/x"), or "".
func AccountFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	acct := parts[4]
	if len(acct) != 12 {
		return ""
	}
	for _, c := range acct {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return acct
}
