package iameval

import (
	"encoding/json"
	"fmt"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"testing"
)

// condCase: an Allow statement with one Condition block, and a request
// context; want is whether the condition holds (the request is allowed).
type condCase struct {
	name string
	cond string // the Condition object
	ctx  map[string][]string
	want bool
}

// multi marks a context key as multi-valued even with one value.
const multiMark = "\x00multi"

func runCondCases(t *testing.T, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":%s}}`, tc.cond)
			p := mustPolicy(t, "cond.json", doc)
			if len(p.Problems) > 0 {
				t.Fatalf("policy problems: %v", p.Problems)
			}
			ctx := NewContext()
			for k, v := range tc.ctx {
				if len(v) > 0 && v[0] == multiMark {
					ctx.SetMulti(k, v[1:]...)
				} else {
					ctx.Set(k, v...)
				}
			}
			res := CompileSet(PolicySet{Identity: []*iampolicy.Policy{p}}).Evaluate(Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Principal: aliceARN, Context: ctx}, Options{Explain: true})
			if got := res.Decision == Allowed; got != tc.want {
				var b []byte
				b, _ = json.Marshal(res.Trace)
				t.Errorf("condition %s with %v: allowed=%v, want %v\n%s", tc.cond, tc.ctx, got, tc.want, b)
			}
		})
	}
}

func v(s ...string) []string  { return s }
func mv(s ...string) []string { return append([]string{multiMark}, s...) }

func TestStringOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"StringEquals match", `{"StringEquals":{"s3:prefix":"home/"}}`, map[string][]string{"s3:prefix": v("home/")}, true},
		{"StringEquals is case-sensitive", `{"StringEquals":{"s3:prefix":"home/"}}`, map[string][]string{"s3:prefix": v("HOME/")}, false},
		{"StringEquals key name is case-insensitive", `{"StringEquals":{"S3:Prefix":"home/"}}`, map[string][]string{"s3:prefix": v("home/")}, true},
		{"StringEquals any of several values", `{"StringEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}`, map[string][]string{"aws:RequestedRegion": v("eu-central-1")}, true},
		{"StringEquals no wildcard", `{"StringEquals":{"s3:prefix":"home/*"}}`, map[string][]string{"s3:prefix": v("home/x")}, false},
		{"StringEquals missing key is false", `{"StringEquals":{"s3:prefix":"home/"}}`, nil, false},
		{"StringNotEquals other value", `{"StringNotEquals":{"s3:prefix":"home/"}}`, map[string][]string{"s3:prefix": v("tmp/")}, true},
		{"StringNotEquals none of several may match", `{"StringNotEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]}}`, map[string][]string{"aws:RequestedRegion": v("eu-west-1")}, false},
		{"StringNotEquals missing key is true", `{"StringNotEquals":{"s3:prefix":"home/"}}`, nil, true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"Platform"}}`, map[string][]string{"aws:PrincipalTag/team": v("PLATFORM")}, true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"Platform"}}`, map[string][]string{"aws:PrincipalTag/team": v("platform")}, false},
		{"StringLike star", `{"StringLike":{"s3:prefix":"home/*"}}`, map[string][]string{"s3:prefix": v("home/alice/notes")}, true},
		{"StringLike question mark", `{"StringLike":{"s3:prefix":"h?me/"}}`, map[string][]string{"s3:prefix": v("home/")}, true},
		{"StringLike case-sensitive", `{"StringLike":{"s3:prefix":"Home/*"}}`, map[string][]string{"s3:prefix": v("home/x")}, false},
		{"StringLike missing key is false", `{"StringLike":{"s3:prefix":"*"}}`, nil, false},
		{"StringNotLike", `{"StringNotLike":{"s3:prefix":"*.tmp"}}`, map[string][]string{"s3:prefix": v("a.txt")}, true},
		{"StringNotLike matching", `{"StringNotLike":{"s3:prefix":"*.tmp"}}`, map[string][]string{"s3:prefix": v("a.tmp")}, false},
		{"StringNotLike missing key is true", `{"StringNotLike":{"s3:prefix":"*"}}`, nil, true},
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}`, nil, true},
		{"StringEqualsIfExists present and wrong", `{"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}`, map[string][]string{"ec2:InstanceType": v("m5.large")}, false},
		{"JSON boolean compared as text", `{"StringEquals":{"aws:SecureTransport":true}}`, map[string][]string{"aws:SecureTransport": v("true")}, true},
		{"two keys AND", `{"StringEquals":{"s3:prefix":"a","s3:delimiter":"/"}}`, map[string][]string{"s3:prefix": v("a")}, false},
		{"two keys both", `{"StringEquals":{"s3:prefix":"a","s3:delimiter":"/"}}`, map[string][]string{"s3:prefix": v("a"), "s3:delimiter": v("/")}, true},
		{"two operators AND", `{"StringEquals":{"s3:prefix":"a"},"Bool":{"aws:SecureTransport":"true"}}`, map[string][]string{"s3:prefix": v("a"), "aws:SecureTransport": v("false")}, false},
	})
}

func TestNumericDateBoolBinaryOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"NumericLessThan", `{"NumericLessThan":{"s3:max-keys":"10"}}`, map[string][]string{"s3:max-keys": v("5")}, true},
		{"NumericLessThan equal", `{"NumericLessThan":{"s3:max-keys":"10"}}`, map[string][]string{"s3:max-keys": v("10")}, false},
		{"NumericLessThanEquals equal", `{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, map[string][]string{"s3:max-keys": v("10")}, true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"3600"}}`, map[string][]string{"aws:MultiFactorAuthAge": v("3601")}, true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"aws:MultiFactorAuthAge":"3600"}}`, map[string][]string{"aws:MultiFactorAuthAge": v("3599")}, false},
		{"NumericEquals decimal", `{"NumericEquals":{"s3:max-keys":"1.0"}}`, map[string][]string{"s3:max-keys": v("1")}, true},
		{"NumericEquals JSON number", `{"NumericEquals":{"s3:max-keys":10}}`, map[string][]string{"s3:max-keys": v("10")}, true},
		{"NumericNotEquals", `{"NumericNotEquals":{"s3:max-keys":"5"}}`, map[string][]string{"s3:max-keys": v("6")}, true},
		{"NumericNotEquals missing is true", `{"NumericNotEquals":{"s3:max-keys":"5"}}`, nil, true},
		{"Numeric not a number", `{"NumericLessThan":{"s3:max-keys":"10"}}`, map[string][]string{"s3:max-keys": v("ten")}, false},
		{"Numeric missing is false", `{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}`, nil, false},
		{"NumericLessThanIfExists missing", `{"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}`, nil, true},
		{"DateGreaterThan ISO", `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, map[string][]string{"aws:CurrentTime": v("2021-06-01T12:00:00Z")}, true},
		{"DateGreaterThan epoch request", `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, map[string][]string{"aws:CurrentTime": v("1577836801")}, true},
		{"DateLessThan date only", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01"}}`, map[string][]string{"aws:CurrentTime": v("2019-12-31T23:59:59Z")}, true},
		{"DateLessThan after", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01"}}`, map[string][]string{"aws:CurrentTime": v("2020-01-01T00:00:01Z")}, false},
		{"DateEquals epoch policy, ISO request", `{"DateEquals":{"aws:TokenIssueTime":"1577836800"}}`, map[string][]string{"aws:TokenIssueTime": v("2020-01-01T00:00:00Z")}, true},
		{"DateGreaterThan epoch is seconds, not milliseconds", `{"DateGreaterThan":{"aws:CurrentTime":"1577836800"}}`, map[string][]string{"aws:CurrentTime": v("2020-01-01T00:00:00Z")}, false},
		{"DateEquals with offset", `{"DateEquals":{"aws:TokenIssueTime":"2020-01-01T01:00:00+01:00"}}`, map[string][]string{"aws:TokenIssueTime": v("2020-01-01T00:00:00Z")}, true},
		{"DateNotEquals missing is true", `{"DateNotEquals":{"aws:TokenIssueTime":"2020-01-01"}}`, nil, true},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, map[string][]string{"aws:CurrentTime": v("2020-01-01T00:00:00Z")}, true},
		{"DateGreaterThanEquals", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, map[string][]string{"aws:CurrentTime": v("2019-01-01T00:00:00Z")}, false},
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, map[string][]string{"aws:SecureTransport": v("true")}, true},
		{"Bool false value", `{"Bool":{"aws:SecureTransport":"true"}}`, map[string][]string{"aws:SecureTransport": v("false")}, false},
		{"Bool value case", `{"Bool":{"aws:SecureTransport":"true"}}`, map[string][]string{"aws:SecureTransport": v("TRUE")}, true},
		{"Bool missing is false", `{"Bool":{"aws:MultiFactorAuthPresent":"false"}}`, nil, false},
		{"BoolIfExists missing is true", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, nil, true},
		{"BoolIfExists present", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, map[string][]string{"aws:MultiFactorAuthPresent": v("true")}, false},
		{"Bool JSON boolean", `{"Bool":{"aws:MultiFactorAuthPresent":true}}`, map[string][]string{"aws:MultiFactorAuthPresent": v("true")}, true},
		{"BinaryEquals", `{"BinaryEquals":{"s3:x-amz-content":"QmluYXJ5VmFsdWU="}}`, map[string][]string{"s3:x-amz-content": v("QmluYXJ5VmFsdWU=")}, true},
		{"BinaryEquals other", `{"BinaryEquals":{"s3:x-amz-content":"QmluYXJ5VmFsdWU="}}`, map[string][]string{"s3:x-amz-content": v("T3RoZXI=")}, false},
		{"Null true, absent", `{"Null":{"aws:MultiFactorAuthPresent":"true"}}`, nil, true},
		{"Null true, present", `{"Null":{"aws:MultiFactorAuthPresent":"true"}}`, map[string][]string{"aws:MultiFactorAuthPresent": v("false")}, false},
		{"Null false, present", `{"Null":{"aws:TokenIssueTime":"false"}}`, map[string][]string{"aws:TokenIssueTime": v("2020-01-01T00:00:00Z")}, true},
		{"Null false, absent", `{"Null":{"aws:TokenIssueTime":"false"}}`, nil, false},
	})
}

func TestIPAndARNOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"IpAddress in range", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, map[string][]string{"aws:SourceIp": v("203.0.113.5")}, true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, map[string][]string{"aws:SourceIp": v("198.51.100.1")}, false},
		{"IpAddress single address", `{"IpAddress":{"aws:SourceIp":"203.0.113.5"}}`, map[string][]string{"aws:SourceIp": v("203.0.113.5")}, true},
		{"IpAddress IPv6", `{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`, map[string][]string{"aws:SourceIp": v("2001:db8:1::7")}, true},
		{"IpAddress IPv6 outside an IPv4 list", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, map[string][]string{"aws:SourceIp": v("2001:db8::1")}, false},
		{"IpAddress IPv4-mapped", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, map[string][]string{"aws:SourceIp": v("::ffff:203.0.113.9")}, true},
		{"IpAddress missing is false", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, nil, false},
		{"IpAddress 0.0.0.0/0 holds every IPv4 address", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, map[string][]string{"aws:SourceIp": v("203.0.113.5")}, true},
		{"IpAddress ::/0 holds every IPv6 address", `{"IpAddress":{"aws:SourceIp":"::/0"}}`, map[string][]string{"aws:SourceIp": v("2001:db8::5")}, true},
		{"NotIpAddress 0.0.0.0/0", `{"NotIpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, map[string][]string{"aws:SourceIp": v("10.0.0.1")}, false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, map[string][]string{"aws:SourceIp": v("198.51.100.1")}, true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, map[string][]string{"aws:SourceIp": v("203.0.113.1")}, false},
		{"NotIpAddress missing is true (VPC endpoint)", `{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true},
		{"IpAddressIfExists missing", `{"IpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`, nil, true},
		{"IpAddress not an address", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, map[string][]string{"aws:SourceIp": v("cloudformation.amazonaws.com")}, false},
		{"ArnLike wildcards", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}`, map[string][]string{"aws:PrincipalArn": v("arn:aws:iam::111122223333:role/admin-ops")}, true},
		{"ArnEquals takes wildcards too", `{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:*:111122223333:topic"}}`, map[string][]string{"aws:SourceArn": v("arn:aws:sns:eu-west-1:111122223333:topic")}, true},
		{"ArnLike case-sensitive", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Admin"}}`, map[string][]string{"aws:PrincipalArn": v("arn:aws:iam::111122223333:role/admin")}, false},
		{"ArnLike star stays in its segment", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*3:role/x"}}`, map[string][]string{"aws:SourceArn": v("arn:aws:iam::1:3:role/x")}, false},
		{"ArnLike star in segment", `{"ArnLike":{"aws:SourceArn":"arn:aws:iam::*3:role/x"}}`, map[string][]string{"aws:SourceArn": v("arn:aws:iam::123:role/x")}, true},
		{"ArnLike not an ARN", `{"ArnLike":{"aws:SourceArn":"*"}}`, map[string][]string{"aws:SourceArn": v("not-an-arn")}, false},
		{"ArnNotLike missing is true", `{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::*"}}`, nil, true},
		{"ArnNotEquals other", `{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::a"}}`, map[string][]string{"aws:SourceArn": v("arn:aws:s3:::b")}, true},
		{"ArnLike resource segment keeps colons", `{"ArnLike":{"aws:SourceArn":"arn:aws:logs:*:*:log-group:app*"}}`, map[string][]string{"aws:SourceArn": v("arn:aws:logs:eu-west-1:111122223333:log-group:app:log-stream:x")}, true},
	})
}

func TestSetOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"ForAllValues all in the set", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, map[string][]string{"aws:TagKeys": mv("env")}, true},
		{"ForAllValues one outside", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}`, map[string][]string{"aws:TagKeys": mv("env", "owner")}, false},
		{"ForAllValues missing key is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, nil, true},
		{"ForAllValues empty list is true", `{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}`, map[string][]string{"aws:TagKeys": mv()}, true},
		{"ForAnyValue one in the set", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, map[string][]string{"aws:TagKeys": mv("env", "owner")}, true},
		{"ForAnyValue none", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, map[string][]string{"aws:TagKeys": mv("owner")}, false},
		{"ForAnyValue missing key is false", `{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}`, nil, false},
		{"ForAllValues:StringNotEquals", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, map[string][]string{"aws:TagKeys": mv("env", "team")}, true},
		{"ForAllValues:StringNotEquals hit", `{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`, map[string][]string{"aws:TagKeys": mv("env", "secret")}, false},
		{"ForAnyValue:StringNotEquals", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, map[string][]string{"aws:TagKeys": mv("env", "team")}, true},
		{"ForAnyValue:StringNotEquals all equal", `{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}`, map[string][]string{"aws:TagKeys": mv("env")}, false},
		{"ForAllValues:StringLike", `{"ForAllValues:StringLike":{"aws:TagKeys":["team-*"]}}`, map[string][]string{"aws:TagKeys": mv("team-a", "team-b")}, true},
		{"ForAnyValue on a single-valued key", `{"ForAnyValue:StringEquals":{"aws:PrincipalTag/team":["dev","ops"]}}`, map[string][]string{"aws:PrincipalTag/team": v("ops")}, true},
		{"plain operator on a multi-valued key: any pair", `{"StringEquals":{"aws:TagKeys":"env"}}`, map[string][]string{"aws:TagKeys": mv("env", "owner")}, true},
		{"plain negated operator on a multi-valued key: none", `{"StringNotEquals":{"aws:TagKeys":"env"}}`, map[string][]string{"aws:TagKeys": mv("env", "owner")}, false},
		{"ForAllValues IfExists missing", `{"ForAllValues:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, nil, true},
		{"ForAnyValue IfExists missing", `{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}`, nil, true},
	})
}
