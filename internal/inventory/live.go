package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keywarden/keywarden/internal/clock"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// IAMAPI is the part of the IAM client the live loader calls. *iam.Client
// satisfies it; tests substitute fakes to exercise errors moto cannot
// produce (throttling, access denied, a report that never finishes).
type IAMAPI interface {
	GetAccountAuthorizationDetails(context.Context, *iam.GetAccountAuthorizationDetailsInput, ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	GenerateCredentialReport(context.Context, *iam.GenerateCredentialReportInput, ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error)
	GetCredentialReport(context.Context, *iam.GetCredentialReportInput, ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error)
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	ListMFADevices(context.Context, *iam.ListMFADevicesInput, ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
	ListVirtualMFADevices(context.Context, *iam.ListVirtualMFADevicesInput, ...func(*iam.Options)) (*iam.ListVirtualMFADevicesOutput, error)
	GetAccountSummary(context.Context, *iam.GetAccountSummaryInput, ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
	GetAccountPasswordPolicy(context.Context, *iam.GetAccountPasswordPolicyInput, ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error)
}

// STSAPI is the part of the STS client the loader calls.
type STSAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// RequiredActions are the read-only permissions a live audit needs, in the
// order the loader uses them. sts:GetCallerIdentity needs none.
var RequiredActions = []string{
	"iam:GetAccountAuthorizationDetails",
	"iam:GenerateCredentialReport",
	"iam:GetCredentialReport",
	"iam:ListAccessKeys",
	"iam:GetAccessKeyLastUsed",
	"iam:ListMFADevices",
	"iam:ListVirtualMFADevices",
	"iam:GetAccountSummary",
	"iam:GetAccountPasswordPolicy",
}

// RequiredPolicy is the minimal identity policy that lets a principal run
// `keywarden audit` live. It grants reads only: the credential report's
// generation is the one call that makes AWS do work, and it changes nothing.
func RequiredPolicy() iampolicy.Document {
	return iampolicy.Document{
		Version: iampolicy.Version2012,
		Statement: []iampolicy.DocStatement{{
			Sid:      "KeywardenAuditReadOnly",
			Effect:   iampolicy.Allow,
			Action:   iampolicy.StringOrList(RequiredActions),
			Resource: iampolicy.StringOrList{"*"},
		}},
	}
}

// NewIAMClient builds an IAM client that retries throttled calls with
// backoff more patiently than the SDK's default: an audit of a large
// account makes thousands of calls, and IAM throttles at a few per second.
// The client-side retry quota is off so a burst of throttling cannot turn
// into "retry quota exceeded".
func NewIAMClient(cfg aws.Config) *iam.Client {
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.Retryer = PatientRetryer() })
}

// PatientRetryer retries throttled calls up to 12 times with backoff up to
// 20s, without a client-side retry quota: for services that throttle at a
// few calls per second (IAM, AWS Organizations).
func PatientRetryer() aws.Retryer {
	return retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 12
		so.MaxBackoff = 20 * time.Second
		so.RateLimiter = ratelimit.None
	})
}

// PermissionError is an AccessDenied from AWS, with the permission that
// was missing.
type PermissionError struct {
	Action string
	Err    error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("access denied to %s: the audit needs read-only IAM permissions; `keywarden audit --print-required-policy` prints a policy to attach (%v)", e.Action, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// wrapAWSError names the missing permission on AccessDenied.
func wrapAWSError(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	denied := false
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess":
		denied = true
	case "", "UnknownError":
		// A 403 whose body the SDK could not decode (moto_server's
		// <Errors><Error> envelope, a proxy's page) is a refusal too.
		var re *smithyhttp.ResponseError
		denied = errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
	}
	if !denied {
		return err
	}
	action := "an IAM action"
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		action = strings.ToLower(oe.Service()) + ":" + oe.Operation()
	}
	return &PermissionError{Action: action, Err: ae}
}

// LiveOptions tune Load.
type LiveOptions struct {
	// ReportTimeout bounds the wait for the credential report (default 2m).
	ReportTimeout time.Duration
	// PollInterval is the wait between report polls (default 2s).
	PollInterval time.Duration
	// Concurrency is the number of per-user calls in flight (default 8).
	Concurrency int
	// Progress, if set, is told what is loading: stage, done, total (total
	// 0 when unknown). It is called from one goroutine at a time.
	Progress func(stage string, done, total int)

	// clock is the time source of the report wait; tests give a fake one
	// so that how many polls happen does not depend on the machine's load.
	clock waitClock
}

// waitClock is what waitCredentialReport needs of time.
type waitClock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d) }

// Load reads an account through the AWS API: the authorization details
// (every page), the credential report (generated, then polled until ready),
// each user's access keys with their last use and MFA devices, the virtual
// MFA devices and the account summary.
func Load(ctx context.Context, client IAMAPI, stsClient STSAPI, opt LiveOptions) (*Account, error) {
	if opt.ReportTimeout <= 0 {
		opt.ReportTimeout = 2 * time.Minute
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 2 * time.Second
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.clock == nil {
		opt.clock = realClock{}
	}
	progress := opt.Progress
	if progress == nil {
		progress = func(string, int, int) {}
	}
	a := New()
	a.Sources.Live = true

	if stsClient != nil {
		if out, err := stsClient.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil && out.Account != nil {
			a.ID = *out.Account
		} else if err != nil {
			if strings.Contains(strings.ToLower(err.Error()), "credential") {
				return nil, fmt.Errorf("sts:GetCallerIdentity: %w (are credentials configured? --profile, AWS_PROFILE)", err)
			}
			return nil, fmt.Errorf("sts:GetCallerIdentity: %w", wrapAWSError(err))
		}
	}

	// Ask for the report first: AWS builds it while we page the details.
	progress("credential report", 0, 0)
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		return nil, wrapAWSError(err)
	}

	if err := loadDetails(ctx, client, a, progress); err != nil {
		return nil, err
	}
	rep, err := waitCredentialReport(ctx, client, opt, progress)
	if err != nil {
		return nil, err
	}

	// Keys and MFA devices per user, by ID; the report then adds last use
	// where GetAccessKeyLastUsed had none.
	virtual := map[string]bool{}
	rootVirtual := false
	vp := iam.NewListVirtualMFADevicesPaginator(client, &iam.ListVirtualMFADevicesInput{})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return nil, wrapAWSError(err)
		}
		for _, d := range page.VirtualMFADevices {
			virtual[aws.ToString(d.SerialNumber)] = true
			// The root user's device is listed with the root ARN as its
			// user: the root's MFA is then virtual, not hardware.
			if d.User != nil && strings.HasSuffix(aws.ToString(d.User.Arn), ":root") {
				rootVirtual = true
			}
		}
	}
	if err := loadKeysAndMFA(ctx, client, a, virtual, opt.Concurrency, progress); err != nil {
		return nil, err
	}
	a.Sources.KeyIDs, a.Sources.MFADevices = true, true
	a.ApplyCredentialReport("", rep)

	progress("account summary", 0, 0)
	sum, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return nil, wrapAWSError(err)
	}
	a.Summary = map[string]int32{}
	for k, v := range sum.SummaryMap {
		a.Summary[k] = v
	}
	if a.Root == nil {
		a.Root = &Root{ARN: "arn:aws:iam::" + a.ID + ":root"}
	}
	if v, ok := a.Summary["AccountMFAEnabled"]; ok && a.Root.MFAActive == Unknown {
		a.Root.MFAActive = TriOf(v > 0)
	}
	if v, ok := a.Summary["AccountAccessKeysPresent"]; ok && a.Root.KeysPresent == Unknown {
		a.Root.KeysPresent = TriOf(v > 0)
	}
	// A virtual device assigned to the root user is the root's MFA.
	a.Root.MFAVirtual = TriOf(rootVirtual)

	progress("password policy", 0, 0)
	pp, err := client.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity":
		// The account has no password policy: AWS's default applies.
		a.SetPasswordPolicy(&PasswordPolicy{})
	case err != nil:
		return nil, wrapAWSError(err)
	default:
		a.SetPasswordPolicy(passwordPolicyOf(pp.PasswordPolicy))
	}
	progress("done", 0, 0)
	return a, nil
}

func loadDetails(ctx context.Context, client IAMAPI, a *Account, progress func(string, int, int)) error {
	p := iam.NewGetAccountAuthorizationDetailsPaginator(client, &iam.GetAccountAuthorizationDetailsInput{
		Filter: []iamtypes.EntityType{iamtypes.EntityTypeUser, iamtypes.EntityTypeGroup, iamtypes.EntityTypeRole,
			iamtypes.EntityTypeLocalManagedPolicy, iamtypes.EntityTypeAWSManagedPolicy},
	})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrapAWSError(err)
		}
		pages++
		progress("authorization details", pages, 0)
		a.applyAuthDetails("GetAccountAuthorizationDetails", detailsFromAPI(page))
	}
	a.Sources.AuthorizationDetails = true
	a.sortUsers()
	return nil
}

// rawString turns an API policy document (a URL-encoded string) into the
// JSON form DecodePolicyDocument takes.
func rawString(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	b, _ := json.Marshal(*s)
	return b
}

func inlineFromAPI(list []iamtypes.PolicyDetail) []adInline {
	out := make([]adInline, 0, len(list))
	for _, p := range list {
		out = append(out, adInline{PolicyName: aws.ToString(p.PolicyName), PolicyDocument: rawString(p.PolicyDocument)})
	}
	return out
}

func attachedFromAPI(list []iamtypes.AttachedPolicy) []adAttached {
	out := make([]adAttached, 0, len(list))
	for _, p := range list {
		out = append(out, adAttached{PolicyName: aws.ToString(p.PolicyName), PolicyArn: aws.ToString(p.PolicyArn)})
	}
	return out
}

func boundaryFromAPI(b *iamtypes.AttachedPermissionsBoundary) *adBoundary {
	if b == nil || b.PermissionsBoundaryArn == nil {
		return nil
	}
	return &adBoundary{PermissionsBoundaryArn: *b.PermissionsBoundaryArn}
}

// detailsFromAPI maps one SDK page onto the export's shape so that the live
// and offline paths share one interpretation.
func detailsFromAPI(page *iam.GetAccountAuthorizationDetailsOutput) *authDetails {
	d := &authDetails{}
	for _, u := range page.UserDetailList {
		ud := adUser{Path: aws.ToString(u.Path), UserName: aws.ToString(u.UserName), UserID: aws.ToString(u.UserId),
			Arn: aws.ToString(u.Arn), UserPolicyList: inlineFromAPI(u.UserPolicyList), GroupList: u.GroupList,
			AttachedManagedPolicies: attachedFromAPI(u.AttachedManagedPolicies), PermissionsBoundary: boundaryFromAPI(u.PermissionsBoundary)}
		if u.CreateDate != nil {
			ud.CreateDate = u.CreateDate.UTC().Format(time.RFC3339)
		}
		for _, t := range u.Tags {
			ud.Tags = append(ud.Tags, adTag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
		d.UserDetailList = append(d.UserDetailList, ud)
	}
	for _, g := range page.GroupDetailList {
		d.GroupDetailList = append(d.GroupDetailList, adGroup{GroupName: aws.ToString(g.GroupName), GroupID: aws.ToString(g.GroupId),
			Arn: aws.ToString(g.Arn), GroupPolicyList: inlineFromAPI(g.GroupPolicyList), AttachedManagedPolicies: attachedFromAPI(g.AttachedManagedPolicies)})
	}
	for _, r := range page.RoleDetailList {
		d.RoleDetailList = append(d.RoleDetailList, adRole{RoleName: aws.ToString(r.RoleName), Arn: aws.ToString(r.Arn),
			AssumeRolePolicyDocument: rawString(r.AssumeRolePolicyDocument), RolePolicyList: inlineFromAPI(r.RolePolicyList),
			AttachedManagedPolicies: attachedFromAPI(r.AttachedManagedPolicies), PermissionsBoundary: boundaryFromAPI(r.PermissionsBoundary)})
	}
	for _, p := range page.Policies {
		ap := adPolicy{PolicyName: aws.ToString(p.PolicyName), Arn: aws.ToString(p.Arn), DefaultVersionID: aws.ToString(p.DefaultVersionId)}
		for _, v := range p.PolicyVersionList {
			ap.PolicyVersionList = append(ap.PolicyVersionList, adVersion{Document: rawString(v.Document),
				VersionID: aws.ToString(v.VersionId), IsDefaultVersion: v.IsDefaultVersion})
		}
		d.Policies = append(d.Policies, ap)
	}
	return d
}

// waitCredentialReport polls until the report generated by Load is ready.
func waitCredentialReport(ctx context.Context, client IAMAPI, opt LiveOptions, progress func(string, int, int)) (*CredentialReport, error) {
	deadline := opt.clock.Now().Add(opt.ReportTimeout)
	for polls := 1; ; polls++ {
		out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		if err == nil {
			rep, perr := ParseCredentialReport("GetCredentialReport", out.Content)
			if perr != nil {
				return nil, perr
			}
			if out.GeneratedTime != nil {
				rep.Generated = out.GeneratedTime.UTC()
			}
			return rep, nil
		}
		var notReady *iamtypes.CredentialReportNotReadyException
		var notPresent *iamtypes.CredentialReportNotPresentException
		var expired *iamtypes.CredentialReportExpiredException
		switch {
		case errors.As(err, &notReady):
		case errors.As(err, &notPresent), errors.As(err, &expired):
			if _, gerr := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); gerr != nil {
				return nil, wrapAWSError(gerr)
			}
		default:
			return nil, wrapAWSError(err)
		}
		progress("credential report (waiting for AWS)", polls, 0)
		left := deadline.Sub(opt.clock.Now())
		if left <= 0 {
			return nil, fmt.Errorf("the credential report was not ready after %s (raise --report-timeout, or audit from a downloaded report with --credential-report)", opt.ReportTimeout)
		}
		if err := opt.clock.Sleep(ctx, min(opt.PollInterval, left)); err != nil {
			return nil, err
		}
	}
}

// loadKeysAndMFA lists each user's keys (with last use) and MFA devices,
// with a bounded number of calls in flight.
func loadKeysAndMFA(ctx context.Context, client IAMAPI, a *Account, virtual map[string]bool, workers int, progress func(string, int, int)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	users := a.Users
	jobs := make(chan *User)
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range jobs {
				if err := loadUserCreds(ctx, client, u, virtual); err != nil {
					fail(err)
					continue
				}
				// Progress is reported under the lock: callers get one
				// call at a time, in order.
				mu.Lock()
				done++
				progress("access keys and MFA devices", done, len(users))
				mu.Unlock()
			}
		}()
	}
	for _, u := range users {
		if ctx.Err() != nil {
			break
		}
		jobs <- u
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func loadUserCreds(ctx context.Context, client IAMAPI, u *User, virtual map[string]bool) error {
	var keys []*AccessKey
	kp := iam.NewListAccessKeysPaginator(client, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
	for kp.HasMorePages() {
		page, err := kp.NextPage(ctx)
		if err != nil {
			return wrapAWSError(err)
		}
		for _, m := range page.AccessKeyMetadata {
			k := &AccessKey{ID: aws.ToString(m.AccessKeyId), Active: m.Status == iamtypes.StatusTypeActive}
			if m.CreateDate != nil {
				k.Created = m.CreateDate.UTC()
			}
			keys = append(keys, k)
		}
	}
	sort.SliceStable(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	for i, k := range keys {
		k.Slot = i + 1
		out, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(k.ID)})
		if err != nil {
			return wrapAWSError(err)
		}
		k.LastUsedState = UsageNever
		if lu := out.AccessKeyLastUsed; lu != nil {
			if lu.LastUsedDate != nil && !lu.LastUsedDate.IsZero() {
				k.LastUsed, k.LastUsedState = lu.LastUsedDate.UTC(), UsageUsed
			}
			k.LastUsedService = naToEmpty(aws.ToString(lu.ServiceName))
			k.LastUsedRegion = naToEmpty(aws.ToString(lu.Region))
		}
	}
	u.Keys = keys
	var devs []MFADevice
	mp := iam.NewListMFADevicesPaginator(client, &iam.ListMFADevicesInput{UserName: aws.String(u.Name)})
	for mp.HasMorePages() {
		page, err := mp.NextPage(ctx)
		if err != nil {
			return wrapAWSError(err)
		}
		for _, d := range page.MFADevices {
			dev := MFADevice{Serial: aws.ToString(d.SerialNumber), Virtual: virtual[aws.ToString(d.SerialNumber)]}
			if d.EnableDate != nil {
				dev.Enabled = d.EnableDate.UTC()
			}
			devs = append(devs, dev)
		}
	}
	u.MFADevices = devs
	u.MFAActive = TriOf(len(devs) > 0)
	return nil
}

func passwordPolicyOf(p *iamtypes.PasswordPolicy) *PasswordPolicy {
	if p == nil {
		return &PasswordPolicy{}
	}
	return &PasswordPolicy{Exists: true, MinimumPasswordLength: int(aws.ToInt32(p.MinimumPasswordLength)),
		RequireSymbols: p.RequireSymbols, RequireNumbers: p.RequireNumbers,
		RequireUppercaseCharacters: p.RequireUppercaseCharacters, RequireLowercaseCharacters: p.RequireLowercaseCharacters,
		MaxPasswordAge: int(aws.ToInt32(p.MaxPasswordAge)), PasswordReusePrevention: int(aws.ToInt32(p.PasswordReusePrevention)),
		ExpirePasswords: p.ExpirePasswords, HardExpiry: aws.ToBool(p.HardExpiry)}
}
