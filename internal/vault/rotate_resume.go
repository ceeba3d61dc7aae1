package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keywarden/keywarden/internal/awskey"
)

// orphanSkew is how much earlier than the rotation's recorded start an
// unknown key's creation date may be (clocks differ) and still count as
// the key the interrupted CreateAccessKey made.
const orphanSkew = 5 * time.Minute

// resume settles the rotation rec, which an earlier rotate started and
// did not live to finish. With the new key known (its secret is in rec)
// and working, the rotation is finished: the store gets the new key, the
// old one is deactivated and deleted as rec's options said. Otherwise it
// is rolled back: the store gets the old key back, and the new key is
// deleted. It starts no new rotation.
func (r *Rotator) resume(ctx context.Context, opts RotateOptions, rec *PendingRotation) (*RotateResult, error) {
	s := r.Sessions
	profile := rec.Profile
	out := &RotateResult{User: rec.User, OldKeyID: rec.Old.AccessKeyID, Resumed: true}
	what := "before IAM's answer to CreateAccessKey was recorded"
	if rec.New != nil {
		out.NewKeyID = rec.New.AccessKeyID
		what = fmt.Sprintf("after it created the new key %s", awskey.Redact(rec.New.AccessKeyID))
	}
	r.logf("a rotation of profile %s (user %s) started %s was interrupted %s", profile, rec.User, rec.Started.Format(time.RFC3339), what)
	if opts.DryRun {
		r.logf("would finish it if the new key works, else roll it back; no new rotation is started")
		return out, nil
	}
	r.aboutToChange()
	fin := context.WithoutCancel(ctx)

	stored, err := s.Vault.GetKey(profile)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	onOld := stored != nil && stored.AccessKeyID == rec.Old.AccessKeyID
	onNew := stored != nil && rec.New != nil && stored.AccessKeyID == rec.New.AccessKeyID
	if !onOld && !onNew {
		// The store was changed since (add --force, remove): it is the
		// user's now, and the rotation is moot.
		r.forget(profile)
		msg := fmt.Sprintf("the store no longer holds either key of the interrupted rotation of profile %s, so it was left as it is", profile)
		if rec.New != nil {
			msg += fmt.Sprintf("; the rotation's new key %s may still exist: if nothing uses it, delete it with aws iam delete-access-key --user-name %s --access-key-id %s",
				rec.New.AccessKeyID, rec.User, rec.New.AccessKeyID)
		}
		return nil, &RotateError{Step: "resuming the interrupted rotation", Err: errors.New(msg),
			State: fmt.Sprintf("store: unchanged; the record of the interrupted rotation of profile %s is removed.", profile)}
	}
	keep := fmt.Sprintf("the record of the interrupted rotation is kept: run keywarden rotate %s again", profile)

	// A stored new key that does not work makes way for the old one
	// before anything else: IAM is reached through the stored key.
	verified := false
	if onNew {
		if err := r.waitForKey(ctx, rec.New, rec.Region); err != nil {
			if serr := s.Vault.SetKey(profile, &rec.Old); serr != nil {
				return nil, &RotateError{Step: "putting the old key back", Err: serr,
					State: fmt.Sprintf("the new key %s does not work (%v) and profile %s still holds it; %s.", awskey.Redact(rec.New.AccessKeyID), err, profile, keep)}
			}
			r.logf("the new key does not work (%v): profile %s holds the old key again", err, profile)
			onNew, onOld = false, true
		} else {
			verified = true
		}
	}
	inUse := &rec.Old
	if onNew {
		inUse = rec.New
	}
	api, err := r.iamClient(ctx, profile, Credentials{AccessKeyID: inUse.AccessKeyID, SecretAccessKey: inUse.SecretAccessKey}, rec.Region)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, keep)
	}
	list, err := api.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(rec.User)})
	if err != nil {
		return nil, fmt.Errorf("iam:ListAccessKeys for user %s: %w (%s)", rec.User, err, keep)
	}
	status := map[string]iamtypes.StatusType{}
	for _, k := range list.AccessKeyMetadata {
		status[aws.ToString(k.AccessKeyId)] = k.Status
	}

	if rec.New == nil {
		return r.rollBackUnknown(fin, api, rec, list.AccessKeyMetadata, out)
	}
	if _, ok := status[rec.New.AccessKeyID]; !ok {
		// Deleted since (by hand, or by a rollback that lost its record).
		if onNew {
			if err := s.Vault.SetKey(profile, &rec.Old); err != nil {
				return nil, &RotateError{Step: "putting the old key back", Err: err,
					State: fmt.Sprintf("the new key %s no longer exists and profile %s still holds it; %s.", awskey.Redact(rec.New.AccessKeyID), profile, keep)}
			}
		}
		r.forget(profile)
		r.logf("rolled back: the new key %s no longer exists; profile %s holds the old key %s", awskey.Redact(rec.New.AccessKeyID), profile, awskey.Redact(rec.Old.AccessKeyID))
		out.RolledBack = true
		return out, nil
	}
	if !verified {
		if err := r.waitForKey(ctx, rec.New, rec.Region); err != nil {
			state, deleted := r.undoCreate(fin, api, rec, fmt.Sprintf("store: profile %s holds the old key.", profile), true)
			if !deleted {
				return nil, &RotateError{Step: "rolling back the interrupted rotation", Err: err, State: state}
			}
			r.logf("rolled back: the new key never worked (%v). %s", err, state)
			out.RolledBack = true
			return out, nil
		}
	}
	r.logf("the new key works")
	if !onNew {
		if err := s.Vault.SetKey(profile, rec.New); err != nil {
			return nil, &RotateError{Step: "storing the new key", Err: err,
				State: fmt.Sprintf("account: the new key %s works and the old key %s is unchanged. store: profile %s holds the old key; %s.",
					awskey.Redact(rec.New.AccessKeyID), awskey.Redact(rec.Old.AccessKeyID), profile, keep)}
		}
		r.logf("stored the new key as profile %s (%s backend)", profile, s.Vault.Store.Backend())
	}
	_ = s.Vault.RemoveSessions(profile)
	oldStatus, oldExists := status[rec.Old.AccessKeyID]
	return r.retire(fin, api, rec, out, oldExists && oldStatus == iamtypes.StatusTypeActive, oldExists)
}

// rollBackUnknown settles a rotation killed before it recorded IAM's
// answer to CreateAccessKey: the key may or may not have been created,
// and its secret, if it was, reached no one. A single other key of the
// user that is active, was never used and was created since the rotation
// started is that key: it is deleted. Any other key is named and left.
func (r *Rotator) rollBackUnknown(fin context.Context, api IAMAPI, rec *PendingRotation, keys []iamtypes.AccessKeyMetadata, out *RotateResult) (*RotateResult, error) {
	var others []iamtypes.AccessKeyMetadata
	for _, k := range keys {
		if aws.ToString(k.AccessKeyId) != rec.Old.AccessKeyID {
			others = append(others, k)
		}
	}
	out.RolledBack = true
	if len(others) == 0 {
		r.forget(rec.Profile)
		r.logf("rolled back: no new key was created; profile %s holds the old key %s", rec.Profile, awskey.Redact(rec.Old.AccessKeyID))
		return out, nil
	}
	k := others[0]
	id := aws.ToString(k.AccessKeyId)
	orphan := len(others) == 1 && k.Status == iamtypes.StatusTypeActive && k.CreateDate != nil && !k.CreateDate.Before(rec.Started.Add(-orphanSkew))
	if orphan {
		lu, err := api.GetAccessKeyLastUsed(fin, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
		orphan = err == nil && (lu.AccessKeyLastUsed == nil || lu.AccessKeyLastUsed.LastUsedDate == nil)
	}
	if !orphan {
		r.forget(rec.Profile)
		r.logf("rolled back: profile %s holds the old key %s; user %s also has the key %s (%s, created %s), which this rotation cannot tell for its own, so it was left alone",
			rec.Profile, awskey.Redact(rec.Old.AccessKeyID), rec.User, awskey.Redact(id), string(k.Status), timeString(k.CreateDate))
		return out, nil
	}
	if _, err := api.DeleteAccessKey(fin, &iam.DeleteAccessKeyInput{UserName: aws.String(rec.User), AccessKeyId: aws.String(id)}); err != nil {
		return nil, &RotateError{Step: "rolling back the interrupted rotation", Err: err,
			State: fmt.Sprintf("account: the key %s, created by the interrupted rotation (its secret was never received), is still there: run keywarden rotate %s again, or delete it with aws iam delete-access-key --user-name %s --access-key-id %s. store: profile %s holds the old key.",
				id, rec.Profile, rec.User, id, rec.Profile)}
	}
	r.forget(rec.Profile)
	r.logf("rolled back: deleted the key %s, which the interrupted rotation created but never received the secret of; profile %s holds the old key %s",
		awskey.Redact(id), rec.Profile, awskey.Redact(rec.Old.AccessKeyID))
	return out, nil
}
