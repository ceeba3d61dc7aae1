package iameval

import (
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// AWS: "No permissions are required for a user to get a session token ...
// You cannot use policies to control authentication operations", and
// sts:GetCallerIdentity works even when a policy explicitly denies it.
// GetSessionToken must be called with an IAM user's (or the root user's)
// long-term credentials: temporary credentials cannot call it.
func TestAuthenticationOperations(t *testing.T) {
	denyAll := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*"}}`
	mfaGuard := `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}`
	const session = "arn:aws:sts::111122223333:assumed-role/admin/alice"
	longTerm := NewContext()
	mfaSession := NewContext()
	mfaSession.Set("aws:MultiFactorAuthPresent", "true")
	cases := []struct {
		name      string
		action    string
		principal string
		ctx       *Context
		ps        PolicySet
		want      Decision
	}{
		{"GetSessionToken, user, no policy", "sts:GetSessionToken", aliceARN, longTerm, PolicySet{}, Allowed},
		{"GetSessionToken, user, explicit deny", "sts:GetSessionToken", aliceARN, longTerm,
			PolicySet{Identity: []*iampolicy.Policy{mustPolicy(t, "deny", denyAll)}}, Allowed},
		{"GetSessionToken, user, MFA guard", "STS:getsessiontoken", aliceARN, longTerm,
			PolicySet{Identity: []*iampolicy.Policy{mustPolicy(t, "guard", mfaGuard)}}, Allowed},
		{"GetSessionToken, user, SCP allows nothing", "sts:GetSessionToken", aliceARN, longTerm,
			PolicySet{SCPs: [][]*iampolicy.Policy{{mustPolicy(t, "scp", denyAll)}}}, Allowed},
		{"GetSessionToken, root", "sts:GetSessionToken", "arn:aws:iam::111122223333:root", longTerm, PolicySet{}, Allowed},
		{"GetSessionToken from a user's session", "sts:GetSessionToken", aliceARN, mfaSession,
			PolicySet{Identity: []*iampolicy.Policy{mustPolicy(t, "all", allowAll)}}, ImplicitlyDenied},
		{"GetSessionToken from a role session", "sts:GetSessionToken", session, longTerm,
			PolicySet{Identity: []*iampolicy.Policy{mustPolicy(t, "all", allowAll)}}, ImplicitlyDenied},
		{"GetCallerIdentity, user, explicit deny", "sts:GetCallerIdentity", aliceARN, longTerm,
			PolicySet{Identity: []*iampolicy.Policy{mustPolicy(t, "deny", denyAll)}}, Allowed},
		{"GetCallerIdentity, role session, no policy", "sts:GetCallerIdentity", session, mfaSession, PolicySet{}, Allowed},
		{"near miss: GetAccessKeyInfo needs a policy", "sts:GetAccessKeyInfo", aliceARN, longTerm, PolicySet{}, ImplicitlyDenied},
		{"near miss: service principal", "sts:GetCallerIdentity", "ec2.amazonaws.com", longTerm, PolicySet{}, ImplicitlyDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := evalOne(t, tc.ps, Request{Action: tc.action, Resource: "*", Principal: tc.principal, Context: tc.ctx})
			if res.Decision != tc.want {
				t.Fatalf("%s, want %s: %s", res.Decision, tc.want, res.Reason)
			}
			if res.Decision == Allowed && len(res.DecidedBy) != 0 {
				t.Errorf("no statement decides an authentication operation, got %v", res.DecidedBy)
			}
			if res.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

func TestExposureGetSessionToken(t *testing.T) {
	guard := mustPolicy(t, "guard", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:*","Resource":"*"},
		{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`)
	ev, err := Compile(Principal{ARN: aliceARN, Identity: []*iampolicy.Policy{guard}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[Scenario]Outcome{
		LongTermKey:    OutcomeAllowed,
		OutsideNetwork: OutcomeAllowed,
		ViaVPCEndpoint: OutcomeAllowed,
		SessionNoMFA:   OutcomeDenied,
		SessionMFA:     OutcomeDenied,
	}
	for _, a := range ev.Exposure(ExposureQuery{Actions: []string{"sts:GetSessionToken"}}) {
		if w, ok := want[a.Scenario]; ok && a.Outcome != w {
			t.Errorf("%s: %s, want %s (%s)", a.Scenario, a.Outcome, w, a.Reason)
		}
		if a.Outcome == OutcomeAllowed && len(a.DeniedBy) > 0 {
			t.Errorf("%s: allowed but DeniedBy %v", a.Scenario, a.DeniedBy)
		}
	}
}
