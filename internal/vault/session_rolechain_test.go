package vault

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/awsconfig"
)

// roleChainConfig chains roles: deeper is assumed with deep's session,
// deep with ops's, and ops with work's MFA session.
const roleChainConfig = testConfig + `
[profile ops]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops

[profile deep]
source_profile = ops
role_arn = arn:aws:iam::777788889999:role/Deep
role_session_name = alice
source_identity = alice@example.com
session_tags = team=blue, cost=42
transitive_session_tags = team

[profile deeper]
source_profile = deep
role_arn = arn:aws:iam::777788889999:role/Deeper
region = us-east-2

[profile deep-long]
source_profile = ops
role_arn = arn:aws:iam::777788889999:role/Deep
duration_seconds = 7200

[profile badtransitive]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops
session_tags = team=blue
transitive_session_tags = cost

[profile badname]
source_profile = work
role_arn = arn:aws:iam::444455556666:role/Ops
role_session_name = alice smith
`

func TestRoleChainEachHopCached(t *testing.T) {
	f := newFixture(t, roleChainConfig)
	ctx := context.Background()
	r, err := f.s.Credentials(ctx, "deeper")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "role" || r.Source != "sts" || r.Region != "us-east-2" {
		t.Fatalf("deeper: %+v", r)
	}
	if len(f.dev.asked) != 1 || f.dev.asked[0].Profile != "ops" {
		t.Fatalf("MFA asked %+v, want once for ops (the first role of the chain)", f.dev.asked)
	}
	// Who signed each AssumeRole: the MFA session, then each role's session.
	var got []string
	for _, c := range f.sts.Calls() {
		if c.Action == "AssumeRole" {
			got = append(got, c.RoleARN[strings.LastIndexByte(c.RoleARN, '/')+1:]+"<"+c.SignerRole)
			if !c.Temporary || !c.MFA || c.Code != "" || c.Duration > 3600 {
				t.Errorf("hop %+v: want signed by MFA-authenticated temporary credentials, no code, at most 1h", c)
			}
		}
	}
	want := []string{"Ops<", "Deep<arn:aws:iam::444455556666:role/Ops", "Deeper<arn:aws:iam::777788889999:role/Deep"}
	if !slices.Equal(got, want) {
		t.Fatalf("AssumeRole hops %v, want %v", got, want)
	}
	// deep's settings reach STS.
	for _, c := range f.sts.Calls() {
		if strings.HasSuffix(c.RoleARN, "/Deep") {
			if !maps.Equal(c.Tags, map[string]string{"team": "blue", "cost": "42"}) || !slices.Equal(c.TransitiveTagKeys, []string{"team"}) ||
				c.SourceIdentity != "alice@example.com" || c.RoleSessionName != "alice" {
				t.Errorf("Deep asked with %+v", c)
			}
		}
	}
	// Each hop is cached under its profile, saying where it came from.
	via := map[string]string{}
	for _, s := range mustSessions(t, f) {
		if s.Kind == "role" {
			via[s.Profile] = s.Via
		}
	}
	if !maps.Equal(via, map[string]string{"ops": "work", "deep": "ops", "deeper": "deep"}) {
		t.Errorf("cached role sessions via %v", via)
	}
	before := len(f.sts.Calls())
	for _, p := range []string{"deeper", "deep", "ops"} {
		if r, err := f.s.Credentials(ctx, p); err != nil || r.Source != "cache" {
			t.Errorf("%s again: %+v %v", p, r, err)
		}
	}
	if n := len(f.sts.Calls()); n != before {
		t.Errorf("%d STS calls for cached sessions", n-before)
	}
	// An hour later every hop is renewed from the MFA session: no code.
	f.clk.Add(time.Hour)
	if _, err := f.s.Credentials(ctx, "deeper"); err != nil {
		t.Fatal(err)
	}
	if len(f.dev.asked) != 1 || f.sts.Count("GetSessionToken") != 1 || f.sts.Count("AssumeRole") != 6 {
		t.Errorf("after 1h: MFA asked %d, GetSessionToken %d, AssumeRole %d; want 1, 1, 6", len(f.dev.asked), f.sts.Count("GetSessionToken"), f.sts.Count("AssumeRole"))
	}
}

// A cached role session asked for with other settings is not reused when
// the profile's settings change.
func TestRoleSessionParamsChange(t *testing.T) {
	f := newFixture(t, roleChainConfig)
	ctx := context.Background()
	if _, err := f.s.Credentials(ctx, "deep"); err != nil {
		t.Fatal(err)
	}
	cfg, err := awsconfig.Parse("config", []byte(strings.Replace(roleChainConfig, "team=blue", "team=red", 1)))
	if err != nil {
		t.Fatal(err)
	}
	f.s.Config = cfg
	r, err := f.s.Credentials(ctx, "deep")
	if err != nil || r.Source != "sts" {
		t.Fatalf("deep with new tags: %+v %v; want a new session", r, err)
	}
	if r, err := f.s.Credentials(ctx, "ops"); err != nil || r.Source != "cache" {
		t.Errorf("ops, unchanged: %+v %v; want the cached session", r, err)
	}
}

// What STS would refuse is refused before any call (and any code).
func TestRoleRefusedBeforeSTS(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		duration time.Duration
		want     string
	}{
		{profile: "deep-long", want: "lasts at most 1h0m0s (STS's cap on role chaining), not 2h0m0s"},
		{profile: "deeper", duration: 2 * time.Hour, want: "not 2h0m0s"},
		{profile: "badtransitive", want: `transitive_session_tags names "cost", which is not one of its session_tags`},
		{profile: "badname", want: `role_session_name "alice smith" must be`},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			f := newFixture(t, roleChainConfig)
			f.s.Duration = tc.duration
			_, err := f.s.Credentials(context.Background(), tc.profile)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if n := len(f.sts.Calls()); n != 0 || len(f.dev.asked) != 0 {
				t.Errorf("%d STS calls, %d codes asked", n, len(f.dev.asked))
			}
		})
	}
}

func TestNoSession(t *testing.T) {
	f := newFixture(t, roleChainConfig)
	f.s.NoSession = true
	ctx := context.Background()
	r, err := f.s.Credentials(ctx, "work")
	if err != nil || r.Kind != "long-term" || r.AccessKeyID != testKeyID || r.SessionToken != "" || len(f.sts.Calls()) != 0 {
		t.Fatalf("work --no-session: %+v %v", r, err)
	}
	// A role profile: AssumeRole straight from the long-term key, with a
	// code, no MFA session, nothing cached.
	r, err = f.s.Credentials(ctx, "ops")
	if err != nil || r.Kind != "role" {
		t.Fatalf("ops --no-session: %+v %v", r, err)
	}
	calls := f.sts.Calls()
	if len(calls) != 1 || calls[0].Action != "AssumeRole" || calls[0].SignedBy != testKeyID || calls[0].Code == "" {
		t.Errorf("calls %+v; want one AssumeRole with a code signed by the long-term key", calls)
	}
	if ss := mustSessions(t, f); len(ss) != 0 {
		t.Errorf("cached %d sessions", len(ss))
	}
	if _, err := f.s.Credentials(ctx, "deep"); err == nil || !strings.Contains(err.Error(), "no long-term key") {
		t.Errorf("deep --no-session: %v", err)
	}
}
