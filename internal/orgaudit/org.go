// Package orgaudit audits every account of an AWS organization: it reads
// the organization (accounts, the OU tree, the service and resource control
// policies and where they are attached), hands each account's inventory to
// package audit with the SCPs of its place in the tree, and combines the
// per-account results into one report.
//
// The organization is read live from AWS Organizations (LoadLive) or from
// an organization.json file (ParseOrganization) whose shape is the AWS
// CLI's own output, so both paths build the same Organization.
package orgaudit

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
)

// Policy types of AWS Organizations that keywarden reads.
const (
	TypeSCP = "SERVICE_CONTROL_POLICY"
	TypeRCP = "RESOURCE_CONTROL_POLICY"
)

// MaxOrganizationSize bounds organization.json.
const MaxOrganizationSize = 64 << 20

// Organization is the tree and its policies. The JSON form is the file
// --org-exports reads (DIR/organization.json); every part is what an
// `aws organizations` command prints.
type Organization struct {
	// Organization is `aws organizations describe-organization`'s
	// .Organization (Id, MasterAccountId).
	Organization OrgInfo `json:"Organization"`
	// Roots is `aws organizations list-roots`'s .Roots (normally one).
	Roots []Root `json:"Roots"`
	// OrganizationalUnits are the OUs, each with its parent's ID.
	OrganizationalUnits []Unit `json:"OrganizationalUnits"`
	// Accounts is `aws organizations list-accounts`'s .Accounts, each with
	// its parent's ID (from list-parents).
	Accounts []Account `json:"Accounts"`
	// Policies are `aws organizations describe-policy`'s .Policy, for each
	// SCP and RCP attached anywhere.
	Policies []Policy `json:"Policies"`
	// Targets maps a root, OU or account ID to the IDs of the policies
	// attached to it (list-policies-for-target).
	Targets map[string][]string `json:"Targets"`
}

// OrgInfo is the organization itself.
type OrgInfo struct {
	ID              string `json:"Id"`
	MasterAccountID string `json:"MasterAccountId"`
}

// Root is the organization's root.
type Root struct {
	ID          string       `json:"Id"`
	Name        string       `json:"Name"`
	PolicyTypes []PolicyType `json:"PolicyTypes"`
}

// PolicyType is a policy type's status at the root.
type PolicyType struct {
	Type   string `json:"Type"`
	Status string `json:"Status"`
}

// Unit is an organizational unit.
type Unit struct {
	ID       string `json:"Id"`
	Name     string `json:"Name"`
	ParentID string `json:"ParentId"`
}

// Account is a member account.
type Account struct {
	ID       string `json:"Id"`
	Name     string `json:"Name"`
	Email    string `json:"Email,omitempty"`
	Status   string `json:"Status,omitempty"`
	ParentID string `json:"ParentId"`
}

// Policy is one SCP or RCP with its document.
type Policy struct {
	Summary PolicySummary `json:"PolicySummary"`
	Content string        `json:"Content"`
}

// PolicySummary names a policy.
type PolicySummary struct {
	ID   string `json:"Id"`
	Name string `json:"Name"`
	Type string `json:"Type"`
}

// Level is one level of an account's place in the tree (the root, each OU,
// the account itself) and the policies of one type attached there.
type Level struct {
	Target   string   `json:"target"`
	Name     string   `json:"name"`
	Policies []string `json:"policies"`
}

// Tree is an Organization indexed for lookups, with its policies parsed.
type Tree struct {
	*Organization
	units    map[string]Unit
	roots    map[string]Root
	policies map[string]*parsedPolicy
	// Warnings are oddities of the data: a policy that did not parse, an
	// account whose parent is unknown.
	Warnings []string
}

type parsedPolicy struct {
	Policy
	doc *iampolicy.Policy
}

// ParseOrganization reads organization.json.
func ParseOrganization(name string, data []byte) (*Tree, error) {
	if len(data) > MaxOrganizationSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d allowed", name, len(data), MaxOrganizationSize)
	}
	var o Organization
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", name, jsonPosition(data, err))
	}
	if len(o.Roots) == 0 {
		return nil, fmt.Errorf("%s: no Roots: is this the organization file (see docs/audit.md, \"Whole organizations\")?", name)
	}
	for i, a := range o.Accounts {
		if !validAccountID(a.ID) {
			return nil, fmt.Errorf("%s: Accounts[%d]: %q is not a 12-digit account ID", name, i, a.ID)
		}
	}
	return NewTree(&o), nil
}

func jsonPosition(data []byte, err error) error {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := 1 + strings.Count(string(data[:off]), "\n")
	return fmt.Errorf("line %d: %w", line, err)
}

func validAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// NewTree indexes o and parses its policies. A policy that does not parse
// is left out with a warning: the levels it is attached to then lack it.
func NewTree(o *Organization) *Tree {
	t := &Tree{Organization: o, units: map[string]Unit{}, roots: map[string]Root{}, policies: map[string]*parsedPolicy{}}
	for _, r := range o.Roots {
		t.roots[r.ID] = r
	}
	for _, u := range o.OrganizationalUnits {
		t.units[u.ID] = u
	}
	sort.Slice(o.Accounts, func(i, j int) bool { return o.Accounts[i].ID < o.Accounts[j].ID })
	for _, p := range o.Policies {
		pp := &parsedPolicy{Policy: p}
		label := "organizations policy " + p.Summary.ID
		if p.Summary.Name != "" {
			label += " (" + p.Summary.Name + ")"
		}
		doc, err := inventory.ParseSCP(label, []byte(p.Content))
		if err != nil {
			t.Warnings = append(t.Warnings, fmt.Sprintf("%s does not parse, so it is left out of every level it is attached to: %v", label, err))
		} else {
			pp.doc = doc
		}
		t.policies[p.Summary.ID] = pp
	}
	return t
}

// Management reports whether id is the management account.
func (t *Tree) Management(id string) bool {
	return id != "" && id == t.Organization.Organization.MasterAccountID
}

// Account returns the account with ID id.
func (t *Tree) Account(id string) (Account, bool) {
	for _, a := range t.Accounts {
		if a.ID == id {
			return a, true
		}
	}
	return Account{}, false
}

// Path returns the IDs from the root down to the account's parent, and
// false when the chain is broken (an unknown parent, or a cycle).
func (t *Tree) Path(a Account) ([]string, bool) {
	var rev []string
	seen := map[string]bool{}
	id := a.ParentID
	for {
		if id == "" || seen[id] {
			return nil, false
		}
		seen[id] = true
		rev = append(rev, id)
		if _, ok := t.roots[id]; ok {
			break
		}
		u, ok := t.units[id]
		if !ok {
			return nil, false
		}
		id = u.ParentID
	}
	out := make([]string, len(rev))
	for i, v := range rev {
		out[len(rev)-1-i] = v
	}
	return out, true
}

// PathNames returns the names of Path, for the report ("Root/Prod").
func (t *Tree) PathNames(a Account) string {
	ids, ok := t.Path(a)
	if !ok {
		return "unknown"
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = t.name(id)
	}
	return strings.Join(names, "/")
}

func (t *Tree) name(id string) string {
	if r, ok := t.roots[id]; ok && r.Name != "" {
		return r.Name
	}
	if u, ok := t.units[id]; ok && u.Name != "" {
		return u.Name
	}
	return id
}

// Enabled reports whether a policy type is enabled at the root. A root
// that lists no policy types (an export that left them out) counts as
// enabled when policies of the type are attached anywhere.
func (t *Tree) Enabled(typ string) bool {
	listed := false
	for _, r := range t.Roots {
		for _, pt := range r.PolicyTypes {
			listed = true
			if pt.Type == typ && strings.EqualFold(pt.Status, "ENABLED") {
				return true
			}
		}
	}
	if listed {
		return false
	}
	for _, p := range t.Policies {
		if p.Summary.Type == typ {
			return true
		}
	}
	return false
}

// Levels returns the policies of type typ that apply to the account, one
// Level per place in the tree (root first, each OU, the account), and the
// parsed documents of each level. A level with nothing of the type attached
// is left out (AWS requires one SCP per level once SCPs are enabled; an
// export may lack it).
func (t *Tree) Levels(a Account, typ string) ([]Level, [][]*iampolicy.Policy, error) {
	path, ok := t.Path(a)
	if !ok {
		return nil, nil, fmt.Errorf("account %s: its place in the OU tree is unknown (parent %q)", a.ID, a.ParentID)
	}
	var levels []Level
	var docs [][]*iampolicy.Policy
	for _, target := range append(path, a.ID) {
		lv := Level{Target: target, Name: t.name(target)}
		if target == a.ID {
			lv.Name = a.Name
		}
		var ps []*iampolicy.Policy
		for _, pid := range t.Targets[target] {
			p, ok := t.policies[pid]
			if !ok || p.Summary.Type != typ {
				continue
			}
			lv.Policies = append(lv.Policies, policyLabel(p.Policy))
			if p.doc != nil {
				ps = append(ps, p.doc)
			}
		}
		if len(lv.Policies) == 0 {
			continue
		}
		levels = append(levels, lv)
		docs = append(docs, ps)
	}
	return levels, docs, nil
}

func policyLabel(p Policy) string {
	if p.Summary.Name == "" {
		return p.Summary.ID
	}
	return p.Summary.Name + " (" + p.Summary.ID + ")"
}

// Select returns the accounts to audit: those in only (every account when
// empty) and not in exclude, skipping suspended ones. It errors on an ID
// in only or exclude that the organization does not have, so a typo is
// not a silently smaller audit.
func (t *Tree) Select(only, exclude []string) (selected []Account, skipped []string, err error) {
	known := map[string]bool{}
	for _, a := range t.Accounts {
		known[a.ID] = true
	}
	want, drop := map[string]bool{}, map[string]bool{}
	for _, set := range []struct {
		flag string
		ids  []string
		m    map[string]bool
	}{{"--accounts", only, want}, {"--exclude-accounts", exclude, drop}} {
		for _, id := range set.ids {
			if !known[id] {
				return nil, nil, fmt.Errorf("%s: %s is not an account of organization %s", set.flag, id, t.Organization.Organization.ID)
			}
			set.m[id] = true
		}
	}
	for _, a := range t.Accounts {
		switch {
		case len(want) > 0 && !want[a.ID], drop[a.ID]:
			continue
		case a.Status != "" && !strings.EqualFold(a.Status, "ACTIVE"):
			skipped = append(skipped, fmt.Sprintf("%s (%s): status %s", a.ID, a.Name, a.Status))
			continue
		}
		selected = append(selected, a)
	}
	return selected, skipped, nil
}
