package iameval

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// The MFA table of DESIGN.md and the network facts, from AWS's
// documentation of aws:MultiFactorAuthPresent (absent for long-term keys,
// "false" in sessions made without MFA), aws:SourceIp (absent through a
// VPC endpoint) and aws:ViaAWSService.
func TestExposureMatrix(t *testing.T) {
	const selfService = `"NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ListMFADevices","iam:GetUser","sts:GetSessionToken"]`
	shapes := []struct {
		name     string
		policies []string
		allowed  []netip.Prefix
		want     map[Scenario]Outcome
		inert    bool // the long-term key passes a Deny guard that does not apply
	}{
		{
			name: "Deny BoolIfExists MultiFactorAuthPresent false",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Sid":"DenyNoMFA","Effect":"Deny",` + selfService + `,"Resource":"*",
				"Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}`},
			want: map[Scenario]Outcome{LongTermKey: "denied", SessionNoMFA: "denied", SessionMFA: "allowed", OutsideNetwork: "denied", ViaVPCEndpoint: "denied", ViaAWSService: "denied"},
		},
		{
			name: "Deny Bool MultiFactorAuthPresent false (not blocked)",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Sid":"DenyNoMFA","Effect":"Deny",` + selfService + `,"Resource":"*",
				"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}}`},
			want:  map[Scenario]Outcome{LongTermKey: "allowed", SessionNoMFA: "denied", SessionMFA: "allowed", OutsideNetwork: "allowed", ViaVPCEndpoint: "allowed", ViaAWSService: "allowed"},
			inert: true,
		},
		{
			name: "Allow Bool MultiFactorAuthPresent true",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
				"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}`},
			want: map[Scenario]Outcome{LongTermKey: "denied", SessionNoMFA: "denied", SessionMFA: "allowed", OutsideNetwork: "denied", ViaVPCEndpoint: "denied", ViaAWSService: "denied"},
		},
		{
			name: "Allow BoolIfExists MultiFactorAuthPresent true (console box)",
			policies: []string{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
				"Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}}}`},
			want: map[Scenario]Outcome{LongTermKey: "allowed", SessionNoMFA: "denied", SessionMFA: "allowed", OutsideNetwork: "allowed", ViaVPCEndpoint: "allowed", ViaAWSService: "allowed"},
		},
		{
			name: "Deny Null MultiFactorAuthPresent true",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"Null":{"aws:MultiFactorAuthPresent":"true"}}}}`},
			want: map[Scenario]Outcome{LongTermKey: "denied", SessionNoMFA: "allowed", SessionMFA: "allowed", OutsideNetwork: "denied", ViaVPCEndpoint: "denied", ViaAWSService: "denied"},
		},
		{
			name: "Deny NumericGreaterThan MultiFactorAuthAge (no IfExists)",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}}}`},
			want:  map[Scenario]Outcome{LongTermKey: "allowed", SessionNoMFA: "allowed", SessionMFA: "depends", OutsideNetwork: "allowed", ViaVPCEndpoint: "allowed", ViaAWSService: "allowed"},
			inert: true,
		},
		{
			name: "Deny NotIpAddress alone",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}}}`},
			allowed: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")},
			want:    map[Scenario]Outcome{LongTermKey: "allowed", SessionNoMFA: "allowed", SessionMFA: "allowed", OutsideNetwork: "denied", ViaVPCEndpoint: "denied", ViaAWSService: "depends"},
		},
		{
			name: "Deny NotIpAddress except AWS services",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]},"Bool":{"aws:ViaAWSService":"false"}}}}`},
			allowed: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
			want:    map[Scenario]Outcome{LongTermKey: "allowed", OutsideNetwork: "denied", ViaVPCEndpoint: "denied", ViaAWSService: "allowed"},
		},
		{
			name: "IPv4-only deny leaves the IPv6 allowlist denied",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}}}`},
			allowed: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")},
			// Inside the allowlist the address may be IPv6, which the deny catches.
			want: map[Scenario]Outcome{LongTermKey: "depends", OutsideNetwork: "denied"},
		},
		{
			name: "Deny NotIpAddress with no allowlist given",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24"]}}}}`},
			want: map[Scenario]Outcome{LongTermKey: "depends", OutsideNetwork: "depends", ViaVPCEndpoint: "denied"},
		},
		{
			name: "Deny outside one VPC endpoint",
			policies: []string{allowAll, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*",
				"Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}}`},
			want: map[Scenario]Outcome{LongTermKey: "denied", ViaVPCEndpoint: "depends"},
		},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			var pols []*iampolicy.Policy
			for i, d := range sh.policies {
				pols = append(pols, mustPolicy(t, "p"+itoa(i), d))
			}
			ev, err := Compile(Principal{ARN: aliceARN, Identity: pols})
			if err != nil {
				t.Fatal(err)
			}
			var scen []Scenario
			for _, s := range AllScenarios {
				if _, ok := sh.want[s]; ok {
					scen = append(scen, s)
				}
			}
			got := ev.Exposure(ExposureQuery{Actions: []string{"s3:GetObject"}, Scenarios: scen, AllowedCIDRs: sh.allowed,
				ResourceFor: func(string) string { return "arn:aws:s3:::bucket/key" }})
			if len(got) != len(scen) {
				t.Fatalf("got %d answers, want %d", len(got), len(scen))
			}
			for _, a := range got {
				if a.Outcome != sh.want[a.Scenario] {
					t.Errorf("%s: outcome %s, want %s (%s)", a.Scenario, a.Outcome, sh.want[a.Scenario], a.Reason)
				}
				if a.Outcome == OutcomeDepends && len(a.DependsOn) == 0 {
					t.Errorf("%s: depends on nothing", a.Scenario)
				}
				if a.Scenario == LongTermKey && sh.inert != (len(a.InertGuards) > 0) {
					t.Errorf("%s: inert guards %v, want inert=%v", a.Scenario, a.InertGuards, sh.inert)
				}
			}
		})
	}
}

func TestExposureDependsAndRefs(t *testing.T) {
	pol := mustPolicy(t, "user/alice/inline/Tags", `{"Version":"2012-10-17","Statement":[
		{"Sid":"Team","Effect":"Allow","Action":"ec2:StartInstances","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"dev"}}},
		{"Sid":"Env","Effect":"Allow","Action":"ec2:StopInstances","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"dev"}}},
		{"Sid":"Self","Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"arn:aws:iam::*:user/${aws:username}"},
		{"Sid":"Until","Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}
	]}`)
	ev, err := Compile(Principal{ARN: aliceARN, Tags: map[string]string{"team": "dev"}, Identity: []*iampolicy.Policy{pol}})
	if err != nil {
		t.Fatal(err)
	}
	q := ExposureQuery{Actions: []string{"ec2:StartInstances", "ec2:StopInstances", "iam:CreateAccessKey", "s3:ListAllMyBuckets", "iam:ListUsers", "ec2:TerminateInstances"}, Scenarios: []Scenario{LongTermKey}}
	got := ev.Exposure(q)
	want := []struct {
		out  Outcome
		deps []string
		by   []string
	}{
		{OutcomeAllowed, nil, []string{"Team"}},
		{OutcomeDepends, []string{"aws:resourcetag/env"}, []string{"Env"}},
		{OutcomeDepends, []string{"resource"}, []string{"Self"}}, // which user's key? unknown
		{OutcomeDepends, []string{"aws:currenttime"}, []string{"Until"}},
		{OutcomeDenied, nil, nil},
		{OutcomeDenied, nil, nil},
	}
	for i, a := range got {
		var by []string
		for _, r := range a.AllowedBy {
			by = append(by, r.Sid)
		}
		if a.Outcome != want[i].out || !reflect.DeepEqual(a.DependsOn, want[i].deps) || !reflect.DeepEqual(by, want[i].by) {
			t.Errorf("%s: got %s depends %v by %v; want %s %v %v (%s)", a.Action, a.Outcome, a.DependsOn, by, want[i].out, want[i].deps, want[i].by, a.Reason)
		}
	}
	// With the resource given, ${aws:username} resolves.
	q.Actions = []string{"iam:CreateAccessKey"}
	q.ResourceFor = func(string) string { return aliceARN }
	if a := ev.Exposure(q)[0]; a.Outcome != OutcomeAllowed {
		t.Errorf("own user: %s (%s)", a.Outcome, a.Reason)
	}
	q.ResourceFor = func(string) string { return "arn:aws:iam::111122223333:user/bob" }
	if a := ev.Exposure(q)[0]; a.Outcome != OutcomeDenied {
		t.Errorf("other user: %s (%s)", a.Outcome, a.Reason)
	}
	// Another team's tag value: denied, not depends (the tags are known).
	ev2, _ := Compile(Principal{ARN: aliceARN, Tags: map[string]string{"team": "ops"}, Identity: []*iampolicy.Policy{pol}})
	if a := ev2.Exposure(ExposureQuery{Actions: []string{"ec2:StartInstances"}, Scenarios: []Scenario{LongTermKey}})[0]; a.Outcome != OutcomeDenied {
		t.Errorf("team ops: %s (%s)", a.Outcome, a.Reason)
	}
}

func TestExposureLayers(t *testing.T) {
	boundary := mustPolicy(t, "boundary", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","iam:Get*"],"Resource":"*"}}`)
	scpRoot := mustPolicy(t, "FullAWSAccess", allowAll)
	scpOU := mustPolicy(t, "DenyIAMWrites", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"NoUsers","Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}`)
	ev, err := Compile(Principal{ARN: aliceARN, Identity: []*iampolicy.Policy{mustPolicy(t, "admin", allowAll)}, Boundary: boundary,
		SCPs: [][]*iampolicy.Policy{{scpRoot}, {scpOU}}})
	if err != nil {
		t.Fatal(err)
	}
	got := ev.Exposure(ExposureQuery{Actions: []string{"s3:GetObject", "iam:GetUser", "iam:CreateUser", "ec2:RunInstances"}, Scenarios: []Scenario{SessionMFA},
		ResourceFor: func(string) string { return "arn:aws:s3:::b/k" }})
	want := []Decision{Allowed, Allowed, ExplicitlyDenied, ImplicitlyDenied}
	for i, a := range got {
		if a.Decision != want[i] {
			t.Errorf("%s: %s, want %s (%s)", a.Action, a.Decision, want[i], a.Reason)
		}
	}
	if len(got[2].DeniedBy) != 1 || got[2].DeniedBy[0].Sid != "NoUsers" {
		t.Errorf("iam:CreateUser denied by %v", got[2].DeniedBy)
	}
	if _, err := Compile(Principal{ARN: "s3.amazonaws.com"}); err == nil {
		t.Error("a service principal compiled")
	}
}
