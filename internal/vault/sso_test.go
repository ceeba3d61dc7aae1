package vault

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/awsconfig"
	"github.com/keywarden/keywarden/internal/vault/ssotest"
)

const ssoConfig = testConfig + `
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
region = us-west-2

[profile dev-ro]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = ReadOnly

[profile legacy]
sso_start_url = https://old.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = Admin

[profile dev-deploy]
source_profile = dev
role_arn = arn:aws:iam::444455556666:role/Deploy
`

// ssoFixture is the session fixture with an httptest Identity Center whose
// role credentials the httptest STS accepts; sleeping moves the clock.
type ssoFixture struct {
	*fixture
	idc     *ssotest.Server
	signIns []string
	slept   []time.Duration
	mu      sync.Mutex
}

func newSSOFixture(t *testing.T) *ssoFixture {
	f := &ssoFixture{fixture: newFixture(t, ssoConfig)}
	f.idc = ssotest.Start(t, f.clk.Now)
	f.idc.Roles = map[string]bool{"111122223333/Admin": true, "111122223333/ReadOnly": true}
	f.idc.Issue = func(account, role string, exp time.Time) (string, string, string) {
		return f.sts.IssueRole("arn:aws:iam::"+account+":role/"+role, exp)
	}
	oidc, portal := Clients{Endpoint: f.idc.URL, RetryMaxAttempts: 1}.SSOClients()
	f.s.SSO = SSOClients{OIDC: oidc, Portal: portal,
		SignIn: func(url, code string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.signIns = append(f.signIns, url+" "+code)
		},
		Sleep: func(_ context.Context, d time.Duration) error {
			f.mu.Lock()
			f.slept = append(f.slept, d)
			f.mu.Unlock()
			f.clk.Add(d)
			return nil
		},
	}
	return f
}

func TestSSODeviceFlow(t *testing.T) {
	f := newSSOFixture(t)
	f.idc.Pending, f.idc.SlowDowns = 3, 1
	ctx := context.Background()
	r, err := f.s.Credentials(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "sso" || r.Source != "sso" || r.Region != "us-west-2" || !strings.HasPrefix(r.AccessKeyID, "ASIA") || r.SessionToken == "" {
		t.Fatalf("dev: %+v", r)
	}
	// Interval 1s, +5s after slow_down: the poll waits 1, 6, 6, 6.
	if want := []time.Duration{time.Second, 6 * time.Second, 6 * time.Second, 6 * time.Second}; !slices.Equal(f.slept, want) {
		t.Errorf("polled after %v, want %v", f.slept, want)
	}
	if want := []string{"RegisterClient", "StartDeviceAuthorization", "CreateToken:slow_down", "CreateToken:authorization_pending",
		"CreateToken:authorization_pending", "CreateToken", "GetRoleCredentials"}; !slices.Equal(f.idc.Calls(), want) {
		t.Errorf("calls %v\nwant %v", f.idc.Calls(), want)
	}
	if len(f.signIns) != 1 || !strings.HasSuffix(f.signIns[0], "/start?user_code=ABCD-EFGH ABCD-EFGH") {
		t.Errorf("sign-in shown %v", f.signIns)
	}
	// Cached: the role credentials, then (another role, same sso-session)
	// the sign-in.
	if r2, err := f.s.Credentials(ctx, "dev"); err != nil || r2.Source != "cache" || r2.AccessKeyID != r.AccessKeyID {
		t.Errorf("dev again: %+v %v", r2, err)
	}
	if _, err := f.s.Credentials(ctx, "dev-ro"); err != nil {
		t.Fatal(err)
	}
	if f.idc.Count("StartDeviceAuthorization") != 1 || f.idc.Count("GetRoleCredentials") != 2 {
		t.Errorf("after dev-ro: %v", f.idc.Calls())
	}
	// An hour on, the role credentials are renewed with the cached token.
	f.clk.Add(time.Hour)
	if r3, err := f.s.Credentials(ctx, "dev"); err != nil || r3.Source != "sso" {
		t.Fatalf("dev after 1h: %+v %v", r3, err)
	}
	// Eight hours on, the token is refreshed: no new sign-in.
	f.clk.Add(8 * time.Hour)
	if _, err := f.s.Credentials(ctx, "dev"); err != nil {
		t.Fatal(err)
	}
	if f.idc.Count("StartDeviceAuthorization") != 1 || f.idc.Count("CreateToken:refresh") != 1 || len(f.signIns) != 1 {
		t.Errorf("after 9h: %v", f.idc.Calls())
	}
	// Both the sign-in and the role credentials are in the store (which
	// encrypts them; nothing goes to ~/.aws/sso/cache).
	tok, err := f.v.GetSSOToken("corp")
	if err != nil || tok == nil || tok.RefreshToken == "" || tok.ClientSecret == "" {
		t.Errorf("cached sign-in %+v %v", tok, err)
	}
	kinds := map[string]string{}
	for _, s := range mustSessions(t, f.fixture) {
		kinds[s.Profile] = s.Kind + " via " + s.Via
	}
	if kinds["dev"] != "sso via corp" || kinds["dev-ro"] != "sso via corp" {
		t.Errorf("cached sessions %v", kinds)
	}
}

func TestSSOSignInFails(t *testing.T) {
	for _, tc := range []struct {
		name         string
		expire, deny bool
		want         string
	}{
		{name: "expired", expire: true, want: "the sign-in code for https://corp.awsapps.com/start expired before it was approved"},
		{name: "denied", deny: true, want: "was refused in the browser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSSOFixture(t)
			f.idc.Pending, f.idc.Expire, f.idc.Deny = 2, tc.expire, tc.deny
			_, err := f.s.Credentials(context.Background(), "dev")
			if !errors.Is(err, ErrSSOSignIn) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if tok, _ := f.v.GetSSOToken("corp"); tok != nil {
				t.Error("a failed sign-in was cached")
			}
		})
	}
	// A service that never answers gives up after the device code's life.
	f := newSSOFixture(t)
	f.idc.Pending = 1 << 30
	_, err := f.s.Credentials(context.Background(), "dev")
	if !errors.Is(err, ErrSSOSignIn) || !strings.Contains(err.Error(), "was not approved within 10m0s") {
		t.Fatalf("never approved: %v", err)
	}
}

// The legacy layout (sso_start_url in the profile) signs in on its own,
// without refresh tokens, and caches the sign-in under the profile.
func TestSSOLegacyLayout(t *testing.T) {
	f := newSSOFixture(t)
	if _, err := f.s.Credentials(context.Background(), "legacy"); err != nil {
		t.Fatal(err)
	}
	if tok, err := f.v.GetSSOToken("legacy"); err != nil || tok == nil || tok.StartURL != "https://old.awsapps.com/start" {
		t.Errorf("legacy sign-in %+v %v", tok, err)
	}
}

// A role profile whose source is an SSO profile is assumed with the SSO
// role credentials, each hop cached.
func TestSSORoleChain(t *testing.T) {
	f := newSSOFixture(t)
	ctx := context.Background()
	r, err := f.s.Credentials(ctx, "dev-deploy")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "role" || r.Region != "us-west-2" {
		t.Fatalf("dev-deploy: %+v", r)
	}
	var signer string
	for _, c := range f.sts.Calls() {
		if c.Action == "AssumeRole" && c.Err == "" {
			signer = c.SignerRole
		}
	}
	if signer != "arn:aws:iam::111122223333:role/Admin" {
		t.Errorf("AssumeRole signed by %q, want the SSO role", signer)
	}
	if r2, err := f.s.Credentials(ctx, "dev-deploy"); err != nil || r2.Source != "cache" {
		t.Errorf("again: %+v %v", r2, err)
	}
	// login uses the SSO role credentials as they are.
	if res, federated, err := f.s.ConsoleCredentials(ctx, "dev", 0); err != nil || federated || res.Kind != "sso" {
		t.Errorf("console credentials for dev: %+v %v %v", res, federated, err)
	}
	f.s.NoSession = true
	if _, err := f.s.Credentials(ctx, "dev"); err == nil || !strings.Contains(err.Error(), "no long-term key") {
		t.Errorf("--no-session on SSO: %v", err)
	}
}

// Parallel commands sign in once: the others wait on the lock and take
// the cached sign-in and role credentials.
func TestSSOParallelSignInOnce(t *testing.T) {
	f := newSSOFixture(t)
	f.s.Lock = SessionLock(t.TempDir())
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = f.s.Credentials(context.Background(), "dev") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.idc.Count("StartDeviceAuthorization"); n != 1 {
		t.Errorf("%d sign-ins for 4 parallel calls", n)
	}
}

func TestSSOConfigErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{"[profile x]\nsso_session = nope\nsso_account_id = 111122223333\nsso_role_name = A\n", `sso_session "nope" has no [sso-session nope] section`},
		{"[profile x]\nsso_account_id = 111122223333\nsso_role_name = A\n", "without sso_start_url, sso_region"},
		{"[profile x]\nsso_start_url = https://a\nsso_region = r\nsso_account_id = 12\nsso_role_name = A\n", "not a 12-digit account ID"},
		{"[profile x]\nsso_start_url = https://a\nsso_region = r\nsso_account_id = 111122223333\nsso_role_name = A\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = y\n", "mixes IAM Identity Center"},
	} {
		c, err := awsconfig.Parse("config", []byte(tc.config))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Resolve("x"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.config, err, tc.want)
		}
	}
}
