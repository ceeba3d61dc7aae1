package detect

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Burst rules count events per key in fixed windows. A window is kept
// compact (a count, its time span, one event id, the first source and
// region, and distinct values up to the threshold) because there is one per
// key, rule and window over the whole period swept: months of logs for a
// busy key are thousands of windows. Only a window that reaches the
// threshold gets a full group of evidence.
type burstBucket struct {
	count       int32
	capped      bool  // a distinct value was dropped at the cap
	first, last int64 // unix seconds
	firstID     string
	source      string
	region      string
	name        string
	keyID       string
	principal   string
	account     string
	distinct    []string // capped at distinctCap
	full        *group   // evidence, once the window alone reached the threshold
}

func (b *burstBucket) size(c *compiled) int {
	if len(c.distinct) > 0 {
		return len(b.distinct)
	}
	return int(b.count)
}

// distinctCap is how many distinct values a window remembers: enough to
// decide the threshold and to show a sample.
func distinctCap(c *compiled) int { return max(c.Threshold, maxSamples) }

// addDistinct remembers v among the window's distinct values. A full list
// keeps the smallest values, not the first ones: which values (and so how
// many after merging workers) a window holds then does not depend on the
// order events arrived in or on how files were spread over workers.
func (b *burstBucket) addDistinct(v string, limit int) {
	top := -1
	for i, x := range b.distinct {
		if x == v {
			return
		}
		if top < 0 || x > b.distinct[top] {
			top = i
		}
	}
	switch {
	case len(b.distinct) < limit:
		b.distinct = append(b.distinct, strings.Clone(v))
	case top >= 0 && v < b.distinct[top]:
		b.distinct[top] = strings.Clone(v)
		b.capped = true
	default:
		b.capped = true
	}
}

func (b *burstBucket) merge(o *burstBucket) {
	b.count += o.count
	if b.count == o.count || o.first < b.first {
		b.first, b.firstID, b.source, b.region, b.name = o.first, o.firstID, o.source, o.region, o.name
		b.keyID, b.principal, b.account = o.keyID, o.principal, o.account
	}
	if o.last > b.last {
		b.last = o.last
	}
	for _, v := range o.distinct {
		b.addDistinct(v, 1<<20)
	}
	b.capped = b.capped || o.capped
	switch {
	case b.full == nil:
		b.full = o.full
	case o.full != nil:
		b.full.merge(o.full)
	}
}

// in returns s as an interned copy: the same addresses and regions recur
// in thousands of windows.
func (w *Worker) in(s string) string {
	if v, ok := w.intern[s]; ok {
		return v
	}
	if len(w.intern) > 100000 {
		return strings.Clone(s)
	}
	v := strings.Clone(s)
	w.intern[v] = v
	return v
}

func (w *Worker) addBurst(c *compiled, r *cloudtrail.Record, actor string) {
	b := w.addBucket(w.windows, groupKey{rule: c.idx, actor: actor, bucket: r.EventTime.UnixNano() / int64(c.Window)}, r)
	limit := distinctCap(c)
	for _, d := range c.distinct {
		d.each(r, func(v string) bool {
			b.addDistinct(v, limit)
			return true
		})
	}
	if b.full == nil && b.size(c) >= c.Threshold {
		b.full = newGroup(c, r)
	}
	if b.full != nil {
		b.full.addRecord(c, r)
	}
}

// addBucket counts r in the compact bucket k of m.
func (w *Worker) addBucket(m map[groupKey]*burstBucket, k groupKey, r *cloudtrail.Record) *burstBucket {
	t := r.EventTime.Unix()
	b, ok := m[k]
	if !ok {
		k.actor = w.in(k.actor)
		b = &burstBucket{first: t, last: t, firstID: strings.Clone(r.EventID), source: w.in(r.SourceIPAddress), region: w.in(r.AWSRegion), name: w.in(r.EventName),
			keyID: w.in(r.UserIdentity.AccessKeyID), principal: w.in(r.Principal()), account: w.in(account(r))}
		m[k] = b
	} else {
		if t < b.first {
			b.first, b.firstID, b.source, b.region, b.name = t, strings.Clone(r.EventID), w.in(r.SourceIPAddress), w.in(r.AWSRegion), w.in(r.EventName)
		}
		if t > b.last {
			b.last = t
		}
	}
	b.count++
	return b
}

// addBucket adds a compact bucket's summary (count, span, first event) to
// a finding's evidence.
func (g *group) addBucket(b *burstBucket) {
	if b.full != nil {
		n := g.count
		g.merge(b.full) // samples only: the bucket's count is the total
		g.count = n
	}
	g.count += int(b.count)
	ft := time.Unix(b.first, 0).UTC()
	g.addEvent(ft, b.firstID)
	g.sources = addSample(g.sources, b.source)
	g.regions = addSample(g.regions, b.region)
	g.names = addSample(g.names, b.name)
	if g.first.IsZero() || ft.Before(g.first) {
		g.first = ft
	}
	if lt := time.Unix(b.last, 0).UTC(); lt.After(g.last) {
		g.last = lt
	}
	if g.keyID == "" {
		g.keyID = b.keyID
	}
	if g.principal == "" {
		g.principal, g.account = b.principal, b.account
	}
}

// bursts reports, per rule and actor, the windows that reach the
// threshold, alone or with the window before (so a burst straddling a
// window boundary is not missed).
func (res *Result) bursts() []*Finding {
	type ra struct {
		rule  int
		actor string
	}
	byActor := map[ra][]groupKey{}
	for k := range res.windows {
		byActor[ra{k.rule, k.actor}] = append(byActor[ra{k.rule, k.actor}], k)
	}
	var out []*Finding
	for key, ks := range byActor {
		c := res.e.rules[key.rule]
		sort.Slice(ks, func(i, j int) bool { return ks[i].bucket < ks[j].bucket })
		var hit []*burstBucket
		taken := map[int64]bool{}
		take := func(k groupKey) {
			if !taken[k.bucket] {
				taken[k.bucket] = true
				hit = append(hit, res.windows[k])
			}
		}
		for i, k := range ks {
			b := res.windows[k]
			if b.size(c) >= c.Threshold {
				take(k)
				continue
			}
			if i > 0 && ks[i-1].bucket == k.bucket-1 {
				pair := &burstBucket{}
				pair.merge(res.windows[ks[i-1]])
				pair.full = nil
				pair.merge(&burstBucket{count: b.count, first: b.first, last: b.last, distinct: b.distinct})
				if pair.size(c) >= c.Threshold {
					take(ks[i-1])
					take(k)
				}
			}
		}
		if len(hit) == 0 {
			continue
		}
		// Evidence: the full groups of windows that reached the threshold
		// alone, plus each window's first event.
		g := &group{}
		for _, b := range hit {
			g.addBucket(b)
		}
		f := g.finding(c, key.actor, "")
		if len(c.distinct) > 0 {
			vals := map[string]struct{}{}
			for _, b := range hit {
				for _, v := range b.distinct {
					vals[v] = struct{}{}
				}
			}
			list := make([]string, 0, len(vals))
			for v := range vals {
				list = append(list, v)
			}
			sort.Strings(list)
			more := ""
			if len(list) > 5 {
				more = ", ..."
				list = list[:5]
			}
			count := distinctCount(hit, distinctCap(c))
			f.Detail = append(f.Detail, count+" distinct "+c.Distinct+" in one window: "+strings.Join(list, ", ")+more)
		}
		out = append(out, f)
	}
	return out
}

// distinctCount says how many distinct values the busiest window held.
// Each worker remembers at most limit values per window, so once a value
// was dropped the merged count is only a lower bound, and one that depends
// on how files were spread over workers: it is then "at least" the limit,
// which is true and the same in every run.
func distinctCount(bs []*burstBucket, limit int) string {
	m := 0
	for _, b := range bs {
		if b.capped || len(b.distinct) > limit {
			return "at least " + itoa(limit)
		}
		m = max(m, len(b.distinct))
	}
	return itoa(m)
}

func itoa(n int) string { return strconv.Itoa(n) }
