package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/awsconfig"
	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// device is an injected MFA source: a virtual device reading the clock.
type device struct {
	t      testing.TB
	secret string
	clk    *clock
	asked  []MFARequest
}

func (d *device) Token(_ context.Context, req MFARequest) (string, error) {
	d.asked = append(d.asked, req)
	// Each code is for a new 30-second window: AWS refuses reuse.
	d.clk.Add(30 * time.Second)
	return ststest.Code(d.t, d.secret, d.clk.Now()), nil
}

const (
	testKeyID  = "AKIAY34FZKBOKMUTVV7A"
	testSecret = "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"
	testSerial = "arn:aws:iam::111122223333:mfa/alice"
	testConfig = `[profile work]
mfa_serial = arn:aws:iam::111122223333:mfa/alice
region = eu-west-1

[profile work-ro]
source_profile = work

[profile admin]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Admin
duration_seconds = 28800
external_id = ext-1

[profile nomfa]

[profile toolong]
source_profile = work
duration_seconds = 200000

[profile roletoolong]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Admin
duration_seconds = 46800
`
)

type fixture struct {
	clk   *clock
	sts   *ststest.Server
	dev   *device
	v     *Vault
	s     *Sessions
	user  ststest.User
	store *MemStore
}

func newFixture(t testing.TB, config string) *fixture {
	t.Helper()
	f := &fixture{clk: &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}, store: NewMemStore()}
	f.sts = ststest.Start(t, f.clk.Now)
	f.user = ststest.User{ARN: "arn:aws:iam::111122223333:user/alice", AccessKeyID: testKeyID, SecretAccessKey: testSecret,
		MFASerial: testSerial, MFASecret: ststest.NewMFASecret(t)}
	f.sts.AddUser(f.user)
	f.dev = &device{t: t, secret: f.user.MFASecret, clk: f.clk}
	f.v = &Vault{Store: f.store}
	for _, p := range []string{"work", "nomfa"} {
		if err := f.v.SetKey(p, &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret, Added: f.clk.Now(), ARN: f.user.ARN}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := awsconfig.Parse("config", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	c := Clients{Endpoint: f.sts.URL, RetryMaxAttempts: 1}
	f.s = &Sessions{Vault: f.v, Config: cfg, NewSTS: c.STS, MFA: f.dev, Now: f.clk.Now}
	return f
}

func TestSessionMFACachedAndRenewed(t *testing.T) {
	f := newFixture(t, testConfig)
	ctx := context.Background()
	r1, err := f.s.Credentials(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if r1.Source != "sts" || r1.Region != "eu-west-1" || !strings.HasPrefix(r1.AccessKeyID, "ASIA") || r1.SessionToken == "" {
		t.Fatalf("first call: %+v", r1)
	}
	calls := f.sts.Calls()
	if len(calls) != 1 || calls[0].Action != "GetSessionToken" || calls[0].Serial != testSerial || calls[0].Duration != 43200 || calls[0].SignedBy != testKeyID {
		t.Fatalf("STS calls: %+v", calls)
	}
	// Within the session: from the cache, no MFA, no STS.
	f.clk.Add(11 * time.Hour)
	r2, err := f.s.Credentials(ctx, "work")
	if err != nil || r2.Source != "cache" || r2.AccessKeyID != r1.AccessKeyID {
		t.Fatalf("second call: %+v %v", r2, err)
	}
	// work-ro shares the key and mfa_serial: the same session.
	r3, err := f.s.Credentials(ctx, "work-ro")
	if err != nil || r3.Source != "cache" || r3.AccessKeyID != r1.AccessKeyID {
		t.Fatalf("shared session: %+v %v", r3, err)
	}
	if len(f.dev.asked) != 1 {
		t.Fatalf("MFA asked %d times, want 1", len(f.dev.asked))
	}
	// Less than 5 minutes left: renewed.
	f.clk.Add(56 * time.Minute)
	r4, err := f.s.Credentials(ctx, "work")
	if err != nil || r4.Source != "sts" || r4.AccessKeyID == r1.AccessKeyID {
		t.Fatalf("renewal: %+v %v", r4, err)
	}
	if len(f.dev.asked) != 2 || f.sts.Count("GetSessionToken") != 2 {
		t.Fatalf("MFA asked %d, STS %d", len(f.dev.asked), f.sts.Count("GetSessionToken"))
	}
}

func TestSessionRoleDirectFromLongTermKey(t *testing.T) {
	f := newFixture(t, testConfig)
	ctx := context.Background()
	r, err := f.s.Credentials(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "role" || r.Region != "eu-west-1" {
		t.Fatalf("role result %+v", r)
	}
	calls := f.sts.Calls()
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	c := calls[0]
	// Signed by the long-term key (not chained), with MFA, for 8 hours.
	if c.Action != "AssumeRole" || c.SignedBy != testKeyID || c.Serial != testSerial || c.Duration != 28800 || c.RoleARN != "arn:aws:iam::444455556666:role/Admin" {
		t.Fatalf("AssumeRole call %+v", c)
	}
	if exp := r.Expiration.Sub(f.clk.Now()); exp != 8*time.Hour {
		t.Fatalf("role session lasts %s", exp)
	}
	if r2, err := f.s.Credentials(ctx, "admin"); err != nil || r2.Source != "cache" {
		t.Fatalf("role cache: %+v %v", r2, err)
	}
}

func TestSessionDurationLimitsCheckedBeforeCalling(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		override time.Duration
		arn      string
		want     string
	}{
		{"toolong", 0, "", "out of range: GetSessionToken allows an IAM user 15m0s to 36h0m0s"},
		{"roletoolong", 0, "", "out of range: AssumeRole allows"},
		{"work", 10 * time.Minute, "", "out of range"},
		{"admin", 13 * time.Hour, "", "out of range"},
		{"work", 2 * time.Hour, "arn:aws:iam::111122223333:root", "GetSessionToken allows the root user 15m0s to 1h0m0s"},
		{"work", 1500*time.Second + 500*time.Millisecond, "", "not a whole number of seconds"},
	} {
		t.Run(fmt.Sprintf("%s-%s", tc.profile, tc.override), func(t *testing.T) {
			f := newFixture(t, testConfig)
			if tc.arn != "" {
				k, _ := f.v.GetKey("work")
				k.ARN = tc.arn
				_ = f.v.SetKey("work", k)
			}
			f.s.Duration = tc.override
			_, err := f.s.Credentials(context.Background(), tc.profile)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if len(f.sts.Calls()) != 0 || len(f.dev.asked) != 0 {
				t.Fatalf("STS called (%d) or MFA asked (%d) for a bad duration", len(f.sts.Calls()), len(f.dev.asked))
			}
		})
	}
}

func TestSessionLimitsAreSTSs(t *testing.T) {
	// The fake STS enforces the same limits; a call past them fails there
	// too, so the checks above agree with the server.
	f := newFixture(t, testConfig)
	f.s.Duration = 0
	for _, d := range []time.Duration{MinDuration, MaxSessionDuration} {
		f.s.Duration, f.s.NoCache = d, true
		if _, err := f.s.Credentials(context.Background(), "nomfa"); err != nil {
			t.Errorf("duration %s refused: %v", d, err)
		}
	}
}

func TestSessionWrongMFACode(t *testing.T) {
	f := newFixture(t, testConfig)
	f.s.MFA = MFAFunc(func(context.Context, MFARequest) (string, error) { return "000000", nil })
	_, err := f.s.Credentials(context.Background(), "work")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("wrong code: %v", err)
	}
	if s, _ := f.v.GetSession("session", "work"); s != nil {
		t.Fatal("a failed session was cached")
	}
}

func TestSessionCodeReuseRefused(t *testing.T) {
	f := newFixture(t, testConfig)
	code := ststest.Code(t, f.user.MFASecret, f.clk.Now())
	f.s.MFA = MFAFunc(func(context.Context, MFARequest) (string, error) { return code, nil })
	f.s.NoCache = true
	if _, err := f.s.Credentials(context.Background(), "work"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Credentials(context.Background(), "work"); err == nil {
		t.Fatal("the fake STS accepted an MFA code twice")
	}
}

func TestSessionNoMFASourceFailsAtOnce(t *testing.T) {
	f := newFixture(t, testConfig)
	f.s.MFA = &MFAChain{} // no --mfa-token, no mfa_process, no terminal
	start := time.Now()
	_, err := f.s.Credentials(context.Background(), "work")
	if !errors.Is(err, ErrNoMFASource) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"--mfa-token", "mfa_process", testSerial, "no terminal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("waited instead of failing at once")
	}
	// A profile without mfa_serial needs no code.
	if _, err := f.s.Credentials(context.Background(), "nomfa"); err != nil {
		t.Fatalf("nomfa: %v", err)
	}
}

func TestSessionMFAChainSources(t *testing.T) {
	f := newFixture(t, testConfig)
	code := ststest.Code(t, f.user.MFASecret, f.clk.Now())
	chain := &MFAChain{Code: code}
	f.s.MFA = chain
	if _, err := f.s.Credentials(context.Background(), "work"); err != nil {
		t.Fatalf("--mfa-token: %v", err)
	}
	// The token is spent: the next code must come from elsewhere.
	f.s.NoCache = true
	if _, err := f.s.Credentials(context.Background(), "work"); !errors.Is(err, ErrNoMFASource) {
		t.Fatalf("second use of --mfa-token: %v", err)
	}
	// mfa_process prints the code.
	f.clk.Add(30 * time.Second)
	code2 := ststest.Code(t, f.user.MFASecret, f.clk.Now())
	cfg := testConfig + "\n[profile proc]\nsource_profile = work\nmfa_process = echo " + code2 + "\n"
	f.s.Config, _ = awsconfig.Parse("config", []byte(cfg))
	if _, err := f.s.Credentials(context.Background(), "proc"); err != nil {
		t.Fatalf("mfa_process: %v", err)
	}
	// A prompt.
	f.clk.Add(30 * time.Second)
	code3 := ststest.Code(t, f.user.MFASecret, f.clk.Now())
	var prompted string
	f.s.MFA = &MFAChain{Prompt: func(p string) (string, error) { prompted = p; return code3 + "\n", nil }}
	if _, err := f.s.Credentials(context.Background(), "work"); err != nil {
		t.Fatalf("prompt: %v", err)
	}
	if !strings.Contains(prompted, testSerial) {
		t.Errorf("prompt %q does not name the device", prompted)
	}
	// A bad mfa_process.
	f.s.MFA = &MFAChain{}
	f.s.Config, _ = awsconfig.Parse("config", []byte(testConfig+"\n[profile bad]\nsource_profile = work\nmfa_process = echo nope\n"))
	if _, err := f.s.Credentials(context.Background(), "bad"); err == nil || !strings.Contains(err.Error(), "6-digit") {
		t.Fatalf("bad mfa_process: %v", err)
	}
}

func TestSessionNotReusedAfterKeyChange(t *testing.T) {
	f := newFixture(t, testConfig)
	ctx := context.Background()
	if _, err := f.s.Credentials(ctx, "nomfa"); err != nil {
		t.Fatal(err)
	}
	other := ststest.User{ARN: "arn:aws:iam::111122223333:user/alice", AccessKeyID: "AKIAY34FZKBOKMUTVV7B", SecretAccessKey: strings.Repeat("b", 40)}
	f.sts.AddUser(other)
	_ = f.v.SetKey("nomfa", &Key{AccessKeyID: other.AccessKeyID, SecretAccessKey: other.SecretAccessKey})
	r, err := f.s.Credentials(ctx, "nomfa")
	if err != nil || r.Source != "sts" {
		t.Fatalf("after key change: %+v %v", r, err)
	}
	if c := f.sts.Calls(); c[len(c)-1].SignedBy != other.AccessKeyID {
		t.Fatalf("signed by %s", c[len(c)-1].SignedBy)
	}
}

func TestSessionMissingKey(t *testing.T) {
	f := newFixture(t, testConfig)
	_, err := f.s.Credentials(context.Background(), "nobody")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "keywarden add nobody") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkCredentialsCached is the hot path of credential_process and the
// exec --server endpoint once a session is cached: resolve the profile,
// read the key and the session, check freshness. (The file backend adds
// one unlock per process: BenchmarkFileUnlock.)
func BenchmarkCredentialsCached(b *testing.B) {
	f := newFixture(b, testConfig)
	if _, err := f.s.Credentials(context.Background(), "work"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := f.s.Credentials(context.Background(), "work")
		if err != nil || r.Source != "cache" {
			b.Fatal(r, err)
		}
	}
}

// mfa_process is a child of keywarden like exec's command: it must not
// see the store's passphrase (nor be sent on to its own children).
func TestMFAProcessDoesNotSeePassphrase(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mfa_process test uses /bin/sh")
	}
	t.Setenv("KEYWARDEN_FILE_PASSPHRASE", "do-not-leak-this-passphrase")
	out := filepath.Join(t.TempDir(), "env")
	req := MFARequest{Serial: testSerial, Profile: "work", MFAProcess: "env > " + out + "; echo 123456"}
	code, err := (&MFAChain{}).Token(context.Background(), req)
	if err != nil || code != "123456" {
		t.Fatalf("mfa_process: %q %v", code, err)
	}
	env, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), "do-not-leak-this-passphrase") || strings.Contains(string(env), "KEYWARDEN_FILE_PASSPHRASE") {
		t.Errorf("mfa_process saw the store's passphrase")
	}
	if !strings.Contains(string(env), "KEYWARDEN_MFA_SERIAL="+testSerial) {
		t.Errorf("mfa_process did not get KEYWARDEN_MFA_SERIAL")
	}
}

// Several processes wanting the same session at once (aws commands run in
// parallel through credential_process) ask for one MFA code, not one each:
// the others wait on the session lock and take the cached session.
func TestSessionLockOneMFAPromptForConcurrentCallers(t *testing.T) {
	f := newFixture(t, testConfig)
	lock := SessionLock(t.TempDir())
	var mu sync.Mutex
	asked := 0
	mfa := MFAFunc(func(ctx context.Context, req MFARequest) (string, error) {
		mu.Lock()
		asked++
		mu.Unlock()
		time.Sleep(100 * time.Millisecond) // the user typing the code
		f.clk.Add(30 * time.Second)
		return ststest.Code(t, f.user.MFASecret, f.clk.Now()), nil
	})
	const n = 4
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		// Each "process" has its own Sessions over the shared store.
		s := *f.s
		s.MFA, s.Lock = mfa, lock
		profile := []string{"work", "work-ro"}[i%2]
		go func() {
			_, err := s.Credentials(context.Background(), profile)
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if asked != 1 || f.sts.Count("GetSessionToken") != 1 {
		t.Fatalf("MFA asked %d times and GetSessionToken called %d times for %d concurrent callers, want 1 and 1", asked, f.sts.Count("GetSessionToken"), n)
	}
	// A lock held elsewhere for too long is an error, not a hang.
	unlock, err := lock(context.Background(), "session:work")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s := *f.s
	s.Lock, s.NoCache = lock, true
	if _, err := s.Credentials(ctx, "work"); err == nil || !strings.Contains(err.Error(), "waiting for another keywarden") {
		t.Fatalf("lock held elsewhere: %v", err)
	}
}
