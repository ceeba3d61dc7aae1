package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/awskey"
)

// IAMAPI is the part of the IAM client rotation needs.
type IAMAPI interface {
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, opts ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, opts ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, opts ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, opts ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, opts ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
}

// Rotator replaces a profile's long-term key.
type Rotator struct {
	Sessions *Sessions
	NewIAM   func(creds Credentials, region string) IAMAPI
	// Sleep waits between checks of the new key (tests make it instant).
	Sleep func(ctx context.Context, d time.Duration) error
	// WaitTimeout bounds the wait for the new key to work (default 2 min).
	WaitTimeout time.Duration
	// Log reports each step as it is done.
	Log func(format string, args ...any)
	// Changing, when set, is called once, just before the first call that
	// changes the account. The CLI starts catching Ctrl-C there: before it,
	// an interruption (at the MFA prompt, say) may simply end the command.
	Changing func()

	changing bool
}

func (r *Rotator) aboutToChange() {
	if r.Changing != nil && !r.changing {
		r.changing = true
		r.Changing()
	}
}

// RotateOptions are the user's choices.
type RotateOptions struct {
	Profile        string
	DryRun         bool
	DeleteInactive bool
	KeepOld        bool
}

// RotateResult says what rotation did.
type RotateResult struct {
	User     string
	OldKeyID string
	NewKeyID string
	// Deleted is true when the old key was deleted (else deactivated).
	Deleted bool
	// RemovedInactive is the inactive key --delete-inactive removed.
	RemovedInactive string
}

// RotateError is a rotation that stopped. State says exactly where the
// account and the store were left, and what to do about it.
type RotateError struct {
	Step  string
	Err   error
	State string
}

func (e *RotateError) Error() string {
	return fmt.Sprintf("rotate: %s: %v\n  state: %s", e.Step, e.Err, e.State)
}

func (e *RotateError) Unwrap() error { return e.Err }

// ErrTwoKeys is wrapped by the error returned when the user already has
// two keys and rotation cannot create a third.
var ErrTwoKeys = errors.New("the user already has two access keys, the most IAM allows")

func (r *Rotator) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

func (r *Rotator) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// userFromARN returns the user name of an IAM user ARN
// (arn:aws:iam::123456789012:user/path/name).
func userFromARN(arn string) (string, bool) {
	_, res, ok := strings.Cut(arn, ":user/")
	if !ok || res == "" {
		return "", false
	}
	return res[strings.LastIndexByte(res, '/')+1:], true
}

// Rotate replaces the long-term key of opts.Profile (or of its
// source_profile): list the user's keys; with two, stop (or delete an
// inactive one with DeleteInactive); create the new key; store it; wait
// until STS accepts it; deactivate the old key; delete it unless KeepOld.
// IAM is called with an MFA session when the profile has mfa_serial, so
// rotation works under a policy that denies long-term keys without MFA.
func (r *Rotator) Rotate(ctx context.Context, opts RotateOptions) (*RotateResult, error) {
	s := r.Sessions
	res, err := s.Config.Resolve(opts.Profile)
	if err != nil {
		return nil, err
	}
	profile := res.KeyProfile
	if profile != opts.Profile {
		r.logf("profile %s uses the key of profile %s: rotating that key", opts.Profile, profile)
	}
	old, err := s.Vault.GetKey(profile)
	if err != nil {
		return nil, err
	}
	region := res.Region
	longTerm := Credentials{AccessKeyID: old.AccessKeyID, SecretAccessKey: old.SecretAccessKey}
	id, err := s.NewSTS(longTerm, region).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("sts:GetCallerIdentity with the stored key of %q: %w (nothing changed)", profile, err)
	}
	arn := aws.ToString(id.Arn)
	if IsRoot(arn) {
		return nil, errors.New("the stored key is the account root's: root keys should be deleted, not rotated (nothing changed)")
	}
	user, ok := userFromARN(arn)
	if !ok {
		return nil, fmt.Errorf("the stored key belongs to %s, not an IAM user (nothing changed)", arn)
	}
	out := &RotateResult{User: user, OldKeyID: old.AccessKeyID}

	// IAM credentials: an MFA session when the key's profile uses MFA.
	iamCreds := longTerm
	keyProfile, err := s.Config.Resolve(profile)
	if err != nil {
		return nil, err
	}
	if keyProfile.MFASerial != "" {
		sess, err := s.Credentials(ctx, profile)
		if err != nil {
			return nil, fmt.Errorf("getting an MFA session for IAM: %w (nothing changed)", err)
		}
		iamCreds = sess.Credentials
	}
	api := r.NewIAM(iamCreds, region)

	list, err := api.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		return nil, fmt.Errorf("iam:ListAccessKeys for user %s: %w (nothing changed)", user, err)
	}
	var current *iamtypes.AccessKeyMetadata
	var others []iamtypes.AccessKeyMetadata
	for i, k := range list.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == old.AccessKeyID {
			current = &list.AccessKeyMetadata[i]
		} else {
			others = append(others, k)
		}
	}
	if current == nil {
		return nil, fmt.Errorf("the stored key %s is not among user %s's access keys (nothing changed)", awskey.Redact(old.AccessKeyID), user)
	}
	if len(others) > 0 {
		other := others[0]
		oid := aws.ToString(other.AccessKeyId)
		inactive := other.Status == iamtypes.StatusTypeInactive
		if !(inactive && opts.DeleteInactive) {
			used := "never used"
			if lu, err := api.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(oid)}); err == nil && lu.AccessKeyLastUsed != nil && lu.AccessKeyLastUsed.LastUsedDate != nil {
				used = "last used " + lu.AccessKeyLastUsed.LastUsedDate.UTC().Format(time.RFC3339)
			}
			// The command names the other key in full: the stored key is
			// the one in use here, and a redacted ID cannot be pasted.
			hint := "if nothing uses that other key any more, delete it (aws iam delete-access-key --user-name " + user + " --access-key-id " + oid + "), then rotate again"
			if inactive {
				hint = "it is inactive: rerun with --delete-inactive to delete it first"
			}
			return nil, fmt.Errorf("%w: user %s has the stored key %s and another, %s (%s, created %s, %s); %s (nothing changed)",
				ErrTwoKeys, user, awskey.Redact(old.AccessKeyID), awskey.Redact(oid), strings.ToLower(string(other.Status)),
				timeString(other.CreateDate), used, hint)
		}
		if opts.DryRun {
			r.logf("would delete the inactive key %s of user %s", awskey.Redact(oid), user)
		} else {
			r.aboutToChange()
			if _, err := api.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(oid)}); err != nil {
				return nil, fmt.Errorf("deleting the inactive key %s: %w (nothing changed)", awskey.Redact(oid), err)
			}
			r.logf("deleted the inactive key %s of user %s", awskey.Redact(oid), user)
			out.RemovedInactive = oid
		}
	}
	if opts.DryRun {
		r.logf("would create a new key for user %s and store it as profile %s", user, profile)
		r.logf("would wait until STS accepts the new key")
		r.logf("would deactivate the old key %s", awskey.Redact(old.AccessKeyID))
		if opts.KeepOld {
			r.logf("would keep the old key, inactive (--keep-old)")
		} else {
			r.logf("would delete the old key %s", awskey.Redact(old.AccessKeyID))
		}
		return out, nil
	}

	// From here on the account changes. An interrupted rotation (Ctrl-C
	// cancels ctx) must not stop between two steps that belong together:
	// the IAM calls that change the account get fin, which an interruption
	// does not cancel, and only the wait for the new key is cut short,
	// which rolls back to the old key.
	r.aboutToChange()
	if err := ctx.Err(); err != nil {
		return nil, &RotateError{Step: "interrupted before creating the new key", Err: err, State: stateUnchanged(out, old)}
	}
	fin := context.WithoutCancel(ctx)
	// 1. Create.
	created, err := api.CreateAccessKey(fin, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil || created.AccessKey == nil {
		if err == nil {
			err = errors.New("IAM answered without a key")
		}
		return nil, &RotateError{Step: "creating the new key", Err: err, State: stateUnchanged(out, old)}
	}
	nk := created.AccessKey
	newKey := &Key{
		AccessKeyID:     aws.ToString(nk.AccessKeyId),
		SecretAccessKey: aws.ToString(nk.SecretAccessKey),
		Added:           s.Now().UTC(),
		ARN:             arn,
	}
	if nk.CreateDate != nil {
		newKey.Created = nk.CreateDate.UTC()
	}
	out.NewKeyID = newKey.AccessKeyID
	r.logf("created the new key %s for user %s", awskey.Redact(newKey.AccessKeyID), user)

	// undoCreate deletes the new key again; it returns the state it leaves.
	undoCreate := func(storeState string) string {
		_, derr := api.DeleteAccessKey(fin, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(newKey.AccessKeyID)})
		if derr != nil {
			return fmt.Sprintf("account: the new key %s exists and is active, and the old key %s is still active; deleting the new key failed (%v): delete it with aws iam delete-access-key --user-name %s --access-key-id %s. %s",
				newKey.AccessKeyID, awskey.Redact(old.AccessKeyID), derr, user, newKey.AccessKeyID, storeState)
		}
		return fmt.Sprintf("account: the new key was deleted again; the old key %s is active and unchanged. %s", awskey.Redact(old.AccessKeyID), storeState)
	}

	// 2. Store.
	if err := s.Vault.SetKey(profile, newKey); err != nil {
		return nil, &RotateError{Step: "storing the new key", Err: err,
			State: undoCreate(fmt.Sprintf("store: profile %s still holds the old key.", profile))}
	}
	r.logf("stored the new key as profile %s (%s backend)", profile, s.Vault.Store.Backend())

	// 3. Wait until it works: IAM keys take a few seconds to reach STS.
	if err := r.waitForKey(ctx, newKey, region); err != nil {
		storeState := fmt.Sprintf("store: profile %s holds the old key again.", profile)
		if serr := s.Vault.SetKey(profile, old); serr != nil {
			storeState = fmt.Sprintf("store: profile %s holds the new key (putting the old one back failed: %v).", profile, serr)
		}
		return nil, &RotateError{Step: "waiting for the new key to work", Err: err, State: undoCreate(storeState)}
	}
	r.logf("the new key works")
	// Sessions made with the old key are not reused (their SourceKeyID
	// no longer matches); drop them now rather than leave them around.
	_ = s.Vault.RemoveSessions(profile)

	// 4. Deactivate the old key.
	if _, err := api.UpdateAccessKey(fin, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(old.AccessKeyID), Status: iamtypes.StatusTypeInactive}); err != nil {
		return nil, &RotateError{Step: "deactivating the old key", Err: err,
			State: fmt.Sprintf("account: the new key %s is active and works; the old key %s is still ACTIVE: deactivate it with aws iam update-access-key --user-name %s --access-key-id %s --status Inactive. store: profile %s holds the new key.",
				awskey.Redact(newKey.AccessKeyID), old.AccessKeyID, user, old.AccessKeyID, profile)}
	}
	r.logf("deactivated the old key %s", awskey.Redact(old.AccessKeyID))

	// 5. Delete it.
	if opts.KeepOld {
		r.logf("kept the old key, inactive (--keep-old)")
		return out, nil
	}
	if _, err := api.DeleteAccessKey(fin, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(old.AccessKeyID)}); err != nil {
		return nil, &RotateError{Step: "deleting the old key", Err: err,
			State: fmt.Sprintf("account: the new key %s is active and works; the old key %s is inactive but not deleted: delete it with aws iam delete-access-key --user-name %s --access-key-id %s. store: profile %s holds the new key.",
				awskey.Redact(newKey.AccessKeyID), old.AccessKeyID, user, old.AccessKeyID, profile)}
	}
	out.Deleted = true
	r.logf("deleted the old key %s", awskey.Redact(old.AccessKeyID))
	return out, nil
}

func stateUnchanged(out *RotateResult, old *Key) string {
	s := fmt.Sprintf("account: unchanged, the old key %s is active. store: unchanged.", awskey.Redact(old.AccessKeyID))
	if out.RemovedInactive != "" {
		s = fmt.Sprintf("account: the inactive key %s was deleted; the old key %s is active. store: unchanged.", awskey.Redact(out.RemovedInactive), awskey.Redact(old.AccessKeyID))
	}
	return s
}

func timeString(t *time.Time) string {
	if t == nil {
		return "at an unknown time"
	}
	return t.UTC().Format("2006-01-02")
}

// waitForKey calls GetCallerIdentity with the new key until it succeeds,
// backing off from one second to eight, for at most WaitTimeout.
func (r *Rotator) waitForKey(ctx context.Context, k *Key, region string) error {
	limit := r.WaitTimeout
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	client := r.Sessions.NewSTS(Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, region)
	var waited time.Duration
	delay := time.Second
	for {
		_, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			return nil
		}
		if waited >= limit {
			return fmt.Errorf("STS still refuses the new key after %s: %w", waited, err)
		}
		if err := r.sleep(ctx, delay); err != nil {
			return err
		}
		waited += delay
		delay = min(delay*2, 8*time.Second)
	}
}
