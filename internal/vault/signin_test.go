package vault

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestConsoleCredentials(t *testing.T) {
	for _, tc := range []struct {
		profile   string
		d         time.Duration
		kind      string
		federated bool
		codes     int
		want      string
	}{
		{profile: "ops", kind: "role", codes: 1},
		{profile: "work", kind: "federation", federated: true, codes: 1},
		{profile: "nomfa", kind: "federation", federated: true},
		{profile: "work", d: 37 * time.Hour, want: "GetFederationToken allows 15m0s to 36h0m0s"},
		{profile: "nobody", want: "no key stored"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			f := newFixture(t, chainConfig)
			ctx := context.Background()
			res, federated, err := f.s.ConsoleCredentials(ctx, tc.profile, tc.d)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Kind != tc.kind || federated != tc.federated || len(f.dev.asked) != tc.codes {
				t.Fatalf("%+v federated %v, %d codes", res, federated, len(f.dev.asked))
			}
			if federated {
				for _, c := range f.sts.Calls() {
					if c.Action == "GetFederationToken" && (c.SignedBy != testKeyID || c.Policy != FederationPolicy || c.Duration != 43200) {
						t.Errorf("GetFederationToken %+v", c)
					}
				}
			}
			// The federation endpoint takes them: a role session with its
			// duration, a federation token without one.
			d := time.Duration(0)
			if !federated {
				d = 2 * time.Hour
			}
			tok, err := SigninToken(ctx, http.DefaultClient, f.sts.URL+"/federation", res.Credentials, d)
			if err != nil {
				t.Fatal(err)
			}
			ss, ok := f.sts.SigninToken(tok)
			if !ok || ss.AccessKeyID != res.AccessKeyID || ss.Federated != federated || ss.Duration != int(d/time.Second) {
				t.Errorf("sign-in token stands for %+v %v", ss, ok)
			}
			// A federation token with a SessionDuration is refused, as AWS does.
			if federated {
				if _, err := SigninToken(ctx, http.DefaultClient, f.sts.URL+"/federation", res.Credentials, time.Hour); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
					t.Errorf("SessionDuration with a federation token: %v", err)
				}
			}
		})
	}
}

func TestConsoleDestinationAndURL(t *testing.T) {
	for _, tc := range []struct{ path, region, want, err string }{
		{want: "https://console.aws.amazon.com/console/home"},
		{path: "/s3/home", region: "eu-west-1", want: "https://console.aws.amazon.com/s3/home?region=eu-west-1"},
		{path: "s3", err: "must be a console path"},
		{path: "/a b", err: "must be a console path"},
	} {
		got, err := ConsoleDestination(tc.path, tc.region)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v", tc.path, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q %q: %q %v, want %q", tc.path, tc.region, got, err, tc.want)
		}
	}
	u, err := url.Parse(LoginURL("https://signin.aws.amazon.com/federation", "tok&en", "https://console.aws.amazon.com/s3/home?region=x"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("Action") != "login" || q.Get("SigninToken") != "tok&en" || q.Get("Destination") != "https://console.aws.amazon.com/s3/home?region=x" {
		t.Errorf("login URL %s", u)
	}
	if n := federatedName("a very long profile name with spaces/and/slashes"); len(n) > 32 || !validSTSName(n) {
		t.Errorf("federated name %q", n)
	}
}

func TestParseSigninToken(t *testing.T) {
	for _, tc := range []struct{ body, want, err string }{
		{body: `{"SigninToken":"abc"}`, want: "abc"},
		{body: `{}`, err: "without a SigninToken"},
		{body: `<html>`, err: "not JSON"},
		{body: `{"SigninToken":"` + strings.Repeat("a", 70<<10) + `"}`, err: "larger than"},
	} {
		got, err := ParseSigninToken([]byte(tc.body))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.20q: %v, want %q", tc.body, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %q %v", tc.body, got, err)
		}
	}
}

func FuzzParseSigninToken(f *testing.F) {
	f.Add([]byte(`{"SigninToken":"abc"}`))
	f.Add([]byte(`{"SigninToken":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseSigninToken(data)
		if err == nil && tok == "" {
			t.Fatal("empty token without an error")
		}
	})
}
