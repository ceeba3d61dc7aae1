package audit

import (
	_ "embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
)

//go:embed data/escalation-paths.yaml
var escalationYAML []byte

// EscalationPath is one published way for a principal to give itself more
// power: every action must be allowed.
type EscalationPath struct {
	ID         string   `yaml:"id" json:"id"`
	Title      string   `yaml:"title" json:"title"`
	Actions    []string `yaml:"actions" json:"actions"`
	References []string `yaml:"references" json:"references"`
	// RoleTrust: the path works only through an existing role that trusts
	// the caller and holds more power, so the account must have one.
	RoleTrust bool `yaml:"role_trust,omitempty" json:"role_trust,omitempty"`
}

// EscalationPaths are the published privilege-escalation paths
// (data/escalation-paths.yaml), each with its references as URLs.
//
// They are read on first use, not at start: checking their actions loads
// the action catalogue, which every command would otherwise pay for
// (`keywarden scan --staged` in a pre-commit hook among them).
var EscalationPaths = sync.OnceValue(func() []EscalationPath { return mustParseEscalationPaths(escalationYAML) })

func mustParseEscalationPaths(data []byte) []EscalationPath {
	ps, err := parseEscalationPaths(data)
	if err != nil {
		panic("audit: data/escalation-paths.yaml: " + err.Error())
	}
	return ps
}

// parseEscalationPaths reads the paths file: every path needs an id, a
// title, actions in the iamdata catalogue and references the file defines.
func parseEscalationPaths(data []byte) ([]EscalationPath, error) {
	var doc struct {
		References map[string]string `yaml:"references"`
		Paths      []EscalationPath  `yaml:"paths"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range doc.Paths {
		p := &doc.Paths[i]
		if p.ID == "" || p.Title == "" || len(p.Actions) == 0 || len(p.References) == 0 {
			return nil, fmt.Errorf("path %d (%q) lacks an id, a title, actions or references", i, p.ID)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("path %q is listed twice", p.ID)
		}
		seen[p.ID] = true
		for j, a := range p.Actions {
			act, ok := iamdata.Lookup(a)
			if !ok {
				return nil, fmt.Errorf("path %q: %q is not in the action catalogue", p.ID, a)
			}
			p.Actions[j] = act.String()
		}
		for j, r := range p.References {
			url, ok := doc.References[r]
			if !ok {
				return nil, fmt.Errorf("path %q: reference %q is not defined", p.ID, r)
			}
			p.References[j] = url
		}
	}
	return doc.Paths, nil
}

// PermissionsManagementActions are the IAM actions of the "Permissions
// management" access level, from the generated action catalogue: every
// one changes who may do what.
func PermissionsManagementActions() []string {
	var out []string
	for _, a := range iamdata.AtLevel("iam", iamdata.PermissionsManagement) {
		out = append(out, a.String())
	}
	return out
}

// SensitiveActions is what the exposure checks ask about: base (the
// built-in list, or --actions), then every IAM Permissions management
// action and every action of an escalation path, each once, in that order.
// The additions are always asked: they decide whether a key reaches
// administrator power.
func SensitiveActions(base []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(as ...string) {
		for _, a := range as {
			if k := strings.ToLower(a); !seen[k] {
				seen[k] = true
				out = append(out, a)
			}
		}
	}
	add(base...)
	add(PermissionsManagementActions()...)
	for _, p := range EscalationPaths() {
		add(p.Actions...)
	}
	return out
}

// PathReach is an escalation path a key reaches, with whether it surely
// does (every action plainly allowed) or perhaps (some depend).
type PathReach struct {
	EscalationPath
	Perhaps bool `json:"perhaps,omitempty"`
}

// Reach is how far a set of grants goes.
type Reach struct {
	// Admin: every sensitive action asked about is plainly allowed
	// ("Action": "*" on "Resource": "*", or as good as).
	Admin bool `json:"admin_equivalent,omitempty"`
	// Paths are the escalation paths reached.
	Paths []PathReach `json:"escalation_paths,omitempty"`
}

// sure reports whether the reach is admin-equivalent for certain.
func (r Reach) sure() bool {
	if r.Admin {
		return true
	}
	for _, p := range r.Paths {
		if !p.Perhaps {
			return true
		}
	}
	return false
}

// reachOf finds the escalation paths the grants complete. trusted tells
// whether a role-trust path has a role to go through.
func reachOf(sure, maybe []Grant, asked int, trusted bool) Reach {
	state := map[string]int{} // 2 sure, 1 perhaps
	for _, g := range maybe {
		state[strings.ToLower(g.Action)] = 1
	}
	for _, g := range sure {
		state[strings.ToLower(g.Action)] = 2
	}
	r := Reach{Admin: asked > 0 && len(sure) == asked}
	for _, p := range EscalationPaths() {
		if p.RoleTrust && !trusted {
			continue
		}
		worst := 2
		for _, a := range p.Actions {
			worst = min(worst, state[strings.ToLower(a)])
		}
		if worst > 0 {
			r.Paths = append(r.Paths, PathReach{EscalationPath: p, Perhaps: worst == 1})
		}
	}
	sort.SliceStable(r.Paths, func(i, j int) bool { return !r.Paths[i].Perhaps && r.Paths[j].Perhaps })
	return r
}

// text says why a reach is admin-equivalent, for a finding's message.
func (r Reach) text() string {
	var parts []string
	if r.Admin {
		parts = append(parts, "every sensitive action asked about is allowed (administrator or as good as)")
	}
	var sure, maybe []string
	for _, p := range r.Paths {
		s := p.ID + " (" + strings.Join(p.Actions, " + ") + ": " + p.Title + ")"
		if p.Perhaps {
			maybe = append(maybe, s)
		} else {
			sure = append(sure, s)
		}
	}
	if len(sure) > 0 {
		parts = append(parts, fmt.Sprintf("it reaches %d privilege-escalation path(s): %s", len(sure), strings.Join(limit(sure, 6), "; ")))
	}
	switch {
	case len(maybe) > 0 && len(parts) > 0:
		parts = append(parts, fmt.Sprintf("perhaps %d more: %s", len(maybe), strings.Join(limit(maybe, 4), "; ")))
	case len(maybe) > 0:
		parts = append(parts, fmt.Sprintf("it perhaps reaches %d privilege-escalation path(s): %s", len(maybe), strings.Join(limit(maybe, 4), "; ")))
	}
	return strings.Join(parts, "; ")
}

func (r Reach) pathIDs(perhaps bool) []string {
	var out []string
	for _, p := range r.Paths {
		if p.Perhaps == perhaps {
			out = append(out, p.ID)
		}
	}
	return out
}

// adminRoles lists the account's roles with administrator power: an
// unconditional Allow of every action on every resource in one of their
// policies.
func adminRoles(acct *inventory.Account) []*inventory.Role {
	var out []*inventory.Role
	for _, r := range acct.Roles {
		docs := append([]*iampolicy.Policy(nil), r.Inline...)
		for _, arn := range r.Managed {
			if mp := acct.Policies[arn]; mp != nil && mp.Document != nil {
				docs = append(docs, mp.Document)
			}
		}
		for _, d := range docs {
			if grantsAdmin(d) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// privilegedRoleTrusts returns the first of the admin roles whose trust
// policy lets u assume it without MFA: it names u, its account (root or
// ID) or everyone, with no MFA condition. This is what the
// sts-assume-privileged-role path needs besides sts:AssumeRole.
func privilegedRoleTrusts(acct *inventory.Account, admins []*inventory.Role, u *inventory.User) string {
	acctID := inventory.AccountFromARN(u.ARN)
	if acctID == "" {
		acctID = acct.ID
	}
	for _, r := range admins {
		if r.Trust != nil && trusts(r.Trust, u.ARN, acctID) {
			return r.ARN
		}
	}
	return ""
}

func trusts(p *iampolicy.Policy, userARN, acctID string) bool {
	for _, s := range p.Statements {
		if s.Effect != iampolicy.Allow || s.Principal == nil || !actionListMatches(s.Action, "sts:assumerole") {
			continue
		}
		mfa := false
		for _, c := range s.Conditions {
			if strings.HasPrefix(strings.ToLower(c.Key), "aws:multifactorauth") {
				mfa = true
			}
		}
		if mfa {
			continue
		}
		if s.Principal.Wildcard {
			return true
		}
		for _, v := range s.Principal.Types["AWS"] {
			if v == "*" || v == userARN || v == acctID || v == "arn:aws:iam::"+acctID+":root" {
				return true
			}
		}
	}
	return false
}

// grantsAdmin reports whether a policy has an unconditional Allow of every
// action on every resource.
func grantsAdmin(p *iampolicy.Policy) bool {
	for _, s := range p.Statements {
		if s.Effect == iampolicy.Allow && len(s.Conditions) == 0 && !s.NotAction.Present && !s.NotResource.Present &&
			s.Action.Has("*") && s.Resource.Has("*") {
			return true
		}
	}
	return false
}

func actionListMatches(v iampolicy.Values, action string) bool {
	for _, a := range v.List {
		if ok, _ := path.Match(strings.ToLower(a), action); ok {
			return true
		}
	}
	return false
}
