package detect

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awsipranges"
)

// isTaskSession reports whether a principal ID names a role session
// delivered to an ECS task: "AROA...:" and the task ID, 32 hex digits.
func isTaskSession(principalID string) bool {
	_, sess, ok := strings.Cut(principalID, ":")
	if !ok || len(sess) != 32 {
		return false
	}
	for i := 0; i < len(sess); i++ {
		c := sess[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// lambdaMark is what AWS SDKs add to the user agent inside Lambda
// (AWS_EXECUTION_ENV): "exec-env/AWS_Lambda_python3.12".
const lambdaMark = "exec-env/AWS_Lambda_"

// compute reports whether the key is a session delivered to an EC2
// instance, an ECS task or a Lambda function.
func (o *actorObs) compute() bool { return o.instance || o.task || o.lambda }

// outsideAWS reports whether a is a public address outside AWS's
// published ranges. Private, shared (100.64/10), loopback and link-local
// addresses are the caller's own network (VPC endpoints log those).
func outsideAWS(ranges *awsipranges.Set, a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || cgnat.Contains(a) {
		return false
	}
	return !ranges.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// instanceOutside reports sessions delivered to EC2 instances, ECS tasks
// or Lambda functions used from a public address outside AWS that is not the session's
// own: the address of its first call in the logs read (where the instance
// or task calls from: its public address, its NAT gateway or proxy). Each
// such address is one finding.
func (res *Result) instanceOutside() []*Finding {
	if len(res.e.instOutside) == 0 {
		return nil
	}
	ranges := res.e.opts.AWSRanges
	if ranges == nil {
		ranges = awsipranges.Builtin()
	}
	var out []*Finding
	for _, c := range res.e.instOutside {
		for id, o := range res.obs {
			if !o.compute() {
				continue
			}
			out = append(out, o.throughForeignEndpoints(c, id)...)
			if len(o.dims[0]) < 2 {
				continue
			}
			type addrSeen struct {
				addr string
				s    *seenValue
			}
			addrs := make([]addrSeen, 0, len(o.dims[0]))
			for a, s := range o.dims[0] {
				addrs = append(addrs, addrSeen{a, s})
			}
			sort.Slice(addrs, func(i, j int) bool {
				if !addrs[i].s.First.Equal(addrs[j].s.First) {
					return addrs[i].s.First.Before(addrs[j].s.First)
				}
				return addrs[i].addr < addrs[j].addr
			})
			own := addrs[0]
			what := "instance"
			switch {
			case o.task:
				what = "ECS task"
			case o.lambda && !o.instance:
				what = "Lambda function session"
			}
			sess := o.principal[strings.LastIndexByte(o.principal, '/')+1:]
			for _, x := range addrs[1:] {
				a, err := netip.ParseAddr(x.addr)
				if err != nil || !outsideAWS(ranges, a) {
					continue
				}
				f := o.groupOf(x.s).finding(c, id, x.addr)
				f.Detail = append(f.Detail,
					fmt.Sprintf("credentials of %s %s, first used from %s at %s; %s is outside AWS's published ranges", what, sess, own.addr, stamp(own.s.First), x.addr))
				if u := revokeSessions(o.principal, x.s.Last); u != "" {
					f.Undo = append(f.Undo, u)
				}
				out = append(out, f)
			}
		}
	}
	return out
}

// revokeSessions is the command that revokes a role's sessions issued
// before t (what the console's "Revoke active sessions" does), for an
// assumed-role ARN: the stolen credentials stop working, the instance's
// next credentials are issued after t and keep working.
func revokeSessions(principal string, t time.Time) string {
	_, rest, ok := strings.Cut(principal, ":assumed-role/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || i <= 0 {
		return ""
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"` +
		t.Add(time.Second).UTC().Format(time.RFC3339) + `"}}}]}`
	return "aws iam put-role-policy --role-name " + shellQuote(rest[:i]) + " --policy-name AWSRevokeOlderSessions --policy-document " + shellQuote(doc)
}

// throughForeignEndpoints reports a compute session's calls through VPC
// endpoints owned by another account (vpcEndpointAccountId): the
// credentials were taken into that account's network, which AWS's
// address ranges cannot tell (GuardDuty's InsideAWS variant).
func (o *actorObs) throughForeignEndpoints(c *compiled, id string) []*Finding {
	if len(o.foreign) == 0 {
		return nil
	}
	vs := make([]string, 0, len(o.foreign))
	for v := range o.foreign {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	sess := o.principal[strings.LastIndexByte(o.principal, '/')+1:]
	var out []*Finding
	for _, v := range vs {
		s := o.foreign[v]
		acct, vpce, _ := strings.Cut(v, " ")
		f := o.groupOf(s).finding(c, id, vpce)
		f.Detail = append(f.Detail,
			fmt.Sprintf("credentials of %s (account %s) used through VPC endpoint %s of account %s", sess, o.account, vpce, acct))
		if u := revokeSessions(o.principal, s.Last); u != "" {
			f.Undo = append(f.Undo, u)
		}
		out = append(out, f)
	}
	return out
}
