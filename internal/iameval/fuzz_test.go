package iameval

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// withDenies returns p with the statements of d appended as Deny
// statements.
func withDenies(p, d *iampolicy.Policy) *iampolicy.Policy {
	cp := *p
	cp.Statements = append([]*iampolicy.Statement(nil), p.Statements...)
	for _, s := range d.Statements {
		ds := *s
		ds.Effect = iampolicy.Deny
		ds.EffectRaw = "Deny"
		ds.Index = len(cp.Statements)
		cp.Statements = append(cp.Statements, &ds)
	}
	return &cp
}

// FuzzEvaluate checks that evaluation never panics on any policy and
// request, and that adding Deny statements to any layer never turns a
// denied request into an allowed one (nor an explicit deny into anything
// else), for concrete requests and for the exposure API.
func FuzzEvaluate(f *testing.F) {
	f.Add(allowAll, `{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}`, "s3:GetObject", "arn:aws:s3:::b/k", "aws:MultiFactorAuthPresent", "true")
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:aws:s3:::${aws:username}/*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":["a*","b?"]}}}]}`,
		`{"Statement":{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::x*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","::/0"]}}}}`, "s3:PutObject", "arn:aws:s3:::alice/k", "aws:TagKeys", "ab")
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/alice"]},"Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01"},"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":3600}}}}`,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"Null":{"aws:SourceVpce":"true"}}}}`, "iam:CreateUser", "*", "aws:CurrentTime", "2020-01-01T00:00:00Z")
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:*3:*:*x*y*z*","Condition":{"ArnLike":{"aws:SourceArn":"arn:*:*:*:*:*"},"BinaryEquals":{"k":"QQ=="},"StringEqualsIgnoreCase":{"k":"${aws:PrincipalTag/t, 'd'}"}}}}`,
		`{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringNotLike":{"k":"${*}"}}}}`, "S3:Get", "arn:aws:s3:eu:123:axbyczx", "k", "QQ==")
	f.Fuzz(func(t *testing.T, polDoc, denyDoc, action, resource, key, val string) {
		p, err := iampolicy.Parse("p", []byte(polDoc))
		if err != nil {
			return
		}
		d, err := iampolicy.Parse("d", []byte(denyDoc))
		if err != nil {
			return
		}
		ctx := NewContext()
		if key != "" {
			ctx.Set(key, val)
			ctx.Add(key+"2", val)
			ctx.Add(key+"2", key)
		}
		base := PolicySet{Identity: []*iampolicy.Policy{p}, SCPs: [][]*iampolicy.Policy{{p}}, Boundary: []*iampolicy.Policy{p}, Resource: p}
		more := PolicySet{
			Identity: []*iampolicy.Policy{withDenies(p, d)},
			SCPs:     [][]*iampolicy.Policy{{withDenies(p, d)}},
			Boundary: []*iampolicy.Policy{withDenies(p, d)},
			Resource: withDenies(p, d),
		}
		for _, principal := range []string{aliceARN, sessARN, "arn:aws:iam::444455556666:user/bob", "s3.amazonaws.com", "*", "arn:aws:iam::111122223333:root"} {
			req := Request{Action: action, Resource: resource, Principal: principal, Context: ctx}
			for _, sets := range [][2]PolicySet{{base, more}, {{Identity: []*iampolicy.Policy{p}}, {Identity: []*iampolicy.Policy{p, withDenies(p, d)}}}} {
				b := CompileSet(sets[0]).Evaluate(req, Options{Explain: true})
				m := CompileSet(sets[1]).Evaluate(req, Options{})
				if b.Decision != Allowed && m.Decision == Allowed {
					t.Fatalf("%s: adding Deny statements turned %s into Allowed", principal, b.Decision)
				}
				if b.Decision == ExplicitlyDenied && m.Decision != ExplicitlyDenied {
					t.Fatalf("%s: adding Deny statements turned ExplicitlyDenied into %s", principal, m.Decision)
				}
			}
		}
		ev1, err1 := Compile(Principal{ARN: aliceARN, Identity: []*iampolicy.Policy{p}, Boundary: p, Tags: map[string]string{key: val}})
		ev2, err2 := Compile(Principal{ARN: aliceARN, Identity: []*iampolicy.Policy{p, withDenies(p, d)}, Boundary: p, Tags: map[string]string{key: val}})
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		q := ExposureQuery{Actions: []string{action, "iam:CreateAccessKey", "s3:ListAllMyBuckets"}}
		a1, a2 := ev1.Exposure(q), ev2.Exposure(q)
		for i := range a1 {
			if a1[i].Outcome == OutcomeDenied && a2[i].Outcome != OutcomeDenied {
				t.Fatalf("%s %s: adding Deny statements turned denied into %s", a1[i].Action, a1[i].Scenario, a2[i].Outcome)
			}
		}
		checkExposureSound(t, p, action, resource, key, val)
	})
}

// checkExposureSound checks the exposure API against the concrete
// evaluator: when it answers allowed or denied (not depends), a concrete
// request that fits the scenario must get the same answer.
func checkExposureSound(t *testing.T, p *iampolicy.Policy, action, resource, tagKey, tagVal string) {
	if resource == "" || strings.HasPrefix(strings.ToLower(tagKey), "aws:") {
		return
	}
	tags := map[string]string{tagKey: tagVal}
	ev, err := Compile(Principal{ARN: aliceARN, Identity: []*iampolicy.Policy{p}, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	answers := ev.Exposure(ExposureQuery{Actions: []string{action}, Scenarios: []Scenario{LongTermKey, SessionMFA, ViaVPCEndpoint},
		ResourceFor: func(string) string { return resource }})
	compiled := CompileSet(PolicySet{Identity: []*iampolicy.Policy{p}})
	for _, a := range answers {
		if a.Outcome == OutcomeDepends {
			continue
		}
		ctx := NewContext()
		ctx.Set("aws:PrincipalTag/"+tagKey, tagVal)
		ctx.Set("aws:SecureTransport", "true")
		ctx.Set("aws:ViaAWSService", "false")
		ctx.Set("aws:CurrentTime", "2026-01-01T00:00:00Z")
		ctx.Set("aws:EpochTime", "1767225600")
		ctx.Set("aws:userid", "AIDAEXAMPLEEXAMPLE")
		switch a.Scenario {
		case LongTermKey:
			ctx.Set("aws:SourceIp", "198.51.100.7")
		case SessionMFA:
			ctx.Set("aws:SourceIp", "2001:db8::7")
			ctx.Set("aws:MultiFactorAuthPresent", "true")
			ctx.Set("aws:MultiFactorAuthAge", "100")
			ctx.Set("aws:TokenIssueTime", "2026-01-01T00:00:00Z")
		case ViaVPCEndpoint:
			ctx.Set("aws:SourceVpce", "vpce-1a2b")
			ctx.Set("aws:SourceVpc", "vpc-1a2b")
			ctx.Set("aws:SourceVpcArn", "arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-1a2b")
			ctx.Set("aws:VpcSourceIp", "10.0.0.5")
		}
		res := compiled.Evaluate(Request{Action: action, Resource: resource, Principal: aliceARN, Context: ctx}, Options{})
		if (a.Outcome == OutcomeAllowed) != (res.Decision == Allowed) {
			t.Fatalf("%s %s: exposure says %s (%s), a concrete request is %s (%s)", a.Action, a.Scenario, a.Outcome, a.Reason, res.Decision, res.Reason)
		}
	}
}
