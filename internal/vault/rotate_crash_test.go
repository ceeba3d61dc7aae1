package vault

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"

	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/vault/awsconfig"
)

// rotateUntil runs r.Rotate in a goroutine that stops dead where the
// fixture's crash hooks say, as kill -9 would stop the process: nothing
// after that point runs, no rollback, no cleanup. It reports whether the
// rotation was cut short.
func rotateUntil(r *Rotator, opts RotateOptions) (crashed bool, res *RotateResult, err error) {
	done := make(chan struct{})
	crashed = true
	go func() {
		defer close(done) // deferred calls run on runtime.Goexit too
		res, err = r.Rotate(context.Background(), opts)
		crashed = false
	}()
	<-done
	return crashed, res, err
}

// restart is the next keywarden process: a new Rotator over the same
// store and account, with no crash hooks and no injected failures.
func (f *rotateFixture) restart() *Rotator {
	f.ft.mu.Lock()
	f.ft.crash, f.ft.fail = nil, nil
	f.ft.mu.Unlock()
	f.log = nil
	return &Rotator{Sessions: f.r.Sessions, NewIAM: f.r.NewIAM, WaitTimeout: f.r.WaitTimeout, Sleep: f.r.Sleep, Log: f.r.Log}
}

// crashAt makes the fixture's rotation die right after step.
func (f *rotateFixture) crashAt(step string) {
	f.r.stepDone = func(s string) {
		if s == step {
			runtime.Goexit()
		}
	}
}

// rotateCrashAtEachStep kills a rotation after each step in turn, checks
// that the new secret is never lost (the store or the pending record holds
// it), and that the next rotate settles the rotation: finished when the
// new key is known, rolled back when it is not.
func rotateCrashAtEachStep(t *testing.T, m *mototest.Server) {
	for _, tc := range []struct {
		name string
		// crash sets the crash point up on f.
		crash func(f *rotateFixture)
		// keysAfterCrash is how many keys the user has when it dies.
		keysAfterCrash int
		// newRecorded: the pending record holds the new key's secret.
		newRecorded bool
		keepOld     bool
		// rolledBack: the next rotate rolls back (else it finishes).
		rolledBack bool
	}{
		{name: "after recording, before CreateAccessKey", crash: func(f *rotateFixture) { f.crashAt(stepRecorded) }, keysAfterCrash: 1, rolledBack: true},
		{name: "CreateAccessKey sent, answer lost", crash: func(f *rotateFixture) {
			f.ft.crash = func(action string, sent bool) bool { return action == "CreateAccessKey" && sent }
		}, keysAfterCrash: 2, rolledBack: true},
		{name: "right after CreateAccessKey", crash: func(f *rotateFixture) { f.crashAt(stepCreated) }, keysAfterCrash: 2, newRecorded: true},
		{name: "after storing", crash: func(f *rotateFixture) { f.crashAt(stepStored) }, keysAfterCrash: 2, newRecorded: true},
		{name: "after the new key worked", crash: func(f *rotateFixture) { f.crashAt(stepVerified) }, keysAfterCrash: 2, newRecorded: true},
		{name: "after the new key worked, keep old", crash: func(f *rotateFixture) { f.crashAt(stepVerified) }, keysAfterCrash: 2, newRecorded: true, keepOld: true},
		{name: "after deactivating", crash: func(f *rotateFixture) { f.crashAt(stepDeactivated) }, keysAfterCrash: 2, newRecorded: true},
		{name: "after deleting", crash: func(f *rotateFixture) { f.crashAt(stepDeleted) }, keysAfterCrash: 1, newRecorded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRotateFixture(t, m)
			tc.crash(f)
			opts := RotateOptions{Profile: "work", KeepOld: tc.keepOld}
			if crashed, res, err := rotateUntil(f.r, opts); !crashed {
				t.Fatalf("the rotation ran to its end: %+v %v", res, err)
			}
			keys := f.keys(t)
			if len(keys) != tc.keysAfterCrash {
				t.Fatalf("after the crash the user has %d keys, want %d: %v", len(keys), tc.keysAfterCrash, keys)
			}
			rec, err := f.v.GetRotation("work")
			if err != nil || rec == nil {
				t.Fatalf("no pending record after the crash: %v", err)
			}
			if rec.Old.AccessKeyID != f.oldID || rec.Old.SecretAccessKey == "" || rec.KeepOld != tc.keepOld || rec.User != "alice" {
				t.Fatalf("record %+v", rec)
			}
			var newID string
			if tc.newRecorded {
				if rec.New == nil || rec.New.SecretAccessKey == "" {
					t.Fatalf("the new key's secret is not in the record: %+v", rec.New)
				}
				newID = rec.New.AccessKeyID
				if _, ok := keys[newID]; !ok && tc.keysAfterCrash == 2 {
					t.Fatalf("the recorded key %s is not the one created: %v", newID, keys)
				}
			} else if rec.New != nil {
				t.Fatalf("a new key recorded before CreateAccessKey answered: %+v", rec.New)
			}

			// A dry run says what it found and changes nothing.
			res, err := f.restart().Rotate(context.Background(), RotateOptions{Profile: "work", DryRun: true})
			if err != nil || !res.Resumed || len(f.keys(t)) != tc.keysAfterCrash {
				t.Fatalf("dry run: %+v %v, account %v", res, err, f.keys(t))
			}
			if rec, _ := f.v.GetRotation("work"); rec == nil {
				t.Fatal("the dry run removed the record")
			}

			// The next rotate settles it, says which, and starts nothing new.
			r2 := f.restart()
			res, err = r2.Rotate(context.Background(), RotateOptions{Profile: "work"})
			if err != nil {
				t.Fatalf("resume: %v\nlog: %s", err, strings.Join(f.log, "\n"))
			}
			if !res.Resumed || res.RolledBack != tc.rolledBack {
				t.Fatalf("result %+v, want rolled back %v", res, tc.rolledBack)
			}
			log := strings.Join(f.log, "\n")
			if !strings.Contains(log, "was interrupted") {
				t.Errorf("log does not say the rotation was interrupted:\n%s", log)
			}
			if rec, err := f.v.GetRotation("work"); rec != nil || err != nil {
				t.Fatalf("record left after settling: %+v %v", rec, err)
			}
			keys = f.keys(t)
			switch {
			case tc.rolledBack:
				if !strings.Contains(log, "rolled back") {
					t.Errorf("log does not say rolled back:\n%s", log)
				}
				if len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID {
					t.Fatalf("rolled back to: account %v, store %s", keys, f.stored(t))
				}
			case tc.keepOld:
				if len(keys) != 2 || keys[newID] != iamtypes.StatusTypeActive || keys[f.oldID] != iamtypes.StatusTypeInactive || f.stored(t) != newID || res.Deleted {
					t.Fatalf("finished (keep old) to: account %v, store %s, %+v", keys, f.stored(t), res)
				}
			default:
				if len(keys) != 1 || keys[newID] != iamtypes.StatusTypeActive || f.stored(t) != newID || !res.Deleted || res.NewKeyID != newID {
					t.Fatalf("finished to: account %v, store %s, %+v", keys, f.stored(t), res)
				}
			}
			// The stored key works and a new rotation starts afresh (with
			// --keep-old the old key is still there, inactive).
			res, err = f.restart().Rotate(context.Background(), RotateOptions{Profile: "work", DeleteInactive: true})
			if err != nil || res.Resumed {
				t.Fatalf("rotation after settling: %+v %v", res, err)
			}
		})
	}
}

// rotateCrashThenNewKeyFails: killed after the new key was recorded (and
// once stored), then the new key turns out not to work: the next rotate
// rolls back, deleting the new key and putting the old one back.
func rotateCrashThenNewKeyFails(t *testing.T, m *mototest.Server) {
	for _, step := range []string{stepCreated, stepStored} {
		t.Run(step, func(t *testing.T) {
			f := newRotateFixture(t, m)
			f.crashAt(step)
			if crashed, _, _ := rotateUntil(f.r, RotateOptions{Profile: "work"}); !crashed {
				t.Fatal("did not crash")
			}
			rec, _ := f.v.GetRotation("work")
			r2 := f.restart()
			f.ft.fail = func(action, signedBy string) bool {
				return action == "GetCallerIdentity" && signedBy == rec.New.AccessKeyID
			}
			res, err := r2.Rotate(context.Background(), RotateOptions{Profile: "work"})
			if err != nil || !res.Resumed || !res.RolledBack {
				t.Fatalf("resume: %+v %v\n%s", res, err, strings.Join(f.log, "\n"))
			}
			keys := f.keys(t)
			if len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID {
				t.Fatalf("account %v, store %s", keys, f.stored(t))
			}
			if rec, _ := f.v.GetRotation("work"); rec != nil {
				t.Fatal("record left")
			}
		})
	}
}

// rotateFailedStepFinishedLater: a rotation whose deactivation failed
// keeps its record, says so, and the next rotate finishes it.
func rotateFailedStepFinishedLater(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	f.ft.fail = func(action, _ string) bool { return action == "UpdateAccessKey" }
	_, err := f.r.Rotate(context.Background(), RotateOptions{Profile: "work"})
	var re *RotateError
	if !errors.As(err, &re) || !strings.Contains(re.State, "run keywarden rotate work again to finish") {
		t.Fatalf("err = %v", err)
	}
	if rec, _ := f.v.GetRotation("work"); rec == nil || rec.New == nil {
		t.Fatal("no record kept after a failed deactivation")
	}
	newID := f.stored(t)
	res, err := f.restart().Rotate(context.Background(), RotateOptions{Profile: "work"})
	if err != nil || !res.Resumed || res.RolledBack || !res.Deleted {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if keys := f.keys(t); len(keys) != 1 || keys[newID] != iamtypes.StatusTypeActive || f.stored(t) != newID {
		t.Fatalf("account %v, store %s", keys, f.stored(t))
	}
}

// rotateCreateAnswerLost: the connection drops after IAM made the key. The
// rotation stops saying the account may hold a key it never saw, keeps its
// record, and the next rotate deletes that key.
func rotateCreateAnswerLost(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	// With the SDK's retries on: CreateAccessKey must not be retried, or
	// the retry hits IAM's limit of two keys and the first new key is
	// forgotten.
	f.r.NewIAM = Clients{Endpoint: m.URL, HTTPClient: &http.Client{Transport: f.ft}, RetryMaxAttempts: 3}.IAM
	lost := false
	f.ft.lose = func(action string) bool {
		if action == "CreateAccessKey" && !lost {
			lost = true
			return true
		}
		return false
	}
	_, err := f.r.Rotate(context.Background(), RotateOptions{Profile: "work"})
	var re *RotateError
	if !errors.As(err, &re) || re.Step != "creating the new key" || !strings.Contains(re.State, "answer was lost") {
		t.Fatalf("err = %v", err)
	}
	if rec, _ := f.v.GetRotation("work"); rec == nil || len(f.keys(t)) != 2 {
		t.Fatalf("record %v, account %v", rec, f.keys(t))
	}
	f.ft.lose = nil
	res, err := f.restart().Rotate(context.Background(), RotateOptions{Profile: "work"})
	if err != nil || !res.RolledBack {
		t.Fatalf("resume: %+v %v", res, err)
	}
	if keys := f.keys(t); len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID {
		t.Fatalf("account %v, store %s", keys, f.stored(t))
	}
}

// rotateCreateRefused: IAM refuses CreateAccessKey; nothing changed, so
// no record is left behind.
func rotateCreateRefused(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	f.ft.fail = func(action, _ string) bool { return action == "CreateAccessKey" }
	_, err := f.r.Rotate(context.Background(), RotateOptions{Profile: "work"})
	var re *RotateError
	if !errors.As(err, &re) || re.Step != "creating the new key" || !strings.Contains(re.State, "account: unchanged") {
		t.Fatalf("err = %v", err)
	}
	if rec, _ := f.v.GetRotation("work"); rec != nil || len(f.keys(t)) != 1 || f.stored(t) != f.oldID {
		t.Fatalf("record %v, account %v", rec, f.keys(t))
	}
}

// TestRotateRefusesConcurrentRotation: while one rotate of a key runs (it
// holds the rotation lock), another gives up at once instead of taking the
// first one's record for an interrupted rotation.
func TestRotateRefusesConcurrentRotation(t *testing.T) {
	dir := t.TempDir()
	v := &Vault{Store: NewMemStore()}
	if err := v.SetKey("work", &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := awsconfig.Parse("config", []byte("[profile work-ro]\nsource_profile = work\n"))
	lock := SessionLock(dir)
	r := &Rotator{Sessions: &Sessions{Vault: v, Config: cfg, Lock: lock}}
	unlock, err := lock(context.Background(), rotationPrefix+"work")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"work", "work-ro"} {
		_, err = r.Rotate(context.Background(), RotateOptions{Profile: p, DryRun: true})
		if err == nil || !strings.Contains(err.Error(), `another keywarden rotate of profile "work" is running`) {
			t.Fatalf("%s: err = %v", p, err)
		}
	}
	unlock()
	// Free again: the rotation gets past the lock, to its first STS call.
	r.Sessions.NewSTS = func(Credentials, string) STSAPI { return offlineSTS{} }
	_, err = r.Rotate(context.Background(), RotateOptions{Profile: "work", DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("after unlock: %v", err)
	}
}

// offlineSTS answers GetCallerIdentity with an error.
type offlineSTS struct{ STSAPI }

func (offlineSTS) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return nil, errors.New("offline")
}
