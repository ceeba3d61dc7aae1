package respond

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/mototest"
)

// account is a moto account with a leaked key and what it made.
type account struct {
	iam     *iam.Client
	leaked  string // alice's key
	created string // a key for user backdoor, "created by" the leaked key
	session string // an ASIA key the leaked key got from AssumeRole
	events  []Event
}

const adminPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

func setupAccount(t *testing.T, ctx context.Context, cfg aws.Config) *account {
	t.Helper()
	c := iam.NewFromConfig(cfg)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"alice", "backdoor"} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
	}
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("admin"), PolicyDocument: aws.String(adminPolicy)}))
	must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice"), Password: aws.String("Correct-Horse-9")}))
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ops"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`)}))
	k1, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("backdoor")})
	if err != nil {
		t.Fatal(err)
	}
	a := &account{iam: c, leaked: aws.ToString(k1.AccessKey.AccessKeyId), created: aws.ToString(k2.AccessKey.AccessKeyId), session: "ASIARZPUZDIKEZ3NSKTV"}
	a.events = decodeEvents(t, strings.NewReplacer("LEAKED", a.leaked, "CREATED", a.created, "SESSION", a.session).Replace(trailOfLeak))
	return a
}

// trailOfLeak is what CloudTrail would hold: the leaked key creates a user
// and a key for it, assumes a role; the session lists buckets; the
// created key launches an instance. Listed out of order on purpose.
const trailOfLeak = `
{"eventVersion":"1.08","eventTime":"2026-02-27T10:05:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"boto3/1.34","readOnly":false,"eventID":"ev-5","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","accessKeyId":"CREATED","arn":"arn:aws:iam::123456789012:user/backdoor","accountId":"123456789012","userName":"backdoor"},"requestParameters":{"instanceType":"p3.16xlarge"},"responseElements":{"instancesSet":{"items":[{"instanceId":"i-0abc123"}]}}}
{"eventVersion":"1.08","eventTime":"2026-02-27T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","readOnly":false,"eventID":"ev-1","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","accessKeyId":"LEAKED","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"requestParameters":{"userName":"backdoor"},"responseElements":{"user":{"arn":"arn:aws:iam::123456789012:user/backdoor","userName":"backdoor"}}}
{"eventVersion":"1.08","eventTime":"2026-02-27T10:01:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","readOnly":false,"eventID":"ev-2","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","accessKeyId":"LEAKED","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"requestParameters":{"userName":"backdoor"},"responseElements":{"accessKey":{"accessKeyId":"CREATED","userName":"backdoor","status":"Active"}}}
{"eventVersion":"1.08","eventTime":"2026-02-27T10:03:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"2001:db8:7::1","userAgent":"aws-cli/2.15","readOnly":true,"eventID":"ev-4","recipientAccountId":"123456789012","userIdentity":{"type":"AssumedRole","accessKeyId":"SESSION","arn":"arn:aws:sts::123456789012:assumed-role/ops/x","accountId":"123456789012","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::123456789012:role/ops"},"attributes":{"mfaAuthenticated":"false"}}}}
{"eventVersion":"1.08","eventTime":"2026-02-27T10:02:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","readOnly":true,"eventID":"ev-3","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","accessKeyId":"LEAKED","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"requestParameters":{"roleArn":"arn:aws:iam::123456789012:role/ops","roleSessionName":"x"},"responseElements":{"credentials":{"accessKeyId":"SESSION","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLETOKEN","expiration":"Feb 27, 2026, 11:02:00 AM"},"assumedRoleUser":{"arn":"arn:aws:sts::123456789012:assumed-role/ops/x"}}}
{"eventVersion":"1.08","eventTime":"2026-02-27T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli/2.15","readOnly":true,"eventID":"ev-0","recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","accessKeyId":"AKIARZPUZDIKOTHERKEY","arn":"arn:aws:iam::123456789012:user/bob","accountId":"123456789012","userName":"bob"}}
`

func decodeEvents(t testing.TB, lines string) []Event {
	t.Helper()
	var out []Event
	st := cloudtrail.Decode("trail", strings.NewReader(lines), func(r *cloudtrail.Record) { out = append(out, EventOf(r)) },
		func(e *cloudtrail.InputError) { t.Fatalf("decode: %v", e) })
	if st.Records != len(out) || len(out) == 0 {
		t.Fatalf("decoded %d records", len(out))
	}
	return out
}

// recorder records every AWS operation a client makes, as "iam:Action".
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) attach(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(slices.Clone(cfg.APIOptions), func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			r.mu.Lock()
			r.calls = append(r.calls, strings.ToLower(awsmiddleware.GetServiceID(ctx))+":"+awsmiddleware.GetOperationName(ctx))
			r.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	return cfg
}

func clientsFor(cfg aws.Config) Clients {
	return Clients{IAM: iam.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg)}
}

func testOptions(a *account, now time.Time) Options {
	return Options{
		Now:     func() time.Time { return now },
		Plan:    PlanOptions{ContainCreated: true, RevokeRoleSessions: true, Quarantine: true},
		Confirm: func(*Step) bool { return true },
		Logs:    &Logs{Events: a.events, Sources: []string{"trail"}},
		Exposer: audit.NewEngineExposer(), Actions: audit.DefaultActions,
	}
}

// snapshot renders the state of the account that respond may change.
func snapshot(t *testing.T, ctx context.Context, c *iam.Client) string {
	t.Helper()
	var b strings.Builder
	users, err := c.ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		name := u.UserName
		fmt.Fprintf(&b, "user %s\n", *name)
		keys, _ := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: name})
		for _, k := range keys.AccessKeyMetadata {
			fmt.Fprintf(&b, "  key %s %s\n", *k.AccessKeyId, k.Status)
		}
		pols, _ := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
		for _, p := range pols.PolicyNames {
			doc, _ := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(p)})
			d, _ := url.QueryUnescape(aws.ToString(doc.PolicyDocument))
			fmt.Fprintf(&b, "  inline %s %s\n", p, d)
		}
		att, _ := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name})
		for _, p := range att.AttachedPolicies {
			fmt.Fprintf(&b, "  attached %s\n", *p.PolicyArn)
		}
		if _, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: name}); err == nil {
			fmt.Fprintf(&b, "  login profile\n")
		}
	}
	roles, _ := c.ListRoles(ctx, &iam.ListRolesInput{})
	for _, r := range roles.Roles {
		fmt.Fprintf(&b, "role %s\n", *r.RoleName)
		pols, _ := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: r.RoleName})
		for _, p := range pols.PolicyNames {
			fmt.Fprintf(&b, "  inline %s\n", p)
		}
	}
	return b.String()
}

func statuses(steps []*Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Kind+"="+string(s.Status))
	}
	return strings.Join(out, " ")
}

func startMoto(t *testing.T) *mototest.Server {
	// AWS's managed policies (the quarantine policy) are loaded only on
	// request; the server inherits the environment.
	t.Setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
	return mototest.Start(t)
}

// One moto account, the whole life of a response: a dry run changes
// nothing and calls only reads; the response contains the key, its
// sessions, the key it created and the role it assumed; a second run
// changes nothing; undo restores the account.
func TestRunMoto(t *testing.T) {
	srv := startMoto(t)
	ctx := context.Background()
	a := setupAccount(t, ctx, srv.Config())
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	allowed := func(calls []string, actions ...[]string) {
		t.Helper()
		for _, c := range calls {
			if c == "sts:GetCallerIdentity" {
				continue
			}
			if !slices.ContainsFunc(actions, func(l []string) bool { return slices.Contains(l, c) }) {
				t.Errorf("call %s is not in the required policy", c)
			}
		}
	}

	// Dry run.
	before := snapshot(t, ctx, a.iam)
	rec := &recorder{}
	opt := testOptions(a, now)
	opt.DryRun = true
	rep, err := Run(ctx, clientsFor(rec.attach(srv.Config())), a.leaked, opt)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, ctx, a.iam); after != before {
		t.Errorf("dry run changed the account:\nbefore\n%s\nafter\n%s", before, after)
	}
	want := "deactivate-key=planned revoke-sessions=planned quarantine=planned contain-created-key=planned revoke-role-sessions=planned"
	if got := statuses(rep.Steps); got != want {
		t.Errorf("dry run steps: %s\nwant %s", got, want)
	}
	allowed(rec.calls, ReadActions)

	// The response.
	rec = &recorder{}
	rep, err = Run(ctx, clientsFor(rec.attach(srv.Config())), a.leaked, testOptions(a, now))
	if err != nil {
		t.Fatalf("%v\n%s", err, statuses(rep.Steps))
	}
	want = "deactivate-key=done revoke-sessions=done quarantine=done contain-created-key=done revoke-role-sessions=done"
	if got := statuses(rep.Steps); got != want {
		t.Errorf("steps: %s\nwant %s", got, want)
	}
	allowed(rec.calls, ReadActions, WriteActions)
	for _, w := range WriteActions[:4] {
		if w != "iam:DeleteUserPolicy" && !slices.Contains(rec.calls, w) {
			t.Errorf("the response did not call %s (the test no longer proves it is needed)", w)
		}
	}
	state := snapshot(t, ctx, a.iam)
	for _, want := range []string{
		"key " + a.leaked + " Inactive",
		"key " + a.created + " Inactive",
		"inline " + RevokePolicyName(a.leaked) + ` {"Statement":[{"Action":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-01T12:00:00Z"}}`,
		"attached " + QuarantinePolicyARN,
		"role ops\n  inline " + RevokePolicyName(a.leaked),
		"login profile", // not removed without --disable-console
	} {
		if !strings.Contains(state, want) {
			t.Errorf("account lacks %q:\n%s", want, state)
		}
	}
	if rep.Identity.User != "alice" || rep.Identity.Status != "Active" || !rep.Identity.ConsolePassword || rep.Identity.Exposure == nil || len(rep.Identity.Exposure.WithoutMFA) == 0 {
		t.Errorf("identity: %+v", rep.Identity)
	}
	inv := rep.Investigation
	if got, want := strings.Join(inv.Keys, " "), strings.Join(sorted(a.leaked, a.created, a.session), " "); got != want {
		t.Errorf("keys investigated %s, want %s", got, want)
	}
	if inv.Events != 5 || !inv.First.Equal(time.Date(2026, 2, 27, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("events %d first %s", inv.Events, inv.First)
	}
	var kinds []string
	for _, p := range rep.Persistence {
		kinds = append(kinds, fmt.Sprintf("%s:%s:%v", p.Kind, p.ARN, p.Contained))
	}
	wantKinds := []string{"user:arn:aws:iam::123456789012:user/backdoor:false", "access-key:" + a.created + ":true", "instance:arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc123:false"}
	if strings.Join(kinds, " ") != strings.Join(wantKinds, " ") {
		t.Errorf("persistence:\n%s\nwant\n%s", strings.Join(kinds, "\n"), strings.Join(wantKinds, "\n"))
	}
	if !slices.Equal(rep.RoleSessions, []string{"ops"}) {
		t.Errorf("role sessions %v", rep.RoleSessions)
	}
	if !Incomplete(rep) {
		t.Error("a user and an instance are left to review, yet the report is complete")
	}

	// Idempotent: the second run finds everything done.
	rec = &recorder{}
	again, err := Run(ctx, clientsFor(rec.attach(srv.Config())), a.leaked, testOptions(a, now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	want = "deactivate-key=already-done revoke-sessions=already-done quarantine=already-done contain-created-key=already-done revoke-role-sessions=already-done"
	if got := statuses(again.Steps); got != want {
		t.Errorf("second run: %s\nwant %s", got, want)
	}
	allowed(rec.calls, ReadActions)
	if after := snapshot(t, ctx, a.iam); after != state {
		t.Errorf("second run changed the account:\n%s\n%s", state, after)
	}

	// Undo, from the JSON the first run would have written.
	var buf strings.Builder
	if err := WriteJSON(&buf, []*Report{rep}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport("rec.json", []byte(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	undo, manual := UndoSteps(back)
	if len(undo) != 5 || len(manual) != 0 {
		t.Fatalf("undo %d steps, manual %v", len(undo), manual)
	}
	if err := Execute(ctx, clientsFor(srv.Config()).IAM, undo, opt.Now, nil, nil); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, ctx, a.iam); after != before {
		t.Errorf("undo did not restore the account:\nbefore\n%s\nafter\n%s", before, after)
	}

	// --delete: never in the run that finds the key active; a later run
	// deletes it.
	for i, want := range []Status{Declined, Done} {
		opt := testOptions(a, now)
		opt.Plan.Delete = true
		rep, err := Run(ctx, clientsFor(srv.Config()), a.leaked, opt)
		if err != nil {
			t.Fatal(err)
		}
		del := rep.Steps[len(PlanKey(rep.Identity, opt.Plan))-1]
		if del.Kind != "delete-key" || del.Status != want {
			t.Errorf("run %d: %s is %s, want %s", i+1, del.Kind, del.Status, want)
		}
	}
	if state := snapshot(t, ctx, a.iam); strings.Contains(state, "key "+a.leaked) {
		t.Errorf("the key was not deleted:\n%s", state)
	}
}

func sorted(s ...string) []string { sort.Strings(s); return s }

// failingIAM refuses the n-th write call (0-based) with AccessDenied.
type failingIAM struct {
	IAMAPI
	at, n int
}

func (f *failingIAM) refuse(op string) error {
	f.n++
	if f.n-1 == f.at {
		return &smithy.OperationError{ServiceID: "IAM", OperationName: op, Err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform iam:" + op}}
	}
	return nil
}

func (f *failingIAM) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, o ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	if err := f.refuse("UpdateAccessKey"); err != nil {
		return nil, err
	}
	return f.IAMAPI.UpdateAccessKey(ctx, in, o...)
}

func (f *failingIAM) PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, o ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	if err := f.refuse("PutUserPolicy"); err != nil {
		return nil, err
	}
	return f.IAMAPI.PutUserPolicy(ctx, in, o...)
}

func (f *failingIAM) AttachUserPolicy(ctx context.Context, in *iam.AttachUserPolicyInput, o ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error) {
	if err := f.refuse("AttachUserPolicy"); err != nil {
		return nil, err
	}
	return f.IAMAPI.AttachUserPolicy(ctx, in, o...)
}

func (f *failingIAM) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, o ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	if err := f.refuse("PutRolePolicy"); err != nil {
		return nil, err
	}
	return f.IAMAPI.PutRolePolicy(ctx, in, o...)
}

// A refusal at each step leaves a report that says exactly what was done
// (and the account in exactly that state), what was refused and what was
// not attempted; a second run then finishes the job.
func TestRunRefusedAtEachStepMoto(t *testing.T) {
	srv := startMoto(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	kinds := []string{"deactivate-key", "revoke-sessions", "quarantine", "contain-created-key", "revoke-role-sessions"}
	for at, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if err := srv.Reset(ctx); err != nil {
				t.Fatal(err)
			}
			a := setupAccount(t, ctx, srv.Config())
			c := clientsFor(srv.Config())
			c.IAM = &failingIAM{IAMAPI: c.IAM, at: at}
			rep, err := Run(ctx, c, a.leaked, testOptions(a, now))
			var denied *DeniedError
			if !errors.As(err, &denied) || !strings.HasPrefix(denied.Action, "iam:") {
				t.Fatalf("err = %v, want a DeniedError", err)
			}
			var want []string
			for i, k := range kinds {
				switch {
				case i < at:
					want = append(want, k+"=done")
				case i == at:
					want = append(want, k+"=failed")
				default:
					want = append(want, k+"=not-done")
				}
			}
			if got := statuses(rep.Steps); got != strings.Join(want, " ") {
				t.Errorf("steps: %s\nwant  %s", got, strings.Join(want, " "))
			}
			if !strings.Contains(rep.Steps[at].Error, "AccessDenied") {
				t.Errorf("failed step error %q", rep.Steps[at].Error)
			}
			todo := strings.Join(rep.ToDo, "\n")
			if n := strings.Count(todo, "NOT DONE"); n != len(kinds)-at {
				t.Errorf("to do lists %d steps not done, want %d:\n%s", n, len(kinds)-at, todo)
			}
			state := snapshot(t, ctx, a.iam)
			if got := strings.Contains(state, "key "+a.leaked+" Inactive"); got != (at > 0) {
				t.Errorf("key inactive = %v after a refusal at step %d", got, at)
			}
			// The investigation ran all the same.
			if len(rep.Persistence) != 3 {
				t.Errorf("persistence %d", len(rep.Persistence))
			}
			// A second run (no refusal) finishes: the done steps are found
			// in place, the rest is made.
			again, err := Run(ctx, clientsFor(srv.Config()), a.leaked, testOptions(a, now))
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range again.Steps {
				want := Done
				if i < at {
					want = Already
				}
				if s.Status != want {
					t.Errorf("second run: %s is %s, want %s", s.Kind, s.Status, want)
				}
			}
		})
	}
}

func TestRunBadKeysMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	other, _ := awskey.NewID("AKIA", 210987654321, strings.NewReader(strings.Repeat("\x11", 10)))
	unknown, _ := awskey.NewID("AKIA", 123456789012, strings.NewReader(strings.Repeat("\x22", 10)))
	tests := []struct {
		name, key, want string
		input           bool
	}{
		{"malformed", "AKIA123", "is not an access key ID", true},
		{"not a key", "AROARZPUZDIKIADEV2ZR", "is not an access key ID", true},
		{"example", "AKIAIOSFODNN7EXAMPLE", "documentation example", true},
		{"another account", other, "belongs to account 210987654321, not to 123456789012", true},
		{"unknown", unknown, "IAM does not know it", true},
		{"untraced session", "ASIARZPUZDIKEZ3NSKTV", "no GetSessionToken, AssumeRole or GetFederationToken call", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(ctx, clientsFor(srv.Config()), tc.key, Options{Logs: &Logs{}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || IsInput(err) != tc.input {
				t.Fatalf("err = %v, want %q (input %v)", err, tc.want, tc.input)
			}
			if rep == nil || len(rep.Steps) != 0 {
				t.Errorf("report %+v", rep)
			}
		})
	}
	// The other account's report says what to do.
	rep, _ := Run(ctx, clientsFor(srv.Config()), other, Options{})
	if !strings.Contains(strings.Join(rep.Advice, "\n"), "report the exposed key to AWS") {
		t.Errorf("advice %q", rep.Advice)
	}
}

// An ASIA key is traced to the long-term key that made it, which is
// then the one contained.
func TestRunSessionKeyMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	a := setupAccount(t, ctx, srv.Config())
	opt := testOptions(a, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opt.DryRun = true
	rep, err := Run(ctx, clientsFor(srv.Config()), a.session, opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Subject != a.leaked || rep.Identity.Session == nil || rep.Identity.Session.EventName != "AssumeRole" || rep.Identity.Session.RoleARN != "arn:aws:iam::123456789012:role/ops" {
		t.Errorf("subject %s session %+v", rep.Subject, rep.Identity.Session)
	}
	if rep.Steps[0].Call.Get("AccessKeyId") != a.leaked {
		t.Errorf("first step %s", rep.Steps[0].Call)
	}
}

// Identify names the refused read.
func TestIdentifyDeniedMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	a := setupAccount(t, ctx, srv.Config())
	c := clientsFor(srv.Config())
	c.IAM = deniedReads{c.IAM}
	_, err := Run(ctx, c, a.leaked, Options{})
	var denied *DeniedError
	if !errors.As(err, &denied) || denied.Action != "iam:ListAccessKeys" || !strings.Contains(err.Error(), "--print-required-policy") {
		t.Fatalf("err = %v", err)
	}
}

type deniedReads struct{ IAMAPI }

func (deniedReads) ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
}

// Redacted IDs from scan and detect reports are matched to the account's
// keys.
func TestResolveRedactedMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	a := setupAccount(t, ctx, srv.Config())
	red := func(k string) string { return awskey.Redact(k) }
	keys, unresolved, err := ResolveRedacted(ctx, clientsFor(srv.Config()).IAM,
		[]string{red(a.leaked), red(a.created), "AKIA************ZZZZ", "ASIA************SKTV"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{a.leaked, a.created}) {
		t.Errorf("keys %v", keys)
	}
	if len(unresolved) != 2 || !strings.Contains(unresolved[0], "no access key of this account ends so") || !strings.Contains(unresolved[1], "a session key") {
		t.Errorf("unresolved %q", unresolved)
	}
}

// Responding with the leaked key's own credentials: every other step is
// made first, and the key is deactivated last.
func TestRunWithTheLeakedKeyMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	a := setupAccount(t, ctx, srv.Config())
	opt := testOptions(a, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opt.Plan.Quarantine = false
	opt.CallerKeyID = a.leaked
	rep, err := Run(ctx, clientsFor(srv.Config()), a.leaked, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := "revoke-sessions=done contain-created-key=done revoke-role-sessions=done deactivate-key=done"
	if got := statuses(rep.Steps); got != want {
		t.Errorf("steps: %s\nwant  %s", got, want)
	}
}
