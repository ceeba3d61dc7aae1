package vault

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/keywarden/keywarden/internal/vault/ststest"
)

// chainConfig has a plain profile and role profiles on one key and MFA
// device: ops and audit ask for 1 hour (the default, or said so), long for
// 2 hours, just-over for one second more than the chaining cap.
const chainConfig = testConfig + `
[profile ops]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops

[profile audit]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Audit
duration_seconds = 3600

[profile long]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops
duration_seconds = 7200

[profile just-over]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops
duration_seconds = 3601

[profile nomfa-role]
source_profile = nomfa
role_arn = arn:aws:iam::444455556666:role/Ops
`

// mfaSessionKeys returns the access key IDs of the cached MFA sessions.
func mfaSessionKeys(t *testing.T, f *fixture) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, s := range mustSessions(t, f) {
		if s.Kind == "session" {
			keys[s.AccessKeyID] = true
		}
	}
	return keys
}

func mustSessions(t *testing.T, f *fixture) []*Session {
	t.Helper()
	ss, err := f.v.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// checkChainedCalls counts the successful AssumeRole calls signed with
// temporary credentials (chained) and with the long-term key (direct), and
// checks that every chained one carried no code, was MFA-authenticated
// through its session and stayed within the 1-hour cap.
func checkChainedCalls(t *testing.T, f *fixture) (chained, direct int) {
	t.Helper()
	for _, c := range f.sts.Calls() {
		if c.Action != "AssumeRole" || c.Err != "" {
			continue
		}
		if c.Temporary {
			chained++
			if c.Serial != "" || c.Code != "" || !c.MFA || !strings.HasPrefix(c.SignedBy, "ASIA") || c.Duration > 3600 {
				t.Errorf("chained AssumeRole %+v: want no code, MFA from the session, an ASIA signer, at most 3600 s", c)
			}
		} else {
			direct++
		}
	}
	return chained, direct
}

func TestSessionRolesShareOneMFASession(t *testing.T) {
	for _, order := range [][]string{
		{"ops", "audit", "work"},
		{"work", "ops", "audit"},
		{"audit", "work", "ops"},
		{"ops", "work-ro", "audit", "work"},
	} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			f := newFixture(t, chainConfig)
			ctx := context.Background()
			for _, p := range order {
				r, err := f.s.Credentials(ctx, p)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if r.Kind == "role" {
					if life := r.Expiration.Sub(f.clk.Now()); life > time.Hour || life < 59*time.Minute {
						t.Errorf("%s: chained role session lasts %s, want 1h at most", p, life)
					}
				}
			}
			if len(f.dev.asked) != 1 || f.sts.Count("GetSessionToken") != 1 {
				t.Fatalf("MFA asked %d times, GetSessionToken %d times across %v; want 1 and 1", len(f.dev.asked), f.sts.Count("GetSessionToken"), order)
			}
			// The prompt names the first profile asked for.
			if got := f.dev.asked[0]; got.Serial != testSerial || got.Profile != order[0] {
				t.Errorf("prompt for %+v", got)
			}
			chained, direct := checkChainedCalls(t, f)
			if chained != 2 || direct != 0 {
				t.Fatalf("AssumeRole chained %d, direct %d; want 2, 0: %+v", chained, direct, f.sts.Calls())
			}
			keys := mfaSessionKeys(t, f)
			for _, c := range f.sts.Calls() {
				if c.Action == "AssumeRole" && !keys[c.SignedBy] {
					t.Errorf("AssumeRole signed by %s, not the shared MFA session %v", c.SignedBy, keys)
				}
			}
			// The role sessions are cached, and say where they came from.
			for _, s := range mustSessions(t, f) {
				if s.Kind == "role" && (s.Via != "work" || s.SourceKeyID != testKeyID || s.MFASerial != testSerial) {
					t.Errorf("cached role session %s: via %q, key %s", s.Profile, s.Via, s.SourceKeyID)
				}
			}
			for _, p := range []string{"ops", "audit"} {
				if r, err := f.s.Credentials(ctx, p); err != nil || r.Source != "cache" {
					t.Errorf("%s again: %+v %v", p, r, err)
				}
			}
		})
	}
}

func TestSessionLongRoleAssumedDirectlyWithMFA(t *testing.T) {
	for _, tc := range []struct {
		name     string
		profile  string
		override time.Duration
		before   string // a profile whose MFA session is cached first
		want     int    // DurationSeconds of the AssumeRole call
	}{
		{"duration_seconds 7200", "long", 0, "", 7200},
		{"duration_seconds 7200, MFA session cached", "long", 0, "work", 7200},
		{"duration_seconds 3601", "just-over", 0, "", 3601},
		{"--duration 2h on a 1h role", "ops", 2 * time.Hour, "work", 7200},
		{"duration_seconds 28800", "admin", 0, "work", 28800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, chainConfig)
			ctx := context.Background()
			asked := 0
			if tc.before != "" {
				if _, err := f.s.Credentials(ctx, tc.before); err != nil {
					t.Fatal(err)
				}
				asked = 1
			}
			f.s.Duration = tc.override
			r, err := f.s.Credentials(ctx, tc.profile)
			if err != nil {
				t.Fatal(err)
			}
			// A code of its own, even with a fresh MFA session cached:
			// chaining would cap the role at 1 hour.
			if len(f.dev.asked) != asked+1 {
				t.Fatalf("MFA asked %d times, want %d", len(f.dev.asked), asked+1)
			}
			calls := f.sts.Calls()
			c := calls[len(calls)-1]
			if c.Action != "AssumeRole" || c.Temporary || c.SignedBy != testKeyID || c.Serial != testSerial || c.Code == "" || c.Duration != tc.want {
				t.Fatalf("AssumeRole call %+v: want signed by the long-term key with MFA for %d s", c, tc.want)
			}
			if life := r.Expiration.Sub(f.clk.Now()); life != time.Duration(tc.want)*time.Second {
				t.Fatalf("role session lasts %s", life)
			}
			if s, _ := f.v.GetSession("role", tc.profile); s == nil || s.Via != "" {
				t.Fatalf("cached role session %+v: want one with no Via", s)
			}
		})
	}
}

func TestSessionRoleWithoutMFAStaysDirect(t *testing.T) {
	f := newFixture(t, chainConfig)
	if _, err := f.s.Credentials(context.Background(), "nomfa-role"); err != nil {
		t.Fatal(err)
	}
	calls := f.sts.Calls()
	if len(calls) != 1 || calls[0].Action != "AssumeRole" || calls[0].SignedBy != testKeyID || calls[0].Temporary || len(f.dev.asked) != 0 {
		t.Fatalf("calls %+v, asked %d", calls, len(f.dev.asked))
	}
}

// Chained role sessions are renewed from the MFA session without a code;
// when the MFA session itself is within 5 minutes of its end, one new code
// makes a new MFA session and every profile goes on from it.
func TestSessionSharedMFASessionExpiry(t *testing.T) {
	f := newFixture(t, chainConfig)
	ctx := context.Background()
	get := func(p string) *Result {
		t.Helper()
		r, err := f.s.Credentials(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return r
	}
	steps := []struct {
		advance  time.Duration
		profiles []string
		asked    int // total codes after the step
		gst      int // total GetSessionToken after the step
	}{
		{0, []string{"ops", "audit", "work"}, 1, 1},
		// Role sessions past their refresh point: renewed from the MFA
		// session, no code.
		{56 * time.Minute, []string{"ops", "audit", "work"}, 1, 1},
		{56 * time.Minute, []string{"audit", "ops"}, 1, 1},
		// 11h50m after the MFA session began (it lasts 12h): still fresh.
		{9*time.Hour + 58*time.Minute, []string{"ops", "audit", "work"}, 1, 1},
		// Within 5 minutes of its end: one new code, for all of them.
		{6 * time.Minute, []string{"ops", "audit", "work", "work-ro"}, 2, 2},
		{30 * time.Minute, []string{"audit", "work"}, 2, 2},
	}
	for i, st := range steps {
		f.clk.Add(st.advance)
		for _, p := range st.profiles {
			r := get(p)
			if r.Kind == "role" && r.Expiration.Sub(f.clk.Now()) > time.Hour {
				t.Fatalf("step %d: %s role session lasts %s", i, p, r.Expiration.Sub(f.clk.Now()))
			}
			if !r.Expiration.After(f.clk.Now().Add(RefreshBefore)) {
				t.Fatalf("step %d: %s handed out a session expiring at %s (now %s)", i, p, r.Expiration, f.clk.Now())
			}
		}
		if len(f.dev.asked) != st.asked || f.sts.Count("GetSessionToken") != st.gst {
			t.Fatalf("step %d: MFA asked %d, GetSessionToken %d; want %d, %d", i, len(f.dev.asked), f.sts.Count("GetSessionToken"), st.asked, st.gst)
		}
	}
	chained, direct := checkChainedCalls(t, f)
	if direct != 0 || chained < 6 {
		t.Fatalf("AssumeRole chained %d, direct %d", chained, direct)
	}
	// No call was refused: never one signed by an expired MFA session.
	for _, c := range f.sts.Calls() {
		if c.Err != "" {
			t.Errorf("refused call %+v", c)
		}
	}
}

func TestSessionChainedRoleNoMFASourceNamesTheProfile(t *testing.T) {
	f := newFixture(t, chainConfig)
	f.s.MFA = &MFAChain{}
	_, err := f.s.Credentials(context.Background(), "ops")
	if !errors.Is(err, ErrNoMFASource) || !strings.Contains(err.Error(), `profile "ops"`) || !strings.Contains(err.Error(), testSerial) {
		t.Fatalf("err = %v", err)
	}
	if len(f.sts.Calls()) != 0 {
		t.Fatalf("STS called: %+v", f.sts.Calls())
	}
}

// denyRoles is an STS that refuses every AssumeRole.
type denyRoles struct{ STSAPI }

func (denyRoles) AssumeRole(context.Context, *sts.AssumeRoleInput, ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}
}

func TestSessionRoleErrorsSayHow(t *testing.T) {
	for _, tc := range []struct {
		profile string
		want    string
	}{
		{"ops", `sts:AssumeRole arn:aws:iam::444455556666:role/Ops for profile "ops" (with the MFA session of profile "work"): `},
		{"long", `sts:AssumeRole arn:aws:iam::444455556666:role/Ops for profile "long" (with MFA from the long-term key): `},
		{"nomfa-role", `sts:AssumeRole arn:aws:iam::444455556666:role/Ops for profile "nomfa-role" (from the long-term key): `},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			f := newFixture(t, chainConfig)
			next := f.s.NewSTS
			f.s.NewSTS = func(c Credentials, region string) STSAPI { return denyRoles{next(c, region)} }
			_, err := f.s.Credentials(context.Background(), tc.profile)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "AccessDenied") {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
			if s, _ := f.v.GetSession("role", tc.profile); s != nil {
				t.Fatal("a refused role was cached")
			}
		})
	}
	// A bad duration_seconds on the key's profile is named as such.
	f := newFixture(t, chainConfig+"\n[profile bad-src]\nmfa_serial = "+testSerial+"\nduration_seconds = 200000\n\n[profile bad-role]\nsource_profile = bad-src\nrole_arn = arn:aws:iam::444455556666:role/Ops\n")
	_ = f.v.SetKey("bad-src", &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: f.user.ARN})
	_, err := f.s.Credentials(context.Background(), "bad-role")
	if err == nil || !strings.Contains(err.Error(), `the MFA session of profile "bad-src" (role profile "bad-role" is assumed from it): session duration 55h33m20s is out of range`) {
		t.Fatalf("err = %v", err)
	}
	if len(f.dev.asked) != 0 || len(f.sts.Calls()) != 0 {
		t.Fatal("asked for a code or called STS for a bad duration")
	}
}

// A cached MFA session STS no longer accepts (here its recorded expiry is
// wrong) is replaced with one new code, not an error on every call.
func TestSessionChainedRoleRefusedMFASessionReplaced(t *testing.T) {
	f := newFixture(t, chainConfig)
	ctx := context.Background()
	if _, err := f.s.Credentials(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	// The cache believes the MFA session lasts a day; STS ended it at 12h.
	old, _ := f.v.GetSession("session", "work")
	old.Expiration = old.Expiration.Add(12 * time.Hour)
	if err := f.v.SetSession(old); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(13 * time.Hour)
	r, err := f.s.Credentials(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.dev.asked) != 2 || f.sts.Count("GetSessionToken") != 2 {
		t.Fatalf("MFA asked %d, GetSessionToken %d; want 2, 2", len(f.dev.asked), f.sts.Count("GetSessionToken"))
	}
	calls := f.sts.Calls()
	last := calls[len(calls)-1]
	if last.Action != "AssumeRole" || last.Err != "" || last.SignedBy == old.AccessKeyID || !last.Temporary || r.Kind != "role" {
		t.Fatalf("last call %+v", last)
	}
	if now, _ := f.v.GetSession("session", "work"); now == nil || now.AccessKeyID == old.AccessKeyID {
		t.Fatal("the refused MFA session is still cached")
	}
}

// Parallel commands for several role profiles and a plain one on the same
// device: one code between them, through the shared MFA session's lock.
func TestSessionLockOneMFAPromptForConcurrentRoles(t *testing.T) {
	f := newFixture(t, chainConfig)
	lock := SessionLock(t.TempDir())
	var mu sync.Mutex
	asked := 0
	mfa := MFAFunc(func(ctx context.Context, req MFARequest) (string, error) {
		mu.Lock()
		asked++
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		f.clk.Add(30 * time.Second)
		return ststest.Code(t, f.user.MFASecret, f.clk.Now()), nil
	})
	profiles := []string{"ops", "audit", "work", "ops", "audit", "work-ro"}
	errs := make(chan error, len(profiles))
	for _, p := range profiles {
		s := *f.s
		s.MFA, s.Lock = mfa, lock
		go func() {
			_, err := s.Credentials(context.Background(), p)
			errs <- err
		}()
	}
	for range profiles {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if asked != 1 || f.sts.Count("GetSessionToken") != 1 || f.sts.Count("AssumeRole") != 2 {
		t.Fatalf("MFA asked %d, GetSessionToken %d, AssumeRole %d; want 1, 1, 2", asked, f.sts.Count("GetSessionToken"), f.sts.Count("AssumeRole"))
	}
}

// The fake STS holds temporary credentials to STS's rules, so the tests
// above cannot pass by asking for more than STS gives.
func TestFakeSTSTemporaryCredentialRules(t *testing.T) {
	f := newFixture(t, chainConfig)
	ctx := context.Background()
	if _, err := f.s.Credentials(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	sess, _ := f.v.GetSession("session", "work")
	c := Clients{Endpoint: f.sts.URL, RetryMaxAttempts: 1}
	client := c.STS(sess.Credentials, "")
	for _, tc := range []struct {
		d    int32
		want string
	}{
		{3600, ""},
		{3601, "1 hour session limit for roles assumed by role chaining"},
		{7200, "1 hour session limit"},
	} {
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::444455556666:role/Ops"), RoleSessionName: aws.String("t"), DurationSeconds: aws.Int32(tc.d)})
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AssumeRole %d s with a session: %v, want %q", tc.d, err, tc.want)
		}
	}
	if _, err := client.GetSessionToken(ctx, &sts.GetSessionTokenInput{}); err == nil || !strings.Contains(err.Error(), "session credentials") {
		t.Errorf("GetSessionToken with a session: %v", err)
	}
	bad := sess.Credentials
	bad.SessionToken = "forged"
	if _, err := c.STS(bad, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("a wrong session token: %v", err)
	}
	f.clk.Add(13 * time.Hour)
	if _, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil || !strings.Contains(err.Error(), "ExpiredToken") {
		t.Errorf("an expired session: %v", err)
	}
}

// exec --server hands a chained role's credentials to a long job: each
// time the child comes back near the end of the hour, the role session is
// renewed from the MFA session without a code; only when the MFA session
// runs out is one code asked for, and the job goes on.
func TestCredentialServerRenewsChainedRole(t *testing.T) {
	f := newFixture(t, chainConfig)
	srv := &CredentialServer{Get: func(ctx context.Context) (*Result, error) { return f.s.Credentials(ctx, "ops") }}
	srv.Errors = func(err error) { t.Errorf("server error: %v", err) }
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fetch := func() (string, time.Time) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL(), nil)
		req.Header.Set("Authorization", srv.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		exp, err := time.Parse(time.RFC3339, c["Expiration"])
		if err != nil {
			t.Fatal(err)
		}
		return c["AccessKeyId"], exp
	}
	seen := map[string]bool{}
	// 26 hours of a job fetching every 56 minutes (SDKs come back before
	// the expiry): two MFA sessions of 12 hours, so codes at the start,
	// after ~12h and after ~24h.
	for i := 0; i < 28; i++ {
		id, exp := fetch()
		seen[id] = true
		if life := exp.Sub(f.clk.Now()); life > time.Hour || life <= RefreshBefore {
			t.Fatalf("fetch %d: credentials for %s", i, life)
		}
		f.clk.Add(56 * time.Minute)
	}
	if len(f.dev.asked) != 3 || f.sts.Count("GetSessionToken") != 3 {
		t.Fatalf("MFA asked %d, GetSessionToken %d over 26h; want 3, 3", len(f.dev.asked), f.sts.Count("GetSessionToken"))
	}
	if chained, direct := checkChainedCalls(t, f); direct != 0 || chained != len(seen) || chained < 26 {
		t.Fatalf("AssumeRole chained %d, direct %d, distinct credentials %d", chained, direct, len(seen))
	}
}

// A role profile holding its own key: its duration_seconds is the role's,
// and its MFA session gets STS's default length, not the role's.
func TestSessionSelfSourcedRoleChains(t *testing.T) {
	f := newFixture(t, chainConfig+"\n[profile selfrole]\nmfa_serial = "+testSerial+"\nrole_arn = arn:aws:iam::444455556666:role/Ops\nduration_seconds = 1800\n")
	if err := f.v.SetKey("selfrole", &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret, ARN: f.user.ARN}); err != nil {
		t.Fatal(err)
	}
	r, err := f.s.Credentials(context.Background(), "selfrole")
	if err != nil {
		t.Fatal(err)
	}
	calls := f.sts.Calls()
	if len(calls) != 2 || calls[0].Action != "GetSessionToken" || calls[0].Duration != 43200 ||
		calls[1].Action != "AssumeRole" || !calls[1].Temporary || calls[1].Duration != 1800 {
		t.Fatalf("calls %+v", calls)
	}
	if life := r.Expiration.Sub(f.clk.Now()); life != 30*time.Minute {
		t.Fatalf("role session lasts %s", life)
	}
}
