package respond

import (
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

var cutoff = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// The time-bound deny, checked with keywarden's own evaluator: a session
// issued before the response is denied, one issued after is allowed, and
// a request signed with the long-term key (no aws:TokenIssueTime) is not
// touched by the deny (the key is refused because it is inactive: see
// TestRunMoto).
func TestRevokePolicyEvaluated(t *testing.T) {
	admin, err := iampolicy.Parse("user/alice/inline/admin", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	deny, err := iampolicy.Parse("user/alice/inline/"+RevokePolicyName("AKIAX"), []byte(RevokePolicy(cutoff)))
	if err != nil {
		t.Fatal(err)
	}
	set := iameval.CompileSet(iameval.PolicySet{Identity: []*iampolicy.Policy{admin, deny}})
	tests := []struct {
		name   string
		issued string // "" for a long-term key
		want   iameval.Decision
	}{
		{"session issued a day before", cutoff.Add(-24 * time.Hour).Format(time.RFC3339), iameval.ExplicitlyDenied},
		{"session issued a second before", cutoff.Add(-time.Second).Format(time.RFC3339), iameval.ExplicitlyDenied},
		{"session issued at the cutoff", cutoff.Format(time.RFC3339), iameval.Allowed},
		{"session issued after", cutoff.Add(time.Minute).Format(time.RFC3339), iameval.Allowed},
		{"long-term key", "", iameval.Allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := iameval.NewContext()
			if tc.issued != "" {
				ctx.Set("aws:TokenIssueTime", tc.issued)
			}
			for _, action := range []string{"s3:GetObject", "iam:CreateAccessKey", "ec2:RunInstances"} {
				res := set.Evaluate(iameval.Request{Action: action, Resource: "*", Principal: "arn:aws:iam::123456789012:user/alice", Context: ctx}, iameval.Options{})
				if res.Decision != tc.want {
					t.Errorf("%s: %v (%s), want %v", action, res.Decision, res.Reason, tc.want)
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	base := Identity{KeyID: "AKIAKEY", User: "alice", Status: "Active", ConsolePassword: true}
	all := PlanOptions{Now: cutoff, ContainCreated: true, RevokeRoleSessions: true, Quarantine: true, DisableConsole: true}
	facts := Facts{
		CreatedKeys: []KeyState{{ID: "AKIANEW1", User: "backdoor", Status: "Active"}, {ID: "AKIAGONE", User: "backdoor"}, {ID: "AKIAOFF", User: "x", Status: "Inactive"}},
		Roles:       map[string][]string{"admin-role": nil, "done-role": {RevokePolicyName("AKIAKEY")}},
	}
	tests := []struct {
		name  string
		id    func(*Identity)
		opt   PlanOptions
		facts Facts
		want  []string // "status kind action"
	}{
		{"active key, defaults", nil, PlanOptions{Now: cutoff}, Facts{}, []string{
			"planned deactivate-key iam:UpdateAccessKey", "planned revoke-sessions iam:PutUserPolicy"}},
		{"everything", nil, all, facts, []string{
			"planned deactivate-key iam:UpdateAccessKey", "planned revoke-sessions iam:PutUserPolicy",
			"planned quarantine iam:AttachUserPolicy", "planned disable-console iam:DeleteLoginProfile",
			"planned contain-created-key iam:UpdateAccessKey", "already-done contain-created-key iam:UpdateAccessKey",
			"planned revoke-role-sessions iam:PutRolePolicy", "already-done revoke-role-sessions iam:PutRolePolicy"}},
		{"second run: all in place", func(id *Identity) {
			id.Status, id.ConsolePassword = "Inactive", false
			id.InlinePolicies = []string{RevokePolicyName("AKIAKEY")}
			id.AttachedPolicies = []string{QuarantinePolicyARN}
		}, all, Facts{}, []string{
			"already-done deactivate-key iam:UpdateAccessKey", "already-done revoke-sessions iam:PutUserPolicy",
			"already-done quarantine iam:AttachUserPolicy", "already-done disable-console iam:DeleteLoginProfile"}},
		{"root key: nothing IAM can do", func(id *Identity) { id.Root, id.User = true, "" }, all, facts, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := base
			if tc.id != nil {
				tc.id(&id)
			}
			var got []string
			for _, s := range Plan(&id, tc.facts, tc.opt) {
				got = append(got, string(s.Status)+" "+s.Kind+" "+s.Call.Action)
				// A deny already in place keeps its own cutoff: this run's
				// is not shown as if it were.
				if doc := s.Call.Get("PolicyDocument"); strings.Contains(s.Kind, "revoke") && (doc != "") == (s.Status == Already) {
					t.Errorf("%s %s: policy document %q", s.Status, s.Kind, doc)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestUndoSteps(t *testing.T) {
	id := &Identity{KeyID: "AKIAKEY", User: "alice", Status: "Active", ConsolePassword: true}
	steps := Plan(id, Facts{}, PlanOptions{Now: cutoff, Quarantine: true, DisableConsole: true})
	steps[0].Status, steps[1].Status, steps[2].Status, steps[3].Status = Done, Done, Failed, Done
	undo, manual := UndoSteps(&Report{Steps: steps})
	var got []string
	for _, s := range undo {
		got = append(got, s.Call.String())
	}
	want := []string{
		"iam:DeleteUserPolicy UserName=alice PolicyName=KeywardenRevokeSessions-AKIAKEY",
		"iam:UpdateAccessKey UserName=alice AccessKeyId=AKIAKEY Status=Active",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("undo:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(manual) != 1 || !strings.Contains(manual[0], "create-login-profile --user-name alice") {
		t.Errorf("manual = %q", manual)
	}
}

func TestCallCommand(t *testing.T) {
	tests := []struct {
		call Call
		want string
	}{
		{Call{"iam:UpdateAccessKey", []Param{{"UserName", "alice"}, {"AccessKeyId", "AKIAKEY"}, {"Status", "Inactive"}}},
			"aws iam update-access-key --user-name alice --access-key-id AKIAKEY --status Inactive"},
		{Call{"iam:DeleteLoginProfile", []Param{{"UserName", "o'brien"}}},
			`aws iam delete-login-profile --user-name 'o'"'"'brien'`},
		{Call{"iam:AttachUserPolicy", []Param{{"UserName", "a b"}, {"PolicyArn", QuarantinePolicyARN}}},
			"aws iam attach-user-policy --user-name 'a b' --policy-arn arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"},
		{Call{"iam:DeactivateMFADevice", []Param{{"SerialNumber", "$(rm -rf /)"}}},
			"aws iam deactivate-mfa-device --serial-number '$(rm -rf /)'"},
	}
	for _, tc := range tests {
		if got := tc.call.Command(); got != tc.want {
			t.Errorf("Command() = %s\nwant        %s", got, tc.want)
		}
	}
}

func TestIncomplete(t *testing.T) {
	id := &Identity{KeyID: "AKIAKEY", User: "alice"}
	done := func() []*Step {
		s := Plan(id, Facts{}, PlanOptions{Now: cutoff})
		for _, x := range s {
			x.Status = Done
		}
		return s
	}
	tests := []struct {
		name string
		rep  *Report
		want bool
		todo string
	}{
		{"contained, clean trail", &Report{Identity: id, Steps: done(), Investigation: &Investigation{Sources: []string{"x"}}}, false, ""},
		{"lookup failed", &Report{Identity: id, Steps: done(), Investigation: &Investigation{Sources: []string{"x"}, Problems: []string{"LookupEvents: 500"}}}, true, "the investigation is incomplete (1 problem(s), first: LookupEvents: 500)"},
		{"declined", &Report{Identity: id, Steps: []*Step{{Status: Declined, Call: Call{Action: "iam:PutRolePolicy"}}}}, true, "not confirmed: aws iam put-role-policy"},
		{"root", &Report{Identity: &Identity{Root: true}, Stopped: "root", Advice: RootAdvice("AKIAKEY")}, true, "sign in to the console as the root user"},
		{"persistence", &Report{Identity: id, Steps: done(), Persistence: []Resource{{Kind: "user"}}}, true, "review user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Incomplete(tc.rep); got != tc.want {
				t.Errorf("Incomplete = %v, want %v", got, tc.want)
			}
			if todo := strings.Join(ToDo(tc.rep), "\n"); !strings.Contains(todo, tc.todo) {
				t.Errorf("to do lacks %q:\n%s", tc.todo, todo)
			}
		})
	}
}
