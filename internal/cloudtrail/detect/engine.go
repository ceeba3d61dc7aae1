package detect

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awsipranges"
	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Options tune an engine.
type Options struct {
	// Since and Until bound event times (zero: unbounded). Events outside
	// are counted as skipped.
	Since, Until time.Time
	// Lineage remembers which keys and sessions each key made, for
	// Result.Lineage (--key); off, it costs nothing.
	Lineage bool
	// Reported is what the IAM credential report says of each user's keys
	// (ReportedUse), by user ARN: dormant rules read the last use from it
	// when the stored baseline has none. Nil: no report.
	Reported map[string]KeyUse
	// AWSRanges are AWS's published address ranges, for
	// instance-credentials-outside rules; nil means the shipped ones.
	AWSRanges *awsipranges.Set
	// KeyWeights: the records come from a query plan whose key family is
	// reduced (detect --athena): the rules that follow access keys
	// (first-seen, dormant, agent-switch, instance credentials) learn
	// only from records that say how many events they stand for
	// (cloudtrail.Record.Events), each counted that many times, whether
	// or not another query returned the same event; other records feed
	// the other rules only.
	KeyWeights bool
}

type compiled struct {
	*Rule
	idx      int
	match    matcher
	then     matcher
	evidence []*fieldGetter
	distinct []*fieldGetter
	created  []createdField
	undo     []*undoTemplate
	subject  []*fieldGetter // fact kinds: what the event names
	dim      int
}

// createdField is one thing an event creates: what it is ("access key")
// and where its name is.
type createdField struct {
	what string
	get  *fieldGetter
}

// Engine holds compiled rules. It is immutable and shared by workers.
type Engine struct {
	rules       []*compiled
	byName      map[string][]*compiled // rules that pin eventName
	always      []*compiled            // rules that look at every event
	thenBy      map[string][]*compiled // sequence rules by their Then's names
	thenAll     []*compiled
	firstSeen   []*compiled
	instance    []*compiled
	dormant     []*compiled
	agentSwitch []*compiled
	instOutside []*compiled
	opts        Options
	// seen holds the event IDs of the run, shared by its workers, so a
	// record delivered twice (real trails repeat records, in the same file
	// or another) counts once.
	seen *eventSet
}

// New compiles rules. An engine serves one run: its workers share the set
// of event IDs already counted.
func New(rules []*Rule, opts Options) (*Engine, error) {
	e := &Engine{byName: map[string][]*compiled{}, thenBy: map[string][]*compiled{}, opts: opts, seen: newEventSet()}
	for i, r := range rules {
		c := &compiled{Rule: r, idx: i, dim: -1}
		if r.Kind == KindInstanceCredentials {
			e.instance = append(e.instance, c)
			e.rules = append(e.rules, c)
			continue
		}
		if r.Kind == KindInstanceOutside {
			e.instOutside = append(e.instOutside, c)
			e.rules = append(e.rules, c)
			continue
		}
		if r.Kind == KindAgentSwitch {
			e.agentSwitch = append(e.agentSwitch, c)
			e.rules = append(e.rules, c)
			continue
		}
		if r.Kind == KindDormant {
			e.dormant = append(e.dormant, c)
			e.rules = append(e.rules, c)
			continue
		}
		if r.Kind == KindFirstSeen {
			c.dim = dimIndex(r.Dimension)
			e.firstSeen = append(e.firstSeen, c)
			e.rules = append(e.rules, c)
			continue
		}
		m, names, err := compileMatch(r.Match)
		if err != nil {
			return nil, fmt.Errorf("rule %s: match: %w", r.ID, err)
		}
		c.match = m
		if len(names) == 0 {
			e.always = append(e.always, c)
		}
		// A name pinned by several alternatives of an `any` indexes the
		// rule once: applied twice, it would count each event twice.
		seen := map[string]bool{}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				e.byName[n] = append(e.byName[n], c)
			}
		}
		if r.Kind == KindSequence {
			t, tnames, err := compileMatch(r.Then)
			if err != nil {
				return nil, fmt.Errorf("rule %s: then: %w", r.ID, err)
			}
			c.then = t
			if len(tnames) == 0 {
				e.thenAll = append(e.thenAll, c)
			}
			tseen := map[string]bool{}
			for _, n := range tnames {
				if !tseen[n] {
					tseen[n] = true
					e.thenBy[n] = append(e.thenBy[n], c)
				}
			}
		}
		for _, f := range r.Evidence {
			g, _ := getter(f)
			c.evidence = append(c.evidence, g)
		}
		for _, cr := range r.Created {
			what, f, _ := strings.Cut(cr, "=")
			g, _ := getter(f)
			c.created = append(c.created, createdField{what, g})
		}
		for _, u := range r.Undo {
			t, _ := compileUndo(u)
			c.undo = append(c.undo, t)
		}
		if r.Distinct != "" {
			for _, f := range strings.Split(r.Distinct, "|") {
				g, _ := getter(f)
				c.distinct = append(c.distinct, g)
			}
		}
		for _, f := range strings.Split(r.subjectFields(), "|") {
			if f != "" {
				g, _ := getter(f)
				c.subject = append(c.subject, g)
			}
		}
		e.rules = append(e.rules, c)
	}
	return e, nil
}

// Rules returns the engine's rules in file order.
func (e *Engine) Rules() []*Rule {
	out := make([]*Rule, len(e.rules))
	for i, c := range e.rules {
		out[i] = c.Rule
	}
	return out
}

// seqStarts are the times a sequence rule's first event was seen.
type seqStarts struct{ t []time.Time }

// groupKey identifies a finding under construction.
type groupKey struct {
	rule   int
	actor  string
	value  string // first-seen value
	bucket int64  // burst window index
}

// Worker observes records for one goroutine. Workers are merged at the end.
type Worker struct {
	e        *Engine
	groups   map[groupKey]*group
	obs      map[string]*actorObs
	seqFirst map[groupKey]*seqStarts
	seqThen  map[groupKey]*burstBucket // bucket = seqSlot
	windows  map[groupKey]*burstBucket
	intern   map[string]string
	scratch  []byte
	derived  map[string]string // key or session -> the actor that made it
	// facts: what the run learnt about buckets, roles and keys (facts.go);
	// factsFull: some were not kept, past maxFacts.
	facts     facts
	factsFull bool
	Seen      int64 // records observed
	Skipped   int64 // records outside Since/Until
	// Duplicates counts records whose event ID had already been counted.
	Duplicates int64
}

// NewWorker returns a fresh worker.
func (e *Engine) NewWorker() *Worker {
	return &Worker{e: e, groups: map[groupKey]*group{}, obs: map[string]*actorObs{},
		seqFirst: map[groupKey]*seqStarts{}, seqThen: map[groupKey]*burstBucket{},
		windows: map[groupKey]*burstBucket{}, intern: map[string]string{}, derived: map[string]string{},
		facts: facts{}}
}

// Observe evaluates one record. It copies whatever it keeps, so the
// record may be reused after the call.
func (w *Worker) Observe(r *cloudtrail.Record) {
	e := w.e
	if (!e.opts.Since.IsZero() && r.EventTime.Before(e.opts.Since)) || (!e.opts.Until.IsZero() && !r.EventTime.Before(e.opts.Until)) {
		w.Skipped++
		return
	}
	keyRules := len(e.firstSeen) > 0 || len(e.instance) > 0 || len(e.dormant) > 0 || len(e.agentSwitch) > 0 || len(e.instOutside) > 0
	if keyRules && e.opts.KeyWeights && r.Events > 0 {
		// The reduced query's rows are distinct events of its own;
		// the same event in another query's rows is not counted twice
		// here, as the key rules skip those.
		w.observeFirstSeen(r, r.Events)
	}
	if r.EventID != "" && !e.seen.add(r.EventID, r.EventName, r.EventTime) {
		w.Duplicates++
		return
	}
	w.Seen++
	for _, c := range e.byName[r.EventName] {
		w.apply(c, r)
	}
	for _, c := range e.always {
		w.apply(c, r)
	}
	if len(e.thenBy) > 0 || len(e.thenAll) > 0 {
		for _, c := range e.thenBy[r.EventName] {
			w.applyThen(c, r)
		}
		for _, c := range e.thenAll {
			w.applyThen(c, r)
		}
	}
	if keyRules && !e.opts.KeyWeights {
		w.observeFirstSeen(r, 1)
	}
	if e.opts.Lineage && cloudtrail.MintedKeyPath(r.EventName) != nil && r.UserIdentity.AccessKeyID != "" && r.ErrorCode == "" {
		w.observeDerived(r)
	}
	if learners()[r.EventName] != nil && r.ErrorCode == "" {
		w.facts.learn(r)
		w.factsFull = w.factsFull || len(w.facts) >= maxFacts
	}
}

func mustGetter(name string) *fieldGetter {
	g, err := getter(name)
	if err != nil {
		panic(err)
	}
	return g
}

// maxDerived bounds the credentials remembered as made by another key.
const maxDerived = 1 << 17

func (w *Worker) observeDerived(r *cloudtrail.Record) {
	if len(w.derived) >= maxDerived {
		return
	}
	parent := r.Actor()
	cloudtrail.EachValue(r.ResponseElements, cloudtrail.MintedKeyPath(r.EventName), func(child string) bool {
		if child != "" && child != parent && len(child) <= 128 {
			if _, ok := w.derived[child]; !ok {
				w.derived[strings.Clone(child)] = strings.Clone(parent)
			}
		}
		return false
	})
}

func (w *Worker) apply(c *compiled, r *cloudtrail.Record) {
	if !c.match(r) {
		return
	}
	actor := r.Actor()
	switch c.Kind {
	case KindMatch:
		w.add(groupKey{rule: c.idx, actor: actor}, c, r)
	case KindLogBucket, KindAdminRole, KindKeyInUse:
		// One group per subject the event names, judged once the facts
		// of every worker are merged.
		for _, g := range c.subject {
			g.each(r, func(v string) bool {
				if v != "" && len(v) <= maxFactLen {
					w.add(groupKey{rule: c.idx, actor: actor, value: subjectRef(c.Kind, g.name, v)}, c, r)
				}
				return true
			})
		}
	case KindBurst:
		w.addBurst(c, r, actor)
	case KindSequence:
		// Maps are only ever assigned new keys (cloned): assigning to an
		// existing key would replace the stored key with actor, which
		// aliases the reader's buffer.
		k := groupKey{rule: c.idx, actor: actor}
		ts, ok := w.seqFirst[k]
		if !ok {
			k.actor = strings.Clone(actor)
			ts = &seqStarts{}
			w.seqFirst[k] = ts
		}
		if len(ts.t) < 1000 {
			ts.t = append(ts.t, r.EventTime)
		}
		// The triggering event is evidence too.
		w.add(groupKey{rule: c.idx, actor: actor, value: "first"}, c, r)
	}
}

// seqSlot is the width of the windows a sequence's follow-up events are
// counted in: compact counters, so a trail full of S3 data events costs
// one small bucket per key and five minutes.
const seqSlot = 5 * 60

func (w *Worker) applyThen(c *compiled, r *cloudtrail.Record) {
	if !c.then(r) {
		return
	}
	w.addBucket(w.seqThen, groupKey{rule: c.idx, actor: r.Actor(), bucket: r.EventTime.Unix() / seqSlot}, r)
}

func (w *Worker) add(k groupKey, c *compiled, r *cloudtrail.Record) *group {
	g, ok := w.groups[k]
	if !ok {
		k.actor = strings.Clone(k.actor)
		k.value = strings.Clone(k.value)
		g = newGroup(c, r)
		w.groups[k] = g
	}
	g.addRecord(c, r)
	return g
}

// Result is the merged observation of every worker.
type Result struct {
	e          *Engine
	groups     map[groupKey]*group
	obs        map[string]*actorObs
	seqFirst   map[groupKey][]time.Time
	seqThen    map[groupKey]*burstBucket
	windows    map[groupKey]*burstBucket
	derived    map[string]string
	facts      facts
	Seen       int64
	Skipped    int64
	Duplicates int64
	// DedupFull says the run held more distinct events than the
	// duplicate check remembers (MaxDedupEvents): later duplicates were
	// counted twice.
	DedupFull bool
	// FactsFull says a worker learnt more facts about buckets, roles and
	// keys than it keeps (MaxFacts): later ones were not learnt, and the
	// rules judged by them may have missed events.
	FactsFull bool
}

// MaxFacts is how many facts a worker keeps.
const MaxFacts = maxFacts

// MaxDedupEvents is how many distinct events a run checks for duplicates.
const MaxDedupEvents = maxEvents

// Merge combines workers' observations.
func (e *Engine) Merge(ws ...*Worker) *Result {
	res := &Result{e: e, groups: map[groupKey]*group{}, obs: map[string]*actorObs{},
		seqFirst: map[groupKey][]time.Time{}, seqThen: map[groupKey]*burstBucket{}, windows: map[groupKey]*burstBucket{},
		derived: map[string]string{}, facts: facts{}}
	for _, w := range ws {
		res.facts.merge(w.facts)
		res.FactsFull = res.FactsFull || w.factsFull
		for k, v := range w.derived {
			if _, ok := res.derived[k]; !ok {
				res.derived[k] = v
			}
		}
		res.Seen += w.Seen
		res.Skipped += w.Skipped
		res.Duplicates += w.Duplicates
		res.DedupFull = e.seen.full.Load()
		mergeGroups(res.groups, w.groups)
		mergeBuckets(res.seqThen, w.seqThen)
		mergeBuckets(res.windows, w.windows)
		for k, ts := range w.seqFirst {
			res.seqFirst[k] = append(res.seqFirst[k], ts.t...)
		}
		for a, o := range w.obs {
			if cur, ok := res.obs[a]; ok {
				cur.merge(o)
			} else {
				res.obs[a] = o
			}
		}
	}
	return res
}

func mergeBuckets(dst, src map[groupKey]*burstBucket) {
	for k, b := range src {
		if cur, ok := dst[k]; ok {
			cur.merge(b)
		} else {
			dst[k] = b
		}
	}
}

func mergeGroups(dst, src map[groupKey]*group) {
	for k, g := range src {
		if cur, ok := dst[k]; ok {
			cur.merge(g)
		} else {
			dst[k] = g
		}
	}
}

// Findings turns the observations into findings, judging first-seen
// values against prior (the stored baseline; nil for none). Findings are
// sorted by actor, severity (highest first), rule and time.
func (res *Result) Findings(prior map[string]*Baseline) []*Finding {
	e := res.e
	var out []*Finding
	for k, g := range res.groups {
		c := e.rules[k.rule]
		switch c.Kind {
		case KindMatch:
			out = append(out, g.finding(c, k.actor, ""))
		case KindLogBucket, KindAdminRole, KindKeyInUse:
			if why, ok := res.facts.judge(c.Kind, k.value); ok {
				f := g.finding(c, k.actor, "")
				f.Detail = append(f.Detail, why)
				out = append(out, f)
			}
		}
	}
	out = append(out, res.bursts()...)
	out = append(out, res.sequences()...)
	out = append(out, res.firstSeen(prior)...)
	out = append(out, res.instanceReuse()...)
	out = append(out, res.instanceOutside()...)
	out = append(out, res.dormant(prior)...)
	out = append(out, res.agentSwitches(prior)...)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Actor != b.Actor {
			return a.Actor < b.Actor
		}
		if a.Rule.Severity != b.Rule.Severity {
			return a.Rule.Severity > b.Rule.Severity
		}
		if a.Rule.ID != b.Rule.ID {
			return a.Rule.ID < b.Rule.ID
		}
		if !a.First.Equal(b.First) {
			return a.First.Before(b.First)
		}
		return a.Value < b.Value
	})
	return out
}

// sequences reports actors with an event matching Match followed, within
// Window, by at least Threshold events matching Then.
func (res *Result) sequences() []*Finding {
	var out []*Finding
	for k, firsts := range res.seqFirst {
		c := res.e.rules[k.rule]
		sort.Slice(firsts, func(i, j int) bool { return firsts[i].Before(firsts[j]) })
		var hit []*burstBucket
		var hitFirst time.Time
		thenCount := 0
		for _, t := range firsts {
			var win []*burstBucket
			n := 0
			for m := t.Unix() / seqSlot; m <= t.Add(c.Window).Unix()/seqSlot; m++ {
				if b, ok := res.seqThen[groupKey{rule: k.rule, actor: k.actor, bucket: m}]; ok {
					win = append(win, b)
					n += int(b.count)
				}
			}
			if n >= c.Threshold {
				hit, hitFirst, thenCount = win, t, n
				break
			}
		}
		if hit == nil {
			continue
		}
		// Evidence: the first events (all kept) and the first follow-up
		// event of each five-minute slot.
		g := &group{}
		if fg, ok := res.groups[groupKey{rule: k.rule, actor: k.actor, value: "first"}]; ok {
			g = fg.clone()
		}
		for _, b := range hit {
			g.addBucket(b)
		}
		f := g.finding(c, k.actor, "")
		f.Detail = append(f.Detail, fmt.Sprintf("%d matching events within %s of %s", thenCount, c.Window, hitFirst.Format(time.RFC3339)))
		out = append(out, f)
	}
	return out
}

// Lineage returns key and every key or session derived from it in the
// run (keys it created, sessions it obtained, and theirs in turn), for
// --key. Console sessions signed in with a derived key's sign-in token are
// not traced.
func (res *Result) Lineage(key string) map[string]bool {
	out := map[string]bool{key: true}
	children := map[string][]string{}
	for child, parent := range res.derived {
		children[parent] = append(children[parent], child)
	}
	queue := []string{key}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, c := range children[k] {
			if !out[c] {
				out[c] = true
				queue = append(queue, c)
			}
		}
	}
	return out
}

// FilterActors keeps the findings whose actor is in keep.
func FilterActors(fs []*Finding, keep map[string]bool) []*Finding {
	var out []*Finding
	for _, f := range fs {
		if keep[f.Actor] || (f.KeyID != "" && keep[f.KeyID]) {
			out = append(out, f)
		}
	}
	return out
}
