package detect

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Seen is when a value was first and last seen for a key, and how often.
type Seen struct {
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int64     `json:"count"`
}

// Baseline is what is known of one key: for each dimension (in the order
// of Dimensions) its values and when they were seen.
type Baseline struct {
	Dims [NumDims]map[string]Seen
}

// accountPrefix marks the baselines of whole accounts among those of keys
// (AccountKey): what any key of the account was used from.
const accountPrefix = "account:"

// AccountKey is the name under which an account's baseline is kept
// beside its keys' ("account:111122223333").
func AccountKey(account string) string { return accountPrefix + account }

// maxValuesPerDim bounds the values remembered per key and dimension; a
// key sprayed from thousands of addresses is flagged long before.
const maxValuesPerDim = 4096

// maxRegionLen bounds a launch region kept (AWS's longest names are about
// 20 bytes): a hostile record's awsRegion does not fill the store.
const maxRegionLen = 64

// seenValue is a value observed in this run, with its first event.
type seenValue struct {
	Seen
	firstID     string
	firstName   string
	firstSource string
	firstRegion string
	firstAgent  string
}

type actorObs struct {
	// instance: the key is a role session delivered to an EC2 instance.
	instance bool
	// task: the key is a role session delivered to an ECS task.
	task bool
	// lambda: the session called from a Lambda function (the SDK's
	// exec-env/AWS_Lambda_ mark in its user agent).
	lambda bool
	// console: for a human's console session, its actor (who, and from
	// where: cloudtrail.ConsoleActor), so its findings join its group.
	console   string
	keyID     string
	principal string
	account   string
	dims      [NumDims]map[string]*seenValue
	// foreign: for role sessions, the VPC endpoints of other accounts
	// their calls came through ("ACCOUNT vpce-ID"): credentials used
	// from another account's network.
	foreign map[string]*seenValue
	// days: for long-term keys when a dormant rule is loaded, the UTC days
	// (Unix days) the key was used.
	days map[int32]*activeDay
}

// groupOf builds the evidence of a finding about one value first seen
// for this actor: its count, span and first event.
func (o *actorObs) groupOf(s *seenValue) *group {
	return &group{keyID: o.keyID, principal: o.principal, account: o.account,
		count: int(s.Count), first: s.First, last: s.Last,
		events:  []stamped{{s.First, s.firstID}},
		sources: addSample(nil, s.firstSource),
		regions: addSample(nil, s.firstRegion),
		agents:  addSample(nil, s.firstAgent),
		names:   addSample(nil, s.firstName)}
}

func (o *actorObs) merge(x *actorObs) {
	o.mergeDays(x)
	o.lambda = o.lambda || x.lambda
	if len(x.foreign) > 0 {
		if o.foreign == nil {
			o.foreign = map[string]*seenValue{}
		}
		mergeSeen(o.foreign, x.foreign)
	}
	if o.console == "" || (x.console != "" && x.console < o.console) {
		o.console = x.console
	}
	for d := range o.dims {
		if len(x.dims[d]) == 0 {
			continue
		}
		if o.dims[d] == nil {
			o.dims[d] = map[string]*seenValue{}
		}
		mergeSeen(o.dims[d], x.dims[d])
	}
}

// globalSources are services whose calls are logged in us-east-1 whatever
// region the caller works in: they say nothing about a key's regions.
var globalSources = map[string]bool{
	"iam.amazonaws.com": true, "sts.amazonaws.com": true, "organizations.amazonaws.com": true,
	"cloudfront.amazonaws.com": true, "route53.amazonaws.com": true, "support.amazonaws.com": true,
	"health.amazonaws.com": true, "budgets.amazonaws.com": true, "signin.amazonaws.com": true,
	"account.amazonaws.com": true, "billingconsole.amazonaws.com": true, "ce.amazonaws.com": true,
	"s3.amazonaws.com": false, "waf.amazonaws.com": true, "shield.amazonaws.com": true,
}

// RegionlessSources lists, sorted, the event sources whose calls say
// nothing of a key's regions (their awsRegion is not learnt).
func RegionlessSources() []string {
	var out []string
	for src, global := range globalSources {
		if global {
			out = append(out, src)
		}
	}
	sort.Strings(out)
	return out
}

// AgentFamily reduces a user agent to the tool that sent it ("aws-cli",
// "boto3", "aws-sdk-go-v2", "mozilla"), so version bumps are not new user
// agents. It returns "" for agents that are AWS itself.
func AgentFamily(ua string) string {
	if ua == "" || ua == "AWS Internal" || strings.HasSuffix(ua, ".amazonaws.com") {
		return ""
	}
	ua = strings.TrimLeft(ua, "[")
	end := strings.IndexAny(ua, "/ ;()")
	if end < 0 {
		end = len(ua)
	}
	f := strings.ToLower(ua[:end])
	if len(f) > 64 {
		f = f[:64]
	}
	return f
}

// observeFirstSeen learns what r says of its key; r stands for n events.
func (w *Worker) observeFirstSeen(r *cloudtrail.Record, n int64) {
	id := r.UserIdentity.AccessKeyID
	if !strings.HasPrefix(id, "AKIA") && !strings.HasPrefix(id, "ASIA") {
		return
	}
	var vals [NumDims]string
	if a, ok := r.SourceAddr(); ok {
		// Format into a reused buffer: map lookups need no allocation and
		// inserts clone.
		b := a.AppendTo(w.scratch[:0])
		n := len(b)
		b = cloudtrail.Network(a).AppendTo(b)
		w.scratch = b
		vals[0] = unsafe.String(&b[0], n)
		vals[1] = unsafe.String(&b[n], len(b)-n)
	}
	if !globalSources[r.EventSource] {
		vals[2] = r.AWSRegion
	}
	vals[3] = AgentFamily(r.UserAgent)
	if r.EventName == "RunInstances" && r.ErrorCode == "" && r.EventSource == "ec2.amazonaws.com" && len(r.AWSRegion) <= maxRegionLen {
		vals[4] = r.AWSRegion
	}
	dormancy := len(w.e.dormant) > 0 && id[0] == 'A' && id[1] == 'K'
	if vals == [NumDims]string{} && !dormancy {
		return
	}
	o, ok := w.obs[id]
	if !ok {
		o = &actorObs{keyID: strings.Clone(id), principal: strings.Clone(r.Principal()), account: strings.Clone(account(r)),
			instance: isInstanceSession(r.UserIdentity.PrincipalID), task: isTaskSession(r.UserIdentity.PrincipalID)}

		w.obs[o.keyID] = o
	}
	if dormancy {
		o.observeDay(r, n)
	}
	if !o.lambda && id[1] == 'S' && strings.Contains(r.UserAgent, lambdaMark) {
		o.lambda = true
	}
	// Any record of a console session names its group (the first one in
	// sort order, whichever worker read it).
	if id[1] == 'S' && r.ConsoleSession() {
		if a := r.Actor(); o.console == "" || a < o.console {
			o.console = strings.Clone(a)
		}
	}
	if id[1] == 'S' && r.VPCEndpointAccount != "" && r.VPCEndpointAccount != o.account && len(r.VPCEndpointAccount) <= 12 && len(r.VPCEndpointID) <= 64 {
		o.observeForeign(r, r.VPCEndpointAccount+" "+r.VPCEndpointID, n)
	}
	for d, v := range vals {
		if v == "" {
			continue
		}
		m := o.dims[d]
		if m == nil {
			m = map[string]*seenValue{}
			o.dims[d] = m
		}
		see(m, v, r, n)
	}
}

// see counts r's use of v in m, n events (bounded by maxValuesPerDim),
// keeping the earliest event first.
func see(m map[string]*seenValue, v string, r *cloudtrail.Record, n int64) {
	t := r.EventTime
	s, ok := m[v]
	if !ok {
		if len(m) >= maxValuesPerDim {
			return
		}
		s = &seenValue{Seen: Seen{First: t, Last: t}}
		s.setFirst(r)
		m[strings.Clone(v)] = s
	} else if t.Before(s.First) || (t.Equal(s.First) && r.EventID < s.firstID) {
		s.First = t
		s.setFirst(r)
	}
	if t.After(s.Last) {
		s.Last = t
	}
	s.Count += n
}

// mergeSeen adds the values of src to dst (bounded by maxValuesPerDim).
func mergeSeen(dst, src map[string]*seenValue) {
	for v, s := range src {
		cur, ok := dst[v]
		if !ok {
			if len(dst) < maxValuesPerDim {
				dst[v] = s
			}
			continue
		}
		cur.Count += s.Count
		if s.Last.After(cur.Last) {
			cur.Last = s.Last
		}
		if s.earlier(&cur.Seen, cur.firstID) {
			cur.First, cur.firstID, cur.firstName, cur.firstSource, cur.firstRegion, cur.firstAgent =
				s.First, s.firstID, s.firstName, s.firstSource, s.firstRegion, s.firstAgent
		}
	}
}

// earlier reports whether s was first seen before a value first seen at
// o.First by event id: ties go to the smaller event id, so that the
// first event named does not depend on which worker read what.
func (s *seenValue) earlier(o *Seen, id string) bool {
	return s.First.Before(o.First) || (s.First.Equal(o.First) && s.firstID < id)
}

func (s *seenValue) setFirst(r *cloudtrail.Record) {
	s.firstID = strings.Clone(r.EventID)
	s.firstName = strings.Clone(r.EventName)
	s.firstSource = strings.Clone(r.SourceIPAddress)
	s.firstRegion = strings.Clone(r.AWSRegion)
	s.firstAgent = strings.Clone(r.UserAgent)
}

// Observations returns what this run saw of each key, to store as the new
// baseline. Only long-term keys (AKIA) are returned when longTermOnly:
// temporary keys live hours and their baselines would only grow the store.
// Each account the keys belong to has a baseline too (under AccountKey),
// with what every key of it, temporary ones included, was used from.
func (res *Result) Observations(longTermOnly bool) map[string]*Baseline {
	out := map[string]*Baseline{}
	for id, o := range res.obs {
		if isAccountID(o.account) {
			ak := AccountKey(o.account)
			b := out[ak]
			if b == nil {
				b = &Baseline{}
				out[ak] = b
			}
			b.add(o, o.compute())
		}
		if longTermOnly && !strings.HasPrefix(id, "AKIA") {
			continue
		}
		b := &Baseline{}
		b.add(o, false)
		out[id] = b
	}
	return out
}

// add merges a key's observations into b (bounded like a key's).
//
// Without addresses, the addresses and networks are left out: an
// account's instances, tasks and functions call from a new address with
// every instance (the store would only grow), and they are not judged on
// them either.
func (b *Baseline) add(o *actorObs, withoutAddresses bool) {
	for d, m := range o.dims {
		if len(m) == 0 || (withoutAddresses && d <= 1) {
			continue
		}
		if b.Dims[d] == nil {
			b.Dims[d] = make(map[string]Seen, len(m))
		}
		for v, s := range m {
			cur, ok := b.Dims[d][v]
			if !ok {
				if len(b.Dims[d]) < maxValuesPerDim {
					b.Dims[d][v] = s.Seen
				}
				continue
			}
			if s.First.Before(cur.First) {
				cur.First = s.First
			}
			if s.Last.After(cur.Last) {
				cur.Last = s.Last
			}
			cur.Count += s.Count
			b.Dims[d][v] = cur
		}
	}
}

// LongTermKeys counts the long-term (AKIA) keys observed: those whose
// baselines are stored.
func (res *Result) LongTermKeys() int {
	n := 0
	for id := range res.obs {
		if strings.HasPrefix(id, "AKIA") {
			n++
		}
	}
	return n
}

// Keys lists the access keys observed, and their accounts (as
// AccountKey), for loading their baselines.
func (res *Result) Keys() []string {
	out := make([]string, 0, len(res.obs))
	accounts := map[string]bool{}
	for id, o := range res.obs {
		out = append(out, id)
		if isAccountID(o.account) && !accounts[o.account] {
			accounts[o.account] = true
			out = append(out, AccountKey(o.account))
		}
	}
	return out
}

// firstSeen reports values a key (or, for account-scope rules, any key of
// the account) used for the first time. A value is new when the key was
// already established before it appeared: the stored baseline knows
// other values for the key, or the key was seen in this run more than the
// rule's warm-up before the value first appeared. So the first hour of a
// key nobody has seen before is its baseline, not an alert, unless the
// store already holds a baseline for its account: then a long-term key
// new to the store is judged at once against what the account is known
// to use.
//
// A value new to the account is reported by the account-scope rule only:
// the key-scope rules watching the same thing (an account's new network is
// also the key's new address and network) stay quiet about that event.
func (res *Result) firstSeen(prior map[string]*Baseline) []*Finding {
	var out []*Finding
	covered := map[coveredBy]bool{}
	for _, c := range res.e.firstSeen {
		if c.Scope == ScopeAccount {
			out = append(out, res.accountFirstSeen(c, prior, covered)...)
		}
	}
	for _, c := range res.e.firstSeen {
		if c.Scope == ScopeAccount {
			continue
		}
		for id, o := range res.obs {
			m := o.dims[c.dim]
			if len(m) == 0 {
				continue
			}
			var known map[string]Seen
			b := prior[id]
			start := earliest(nil, m)
			if b != nil {
				start = earliest(b.Dims[c.dim], m)
			}
			judge := "key in use since " + stamp(start)
			warm := start.Add(c.Warmup)
			if b == nil && strings.HasPrefix(id, "AKIA") && isAccountID(o.account) && prior[AccountKey(o.account)] != nil {
				// A key new to the store, in an account the store knows:
				// judged against the account, with no warm-up of its own.
				b = prior[AccountKey(o.account)]
				judge = fmt.Sprintf("key new to the baseline; account %s known since %s", o.account, stamp(b.since()))
				warm = time.Time{}
			}
			if b != nil {
				known = b.Dims[c.dim]
			}
			for v, s := range m {
				if _, ok := known[v]; ok {
					continue
				}
				if !s.First.After(warm) {
					continue
				}
				if len(c.FirstEvent) > 0 && !contains(c.FirstEvent, s.firstName) {
					continue
				}
				if covered[coveredBy{id, s.firstID, c.dim, strings.Join(c.FirstEvent, ",")}] {
					continue
				}
				g := o.groupOf(s)
				f := g.finding(c, id, v)
				f.Detail = append(f.Detail, judge)
				out = append(out, f)
			}
		}
	}
	return out
}

// since is when the baseline starts: its earliest first sighting.
func (b *Baseline) since() time.Time {
	var t time.Time
	for _, m := range b.Dims {
		for _, s := range m {
			if t.IsZero() || s.First.Before(t) {
				t = s.First
			}
		}
	}
	return t
}

// earliest is the earliest first sighting among known and seen values.
func earliest(known map[string]Seen, seen map[string]*seenValue) time.Time {
	var start time.Time
	for _, s := range known {
		if start.IsZero() || s.First.Before(start) {
			start = s.First
		}
	}
	for _, s := range seen {
		if start.IsZero() || s.First.Before(start) {
			start = s.First
		}
	}
	return start
}

// coveredBy names a key-scope first-seen finding an account-scope one
// already makes: the key, the first event, the dimension and the rule's
// first_event filter.
type coveredBy struct {
	key, event string
	dim        int
	filter     string
}

// subsumes: the key dimensions a value new to the account is also new in
// (a network no key of the account used is new to the key too, and so is
// the address in it).
var subsumes = [NumDims][]int{0: {0}, 1: {0, 1}, 2: {2}, 3: {3}, 4: {4}}

// accountFirstSeen reports values no key of an account had used: each
// value once, on the key that used it first. With a stored baseline for
// the account there is no warm-up (everything the account is not known to
// use is new, whichever key brings it); without one, the account's first
// warm-up in the run is its baseline. The addresses and networks of
// sessions delivered to instances, tasks and Lambda functions are neither
// learnt nor judged (they change with every instance;
// instance-credentials rules watch them), their tools and launch regions
// are; a console session's findings belong to the session's group, and
// its browser is not a new tool.
func (res *Result) accountFirstSeen(c *compiled, prior map[string]*Baseline, covered map[coveredBy]bool) []*Finding {
	type first struct {
		id string
		o  *actorObs
		s  *seenValue
	}
	byAccount := map[string]map[string]first{}
	for id, o := range res.obs {
		if !isAccountID(o.account) {
			continue
		}
		vals := byAccount[o.account]
		if vals == nil {
			vals = map[string]first{}
			byAccount[o.account] = vals
		}
		if o.compute() && c.dim <= 1 {
			continue // see Baseline.add
		}
		for v, s := range o.dims[c.dim] {
			cur, ok := vals[v]
			if !ok || s.earlier(&cur.s.Seen, cur.s.firstID) || (s.First.Equal(cur.s.First) && s.firstID == cur.s.firstID && id < cur.id) {
				vals[v] = first{id, o, s}
			}
		}
	}
	var out []*Finding
	for acct, vals := range byAccount {
		// With a stored baseline for the account, whatever it lacks is
		// new at once (an account that never launched an instance has no
		// launch regions: its first launch is new).
		var known map[string]Seen
		var start, warm time.Time
		b := prior[AccountKey(acct)]
		if b != nil {
			known, start = b.Dims[c.dim], b.since()
		}
		judge := fmt.Sprintf("new to account %s (stored baseline since %s)", acct, stamp(start))
		if b == nil {
			for _, f := range vals {
				if start.IsZero() || f.s.First.Before(start) {
					start = f.s.First
				}
			}
			warm = start.Add(c.Warmup)
			judge = fmt.Sprintf("new to account %s (no stored baseline: judged against its use since %s)", acct, stamp(start))
		}
		for v, f := range vals {
			if _, ok := known[v]; ok || !f.s.First.After(warm) {
				continue
			}
			// A browser new to the account is a person at the console,
			// not a tool: console sessions are judged on their networks.
			if f.o.console != "" && c.dim == dimIndex(DimUserAgent) {
				continue
			}
			if len(c.FirstEvent) > 0 && !contains(c.FirstEvent, f.s.firstName) {
				continue
			}
			filter := strings.Join(c.FirstEvent, ",")
			for _, d := range subsumes[c.dim] {
				covered[coveredBy{f.id, f.s.firstID, d, filter}] = true
			}
			actor := f.id
			if f.o.console != "" {
				actor = f.o.console
			}
			fd := f.o.groupOf(f.s).finding(c, actor, v)
			fd.Detail = append(fd.Detail, judge)
			out = append(out, fd)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isInstanceSession reports whether a principal ID names a role session
// delivered to an EC2 instance: "AROA...:i-0123456789abcdef0".
func isInstanceSession(principalID string) bool {
	_, sess, ok := strings.Cut(principalID, ":")
	if !ok || !strings.HasPrefix(sess, "i-") {
		return false
	}
	id := sess[2:]
	if len(id) != 8 && len(id) != 17 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// instanceReuse reports instance credentials used from an address where a
// long-term user key was used in the same run: an instance's calls come
// from the instance, never from someone's laptop, so the credentials were
// taken off the instance (through the metadata service, SSRF, a shell).
func (res *Result) instanceReuse() []*Finding {
	if len(res.e.instance) == 0 {
		return nil
	}
	users := map[string][]string{} // address -> long-term keys
	for id, o := range res.obs {
		if !strings.HasPrefix(id, "AKIA") {
			continue
		}
		for addr := range o.dims[0] {
			users[addr] = append(users[addr], id)
		}
	}
	var out []*Finding
	for _, c := range res.e.instance {
		for id, o := range res.obs {
			if !o.instance {
				continue
			}
			for addr, s := range o.dims[0] {
				keys := users[addr]
				if len(keys) == 0 {
					continue
				}
				g := o.groupOf(s)
				f := g.finding(c, id, addr)
				redacted := make([]string, 0, len(keys))
				for _, k := range keys {
					redacted = append(redacted, RedactKey(k))
				}
				sort.Strings(redacted)
				f.Detail = append(f.Detail, "the same address used long-term key "+strings.Join(redacted, ", "))
				out = append(out, f)
			}
		}
	}
	return out
}

// observeForeign records a call of the session through another account's
// VPC endpoint (v: "ACCOUNT vpce-ID"), n events.
func (o *actorObs) observeForeign(r *cloudtrail.Record, v string, n int64) {
	if o.foreign == nil {
		o.foreign = map[string]*seenValue{}
	}
	see(o.foreign, v, r, n)
}
