package iameval

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

func evalOne(t *testing.T, ps PolicySet, req Request) Result {
	t.Helper()
	return CompileSet(ps).Evaluate(req, Options{Explain: true})
}

func stmtPolicy(t *testing.T, name, stmt string) *iampolicy.Policy {
	return mustPolicy(t, name, `{"Version":"2012-10-17","Statement":[`+stmt+`]}`)
}

func TestActionResourceMatching(t *testing.T) {
	cases := []struct {
		name, stmt, action, resource string
		want                         bool
	}{
		{"action case-insensitive", `{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}`, "s3:GetObject", "arn:aws:s3:::b/k", true},
		{"action star", `{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}`, "s3:GetObjectAcl", "arn:aws:s3:::b/k", true},
		{"action question mark", `{"Effect":"Allow","Action":"s3:Get?bject","Resource":"*"}`, "s3:GetObject", "arn:aws:s3:::b/k", true},
		{"action other service", `{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, "s3express:GetObject", "*", false},
		{"action list", `{"Effect":"Allow","Action":["ec2:*","s3:GetObject"],"Resource":"*"}`, "s3:GetObject", "*", true},
		{"action wildcard service", `{"Effect":"Allow","Action":"*:Get*","Resource":"*"}`, "s3:GetObject", "*", true},
		{"NotAction excludes", `{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, "iam:CreateUser", "*", false},
		{"NotAction grants the rest", `{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, "s3:GetObject", "*", true},
		{"resource exact, case-sensitive", `{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::111122223333:user/Bob"}`, "iam:GetUser", "arn:aws:iam::111122223333:user/bob", false},
		{"resource prefix", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`, "s3:GetObject", "arn:aws:s3:::b/dir/k", true},
		{"resource star crosses slashes", `{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/*"}`, "iam:GetUser", "arn:aws:iam::111122223333:user/path/bob", true},
		{"resource star in segments", `{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"arn:aws:ec2:*:*:instance/*"}`, "ec2:StartInstances", "arn:aws:ec2:eu-west-1:111122223333:instance/i-1", true},
		{"resource star within a segment does not cross colons", `{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"arn:aws:ec2:eu-*1:111122223333:instance/i-1"}`, "ec2:StartInstances", "arn:aws:ec2:eu-west:x1:111122223333:instance/i-1", false},
		{"resource trailing star expands past colons", `{"Effect":"Allow","Action":"logs:PutLogEvents","Resource":"arn:aws:logs:eu-west-1:111122223333:*"}`, "logs:PutLogEvents", "arn:aws:logs:eu-west-1:111122223333:log-group:a:log-stream:b", true},
		{"NotResource", `{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`, "s3:GetObject", "arn:aws:s3:::secret/k", false},
		{"NotResource other", `{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`, "s3:GetObject", "arn:aws:s3:::public/k", true},
		// A request for "*" is matched by a pattern that could cover the
		// service's resources (IAM User Guide, list actions take a path
		// pattern such as arn:aws:iam::ACCOUNT:user/*), not by one naming
		// a single resource or another service.
		{"resource * request, covering pattern", `{"Effect":"Allow","Action":"iam:ListUsers","Resource":"arn:aws:iam::*:user/*"}`, "iam:ListUsers", "*", true},
		{"resource * request, one named resource", `{"Effect":"Allow","Action":"iam:ListUsers","Resource":"arn:aws:iam::*:user/bob"}`, "iam:ListUsers", "*", false},
		{"resource * request, NotResource of some buckets still applies", `{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`, "s3:ListAllMyBuckets", "*", true},
		{"resource * request, NotResource *", `{"Effect":"Allow","Action":"s3:*","NotResource":"*"}`, "s3:ListAllMyBuckets", "*", false},
		{"resource * request, another service's pattern", `{"Effect":"Allow","Action":"iam:ListUsers","Resource":"arn:aws:s3:::*"}`, "iam:ListUsers", "*", false},
		{"policy variable username", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}`, "s3:GetObject", "arn:aws:s3:::home/alice/x", true},
		{"policy variable other user", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}`, "s3:GetObject", "arn:aws:s3:::home/bob/x", false},
		{"policy variable missing key, no default", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:PrincipalTag/dept}/*"}`, "s3:GetObject", "arn:aws:s3:::home//x", false},
		{"policy variable default", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:PrincipalTag/dept, 'none'}/*"}`, "s3:GetObject", "arn:aws:s3:::home/none/x", true},
		{"escape ${*} is a literal star", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${*}"}`, "s3:GetObject", "arn:aws:s3:::b/*", true},
		{"escape ${*} is not a wildcard", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${*}"}`, "s3:GetObject", "arn:aws:s3:::b/x", false},
		{"escape ${?} and ${$}", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${?}${$}"}`, "s3:GetObject", "arn:aws:s3:::b/?$", true},
		{"variable value is text, not a wildcard", `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:PrincipalTag/dir}"}`, "s3:GetObject", "arn:aws:s3:::b/anything", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := NewContext()
			ctx.Set("aws:PrincipalTag/dir", "*")
			res := evalOne(t, PolicySet{Identity: []*iampolicy.Policy{stmtPolicy(t, "p", tc.stmt)}}, Request{Action: tc.action, Resource: tc.resource, Principal: aliceARN, Context: ctx})
			if got := res.Decision == Allowed; got != tc.want {
				t.Errorf("allowed=%v, want %v: %s", got, tc.want, res.Reason)
			}
		})
	}
}

func TestPolicyVariablesNeedVersion2012(t *testing.T) {
	old := mustPolicy(t, "old", `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}}`)
	res := evalOne(t, PolicySet{Identity: []*iampolicy.Policy{old}}, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/x", Principal: aliceARN})
	if res.Decision != ImplicitlyDenied {
		t.Errorf("a 2008 policy substituted a variable: %s", res.Decision)
	}
	res = evalOne(t, PolicySet{Identity: []*iampolicy.Policy{old}}, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/${aws:username}/x", Principal: aliceARN})
	if res.Decision != Allowed {
		t.Errorf("a 2008 policy's ${...} is not literal text: %s", res.Decision)
	}
	// In conditions too.
	p := stmtPolicy(t, "p", `{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"s3:prefix":["${aws:username}/*"]}}}`)
	ctx := NewContext()
	ctx.Set("s3:prefix", "alice/docs")
	if res := evalOne(t, PolicySet{Identity: []*iampolicy.Policy{p}}, Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Principal: aliceARN, Context: ctx}); res.Decision != Allowed {
		t.Errorf("condition variable: %s", res.Reason)
	}
}

const (
	acctA   = "111122223333"
	acctB   = "444455556666"
	roleARN = "arn:aws:iam::111122223333:role/app"
	sessARN = "arn:aws:sts::111122223333:assumed-role/app/i-123"
)

func TestLayers(t *testing.T) {
	allow := func(name, action string) *iampolicy.Policy {
		return stmtPolicy(t, name, `{"Effect":"Allow","Action":"`+action+`","Resource":"*"}`)
	}
	deny := func(name, action string) *iampolicy.Policy {
		return stmtPolicy(t, name, `{"Effect":"Deny","Action":"`+action+`","Resource":"*"}`)
	}
	resPol := func(principal string) *iampolicy.Policy {
		return stmtPolicy(t, "bucket-policy", `{"Effect":"Allow","Principal":`+principal+`,"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)
	}
	obj := "arn:aws:s3:::b/k"
	cases := []struct {
		name string
		ps   PolicySet
		req  Request
		want Decision
	}{
		{"identity allows", PolicySet{Identity: []*iampolicy.Policy{allow("id", "s3:*")}}, Request{Principal: aliceARN}, Allowed},
		{"nothing allows", PolicySet{}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"identity deny wins", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*"), deny("d", "s3:GetObject")}}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"SCP every level allows", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, SCPs: [][]*iampolicy.Policy{{allow("root", "*")}, {allow("ou", "s3:*")}}}, Request{Principal: aliceARN}, Allowed},
		{"SCP one level does not allow", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, SCPs: [][]*iampolicy.Policy{{allow("root", "*")}, {allow("ou", "ec2:*")}}}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"SCP level with only a deny allows nothing", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, SCPs: [][]*iampolicy.Policy{{deny("root", "ec2:*")}}}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"SCP deny", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, SCPs: [][]*iampolicy.Policy{{allow("root", "*"), deny("d", "s3:*")}}}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"SCP does not grant", PolicySet{SCPs: [][]*iampolicy.Policy{{allow("root", "*")}}}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"SCPs do not apply to service principals", PolicySet{Resource: resPol(`{"Service":"cloudtrail.amazonaws.com"}`), SCPs: [][]*iampolicy.Policy{{deny("root", "*")}}}, Request{Principal: "cloudtrail.amazonaws.com"}, Allowed},
		{"RCPs only deny (RCPFullAWSAccess is implied)", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, RCPs: [][]*iampolicy.Policy{{stmtPolicy(t, "rcp", `{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}`)}}}, Request{Principal: aliceARN}, Allowed},
		{"RCPs do not grant", PolicySet{RCPs: [][]*iampolicy.Policy{{stmtPolicy(t, "rcp", `{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`)}}}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"RCPs do not govern unsupported services", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, RCPs: [][]*iampolicy.Policy{{deny("rcp", "*")}}}, Request{Principal: aliceARN, Action: "ec2:StartInstances", Resource: "*"}, Allowed},
		{"RCP deny", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, RCPs: [][]*iampolicy.Policy{{stmtPolicy(t, "rcp", `{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-123"}}}`)}}}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"boundary does not allow", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Boundary: []*iampolicy.Policy{allow("b", "ec2:*")}}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"boundary alone does not grant", PolicySet{Boundary: []*iampolicy.Policy{allow("b", "*")}}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"boundary and identity", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Boundary: []*iampolicy.Policy{allow("b", "s3:*")}}, Request{Principal: aliceARN}, Allowed},
		{"boundary deny", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Boundary: []*iampolicy.Policy{allow("b", "*"), deny("bd", "s3:*")}}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"session policy does not allow", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Session: []*iampolicy.Policy{allow("s", "ec2:*")}}, Request{Principal: sessARN}, ImplicitlyDenied},
		{"session policy allows", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Session: []*iampolicy.Policy{allow("s", "s3:GetObject")}}, Request{Principal: sessARN}, Allowed},
		{"VPC endpoint policy does not allow", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, VPCEndpoint: stmtPolicy(t, "vpce", `{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"*"}`)}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"VPC endpoint policy allows", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, VPCEndpoint: stmtPolicy(t, "vpce", `{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`)}, Request{Principal: aliceARN}, Allowed},
		{"resource policy names the user: enough alone", PolicySet{Resource: resPol(`{"AWS":"` + aliceARN + `"}`)}, Request{Principal: aliceARN}, Allowed},
		{"resource policy names the user: boundary does not limit", PolicySet{Resource: resPol(`{"AWS":"` + aliceARN + `"}`), Boundary: []*iampolicy.Policy{allow("b", "ec2:*")}}, Request{Principal: aliceARN}, Allowed},
		{"resource policy names the session: session policy does not limit", PolicySet{Resource: resPol(`{"AWS":"` + sessARN + `"}`), Session: []*iampolicy.Policy{allow("s", "ec2:*")}}, Request{Principal: sessARN}, Allowed},
		{"resource policy names the role: boundary limits", PolicySet{Resource: resPol(`{"AWS":"` + roleARN + `"}`), Boundary: []*iampolicy.Policy{allow("b", "ec2:*")}}, Request{Principal: sessARN}, ImplicitlyDenied},
		{"resource policy names the role: allowed without boundary", PolicySet{Resource: resPol(`{"AWS":"` + roleARN + `"}`)}, Request{Principal: sessARN}, Allowed},
		{"resource policy names the account: identity must allow", PolicySet{Resource: resPol(`{"AWS":"arn:aws:iam::111122223333:root"}`)}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"resource policy names the account and identity allows", PolicySet{Resource: resPol(`{"AWS":"111122223333"}`), Identity: []*iampolicy.Policy{allow("id", "s3:GetObject")}}, Request{Principal: aliceARN}, Allowed},
		{"resource policy names someone else", PolicySet{Resource: resPol(`{"AWS":"arn:aws:iam::111122223333:user/bob"}`)}, Request{Principal: aliceARN}, ImplicitlyDenied},
		{"resource policy deny wins over identity", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}`)}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"cross-account: both allow", PolicySet{Identity: []*iampolicy.Policy{allow("id", "s3:*")}, Resource: resPol(`{"AWS":"` + acctB + `"}`)}, Request{Principal: "arn:aws:iam::444455556666:user/bob", ResourceAccount: acctA}, Allowed},
		{"cross-account: resource policy only", PolicySet{Resource: resPol(`{"AWS":"arn:aws:iam::444455556666:user/bob"}`)}, Request{Principal: "arn:aws:iam::444455556666:user/bob", ResourceAccount: acctA}, ImplicitlyDenied},
		{"cross-account: identity only", PolicySet{Identity: []*iampolicy.Policy{allow("id", "s3:*")}}, Request{Principal: "arn:aws:iam::444455556666:user/bob", ResourceAccount: acctA}, ImplicitlyDenied},
		{"cross-account: account from the resource ARN", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}}, Request{Principal: aliceARN, Resource: "arn:aws:sqs:eu-west-1:444455556666:q"}, ImplicitlyDenied},
		{"root user needs no identity policy", PolicySet{}, Request{Principal: "arn:aws:iam::111122223333:root"}, Allowed},
		{"root user under an SCP deny", PolicySet{SCPs: [][]*iampolicy.Policy{{allow("root", "*"), deny("d", "s3:*")}}}, Request{Principal: "arn:aws:iam::111122223333:root"}, ExplicitlyDenied},
		{"service principal via the resource policy", PolicySet{Resource: resPol(`{"Service":"cloudtrail.amazonaws.com"}`)}, Request{Principal: "cloudtrail.amazonaws.com"}, Allowed},
		{"service principal not named", PolicySet{Resource: resPol(`{"Service":"config.amazonaws.com"}`)}, Request{Principal: "cloudtrail.amazonaws.com"}, ImplicitlyDenied},
		{"anonymous via Principal *", PolicySet{Resource: resPol(`"*"`)}, Request{Principal: "*"}, Allowed},
		{"NotPrincipal deny spares user and account", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","NotPrincipal":{"AWS":["`+aliceARN+`","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}`)}, Request{Principal: aliceARN}, Allowed},
		{"NotPrincipal deny naming only the user still denies", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","NotPrincipal":{"AWS":["`+aliceARN+`"]},"Action":"s3:*","Resource":"*"}`)}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"NotPrincipal deny spares a session when role and account are listed", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","NotPrincipal":{"AWS":["`+roleARN+`","111122223333"]},"Action":"s3:*","Resource":"*"}`)}, Request{Principal: sessARN}, Allowed},
		{"NotPrincipal deny naming only the account still denies a session", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"Action":"s3:*","Resource":"*"}`)}, Request{Principal: sessARN}, ExplicitlyDenied},
		{"NotPrincipal deny always applies to a principal with a boundary", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Boundary: []*iampolicy.Policy{allow("b", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","NotPrincipal":{"AWS":["`+aliceARN+`","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}`)}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"NotPrincipal deny hits others", PolicySet{Identity: []*iampolicy.Policy{allow("id", "*")}, Resource: stmtPolicy(t, "rp", `{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]},"Action":"s3:*","Resource":"*"}`)}, Request{Principal: aliceARN}, ExplicitlyDenied},
		{"KMS: identity policy alone is not enough", PolicySet{Identity: []*iampolicy.Policy{allow("id", "kms:*")}, Resource: stmtPolicy(t, "key", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"kms:*","Resource":"*"}`)}, Request{Principal: aliceARN, Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:111122223333:key/k"}, ImplicitlyDenied},
		{"KMS: key policy delegates to the account", PolicySet{Identity: []*iampolicy.Policy{allow("id", "kms:*")}, Resource: stmtPolicy(t, "key", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`)}, Request{Principal: aliceARN, Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:111122223333:key/k"}, Allowed},
		{"KMS: delegation still needs the identity policy", PolicySet{Resource: stmtPolicy(t, "key", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`)}, Request{Principal: aliceARN, Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:111122223333:key/k"}, ImplicitlyDenied},
		{"KMS: key policy names the user", PolicySet{Resource: stmtPolicy(t, "key", `{"Effect":"Allow","Principal":{"AWS":"`+aliceARN+`"},"Action":"kms:Decrypt","Resource":"*"}`)}, Request{Principal: aliceARN, Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:111122223333:key/k"}, Allowed},
		{"AssumeRole: trust policy must allow", PolicySet{Identity: []*iampolicy.Policy{allow("id", "sts:AssumeRole")}, Resource: stmtPolicy(t, "trust", `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`)}, Request{Principal: aliceARN, Action: "sts:AssumeRole", Resource: roleARN}, ImplicitlyDenied},
		{"AssumeRole: trust policy names the account", PolicySet{Identity: []*iampolicy.Policy{allow("id", "sts:AssumeRole")}, Resource: stmtPolicy(t, "trust", `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}`)}, Request{Principal: aliceARN, Action: "sts:AssumeRole", Resource: roleARN}, Allowed},
		{"invalid Effect never applies", PolicySet{Identity: []*iampolicy.Policy{stmtPolicy(t, "p", `{"Effect":"allow","Action":"*","Resource":"*"}`)}}, Request{Principal: aliceARN}, ImplicitlyDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.Action == "" {
				req.Action = "s3:GetObject"
			}
			if req.Resource == "" {
				req.Resource = obj
			}
			res := evalOne(t, tc.ps, req)
			if res.Decision != tc.want {
				t.Errorf("%s, want %s: %s", res.Decision, tc.want, res.Reason)
			}
			switch res.Decision {
			case Allowed, ExplicitlyDenied:
				if len(res.DecidedBy) == 0 && !strings.Contains(res.Reason, "root user") {
					t.Errorf("%s with no deciding statement", res.Decision)
				}
			default:
				if !strings.HasPrefix(res.Reason, "implicitly denied") {
					t.Errorf("reason %q", res.Reason)
				}
			}
		})
	}
}

func TestDerivedKeysAndMissingKeys(t *testing.T) {
	p := stmtPolicy(t, "p", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333","aws:username":"alice"},"Bool":{"aws:SecureTransport":"true"}}}`)
	res := evalOne(t, PolicySet{Identity: []*iampolicy.Policy{p}}, Request{Action: "s3:GetObject", Resource: "*", Principal: aliceARN})
	if res.Decision != ImplicitlyDenied {
		t.Fatalf("allowed without aws:SecureTransport: %s", res.Reason)
	}
	if len(res.MissingKeys) != 1 || res.MissingKeys[0] != "aws:SecureTransport" {
		t.Errorf("missing keys %v", res.MissingKeys)
	}
	ctx := NewContext()
	ctx.Set("aws:SecureTransport", "true")
	if res := evalOne(t, PolicySet{Identity: []*iampolicy.Policy{p}}, Request{Action: "s3:GetObject", Resource: "*", Principal: aliceARN, Context: ctx}); res.Decision != Allowed {
		t.Errorf("derived keys: %s", res.Reason)
	}
	// The caller's context is not changed by evaluation.
	if _, ok := ctx.Get("aws:username"); ok {
		t.Error("Evaluate wrote derived keys into the caller's context")
	}
}

func TestExplanation(t *testing.T) {
	p := stmtPolicy(t, "mfa.json", `{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":"iam:ListMFADevices","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}},{"Effect":"Allow","Action":"*","Resource":"*"}`)
	res := evalOne(t, PolicySet{Identity: []*iampolicy.Policy{p}}, Request{Action: "s3:GetObject", Resource: "*", Principal: aliceARN})
	var b strings.Builder
	if err := WriteExplanation(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Decision: Allowed",
		"Deny mfa.json Statement[0] (Sid DenyNoMFA): condition Bool on aws:MultiFactorAuthPresent is not met",
		`Bool aws:MultiFactorAuthPresent "false", request: absent -> no (the key is absent from the request, so the condition is false)`,
		"aws:MultiFactorAuthPresent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}
}

func TestUnknownOperatorNeverMatches(t *testing.T) {
	p := stmtPolicy(t, "p", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"alice"}}}`)
	c := CompileSet(PolicySet{Identity: []*iampolicy.Policy{p}})
	if len(c.Problems) == 0 {
		t.Error("no problem reported for an unknown operator")
	}
	if res := c.Evaluate(Request{Action: "s3:GetObject", Resource: "*", Principal: aliceARN}, Options{}); res.Decision != ImplicitlyDenied {
		t.Errorf("unknown operator matched: %s", res.Decision)
	}
}

func TestOperatorSpellingIsReported(t *testing.T) {
	p := stmtPolicy(t, "p", `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"stringequals":{"aws:username":"alice"}}}`)
	c := CompileSet(PolicySet{Identity: []*iampolicy.Policy{p}})
	if len(c.Problems) != 1 || !strings.Contains(c.Problems[0], "case-sensitively") {
		t.Errorf("problems %v", c.Problems)
	}
	if res := c.Evaluate(Request{Action: "s3:GetObject", Resource: "*", Principal: aliceARN}, Options{}); res.Decision != Allowed {
		t.Errorf("the mis-spelled operator was not evaluated as meant: %s", res.Decision)
	}
}
