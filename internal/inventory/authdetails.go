package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// The authorization details (iam:GetAccountAuthorizationDetails) list
// users, groups, roles and managed policies with every version. The raw API
// returns policy documents URL-encoded; the AWS CLI and the SDKs decode them
// into JSON objects. Both are accepted, as are several pages written one
// after another into the same file (a user may then appear twice: the
// entries are merged).

// MaxAuthorizationDetailsSize bounds the file: a 5,000-user account with
// its managed policies is a few tens of MiB.
const MaxAuthorizationDetailsSize = 512 << 20

type adAttached struct {
	PolicyName string `json:"PolicyName"`
	PolicyArn  string `json:"PolicyArn"`
}

type adInline struct {
	PolicyName     string          `json:"PolicyName"`
	PolicyDocument json.RawMessage `json:"PolicyDocument"`
}

type adBoundary struct {
	PermissionsBoundaryArn string `json:"PermissionsBoundaryArn"`
}

type adTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type adUser struct {
	Path                    string       `json:"Path"`
	UserName                string       `json:"UserName"`
	UserID                  string       `json:"UserId"`
	Arn                     string       `json:"Arn"`
	CreateDate              string       `json:"CreateDate"`
	UserPolicyList          []adInline   `json:"UserPolicyList"`
	GroupList               []string     `json:"GroupList"`
	AttachedManagedPolicies []adAttached `json:"AttachedManagedPolicies"`
	PermissionsBoundary     *adBoundary  `json:"PermissionsBoundary"`
	Tags                    []adTag      `json:"Tags"`
}

type adGroup struct {
	GroupName               string       `json:"GroupName"`
	GroupID                 string       `json:"GroupId"`
	Arn                     string       `json:"Arn"`
	GroupPolicyList         []adInline   `json:"GroupPolicyList"`
	AttachedManagedPolicies []adAttached `json:"AttachedManagedPolicies"`
}

type adRole struct {
	RoleName                 string          `json:"RoleName"`
	Arn                      string          `json:"Arn"`
	AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
	RolePolicyList           []adInline      `json:"RolePolicyList"`
	AttachedManagedPolicies  []adAttached    `json:"AttachedManagedPolicies"`
	PermissionsBoundary      *adBoundary     `json:"PermissionsBoundary"`
}

type adVersion struct {
	Document         json.RawMessage `json:"Document"`
	VersionID        string          `json:"VersionId"`
	IsDefaultVersion bool            `json:"IsDefaultVersion"`
}

type adPolicy struct {
	PolicyName        string      `json:"PolicyName"`
	Arn               string      `json:"Arn"`
	DefaultVersionID  string      `json:"DefaultVersionId"`
	PolicyVersionList []adVersion `json:"PolicyVersionList"`
}

type authDetails struct {
	UserDetailList  []adUser   `json:"UserDetailList"`
	GroupDetailList []adGroup  `json:"GroupDetailList"`
	RoleDetailList  []adRole   `json:"RoleDetailList"`
	Policies        []adPolicy `json:"Policies"`
}

// ParseAuthorizationDetails reads the output of `aws iam
// get-account-authorization-details` (one document, or several pages one
// after another) into a. Policies that do not parse are left out with a
// warning naming them, so one bad document does not hide the rest.
func (a *Account) ParseAuthorizationDetails(name string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var d authDetails
		err := dec.Decode(&d)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %s", name, jsonErr(data, err))
		}
		docs++
		if d.UserDetailList == nil && d.GroupDetailList == nil && d.RoleDetailList == nil && d.Policies == nil {
			return fmt.Errorf("%s: not authorization details: no UserDetailList, GroupDetailList, RoleDetailList or Policies (the output of `aws iam get-account-authorization-details`)", name)
		}
		a.applyAuthDetails(name, &d)
	}
	if docs == 0 {
		return fmt.Errorf("%s: the file is empty", name)
	}
	a.Sources.AuthorizationDetails = true
	a.Sources.Files = append(a.Sources.Files, name)
	a.sortUsers()
	return nil
}

func (a *Account) applyAuthDetails(name string, d *authDetails) {
	for _, p := range d.Policies {
		if p.Arn == "" {
			continue
		}
		mp := &ManagedPolicy{ARN: p.Arn, Name: p.PolicyName, DefaultVersionID: p.DefaultVersionID}
		for _, v := range p.PolicyVersionList {
			if !v.IsDefaultVersion && !(p.DefaultVersionID != "" && v.VersionID == p.DefaultVersionID) {
				continue
			}
			mp.Document = a.policyDoc(name, p.Arn, v.Document)
			break
		}
		if prev := a.Policies[p.Arn]; prev != nil && prev.Document != nil && mp.Document == nil {
			continue
		}
		a.Policies[p.Arn] = mp
	}
	for _, g := range d.GroupDetailList {
		if g.GroupName == "" {
			continue
		}
		grp := a.Groups[g.GroupName]
		if grp == nil {
			grp = &Group{Name: g.GroupName}
			a.Groups[g.GroupName] = grp
		}
		grp.ARN, grp.ID = g.Arn, g.GroupID
		if a.ID == "" {
			a.ID = AccountFromARN(g.Arn)
		}
		grp.Inline = a.mergeInline(name, grp.Inline, "group/"+g.GroupName, g.GroupPolicyList, &grp.UnreadableInline)
		grp.Managed = mergeStrings(grp.Managed, attachedARNs(g.AttachedManagedPolicies))
	}
	for _, r := range d.RoleDetailList {
		if r.RoleName == "" {
			continue
		}
		role := &Role{Name: r.RoleName, ARN: r.Arn, Managed: attachedARNs(r.AttachedManagedPolicies)}
		role.Inline = a.mergeInline(name, nil, "role/"+r.RoleName, r.RolePolicyList, nil)
		if r.PermissionsBoundary != nil {
			role.Boundary = r.PermissionsBoundary.PermissionsBoundaryArn
		}
		if len(r.AssumeRolePolicyDocument) > 0 {
			role.Trust = a.policyDoc(name, "role/"+r.RoleName+"/trust", r.AssumeRolePolicyDocument)
		}
		a.Roles = append(a.Roles, role)
	}
	for _, ud := range d.UserDetailList {
		if ud.UserName == "" {
			continue
		}
		u, fresh := a.userFor(ud.UserName)
		if !fresh && u.InDetails {
			a.warnf(fmt.Sprintf("%s: user %q is listed twice: the entries are merged", name, ud.UserName))
		}
		u.InDetails = true
		if ud.Arn != "" {
			u.ARN = ud.Arn
		}
		if a.ID == "" {
			a.ID = AccountFromARN(ud.Arn)
		}
		u.ID, u.Path = ud.UserID, ud.Path
		if t, err := parseTime(ud.CreateDate); err == nil && u.Created.IsZero() {
			u.Created = t
		}
		u.Inline = a.mergeInline(name, u.Inline, "user/"+ud.UserName, ud.UserPolicyList, &u.UnreadableInline)
		u.Groups = mergeStrings(u.Groups, ud.GroupList)
		u.Managed = mergeStrings(u.Managed, attachedARNs(ud.AttachedManagedPolicies))
		if ud.PermissionsBoundary != nil && ud.PermissionsBoundary.PermissionsBoundaryArn != "" {
			u.Boundary = ud.PermissionsBoundary.PermissionsBoundaryArn
		}
		if len(ud.Tags) > 0 && u.Tags == nil {
			u.Tags = map[string]string{}
		}
		for _, t := range ud.Tags {
			u.Tags[t.Key] = t.Value
		}
	}
}

// mergeInline adds inline policies named owner+"/inline/"+PolicyName,
// replacing one of the same name.
func (a *Account) mergeInline(file string, have []*iampolicy.Policy, owner string, list []adInline, unreadable *[]string) []*iampolicy.Policy {
	for _, in := range list {
		label := owner + "/inline/" + in.PolicyName
		p := a.policyDoc(file, label, in.PolicyDocument)
		if p == nil {
			if unreadable != nil {
				*unreadable = mergeStrings(*unreadable, []string{label})
			}
			continue
		}
		if unreadable != nil {
			// A later page may carry a readable version of the policy.
			*unreadable = slices.DeleteFunc(*unreadable, func(s string) bool { return s == label })
		}
		replaced := false
		for i, h := range have {
			if h.File == label {
				have[i], replaced = p, true
			}
		}
		if !replaced {
			have = append(have, p)
		}
	}
	return have
}

// policyDoc parses a policy document given as a JSON object or as a
// URL-encoded string (the raw API's form). label becomes Policy.File.
func (a *Account) policyDoc(file, label string, raw json.RawMessage) *iampolicy.Policy {
	doc, err := DecodePolicyDocument(raw)
	if err == nil {
		var p *iampolicy.Policy
		p, err = iampolicy.Parse(label, doc)
		if err == nil {
			return p
		}
	}
	a.warnf(fmt.Sprintf("%s: policy %s is left out: %v", file, label, err))
	return nil
}

// DecodePolicyDocument returns a policy document's JSON text from what an
// export holds: the object itself, or a string holding the JSON, URL-encoded
// (the raw API) or not.
func DecodePolicyDocument(raw json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, fmt.Errorf("no policy document")
	}
	if t[0] != '"' {
		return t, nil
	}
	var s string
	if err := json.Unmarshal(t, &s); err != nil {
		return nil, err
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		return []byte(s), nil
	}
	dec, err := url.PathUnescape(s)
	if err != nil {
		return nil, fmt.Errorf("the policy document is a string but not URL-encoded JSON: %v", err)
	}
	// A '+' for a space (form encoding) would break JSON outside strings;
	// AWS encodes spaces as %20, but other tools may not.
	if strings.Contains(dec, "+") && !json.Valid([]byte(dec)) {
		if alt, err := url.QueryUnescape(s); err == nil && json.Valid([]byte(alt)) {
			dec = alt
		}
	}
	return []byte(dec), nil
}

func attachedARNs(list []adAttached) []string {
	out := make([]string, 0, len(list))
	for _, m := range list {
		if m.PolicyArn != "" {
			out = append(out, m.PolicyArn)
		}
	}
	return out
}

// mergeStrings appends the elements of add not already in have.
func mergeStrings(have, add []string) []string {
	for _, s := range add {
		dup := false
		for _, h := range have {
			if h == s {
				dup = true
				break
			}
		}
		if !dup {
			have = append(have, s)
		}
	}
	return have
}

// GroupNames returns the account's group names, sorted.
func (a *Account) GroupNames() []string {
	out := make([]string, 0, len(a.Groups))
	for n := range a.Groups {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ParseSCP reads a service control policy: a policy document, or the
// output of `aws organizations describe-policy` (the document as a string
// in Policy.Content).
func ParseSCP(name string, data []byte) (*iampolicy.Policy, error) {
	var wrapped struct {
		Policy *struct {
			Content string `json:"Content"`
		} `json:"Policy"`
	}
	if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Policy != nil && wrapped.Policy.Content != "" {
		data = []byte(wrapped.Policy.Content)
	}
	return iampolicy.Parse(name, data)
}

// AddSCPs adds the organisation's SCPs, each file one level: a request must
// be allowed by every file (AWS evaluates SCPs at each level of the
// organisation: root, OUs, account).
func (a *Account) AddSCPs(policies ...*iampolicy.Policy) {
	for _, p := range policies {
		a.AddSCPLevel(p)
	}
}

// AddSCPLevel adds the SCPs attached at one level of the organisation: a
// request must be allowed by one of them (and denied by none). AWS attaches
// FullAWSAccess at every level by default and deny lists sit beside it, so
// a level that allows nothing is almost always a mistake in what was
// given: it is noted, since it denies every action for every user.
func (a *Account) AddSCPLevel(policies ...*iampolicy.Policy) {
	if len(policies) == 0 {
		return
	}
	allows := false
	var names []string
	for _, p := range policies {
		names = append(names, p.File)
		for _, s := range p.Statements {
			if s.Effect == iampolicy.Allow {
				allows = true
			}
		}
	}
	if !allows {
		a.warnf(fmt.Sprintf("SCP level %d (%s) allows nothing, so it denies every action for every user: if these policies are attached beside FullAWSAccess (as AWS does by default), give them as one level: --scp FullAWSAccess.json,%s",
			len(a.SCPs)+1, strings.Join(names, ", "), names[0]))
	}
	a.SCPs = append(a.SCPs, policies)
	a.Sources.SCPs = true
}
