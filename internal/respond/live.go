package respond

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// IAMReader is the read-only part of IAM that Identify calls. *iam.Client
// satisfies it.
type IAMReader interface {
	GetAccessKeyLastUsed(context.Context, *iam.GetAccessKeyLastUsedInput, ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	ListAccessKeys(context.Context, *iam.ListAccessKeysInput, ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	ListMFADevices(context.Context, *iam.ListMFADevicesInput, ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
	GetLoginProfile(context.Context, *iam.GetLoginProfileInput, ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	GetUser(context.Context, *iam.GetUserInput, ...func(*iam.Options)) (*iam.GetUserOutput, error)
	ListGroupsForUser(context.Context, *iam.ListGroupsForUserInput, ...func(*iam.Options)) (*iam.ListGroupsForUserOutput, error)
	ListUserPolicies(context.Context, *iam.ListUserPoliciesInput, ...func(*iam.Options)) (*iam.ListUserPoliciesOutput, error)
	GetUserPolicy(context.Context, *iam.GetUserPolicyInput, ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	ListAttachedUserPolicies(context.Context, *iam.ListAttachedUserPoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedUserPoliciesOutput, error)
	ListGroupPolicies(context.Context, *iam.ListGroupPoliciesInput, ...func(*iam.Options)) (*iam.ListGroupPoliciesOutput, error)
	GetGroupPolicy(context.Context, *iam.GetGroupPolicyInput, ...func(*iam.Options)) (*iam.GetGroupPolicyOutput, error)
	ListAttachedGroupPolicies(context.Context, *iam.ListAttachedGroupPoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedGroupPoliciesOutput, error)
	GetPolicy(context.Context, *iam.GetPolicyInput, ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *iam.GetPolicyVersionInput, ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	ListUsers(context.Context, *iam.ListUsersInput, ...func(*iam.Options)) (*iam.ListUsersOutput, error)
}

// IAMWriter is the part of IAM that containment and undo call.
type IAMWriter interface {
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	PutUserPolicy(context.Context, *iam.PutUserPolicyInput, ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	DeleteUserPolicy(context.Context, *iam.DeleteUserPolicyInput, ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
	AttachUserPolicy(context.Context, *iam.AttachUserPolicyInput, ...func(*iam.Options)) (*iam.AttachUserPolicyOutput, error)
	DetachUserPolicy(context.Context, *iam.DetachUserPolicyInput, ...func(*iam.Options)) (*iam.DetachUserPolicyOutput, error)
	DeleteLoginProfile(context.Context, *iam.DeleteLoginProfileInput, ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error)
	DeleteAccessKey(context.Context, *iam.DeleteAccessKeyInput, ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

// IAMAPI is all of IAM that respond calls.
type IAMAPI interface {
	IAMReader
	IAMWriter
}

// STSAPI tells whose credentials keywarden runs with.
type STSAPI interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// ReadActions and WriteActions are the IAM permissions respond needs: the
// reads for every run (--dry-run needs nothing more), the writes for
// containment and --undo. sts:GetCallerIdentity needs none.
var (
	ReadActions = []string{
		"iam:GetAccessKeyLastUsed", "iam:ListAccessKeys", "iam:ListMFADevices", "iam:GetLoginProfile", "iam:GetUser",
		"iam:ListGroupsForUser", "iam:ListUserPolicies", "iam:GetUserPolicy", "iam:ListAttachedUserPolicies",
		"iam:ListGroupPolicies", "iam:GetGroupPolicy", "iam:ListAttachedGroupPolicies", "iam:GetPolicy",
		"iam:GetPolicyVersion", "iam:ListRolePolicies", "iam:ListUsers", "cloudtrail:LookupEvents",
	}
	WriteActions = []string{
		"iam:UpdateAccessKey", "iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
		"iam:AttachUserPolicy", "iam:DetachUserPolicy", "iam:DeleteLoginProfile", "iam:DeleteAccessKey",
	}
)

// RequiredPolicy is the least-privilege policy for running respond: the
// reads, and with write the containment and undo calls.
func RequiredPolicy(write bool) iampolicy.Document {
	doc := iampolicy.Document{Version: iampolicy.Version2012, Statement: []iampolicy.DocStatement{{
		Sid: "KeywardenRespondRead", Effect: iampolicy.Allow,
		Action: iampolicy.StringOrList(ReadActions), Resource: iampolicy.StringOrList{"*"},
	}}}
	if write {
		doc.Statement = append(doc.Statement, iampolicy.DocStatement{
			Sid: "KeywardenRespondContain", Effect: iampolicy.Allow,
			Action: iampolicy.StringOrList(WriteActions), Resource: iampolicy.StringOrList{"*"},
		})
	}
	return doc
}

// InputError is a problem with what the user asked for (a malformed ID,
// a key of another account, a key IAM does not know): exit 2.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// DeniedError is AccessDenied from AWS, naming the refused action.
type DeniedError struct {
	Action string
	Err    error
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("access denied to %s (keywarden respond --print-required-policy prints the policy it needs): %v", e.Action, e.Err)
}

func (e *DeniedError) Unwrap() error { return e.Err }

// classify names the refused action on AccessDenied, and keeps other
// errors as they are.
func classify(action string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	denied := false
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
			denied = true
		}
	}
	var re *smithyhttp.ResponseError
	if !denied && errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden {
		denied = true
	}
	if ae != nil {
		// AWS's code and message say it all; the SDK's wrapping (request
		// IDs, attempt counts) does not help a person.
		err = &awsError{code: ae.ErrorCode(), msg: ae.ErrorMessage(), err: err}
	}
	if denied {
		return &DeniedError{Action: action, Err: err}
	}
	return fmt.Errorf("%s: %w", action, err)
}

// awsError shortens an SDK error to AWS's code and message.
type awsError struct {
	code, msg string
	err       error
}

func (e *awsError) Error() string {
	if e.msg == "" {
		return e.code
	}
	return e.code + ": " + e.msg
}

func (e *awsError) Unwrap() error { return e.err }

func isNoSuchEntity(err error) bool {
	var nse *iamtypes.NoSuchEntityException
	if errors.As(err, &nse) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchEntity" || ae.ErrorCode() == "NoSuchEntityException")
}

// CheckID validates a key ID given by the user.
func CheckID(id string) error {
	switch {
	case !awskey.ValidCredentialID(id):
		return &InputError{Msg: fmt.Sprintf("%q is not an access key ID (AKIA or ASIA followed by 16 characters of A-Z and 2-7)", clip(id))}
	case awskey.IsExampleID(id):
		return &InputError{Msg: id + " is AWS's documentation example, not a real key"}
	}
	if !strings.HasPrefix(id, "AKIA") && !strings.HasPrefix(id, "ASIA") {
		return &InputError{Msg: fmt.Sprintf("%s is not an access key ID: respond handles AKIA (long-term) and ASIA (temporary) keys", id)}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// Caller returns the account and ARN of the credentials in use.
func Caller(ctx context.Context, st STSAPI) (account, arn string, err error) {
	out, err := st.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", "", fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	return aws.ToString(out.Account), aws.ToString(out.Arn), nil
}

// OtherAccount reports whether the key belongs to an account other than
// the caller's, and if so returns the advice to print.
func OtherAccount(id *Identity) (stopped string, advice []string) {
	if id.KeyAccount == "" || id.CallerAccount == "" || id.KeyAccount == id.CallerAccount {
		return "", nil
	}
	return fmt.Sprintf("%s belongs to account %s, not to %s (the account of the credentials in use): keywarden can change nothing there", id.KeyID, id.KeyAccount, id.CallerAccount),
		[]string{
			"if you know the owner, tell them: they should run keywarden respond " + id.KeyID + " with their own credentials",
			"otherwise report the exposed key to AWS: https://support.aws.amazon.com/#/contacts/report-abuse (name the key ID and where you found it; AWS notifies the account)",
			"remove the key from wherever you found it (and from git history: keywarden scan --git shows the commits)",
		}
}

// RootAdvice is what the root user must do: IAM cannot deactivate a root
// key on another principal's behalf.
func RootAdvice(key string) []string {
	return []string{
		"sign in to the console as the root user (email and password, with its MFA device)",
		"open Security credentials > Access keys, make " + key + " inactive, then delete it once the investigation is over",
		"root keys should not exist: do not create a new one; give the work an IAM role instead",
		"review the root user's MFA device and password, and the account's contact details",
	}
}

// Identify reads what IAM knows about a long-term key: owner, status,
// creation, last use, the user's other keys, MFA devices, password,
// groups and policies, and what the key can do (via exposer). A key IAM
// does not know is an *InputError.
func Identify(ctx context.Context, c IAMReader, key string, exposer audit.Exposer, actions []string) (*Identity, error) {
	id := &Identity{KeyID: key, Kind: "long-term"}
	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(key)})
	if err != nil {
		if isNoSuchEntity(err) {
			return nil, &InputError{Msg: key + " is not a key of this account: IAM does not know it (deleted, or never existed)"}
		}
		return nil, classify("iam:GetAccessKeyLastUsed", err)
	}
	id.User = aws.ToString(lu.UserName)
	if l := lu.AccessKeyLastUsed; l != nil && l.LastUsedDate != nil {
		id.LastUsed = &LastUse{Date: l.LastUsedDate.UTC(), Service: aws.ToString(l.ServiceName), Region: aws.ToString(l.Region)}
		if id.LastUsed.Service == "N/A" {
			id.LastUsed.Service = ""
		}
		if id.LastUsed.Region == "N/A" {
			id.LastUsed.Region = ""
		}
	}
	// A root key's last use names no IAM user (or "root", which may also
	// be an IAM user's name: GetUser tells them apart).
	root := id.User == "" || id.User == "<root_account>"
	var u *iam.GetUserOutput
	if !root {
		u, err = c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(id.User)})
		switch {
		case err != nil && id.User == "root" && isNoSuchEntity(err):
			root = true
		case err != nil:
			return nil, classify("iam:GetUser", err)
		}
	}
	if root {
		id.Root, id.User = true, ""
		return id, nil
	}
	id.UserARN = aws.ToString(u.User.Arn)
	tags := map[string]string{}
	for _, t := range u.User.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(id.User)})
	if err != nil {
		return nil, classify("iam:ListAccessKeys", err)
	}
	for _, k := range keys.AccessKeyMetadata {
		ks := KeyState{ID: aws.ToString(k.AccessKeyId), User: id.User, Status: string(k.Status), Created: aws.ToTime(k.CreateDate).UTC()}
		if ks.ID == key {
			id.Status, id.Created = ks.Status, ks.Created
			continue
		}
		id.OtherKeys = append(id.OtherKeys, ks)
	}
	mfa, err := c.ListMFADevices(ctx, &iam.ListMFADevicesInput{UserName: aws.String(id.User)})
	if err != nil {
		return nil, classify("iam:ListMFADevices", err)
	}
	for _, d := range mfa.MFADevices {
		id.MFADevices = append(id.MFADevices, aws.ToString(d.SerialNumber))
	}
	if _, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(id.User)}); err == nil {
		id.ConsolePassword = true
	} else if !isNoSuchEntity(err) {
		return nil, classify("iam:GetLoginProfile", err)
	}
	policies, err := userPolicies(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if exposer != nil {
		exp, err := exposer.Exposure(audit.Subject{Principal: iameval.Principal{ARN: id.UserARN, AccountID: accountOfARN(id.UserARN), Username: id.User, Tags: tags, Identity: policies}}, actions, nil)
		if err != nil {
			id.ExposureProblem = err.Error()
		} else {
			id.Exposure = exp
		}
	}
	return id, nil
}

func accountOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// userPolicies reads every identity policy that applies to the user: its
// inline and managed policies and its groups'.
func userPolicies(ctx context.Context, c IAMReader, id *Identity) ([]*iampolicy.Policy, error) {
	var out []*iampolicy.Policy
	parse := func(file, doc string) {
		p, err := iampolicy.Parse(file, []byte(decodeDoc(doc)))
		if err != nil {
			id.ExposureProblem = fmt.Sprintf("policy %s did not parse: %v", file, err)
			return
		}
		out = append(out, p)
	}
	user := aws.String(id.User)
	inl, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: user})
	if err != nil {
		return nil, classify("iam:ListUserPolicies", err)
	}
	for _, n := range inl.PolicyNames {
		id.InlinePolicies = append(id.InlinePolicies, n)
		id.Policies = append(id.Policies, "inline:"+n)
		p, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String(n)})
		if err != nil {
			return nil, classify("iam:GetUserPolicy", err)
		}
		parse("user/"+id.User+"/inline/"+n, aws.ToString(p.PolicyDocument))
	}
	att, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: user})
	if err != nil {
		return nil, classify("iam:ListAttachedUserPolicies", err)
	}
	var managed []string
	for _, a := range att.AttachedPolicies {
		arn := aws.ToString(a.PolicyArn)
		id.AttachedPolicies = append(id.AttachedPolicies, arn)
		managed = append(managed, arn)
	}
	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: user})
	if err != nil {
		return nil, classify("iam:ListGroupsForUser", err)
	}
	for _, g := range groups.Groups {
		gn := aws.ToString(g.GroupName)
		id.Groups = append(id.Groups, gn)
		gi, err := c.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: g.GroupName})
		if err != nil {
			return nil, classify("iam:ListGroupPolicies", err)
		}
		for _, n := range gi.PolicyNames {
			id.Policies = append(id.Policies, "group/"+gn+"/inline:"+n)
			p, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: g.GroupName, PolicyName: aws.String(n)})
			if err != nil {
				return nil, classify("iam:GetGroupPolicy", err)
			}
			parse("group/"+gn+"/inline/"+n, aws.ToString(p.PolicyDocument))
		}
		ga, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: g.GroupName})
		if err != nil {
			return nil, classify("iam:ListAttachedGroupPolicies", err)
		}
		for _, a := range ga.AttachedPolicies {
			managed = append(managed, aws.ToString(a.PolicyArn))
		}
	}
	slices.Sort(managed)
	for _, arn := range slices.Compact(managed) {
		id.Policies = append(id.Policies, arn)
		gp, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			return nil, classify("iam:GetPolicy", err)
		}
		v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: gp.Policy.DefaultVersionId})
		if err != nil {
			return nil, classify("iam:GetPolicyVersion", err)
		}
		parse(arn, aws.ToString(v.PolicyVersion.Document))
	}
	return out, nil
}

// decodeDoc undoes the URL encoding of policy documents in IAM's API.
func decodeDoc(s string) string {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return s
	}
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}

// KeyStates reads the current status of keys (found in CloudTrail as
// created by the leaked key). A key that no longer exists comes back with
// an empty status.
func KeyStates(ctx context.Context, c IAMReader, keys []KeyState) ([]KeyState, error) {
	byUser := map[string][]KeyState{}
	var users []string
	for _, k := range keys {
		if _, ok := byUser[k.User]; !ok {
			users = append(users, k.User)
		}
		byUser[k.User] = append(byUser[k.User], k)
	}
	var out []KeyState
	for _, u := range users {
		cur := map[string]string{}
		l, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u)})
		if err != nil && !isNoSuchEntity(err) {
			return nil, classify("iam:ListAccessKeys", err)
		}
		if l != nil {
			for _, m := range l.AccessKeyMetadata {
				cur[aws.ToString(m.AccessKeyId)] = string(m.Status)
			}
		}
		for _, k := range byUser[u] {
			k.Status = cur[k.ID]
			out = append(out, k)
		}
	}
	return out, nil
}

// RolePolicies reads the inline policy names of the roles a key assumed.
func RolePolicies(ctx context.Context, c IAMReader, roles []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, r := range roles {
		l, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(r)})
		if err != nil {
			if isNoSuchEntity(err) {
				continue
			}
			return nil, classify("iam:ListRolePolicies", err)
		}
		out[r] = l.PolicyNames
	}
	return out, nil
}

// Execute makes the planned steps in order. Steps that need confirmation
// run only if confirm returns true. At the first refusal it stops: the
// failed step records AWS's answer and every later step is NotDone, so
// the report says exactly what was and was not done. The returned error
// is the first failure.
func Execute(ctx context.Context, c IAMWriter, steps []*Step, now func() time.Time, confirm func(*Step) bool, progress func(*Step)) error {
	var first error
	for _, s := range steps {
		if s.Status != Planned {
			continue
		}
		if first != nil {
			s.Status = NotDone
			continue
		}
		if s.Confirm && (confirm == nil || !confirm(s)) {
			s.Status = Declined
			if progress != nil {
				progress(s)
			}
			continue
		}
		err := invoke(ctx, c, s.Call)
		s.At = now().UTC()
		if err != nil {
			s.Status, s.Error = Failed, err.Error()
			first = err
		} else {
			s.Status = Done
		}
		if progress != nil {
			progress(s)
		}
	}
	return first
}

// invoke makes one call.
func invoke(ctx context.Context, c IAMWriter, call Call) error {
	p := func(n string) *string { return aws.String(call.Get(n)) }
	var err error
	switch call.Action {
	case "iam:UpdateAccessKey":
		_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: p("UserName"), AccessKeyId: p("AccessKeyId"), Status: iamtypes.StatusType(call.Get("Status"))})
	case "iam:PutUserPolicy":
		_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: p("UserName"), PolicyName: p("PolicyName"), PolicyDocument: p("PolicyDocument")})
	case "iam:DeleteUserPolicy":
		_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: p("UserName"), PolicyName: p("PolicyName")})
	case "iam:PutRolePolicy":
		_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: p("RoleName"), PolicyName: p("PolicyName"), PolicyDocument: p("PolicyDocument")})
	case "iam:DeleteRolePolicy":
		_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: p("RoleName"), PolicyName: p("PolicyName")})
	case "iam:AttachUserPolicy":
		_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: p("UserName"), PolicyArn: p("PolicyArn")})
	case "iam:DetachUserPolicy":
		_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: p("UserName"), PolicyArn: p("PolicyArn")})
	case "iam:DeleteAccessKey":
		_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: p("UserName"), AccessKeyId: p("AccessKeyId")})
	case "iam:DeleteLoginProfile":
		_, err = c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: p("UserName")})
	default:
		return fmt.Errorf("respond: no such call %q", call.Action)
	}
	return classify(call.Action, err)
}

// ResolveRedacted matches redacted key IDs (AKIA************WXYZ, as scan
// and detect print them) against the access keys of the account's users.
// A match must be unique; ASIA sessions cannot be listed. It returns the
// full IDs found and, for the others, why not.
func ResolveRedacted(ctx context.Context, c IAMReader, redacted []string) (keys []string, unresolved []string, err error) {
	if len(redacted) == 0 {
		return nil, nil, nil
	}
	var all []string
	var marker *string
	for {
		page, err := c.ListUsers(ctx, &iam.ListUsersInput{Marker: marker})
		if err != nil {
			return nil, nil, classify("iam:ListUsers", err)
		}
		for _, u := range page.Users {
			l, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
			if err != nil {
				return nil, nil, classify("iam:ListAccessKeys", err)
			}
			for _, k := range l.AccessKeyMetadata {
				all = append(all, aws.ToString(k.AccessKeyId))
			}
		}
		if !page.IsTruncated || page.Marker == nil {
			break
		}
		marker = page.Marker
	}
	for _, r := range redacted {
		var match []string
		for _, k := range all {
			if len(k) == len(r) && k[:4] == r[:4] && k[len(k)-4:] == r[len(r)-4:] {
				match = append(match, k)
			}
		}
		switch {
		case len(match) == 1:
			keys = append(keys, match[0])
		case strings.HasPrefix(r, "ASIA"):
			unresolved = append(unresolved, r+": a session key; sessions cannot be listed, name it in full")
		case len(match) == 0:
			unresolved = append(unresolved, r+": no access key of this account ends so (another account's, or deleted)")
		default:
			unresolved = append(unresolved, fmt.Sprintf("%s: %d keys of this account end so; name it in full", r, len(match)))
		}
	}
	return keys, unresolved, nil
}
