package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/vault/awsconfig"
)

var credRe = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

// faultyTransport fails the requests fail picks, with a 403 AccessDenied
// that the SDK does not retry: a failure in the middle of a rotation.
type faultyTransport struct {
	mu   sync.Mutex
	fail func(action, signedBy string) bool
	// crash, when it returns true, ends the calling goroutine (as kill -9
	// ends the process) before the request is sent (sent false) or once
	// the server has answered it (sent true).
	crash func(action string, sent bool) bool
	// lose, when it returns true, sends the request and then fails as
	// a dropped connection would: the server acted, the client never
	// hears of it.
	lose    func(action string) bool
	seen    []string
	signers []string
}

func (f *faultyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	signedBy := ""
	if m := credRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		signedBy = m[1]
	}
	f.mu.Lock()
	f.seen = append(f.seen, action)
	f.signers = append(f.signers, signedBy)
	fail := f.fail != nil && f.fail(action, signedBy)
	crash := f.crash
	f.mu.Unlock()
	if crash != nil && crash(action, false) {
		runtime.Goexit()
	}
	if fail {
		msg := `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>injected failure</Message></Error><RequestId>x</RequestId></ErrorResponse>`
		return &http.Response{StatusCode: 403, Header: http.Header{"Content-Type": {"text/xml"}}, Body: io.NopCloser(strings.NewReader(msg)), Request: r}, nil
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if crash != nil && crash(action, true) {
		runtime.Goexit()
	}
	if err == nil && f.lose != nil && f.lose(action) {
		resp.Body.Close()
		return nil, errors.New("injected: connection reset after the request was sent")
	}
	return resp, err
}

type rotateFixture struct {
	moto  *mototest.Server
	admin *iam.Client
	v     *Vault
	r     *Rotator
	ft    *faultyTransport
	oldID string
	log   []string
}

// newRotateFixture makes user alice in a fresh moto with one key, stored
// as profile "work" (with mfa_serial, so IAM is called with an MFA
// session, which moto grants without checking the code).
func newRotateFixture(t *testing.T, m *mototest.Server) *rotateFixture {
	t.Helper()
	ctx := context.Background()
	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	admin := iam.NewFromConfig(m.Config())
	if _, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice")}); err != nil {
		t.Fatal(err)
	}
	k, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	f := &rotateFixture{moto: m, admin: admin, ft: &faultyTransport{}, oldID: *k.AccessKey.AccessKeyId}
	f.v = &Vault{Store: NewMemStore()}
	if err := f.v.SetKey("work", &Key{AccessKeyID: f.oldID, SecretAccessKey: *k.AccessKey.SecretAccessKey, Added: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cfg, _ := awsconfig.Parse("config", []byte("[profile work]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n"))
	c := Clients{Endpoint: m.URL, HTTPClient: &http.Client{Transport: f.ft}, RetryMaxAttempts: 1}
	s := &Sessions{Vault: f.v, Config: cfg, NewSTS: c.STS, Now: time.Now,
		MFA: MFAFunc(func(context.Context, MFARequest) (string, error) { return "123456", nil })}
	f.r = &Rotator{Sessions: s, NewIAM: c.IAM, WaitTimeout: 3 * time.Second,
		Sleep: func(context.Context, time.Duration) error { return nil },
		Log:   func(format string, args ...any) { f.log = append(f.log, fmt.Sprintf(format, args...)) }}
	return f
}

func (f *rotateFixture) keys(t *testing.T) map[string]iamtypes.StatusType {
	t.Helper()
	out, err := f.admin.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]iamtypes.StatusType{}
	for _, k := range out.AccessKeyMetadata {
		m[*k.AccessKeyId] = k.Status
	}
	return m
}

func (f *rotateFixture) stored(t *testing.T) string {
	k, err := f.v.GetKey("work")
	if err != nil {
		t.Fatal(err)
	}
	return k.AccessKeyID
}

func rotateBasic(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	// A session cached with the old key must not survive the rotation.
	if _, err := f.r.Sessions.Credentials(context.Background(), "work"); err != nil {
		t.Fatal(err)
	}
	res, err := f.r.Rotate(context.Background(), RotateOptions{Profile: "work"})
	if err != nil {
		t.Fatal(err)
	}
	keys := f.keys(t)
	if len(keys) != 1 || keys[res.NewKeyID] != iamtypes.StatusTypeActive || !res.Deleted || res.User != "alice" {
		t.Fatalf("after rotation: account %v, result %+v", keys, res)
	}
	if f.stored(t) != res.NewKeyID || res.NewKeyID == f.oldID {
		t.Fatalf("store holds %s, want the new %s", f.stored(t), res.NewKeyID)
	}
	if s, _ := f.v.GetSession("session", "work"); s != nil {
		t.Fatal("the old key's session is still cached")
	}
	// IAM was called with the MFA session, and in the right order.
	seen := strings.Join(f.ft.seen, ",")
	if !strings.HasPrefix(seen, "GetSessionToken,GetCallerIdentity,ListAccessKeys,CreateAccessKey,GetCallerIdentity,UpdateAccessKey,DeleteAccessKey") {
		t.Fatalf("calls: %s", seen)
	}
	for i, a := range f.ft.seen {
		if a == "ListAccessKeys" || a == "CreateAccessKey" || a == "UpdateAccessKey" || a == "DeleteAccessKey" {
			if f.ft.signers[i] == f.oldID || f.ft.signers[i] == res.NewKeyID || f.ft.signers[i] == "" {
				t.Errorf("%s signed by %q, not by the MFA session", a, f.ft.signers[i])
			}
		}
	}
}

func rotateDryRunChangesNothing(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	if _, err := f.r.Rotate(context.Background(), RotateOptions{Profile: "work", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if keys := f.keys(t); len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID {
		t.Fatalf("dry run changed something: %v", keys)
	}
	if !strings.Contains(strings.Join(f.log, "\n"), "would deactivate the old key") {
		t.Fatalf("dry run log: %v", f.log)
	}
}

func rotateKeepOld(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	res, err := f.r.Rotate(context.Background(), RotateOptions{Profile: "work", KeepOld: true})
	if err != nil {
		t.Fatal(err)
	}
	keys := f.keys(t)
	if keys[f.oldID] != iamtypes.StatusTypeInactive || keys[res.NewKeyID] != iamtypes.StatusTypeActive || res.Deleted {
		t.Fatalf("keep-old: %v", keys)
	}
}

func rotateTwoKeys(t *testing.T, m *mototest.Server) {
	f := newRotateFixture(t, m)
	ctx := context.Background()
	other, err := f.admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	otherID := *other.AccessKey.AccessKeyId
	// Active second key: stop, name it, change nothing.
	_, err = f.r.Rotate(ctx, RotateOptions{Profile: "work", DeleteInactive: true})
	if !errors.Is(err, ErrTwoKeys) || !strings.Contains(err.Error(), otherID[16:]) || !strings.Contains(err.Error(), "active") || !strings.Contains(err.Error(), "never used") ||
		!strings.Contains(err.Error(), "aws iam delete-access-key --user-name alice --access-key-id "+otherID+")") {
		t.Fatalf("two active keys: %v", err)
	}
	if len(f.keys(t)) != 2 || f.stored(t) != f.oldID {
		t.Fatal("changed something")
	}
	// Inactive second key without --delete-inactive: stop and suggest it.
	if _, err := f.admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("alice"), AccessKeyId: aws.String(otherID), Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	_, err = f.r.Rotate(ctx, RotateOptions{Profile: "work"})
	if !errors.Is(err, ErrTwoKeys) || !strings.Contains(err.Error(), "--delete-inactive") {
		t.Fatalf("inactive second key: %v", err)
	}
	// With --delete-inactive: it goes, and the rotation proceeds.
	res, err := f.r.Rotate(ctx, RotateOptions{Profile: "work", DeleteInactive: true})
	if err != nil {
		t.Fatal(err)
	}
	keys := f.keys(t)
	if len(keys) != 1 || keys[res.NewKeyID] != iamtypes.StatusTypeActive || res.RemovedInactive != otherID {
		t.Fatalf("after --delete-inactive: %v %+v", keys, res)
	}
}

func rotateFailureInTheMiddle(t *testing.T, m *mototest.Server) {
	ctx := context.Background()
	t.Run("deactivate fails", func(t *testing.T) {
		f := newRotateFixture(t, m)
		f.ft.fail = func(action, _ string) bool { return action == "UpdateAccessKey" }
		_, err := f.r.Rotate(ctx, RotateOptions{Profile: "work"})
		var re *RotateError
		if !errors.As(err, &re) || re.Step != "deactivating the old key" {
			t.Fatalf("err = %v", err)
		}
		keys := f.keys(t)
		newID := f.stored(t)
		// Consistent: the store holds the new, working key; the old one is
		// still active, and the message says so and how to finish.
		if len(keys) != 2 || keys[f.oldID] != iamtypes.StatusTypeActive || keys[newID] != iamtypes.StatusTypeActive || newID == f.oldID {
			t.Fatalf("account %v, store %s", keys, newID)
		}
		for _, want := range []string{"still ACTIVE", "update-access-key", f.oldID, "holds the new key"} {
			if !strings.Contains(re.State, want) {
				t.Errorf("state %q lacks %q", re.State, want)
			}
		}
	})
	t.Run("new key never works", func(t *testing.T) {
		f := newRotateFixture(t, m)
		f.ft.fail = func(action, signedBy string) bool { return action == "GetCallerIdentity" && signedBy != f.oldID }
		_, err := f.r.Rotate(ctx, RotateOptions{Profile: "work"})
		var re *RotateError
		if !errors.As(err, &re) || re.Step != "waiting for the new key to work" {
			t.Fatalf("err = %v", err)
		}
		// Rolled back: the new key deleted, the old one active and stored.
		keys := f.keys(t)
		if len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID {
			t.Fatalf("account %v, store %s", keys, f.stored(t))
		}
		if !strings.Contains(re.State, "new key was deleted again") || !strings.Contains(re.State, "holds the old key again") {
			t.Errorf("state %q", re.State)
		}
	})
	t.Run("delete fails", func(t *testing.T) {
		f := newRotateFixture(t, m)
		f.ft.fail = func(action, _ string) bool { return action == "DeleteAccessKey" }
		_, err := f.r.Rotate(ctx, RotateOptions{Profile: "work"})
		var re *RotateError
		if !errors.As(err, &re) || re.Step != "deleting the old key" {
			t.Fatalf("err = %v", err)
		}
		keys := f.keys(t)
		if keys[f.oldID] != iamtypes.StatusTypeInactive || f.stored(t) == f.oldID || !strings.Contains(re.State, "inactive but not deleted") {
			t.Fatalf("account %v, state %q", keys, re.State)
		}
	})
	t.Run("interrupted while waiting", func(t *testing.T) {
		// Ctrl-C while waiting for the new key: the rollback still runs
		// (its IAM calls are not cancelled with the command), so the
		// account and the store are back to the old key.
		f := newRotateFixture(t, m)
		f.ft.fail = func(action, signedBy string) bool { return action == "GetCallerIdentity" && signedBy != f.oldID }
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		f.r.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
		_, err := f.r.Rotate(ctx, RotateOptions{Profile: "work"})
		var re *RotateError
		if !errors.As(err, &re) || re.Step != "waiting for the new key to work" || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		keys := f.keys(t)
		if len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID || !strings.Contains(re.State, "new key was deleted again") {
			t.Fatalf("account %v, store %s, state %q", keys, f.stored(t), re.State)
		}
		// Interrupted before anything changed: nothing is created.
		_, err = f.r.Rotate(ctx, RotateOptions{Profile: "work"})
		if err == nil || len(f.keys(t)) != 1 || f.stored(t) != f.oldID {
			t.Fatalf("interrupted before starting: %v, account %v", err, f.keys(t))
		}
	})
	t.Run("store fails", func(t *testing.T) {
		f := newRotateFixture(t, m)
		f.v.Store = &failingSetStore{Store: f.v.Store}
		_, err := f.r.Rotate(ctx, RotateOptions{Profile: "work"})
		var re *RotateError
		if !errors.As(err, &re) || re.Step != "storing the new key" {
			t.Fatalf("err = %v", err)
		}
		keys := f.keys(t)
		if len(keys) != 1 || keys[f.oldID] != iamtypes.StatusTypeActive || f.stored(t) != f.oldID {
			t.Fatalf("account %v", keys)
		}
	})
}

// failingSetStore refuses to store keys (a locked keychain, a full disk).
type failingSetStore struct{ Store }

func (f *failingSetStore) Set(name string, data []byte) error {
	if strings.HasPrefix(name, keyPrefix) {
		return errors.New("injected: the keychain is locked")
	}
	return f.Store.Set(name, data)
}

// TestRotate runs the rotation cases against one moto_server, reset
// between cases (starting moto costs more than the cases themselves).
func TestRotate(t *testing.T) {
	m := mototest.Start(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *mototest.Server)
	}{
		{"basic", rotateBasic},
		{"dry run", rotateDryRunChangesNothing},
		{"keep old", rotateKeepOld},
		{"two keys", rotateTwoKeys},
		{"failure in the middle", rotateFailureInTheMiddle},
		{"crash at each step", rotateCrashAtEachStep},
		{"crash then the new key fails", rotateCrashThenNewKeyFails},
		{"failed step finished by the next rotate", rotateFailedStepFinishedLater},
		{"CreateAccessKey answer lost", rotateCreateAnswerLost},
		{"CreateAccessKey refused", rotateCreateRefused},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, m) })
	}
}
