package respond

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Options drive one response.
type Options struct {
	Now    func() time.Time
	DryRun bool
	Plan   PlanOptions
	// Confirm is asked before a step marked Confirm; nil declines.
	Confirm func(*Step) bool
	// Lookups read CloudTrail's LookupEvents API, one per region; none
	// skips it. LookupIn, if set, makes one for another region: the region
	// IAM says the key was last used in is added when missing.
	Lookups  []*Lookup
	LookupIn func(region string) *Lookup
	// MaxKeys bounds the derived keys looked up (0: 50).
	MaxKeys int
	// Logs are events read from local or S3 logs (LoadLogs).
	Logs *Logs
	// CallerKeyID is the access key of the credentials in use, when known.
	CallerKeyID string
	// Exposer evaluates what the key can do; nil skips it.
	Exposer audit.Exposer
	Actions []string
	// Progress is told what happens as it happens.
	Progress func(stage, msg string)
	// Version of keywarden, for the report.
	Version string
}

// Clients are the AWS APIs a response calls.
type Clients struct {
	IAM IAMAPI
	STS STSAPI
}

func (o *Options) say(stage, format string, args ...any) {
	if o.Progress != nil {
		o.Progress(stage, fmt.Sprintf(format, args...))
	}
}

// Run responds to one key: Identify, Contain (unless DryRun), Investigate,
// and returns the report. It returns an error together with the report
// when it had to stop: *InputError for a key that is malformed, unknown or
// of another account; *DeniedError or another error when AWS refused a
// call (the report's steps then say what was and was not done).
func Run(ctx context.Context, c Clients, key string, opt Options) (*Report, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	rep := &Report{Tool: "keywarden respond", Version: opt.Version, Started: opt.Now().UTC(), DryRun: opt.DryRun, KeyID: key, Subject: key, Steps: []*Step{}}
	finish := func(err error) (*Report, error) {
		rep.Finished = opt.Now().UTC()
		rep.ToDo = ToDo(rep)
		return rep, err
	}
	if err := CheckID(key); err != nil {
		return finish(err)
	}
	// 1. Identify.
	caller, callerARN, err := Caller(ctx, c.STS)
	if err != nil {
		return finish(err)
	}
	id := &Identity{KeyID: key, Kind: kindOf(key), CallerAccount: caller, CallerARN: callerARN}
	id.KeyAccount, _ = awskey.AccountID(key)
	rep.Identity = id
	opt.say("identify", "%s: %s key of account %s (you are %s)", key, id.Kind, nonEmpty(id.KeyAccount, "unknown (an ID older than 2019)"), callerARN)
	if stopped, advice := OtherAccount(id); stopped != "" {
		rep.Stopped, rep.Advice = stopped, advice
		return finish(&InputError{Msg: stopped})
	}
	subject := key
	if id.Kind == "temporary" {
		origin, err := traceSession(ctx, c.IAM, key, opt)
		if err != nil {
			rep.Stopped = err.Error()
			rep.Advice = []string{
				"a session lasts at most 36 hours (12 for a role session): find its owner from the ARN in the events it signed, and revoke that user's or role's sessions (IAM console: Revoke active sessions)",
				"rerun with --logs PATH naming the CloudTrail logs that hold the GetSessionToken or AssumeRole call that made it",
			}
			return finish(&InputError{Msg: err.Error()})
		}
		id.Session = origin
		subject = origin.ParentKey
		rep.Subject = subject
		opt.say("identify", "%s was made by %s at %s with %s", key, origin.EventName, origin.EventTime.Format(time.RFC3339), subject)
		if !strings.HasPrefix(subject, "AKIA") {
			rep.Stopped = fmt.Sprintf("%s comes from %s, which is not an access key of a user (a role session: %s)", key, subject, nonEmpty(origin.ParentARN, "unknown"))
			rep.Advice = []string{"revoke the role's sessions: keywarden cannot deactivate a role; in the IAM console open the role and use Revoke active sessions, then find how its credentials leaked"}
			return finish(nil)
		}
	}
	sid, err := Identify(ctx, c.IAM, subject, opt.Exposer, opt.Actions)
	if err != nil {
		return finish(err)
	}
	sid.Kind, sid.KeyAccount, sid.CallerAccount, sid.CallerARN, sid.Session = "long-term", id.KeyAccount, caller, callerARN, id.Session
	if subject != key {
		sid.KeyAccount, _ = awskey.AccountID(subject)
	}
	id = sid
	rep.Identity = id
	if id.Root {
		rep.Stopped = subject + " is a root user's key: IAM cannot deactivate it on the root user's behalf"
		rep.Advice = RootAdvice(subject)
		opt.say("identify", "%s", rep.Stopped)
		return finish(nil)
	}
	opt.say("identify", "owner %s, status %s, created %s, last used %s", id.User, id.Status, day(id.Created), lastUse(id.LastUsed))
	if l := id.LastUsed; l != nil && l.Region != "" && opt.LookupIn != nil && len(opt.Lookups) > 0 &&
		!slices.ContainsFunc(opt.Lookups, func(x *Lookup) bool { return x.Region == l.Region }) {
		opt.Lookups = append(opt.Lookups, opt.LookupIn(l.Region))
	}

	// 2. Contain the key itself at once: everything else can wait.
	opt.Plan.Now = opt.Now().UTC()
	steps := PlanKey(id, opt.Plan)
	// Responding with the leaked key's own credentials: deactivating it
	// first would cut the response short, so it goes last (the deny on
	// older sessions does not touch the long-term key).
	var last []*Step
	if opt.CallerKeyID != "" && opt.CallerKeyID == subject && len(steps) > 0 && steps[0].Kind == "deactivate-key" {
		opt.say("contain", "you are using the leaked key itself: it is deactivated last, and this is the last thing it does")
		last, steps = steps[:1], steps[1:]
		if len(steps) > 0 && steps[len(steps)-1].Kind == "delete-key" {
			last, steps = append(last, steps[len(steps)-1]), steps[:len(steps)-1]
		}
	}
	rep.Steps = append(rep.Steps, steps...)
	// A refusal stops the changes, not the investigation: the report
	// still lists what the key made, with the steps that were not done.
	containErr := contain(ctx, c, steps, opt)

	// 3. Investigate, then contain what the key made.
	events, problems, sources := gather(ctx, subject, opt)
	inv := Investigate(subject, events)
	inv.Sources, inv.Problems = sources, append(inv.Problems, problems...)
	inv.Skipped = len(problems)
	if opt.Logs != nil {
		inv.Skipped += opt.Logs.Skipped
	}
	rep.Investigation = inv
	opt.say("investigate", "%d events of %d keys, %s to %s; %d created or changed resources, %d detect findings",
		inv.Events, len(inv.Keys), day(inv.First), day(inv.Last), len(inv.Created), len(inv.Findings))
	rep.RoleSessions = RolesAssumed(inv)
	created, err := KeyStates(ctx, c.IAM, CreatedKeys(inv))
	if err != nil {
		return finish(errors.Join(containErr, err))
	}
	roles, err := RolePolicies(ctx, c.IAM, rep.RoleSessions)
	if err != nil {
		return finish(errors.Join(containErr, err))
	}
	more := append(PlanDerived(id, Facts{CreatedKeys: created, Roles: roles}, opt.Plan), last...)
	rep.Steps = append(rep.Steps, more...)
	if containErr == nil {
		containErr = contain(ctx, c, more, opt)
	} else {
		for _, s := range more {
			if s.Status == Planned {
				s.Status = NotDone
			}
		}
	}
	rep.Persistence = persistence(inv, rep.Steps)
	return finish(containErr)
}

// contain executes steps unless it is a dry run, telling progress.
func contain(ctx context.Context, c Clients, steps []*Step, opt Options) error {
	for _, s := range steps {
		switch {
		case s.Status == Already:
			opt.say("contain", "already done: %s", s.Call.String())
		case opt.DryRun:
			opt.say("contain", "would call %s", s.Call.String())
		}
	}
	if opt.DryRun {
		return nil
	}
	return Execute(ctx, c.IAM, steps, opt.Now, opt.Confirm, func(s *Step) {
		switch s.Status {
		case Done:
			opt.say("contain", "done: %s", s.Call.String())
		case Failed:
			opt.say("contain", "FAILED: %s: %s", s.Call.String(), s.Error)
		case Declined:
			opt.say("contain", "not confirmed, skipped: %s", s.Call.String())
		}
	})
}

// gather collects the events of subject and its derived keys from the
// LookupEvents API and the local logs. Problems are said, not fatal.
func gather(ctx context.Context, subject string, opt Options) (events []Event, problems, sources []string) {
	onErr := func(e *cloudtrail.InputError) { problems = append(problems, e.Error()) }
	if opt.Logs != nil {
		events = append(events, opt.Logs.Events...)
		sources = append(sources, opt.Logs.Sources...)
	}
	if len(opt.Lookups) > 0 {
		max := opt.MaxKeys
		if max == 0 {
			max = 50
		}
		got, err := Collect(ctx, opt.Lookups, subject, max, onErr)
		events = append(events, got...)
		for _, l := range opt.Lookups {
			sources = append(sources, fmt.Sprintf("LookupEvents %s (%d requests, %d throttled)", nonEmpty(l.Region, "default region"), l.Requests, l.Throttled))
		}
		if err != nil {
			problems = append(problems, "LookupEvents: "+err.Error())
		}
	}
	return dedupe(events), problems, sources
}

// dedupe drops events read twice (from the API and from the logs).
func dedupe(events []Event) []Event {
	seen := map[string]bool{}
	out := events[:0]
	for _, e := range events {
		if e.EventID != "" {
			if seen[e.EventID] {
				continue
			}
			seen[e.EventID] = true
		}
		out = append(out, e)
	}
	return out
}

// traceSession finds where an ASIA key came from, in the local logs and
// through LookupEvents. The minting call is recorded under the parent
// key, not the session's, so: the session's own events name its user; a
// user's keys (at most two) are read for the GetSessionToken or
// AssumeRole that made it; failing that, the minting calls of the whole
// account are read until it turns up.
func traceSession(ctx context.Context, c IAMReader, key string, opt Options) (*SessionOrigin, error) {
	g := NewGraph()
	if opt.Logs != nil {
		for i := range opt.Logs.Events {
			g.Observe(opt.Logs.Events[i].Record())
		}
	}
	found := func() bool { _, ok := g.Origin(key); return ok }
	ignore := func(*cloudtrail.InputError) {}
	fail := func(err error) (*SessionOrigin, error) {
		return nil, fmt.Errorf("looking for the call that made %s: %w", key, err)
	}
	for _, l := range opt.Lookups {
		if found() {
			break
		}
		var user string
		if err := l.ByKey(ctx, key, func(r *cloudtrail.Record) {
			if r.UserIdentity.Type == "IAMUser" && user == "" {
				user = strings.Clone(r.UserIdentity.UserName)
			}
		}, ignore); err != nil {
			return fail(err)
		}
		if user == "" || c == nil {
			continue
		}
		keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
		if err != nil {
			return fail(classify("iam:ListAccessKeys", err))
		}
		for _, k := range keys.AccessKeyMetadata {
			if !found() {
				if err := l.ByKey(ctx, aws.ToString(k.AccessKeyId), g.Observe, ignore); err != nil {
					return fail(err)
				}
			}
		}
	}
	for _, l := range opt.Lookups {
		for _, name := range SessionEvents {
			if found() {
				break
			}
			if err := l.ByEvent(ctx, name, g.Observe, ignore, found); err != nil {
				return fail(err)
			}
		}
	}
	e, ok := g.Origin(key)
	if !ok {
		return nil, fmt.Errorf("%s is a session key, and no GetSessionToken, AssumeRole or GetFederationToken call in the CloudTrail events read made it", key)
	}
	return &SessionOrigin{EventName: e.Event, EventTime: e.Time, ParentKey: g.Root(key), ParentARN: e.ParentARN, RoleARN: e.RoleARN}, nil
}

// persistence lists what the key created or changed that the response
// did not undo itself; created access keys that were contained are
// marked so.
func persistence(inv *Investigation, steps []*Step) []Resource {
	contained := map[string]bool{}
	for _, s := range steps {
		if s.Kind == "contain-created-key" && (s.Status == Done || s.Status == Already) {
			contained[s.Call.Get("AccessKeyId")] = true
		}
	}
	out := make([]Resource, 0, len(inv.Created))
	for _, r := range inv.Created {
		r.Contained = r.Kind == "access-key" && contained[r.ARN]
		out = append(out, r)
	}
	return out
}

// ToDo is what is left for people after the run.
func ToDo(r *Report) []string {
	var out []string
	for _, s := range r.Steps {
		switch s.Status {
		case Failed:
			out = append(out, fmt.Sprintf("NOT DONE (refused: %s): %s", s.Error, s.Call.Command()))
		case NotDone:
			out = append(out, "NOT DONE (an earlier step failed): "+s.Call.Command())
		case Declined:
			if s.Kind == "delete-key" {
				out = append(out, s.Why)
			} else {
				out = append(out, "not confirmed: "+s.Call.Command())
			}
		case Planned:
			if r.DryRun {
				out = append(out, "dry run, not done: "+s.Call.Command())
			}
		}
	}
	if r.Stopped != "" {
		out = append(out, r.Advice...)
		return out
	}
	id := r.Identity
	if id == nil || id.User == "" {
		return out
	}
	out = append(out,
		fmt.Sprintf("give %s a new key and retire the leaked one: keywarden rotate PROFILE (or aws iam create-access-key --user-name %s), update where it is used, then delete %s once the investigation no longer needs it", id.User, shellQuote(id.User), r.Subject),
		"purge the key from git history: keywarden scan --git lists the commits that hold it; rewrite them (git filter-repo) and force-push, and assume every clone keeps a copy")
	for _, p := range r.Persistence {
		if !p.Contained {
			out = append(out, fmt.Sprintf("review %s %s (%s at %s): %s", p.Kind, p.ARN, p.Event, p.Time.Format(time.RFC3339), p.Undo))
		}
	}
	if len(r.RoleSessions) > 0 && !slices.ContainsFunc(r.Steps, func(s *Step) bool { return s.Kind == "revoke-role-sessions" }) {
		out = append(out, "the key assumed roles whose sessions may still be valid: "+strings.Join(r.RoleSessions, ", ")+" (rerun with --revoke-role-sessions)")
	}
	if inv := r.Investigation; inv != nil && len(inv.Problems) > 0 {
		out = append(out, fmt.Sprintf("the investigation is incomplete (%d problem(s), first: %s): rerun with --logs, or once the cause is fixed", len(inv.Problems), inv.Problems[0]))
	}
	if r.Investigation == nil || len(r.Investigation.Sources) == 0 {
		out = append(out, "no CloudTrail was read: investigate with --logs PATH|s3://... or without --no-lookup")
	}
	return out
}

// Incomplete reports whether the response left the key not fully
// contained or something for people to do beyond the routine: a planned
// (dry-run) change not made, a refused,
// skipped or unconfirmed step, a stop, or persistence to review.
func Incomplete(r *Report) bool {
	if r.Stopped != "" {
		return true
	}
	for _, s := range r.Steps {
		if s.Status == Failed || s.Status == NotDone || s.Status == Declined || s.Status == Planned {
			return true
		}
	}
	for _, p := range r.Persistence {
		if !p.Contained {
			return true
		}
	}
	return r.Investigation != nil && len(r.Investigation.Problems) > 0
}

// IsInput reports whether err is a problem with the user's input.
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func kindOf(key string) string {
	if strings.HasPrefix(key, "ASIA") {
		return "temporary"
	}
	return "long-term"
}

func nonEmpty(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func lastUse(l *LastUse) string {
	if l == nil {
		return "never"
	}
	s := day(l.Date)
	if l.Service != "" {
		s += " (" + l.Service
		if l.Region != "" {
			s += ", " + l.Region
		}
		s += ")"
	}
	return s
}
