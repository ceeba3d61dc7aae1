package iameval

import (
	"net/netip"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/policygen"
)

// What keywarden policy mfa claims its policy does, as the auditor's
// exposure API sees it: the generator, the linter and the engine must
// agree.
func TestExposureOfGeneratedPolicy(t *testing.T) {
	office := []string{"203.0.113.0/24", "2001:db8:1234::/48"}
	spec, err := policygen.Build(policygen.Options{Group: "ec2Admins", Grant: []string{"ec2:*"},
		AllowCIDR: office, AllowVPCE: []string{"vpce-0123456789abcdef0"}, MaxSessionAge: 8 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	data, err := policygen.JSON(spec)
	if err != nil {
		t.Fatal(err)
	}
	pol := mustPolicy(t, "generated.json", string(data))
	ev, err := Compile(Principal{ARN: aliceARN, Identity: []*iampolicy.Policy{pol}})
	if err != nil {
		t.Fatal(err)
	}
	var allowed []netip.Prefix
	for _, c := range office {
		allowed = append(allowed, netip.MustParsePrefix(c))
	}
	own := func(a string) string {
		switch a {
		case "iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice":
			return "arn:aws:iam::111122223333:mfa/alice"
		case "ec2:RunInstances":
			return "arn:aws:ec2:us-east-1:111122223333:instance/*"
		}
		return aliceARN
	}
	const (
		A = OutcomeAllowed
		D = OutcomeDenied
		X = OutcomeDepends
	)
	want := map[string]map[Scenario]Outcome{
		// The grant: only with MFA (whose age nobody knows in advance),
		// from the office or the endpoint (which endpoint: unknown).
		"ec2:RunInstances": {LongTermKey: D, SessionNoMFA: D, SessionMFA: X, OutsideNetwork: D, ViaVPCEndpoint: D, ViaAWSService: D},
		// No policy controls it.
		"sts:GetSessionToken": {LongTermKey: A, SessionNoMFA: D, SessionMFA: D, OutsideNetwork: A, ViaVPCEndpoint: A},
		// Enrolment: not with a key; from a session without MFA, yes.
		"iam:EnableMFADevice": {LongTermKey: D, SessionNoMFA: A, OutsideNetwork: D},
		// Removal: only with MFA.
		"iam:DeactivateMFADevice": {LongTermKey: D, SessionNoMFA: D, SessionMFA: X, OutsideNetwork: D},
		// Never granted.
		"iam:CreateAccessKey": {LongTermKey: D, SessionNoMFA: D, SessionMFA: D, OutsideNetwork: D, ViaVPCEndpoint: D, ViaAWSService: D},
	}
	var actions []string
	for a := range want {
		actions = append(actions, a)
	}
	for _, a := range ev.Exposure(ExposureQuery{Actions: actions, AllowedCIDRs: allowed, ResourceFor: own}) {
		w, ok := want[a.Action][a.Scenario]
		if !ok {
			continue
		}
		if a.Outcome != w {
			t.Errorf("%s, %s: %s, want %s (%s)", a.Action, a.Scenario, a.Outcome, w, a.Reason)
		}
		if len(a.InertGuards) > 0 {
			t.Errorf("%s, %s: a generated guard is inert: %v", a.Action, a.Scenario, a.InertGuards)
		}
	}
}
