package respond

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Step is one change to the account, with the call that reverses it.
type Step struct {
	// Kind names what the step is for: deactivate-key, revoke-sessions,
	// revoke-role-sessions, contain-created-key, quarantine,
	// disable-console.
	Kind string `json:"kind"`
	Why  string `json:"why"`
	Call Call   `json:"call"`
	// Undo reverses the call; nil when it cannot be reversed by a call
	// (UndoNote then says what to do by hand).
	Undo     *Call  `json:"undo,omitempty"`
	UndoNote string `json:"undo_note,omitempty"`
	// Confirm: the step affects more than the key (other users' role
	// sessions) and runs only when confirmed.
	Confirm bool      `json:"confirm,omitempty"`
	Status  Status    `json:"status"`
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// Call is one AWS API call: an IAM action and its parameters, in the
// API's own names.
type Call struct {
	Action string  `json:"action"`
	Params []Param `json:"params"`
}

// Param is one parameter of a call.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Get returns the value of the named parameter ("" if absent).
func (c Call) Get(name string) string {
	for _, p := range c.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// Command renders the call as the AWS CLI command that makes it, e.g.
// "aws iam update-access-key --user-name alice --access-key-id AKIA...
// --status Inactive". Values are quoted for a POSIX shell when needed.
func (c Call) Command() string {
	svc, op, _ := strings.Cut(c.Action, ":")
	var b strings.Builder
	b.WriteString("aws " + svc + " " + kebab(op))
	for _, p := range c.Params {
		b.WriteString(" --" + kebab(p.Name) + " " + shellQuote(p.Value))
	}
	return b.String()
}

// String is the call in one line: "iam:UpdateAccessKey UserName=alice ...".
func (c Call) String() string {
	var b strings.Builder
	b.WriteString(c.Action)
	for _, p := range c.Params {
		b.WriteString(" " + p.Name + "=" + p.Value)
	}
	return b.String()
}

// kebab turns "UpdateAccessKey" into "update-access-key" and
// "MFADevice" into "mfa-device".
func kebab(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prevLower := unicode.IsLower(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (nextLower && unicode.IsUpper(r[i-1])) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./:=@,+", r)))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// QuarantinePolicyARN is the managed policy AWS attaches to a user whose
// key it found in public. It denies a few risky actions; the key stays
// active.
const QuarantinePolicyARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"

// RevokePolicyName is the name of the inline deny that revokes the
// sessions issued from key before the response.
func RevokePolicyName(key string) string { return "KeywardenRevokeSessions-" + key }

// RevokePolicy is the deny-all that ends every session issued before
// cutoff: sessions carry aws:TokenIssueTime, so DateLessThan matches
// only them. Requests signed with a long-term key carry no
// aws:TokenIssueTime and are not affected (the key is deactivated
// instead), nor are sessions issued later.
func RevokePolicy(cutoff time.Time) string {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Sid":       "KeywardenRevokeOlderSessions",
			"Effect":    "Deny",
			"Action":    "*",
			"Resource":  "*",
			"Condition": map[string]any{"DateLessThan": map[string]string{"aws:TokenIssueTime": cutoff.UTC().Format(time.RFC3339)}},
		}},
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

// PlanOptions choose the containment steps.
type PlanOptions struct {
	// Now is the cutoff of the session revocation.
	Now time.Time
	// ContainCreated deactivates the access keys the key created.
	ContainCreated bool
	// RevokeRoleSessions puts the time-bound deny on every role the key
	// assumed (this ends other principals' older sessions of the role too).
	RevokeRoleSessions bool
	// Quarantine attaches AWSCompromisedKeyQuarantineV3 to the user.
	Quarantine bool
	// DisableConsole removes the user's console password.
	DisableConsole bool
	// Delete deletes the key, once a run found it already inactive (it
	// is evidence until the investigation is over).
	Delete bool
}

// Facts are what the plan depends on besides the identity: the state of
// the keys the leaked key created, and of the roles it assumed, read from
// the account.
type Facts struct {
	// CreatedKeys are access keys the key created, with their current
	// status ("" when the key no longer exists).
	CreatedKeys []KeyState
	// Roles the key assumed (names), with the inline policies each has.
	Roles map[string][]string
}

// Plan computes every containment step: PlanKey's, then PlanDerived's.
func Plan(id *Identity, facts Facts, opt PlanOptions) []*Step {
	return append(PlanKey(id, opt), PlanDerived(id, facts, opt)...)
}

// newStep sets a step's starting status: Planned, or Already when the
// account is already in the wanted state (so a second run changes
// nothing).
func newStep(s *Step, already bool) *Step {
	s.Status = Planned
	if already {
		s.Status = Already
		// The deny in place has its own cutoff: do not show this run's.
		s.Call.Params = slices.DeleteFunc(s.Call.Params, func(p Param) bool { return p.Name == "PolicyDocument" })
	}
	return s
}

func deactivateStep(kind, user, key, why string, already bool) *Step {
	return newStep(&Step{Kind: kind, Why: why,
		Call: Call{Action: "iam:UpdateAccessKey", Params: []Param{{"UserName", user}, {"AccessKeyId", key}, {"Status", "Inactive"}}},
		Undo: &Call{Action: "iam:UpdateAccessKey", Params: []Param{{"UserName", user}, {"AccessKeyId", key}, {"Status", "Active"}}}}, already)
}

// PlanKey computes the steps that contain the key itself, which need
// nothing but Identify: deactivate it, revoke its user's older sessions,
// and the optional quarantine policy and console lock-out. It makes no
// call. A root key gets no step: IAM cannot change it (see RootAdvice).
func PlanKey(id *Identity, opt PlanOptions) []*Step {
	if id == nil || id.Root || id.User == "" {
		return nil
	}
	key := id.KeyID
	steps := []*Step{deactivateStep("deactivate-key", id.User, key,
		"stop the leaked key at once (it is kept, not deleted: it is evidence)", id.Status == "Inactive")}
	name := RevokePolicyName(key)
	steps = append(steps, newStep(&Step{Kind: "revoke-sessions",
		Why:  "end every session already issued to " + id.User + " (GetSessionToken, AssumeRole made with the key): deny all for tokens issued before now",
		Call: Call{Action: "iam:PutUserPolicy", Params: []Param{{"UserName", id.User}, {"PolicyName", name}, {"PolicyDocument", RevokePolicy(opt.Now)}}},
		Undo: &Call{Action: "iam:DeleteUserPolicy", Params: []Param{{"UserName", id.User}, {"PolicyName", name}}}},
		slices.Contains(id.InlinePolicies, name)))
	if opt.Quarantine {
		steps = append(steps, newStep(&Step{Kind: "quarantine",
			Why:  "attach the policy AWS attaches to exposed keys",
			Call: Call{Action: "iam:AttachUserPolicy", Params: []Param{{"UserName", id.User}, {"PolicyArn", QuarantinePolicyARN}}},
			Undo: &Call{Action: "iam:DetachUserPolicy", Params: []Param{{"UserName", id.User}, {"PolicyArn", QuarantinePolicyARN}}}},
			slices.Contains(id.AttachedPolicies, QuarantinePolicyARN)))
	}
	if opt.DisableConsole {
		steps = append(steps, newStep(&Step{Kind: "disable-console",
			Why:      "remove " + id.User + "'s console password",
			Call:     Call{Action: "iam:DeleteLoginProfile", Params: []Param{{"UserName", id.User}}},
			UndoNote: fmt.Sprintf("a deleted password cannot be restored: set a new one with aws iam create-login-profile --user-name %s --password-reset-required --password NEW-PASSWORD", shellQuote(id.User))},
			!id.ConsolePassword))
	}
	if opt.Delete {
		s := &Step{Kind: "delete-key", Status: Planned,
			Why:      "delete the leaked key (the investigation is over)",
			Call:     Call{Action: "iam:DeleteAccessKey", Params: []Param{{"UserName", id.User}, {"AccessKeyId", key}}},
			UndoNote: "a deleted key cannot be restored: " + id.User + " needs a new key (keywarden rotate)"}
		if id.Status != "Inactive" {
			// Evidence first: a key still active when the run starts is
			// deactivated, never deleted in the same breath.
			s.Status = Declined
			s.Why = "the key was active when this run started: it is deactivated and kept as evidence; delete it with --delete on a later run, once the investigation is over"
		}
		steps = append(steps, s)
	}
	return steps
}

// PlanDerived computes the steps for what the key made, found in
// CloudTrail: deactivate the access keys it created (ContainCreated), and
// with RevokeRoleSessions put the time-bound deny on the roles it assumed.
func PlanDerived(id *Identity, facts Facts, opt PlanOptions) []*Step {
	if id == nil || id.Root || id.User == "" {
		return nil
	}
	var steps []*Step
	if opt.ContainCreated {
		for _, k := range facts.CreatedKeys {
			if k.Status == "" || k.ID == id.KeyID {
				continue
			}
			steps = append(steps, deactivateStep("contain-created-key", k.User, k.ID,
				"an access key the leaked key created for "+k.User+" (persistence)", k.Status == "Inactive"))
		}
	}
	if !opt.RevokeRoleSessions {
		return steps
	}
	roles := make([]string, 0, len(facts.Roles))
	for r := range facts.Roles {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	name := RevokePolicyName(id.KeyID)
	for _, r := range roles {
		steps = append(steps, newStep(&Step{Kind: "revoke-role-sessions", Confirm: true,
			Why:  "end the sessions of role " + r + " issued before now (the key assumed it; this also ends other principals' older sessions of this role)",
			Call: Call{Action: "iam:PutRolePolicy", Params: []Param{{"RoleName", r}, {"PolicyName", name}, {"PolicyDocument", RevokePolicy(opt.Now)}}},
			Undo: &Call{Action: "iam:DeleteRolePolicy", Params: []Param{{"RoleName", r}, {"PolicyName", name}}}},
			slices.Contains(facts.Roles[r], name)))
	}
	return steps
}

// UndoSteps returns the steps that reverse a report's done steps, in the
// opposite order. Steps that cannot be reversed by a call are returned
// with their note, so the caller can say what is left to do by hand.
func UndoSteps(r *Report) (steps []*Step, manual []string) {
	for i := len(r.Steps) - 1; i >= 0; i-- {
		s := r.Steps[i]
		if s.Status != Done {
			continue
		}
		if s.Undo == nil {
			if s.UndoNote != "" {
				manual = append(manual, s.UndoNote)
			}
			continue
		}
		steps = append(steps, &Step{Kind: "undo-" + s.Kind, Why: "reverse: " + s.Call.String(), Call: *s.Undo, Status: Planned})
	}
	return steps, manual
}
