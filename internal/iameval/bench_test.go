package iameval

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// benchPool builds realistic managed policies: broad grants, read-only
// grants, the MFA and network guards, and self-service statements with
// policy variables.
func benchPool(tb testing.TB) []*iampolicy.Policy {
	svcs := []string{"s3", "ec2", "iam", "lambda", "dynamodb", "sqs", "sns", "kms", "logs", "cloudwatch"}
	var out []*iampolicy.Policy
	for i := range 50 {
		var doc string
		s := svcs[i%len(svcs)]
		switch i % 5 {
		case 0:
			doc = fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["%s:*"],"Resource":"*"}]}`, s)
		case 1:
			doc = fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["%s:Get*","%s:List*","%s:Describe*"],"Resource":"*"},
				{"Effect":"Allow","Action":"%s:Put*","Resource":"arn:aws:%s:*:111122223333:team-%d/*","Condition":{"StringEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}}]}`, s, s, s, s, s, i)
		case 2:
			doc = `{"Version":"2012-10-17","Statement":[{"Sid":"DenyNoMFA","Effect":"Deny","NotAction":["iam:CreateVirtualMFADevice","iam:EnableMFADevice","iam:ListMFADevices","iam:GetUser","sts:GetSessionToken"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}},
				{"Sid":"Self","Effect":"Allow","Action":["iam:CreateVirtualMFADevice","iam:EnableMFADevice"],"Resource":["arn:aws:iam::*:mfa/${aws:username}","arn:aws:iam::*:user/${aws:username}"]}]}`
		case 3:
			doc = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","198.51.100.0/24","2001:db8::/32"]},"Bool":{"aws:ViaAWSService":"false"}}}}`
		case 4:
			doc = fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"},
				{"Effect":"Deny","Action":"%s:Delete*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"platform"}}}]}`, s)
		}
		out = append(out, mustPolicy(tb, fmt.Sprintf("arn:aws:iam::111122223333:policy/p%d", i), doc))
	}
	return out
}

type benchUser struct {
	p Principal
}

func benchUsers(tb testing.TB, n int) []benchUser {
	pool := benchPool(tb)
	rng := rand.New(rand.NewPCG(1, 2))
	scps := [][]*iampolicy.Policy{
		{mustPolicy(tb, "FullAWSAccess", allowAll)},
		{mustPolicy(tb, "ou-guard", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":["organizations:LeaveOrganization","iam:CreateUser"],"Resource":"*","Condition":{"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"}}}]}`)},
	}
	boundary := mustPolicy(tb, "boundary", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:user/${aws:username}"}]}`)
	users := make([]benchUser, n)
	for i := range users {
		name := fmt.Sprintf("user%05d", i)
		inline := mustPolicy(tb, "user/"+name+"/inline/own", fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::home-%s/*"},{"Effect":"Allow","Action":"iam:ChangePassword","Resource":"arn:aws:iam::*:user/${aws:username}"}]}`, name))
		ids := []*iampolicy.Policy{inline}
		for range 3 {
			ids = append(ids, pool[rng.IntN(len(pool))])
		}
		p := Principal{ARN: "arn:aws:iam::111122223333:user/" + name, Identity: ids, SCPs: scps, Tags: map[string]string{"team": []string{"dev", "ops", "platform"}[i%3]}}
		if i%3 == 0 {
			p.Boundary = boundary
		}
		users[i] = benchUser{p}
	}
	return users
}

// benchActions picks n real actions across services, deterministically.
func benchActions(n int) []string {
	var out []string
	svcs := []string{"s3", "ec2", "iam", "lambda", "dynamodb", "sqs", "sts", "kms", "organizations", "logs"}
	for i := 0; len(out) < n; i++ {
		acts := iamdata.Actions(svcs[i%len(svcs)])
		out = append(out, svcs[i%len(svcs)]+":"+acts[(i*7)%len(acts)])
	}
	return out
}

func BenchmarkEvaluateOne(b *testing.B) {
	users := benchUsers(b, 1)
	p := users[0].p
	c := CompileSet(PolicySet{Identity: p.Identity, SCPs: p.SCPs, Boundary: []*iampolicy.Policy{p.Boundary}})
	ctx := NewContext()
	ctx.Set("aws:SourceIp", "203.0.113.7")
	ctx.Set("aws:RequestedRegion", "eu-west-1")
	req := Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::home-user00000/notes.txt", Principal: p.ARN, Context: ctx}
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		res := c.Evaluate(req, Options{})
		if res.Decision != Allowed {
			b.Fatal(res.Decision, res.Reason)
		}
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func sweep(b *testing.B, scen []Scenario) {
	users := benchUsers(b, 10000)
	actions := benchActions(100)
	allowed := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		comp := NewCompiler()
		n := 0
		for _, u := range users {
			ev, err := comp.Compile(u.p)
			if err != nil {
				b.Fatal(err)
			}
			n += len(ev.Exposure(ExposureQuery{Actions: actions, Scenarios: scen, AllowedCIDRs: allowed}))
		}
		if n != len(users)*len(actions)*len(scen) {
			b.Fatalf("%d answers", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(users)*len(actions)*len(scen)), "ns/request")
	// On a shared machine wall time includes waiting for the CPU; the
	// process's CPU time (GC included) is the work done.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
}

// BenchmarkSweep10kUsers100Actions is the audit's hot loop: 10,000 users
// (their own inline policy, three shared managed policies, two SCP levels,
// a boundary for a third of them) compiled and asked about 100 actions, for
// a request signed with a long-term key.
func BenchmarkSweep10kUsers100Actions(b *testing.B) { sweep(b, []Scenario{LongTermKey}) }

// BenchmarkSweep10kUsers100ActionsAllScenarios asks the same in all six
// scenarios (6 million evaluations).
func BenchmarkSweep10kUsers100ActionsAllScenarios(b *testing.B) { sweep(b, AllScenarios) }
