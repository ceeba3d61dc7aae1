package vault

import (
	"context"
	"errors"
	"fmt"
	ctxclock "github.com/keywarden/keywarden/internal/clock"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
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
	// stepDone, when set, is called after each step that leaves a mark in
	// the account or the store (tests stop the rotation there, as kill -9
	// would).
	stepDone func(step string)
}

// The steps stepDone is called after.
const (
	stepRecorded    = "recorded"    // the pending-rotation record is written
	stepCreated     = "created"     // the new key exists and is in the record
	stepStored      = "stored"      // the store holds the new key
	stepVerified    = "verified"    // STS accepts the new key
	stepDeactivated = "deactivated" // the old key is inactive
	stepDeleted     = "deleted"     // the old key is deleted
)

func (r *Rotator) done(step string) {
	if r.stepDone != nil {
		r.stepDone(step)
	}
}

// forget removes the record of a rotation that has settled. Failing to is
// harmless: the next rotate finds nothing left to do and removes it.
func (r *Rotator) forget(profile string) {
	if err := r.Sessions.Vault.RemoveRotation(profile); err != nil {
		r.logf("could not remove the record of the rotation (%v); the next rotate will find it settled", err)
	}
}

// RotationLockWait is how long rotate waits for another rotate of the
// same key to end before it gives up.
const RotationLockWait = 2 * time.Second

// lock takes the lock on rotating profile's key (Sessions.Lock, when set).
func (r *Rotator) lock(ctx context.Context, profile string) (func(), error) {
	if r.Sessions.Lock == nil {
		return func() {}, nil
	}
	wctx, cancel := context.WithTimeout(ctx, RotationLockWait)
	defer cancel()
	unlock, err := r.Sessions.Lock(wctx, rotationPrefix+profile)
	if err != nil {
		return nil, fmt.Errorf("another keywarden rotate of profile %q is running: let it finish (%w; nothing changed)", profile, err)
	}
	return unlock, nil
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
	// Resumed is set when this call settled a rotation that an earlier
	// one left half-done (killed after it recorded its start); RolledBack
	// then says whether it was rolled back rather than finished.
	Resumed    bool
	RolledBack bool
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
	return ctxclock.Sleep(ctx, d)
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
	// One rotation of a key at a time: a second rotate would take the
	// first one's record for an interrupted rotation and settle it under
	// its feet. The lock is a file lock, which dies with its process.
	unlock, err := r.lock(ctx, profile)
	if err != nil {
		return nil, err
	}
	defer unlock()
	pending, err := s.Vault.GetRotation(profile)
	if err != nil {
		return nil, err
	}
	if pending != nil {
		return r.resume(ctx, opts, pending)
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

	api, err := r.iamClient(ctx, profile, longTerm, region)
	if err != nil {
		return nil, fmt.Errorf("%w (nothing changed)", err)
	}

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
	// 0. Record the rotation before the account changes: if this process
	// dies from here on, the next rotate finds the record and settles it.
	rec := &PendingRotation{Profile: profile, User: user, Region: region, Old: *old, KeepOld: opts.KeepOld, Started: s.Now().UTC()}
	if err := s.Vault.SetRotation(rec); err != nil {
		return nil, &RotateError{Step: "recording the rotation in the store", Err: err, State: stateUnchanged(out, old)}
	}
	r.done(stepRecorded)
	// 1. Create. Not retried by the SDK: a retry after a lost answer would
	// make a second key (or fail on IAM's limit of two) and hide the first.
	created, err := api.CreateAccessKey(fin, &iam.CreateAccessKeyInput{UserName: aws.String(user)}, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if err != nil || created.AccessKey == nil {
		if err == nil {
			err = errors.New("IAM answered without a key")
		}
		var refused smithy.APIError
		if errors.As(err, &refused) {
			r.forget(profile)
			return nil, &RotateError{Step: "creating the new key", Err: err, State: stateUnchanged(out, old)}
		}
		// No answer, or one without the key: IAM may have made a key whose
		// secret never reached us. The record stays, so that the next
		// rotate finds that key and deletes it.
		return nil, &RotateError{Step: "creating the new key", Err: err,
			State: fmt.Sprintf("account: IAM may have created a key whose answer was lost; the old key %s is active. store: profile %s holds the old key. Run keywarden rotate %s again to delete such a key (the rotation is recorded as interrupted).",
				awskey.Redact(old.AccessKeyID), profile, profile)}
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
	// Before anything else: the secret exists nowhere but in memory.
	rec.New = newKey
	if err := s.Vault.SetRotation(rec); err != nil {
		return nil, &RotateError{Step: "recording the new key in the store", Err: err,
			State: r.undo(fin, api, rec, fmt.Sprintf("store: profile %s still holds the old key.", profile), true)}
	}
	r.done(stepCreated)
	out.NewKeyID = newKey.AccessKeyID
	r.logf("created the new key %s for user %s", awskey.Redact(newKey.AccessKeyID), user)

	// 2. Store.
	if err := s.Vault.SetKey(profile, newKey); err != nil {
		return nil, &RotateError{Step: "storing the new key", Err: err,
			State: r.undo(fin, api, rec, fmt.Sprintf("store: profile %s still holds the old key.", profile), true)}
	}
	r.done(stepStored)
	r.logf("stored the new key as profile %s (%s backend)", profile, s.Vault.Store.Backend())

	// 3. Wait until it works: IAM keys take a few seconds to reach STS.
	if err := r.waitForKey(ctx, newKey, region); err != nil {
		storeState, putBack := fmt.Sprintf("store: profile %s holds the old key again.", profile), true
		if serr := s.Vault.SetKey(profile, old); serr != nil {
			storeState, putBack = fmt.Sprintf("store: profile %s holds the new key (putting the old one back failed: %v).", profile, serr), false
		}
		return nil, &RotateError{Step: "waiting for the new key to work", Err: err, State: r.undo(fin, api, rec, storeState, putBack)}
	}
	r.done(stepVerified)
	r.logf("the new key works")
	// Sessions made with the old key are not reused (their SourceKeyID
	// no longer matches); drop them now rather than leave them around.
	_ = s.Vault.RemoveSessions(profile)

	// 4 and 5. Deactivate the old key, delete it.
	return r.retire(fin, api, rec, out, true, true)
}

// iamClient returns an IAM client for the key of profile: signed with an
// MFA session when the profile uses MFA (IAM refuses sessions made
// without), else with key itself.
func (r *Rotator) iamClient(ctx context.Context, profile string, key Credentials, region string) (IAMAPI, error) {
	s := r.Sessions
	kp, err := s.Config.Resolve(profile)
	if err != nil {
		return nil, err
	}
	if kp.MFASerial != "" {
		sess, err := s.Credentials(ctx, profile)
		if err != nil {
			return nil, fmt.Errorf("getting an MFA session for IAM: %w", err)
		}
		key = sess.Credentials
	}
	return r.NewIAM(key, region), nil
}

// undoCreate deletes the new key of rec again; it returns the state it
// leaves. storeOld says the store holds the old key: then, with the new
// key gone, the rotation has settled and its record goes; otherwise the
// record stays for the next rotate to settle.
func (r *Rotator) undoCreate(fin context.Context, api IAMAPI, rec *PendingRotation, storeState string, storeOld bool) (state string, deleted bool) {
	nk := rec.New
	_, err := api.DeleteAccessKey(fin, &iam.DeleteAccessKeyInput{UserName: aws.String(rec.User), AccessKeyId: aws.String(nk.AccessKeyID)})
	if err != nil {
		return fmt.Sprintf("account: the new key %s exists and is active, and the old key %s is still active; deleting the new key failed (%v): run keywarden rotate %s again to roll back, or delete it with aws iam delete-access-key --user-name %s --access-key-id %s. %s",
			nk.AccessKeyID, awskey.Redact(rec.Old.AccessKeyID), err, rec.Profile, rec.User, nk.AccessKeyID, storeState), false
	}
	if storeOld {
		r.forget(rec.Profile)
	} else {
		storeState += fmt.Sprintf(" Run keywarden rotate %s again to put the old key back.", rec.Profile)
	}
	return fmt.Sprintf("account: the new key was deleted again; the old key %s is active and unchanged. %s", awskey.Redact(rec.Old.AccessKeyID), storeState), true
}

// undo is undoCreate for a message.
func (r *Rotator) undo(fin context.Context, api IAMAPI, rec *PendingRotation, storeState string, storeOld bool) string {
	state, _ := r.undoCreate(fin, api, rec, storeState, storeOld)
	return state
}

// retire deactivates the old key of rec (when oldActive) and deletes it
// (when oldExists, unless KeepOld), once the store holds the new key and
// it works; then the rotation has settled. A failed step keeps the record,
// so that the next rotate finishes the job.
func (r *Rotator) retire(fin context.Context, api IAMAPI, rec *PendingRotation, out *RotateResult, oldActive, oldExists bool) (*RotateResult, error) {
	user, oldID, profile := rec.User, rec.Old.AccessKeyID, rec.Profile
	newID := awskey.Redact(rec.New.AccessKeyID)
	if oldActive {
		if _, err := api.UpdateAccessKey(fin, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(oldID), Status: iamtypes.StatusTypeInactive}); err != nil {
			return nil, &RotateError{Step: "deactivating the old key", Err: err,
				State: fmt.Sprintf("account: the new key %s is active and works; the old key %s is still ACTIVE: run keywarden rotate %s again to finish, or deactivate it with aws iam update-access-key --user-name %s --access-key-id %s --status Inactive. store: profile %s holds the new key.",
					newID, oldID, profile, user, oldID, profile)}
		}
		r.done(stepDeactivated)
		r.logf("deactivated the old key %s", awskey.Redact(oldID))
	}
	if rec.KeepOld {
		r.logf("kept the old key, inactive (--keep-old)")
		r.forget(profile)
		return out, nil
	}
	if oldExists {
		if _, err := api.DeleteAccessKey(fin, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(oldID)}); err != nil {
			return nil, &RotateError{Step: "deleting the old key", Err: err,
				State: fmt.Sprintf("account: the new key %s is active and works; the old key %s is inactive but not deleted: run keywarden rotate %s again to finish, or delete it with aws iam delete-access-key --user-name %s --access-key-id %s. store: profile %s holds the new key.",
					newID, oldID, profile, user, oldID, profile)}
		}
		r.done(stepDeleted)
		r.logf("deleted the old key %s", awskey.Redact(oldID))
	}
	out.Deleted = true
	r.forget(profile)
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
