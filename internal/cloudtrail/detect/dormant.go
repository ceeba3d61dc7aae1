package detect

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/inventory"
)

// maxDaysPerKey bounds the days remembered per key (eleven years of daily
// use); a key is judged on the days it has.
const maxDaysPerKey = 4096

// activeDay is one UTC day a key was used: its earliest event (kept for
// the finding) and its latest time.
type activeDay struct {
	first seenValue
	last  time.Time
}

// observeDay records the day of a long-term key's event (n events), for
// dormancy.
func (o *actorObs) observeDay(r *cloudtrail.Record, n int64) {
	t := r.EventTime
	day := int32(t.Unix() / 86400)
	d, ok := o.days[day]
	if !ok {
		if len(o.days) >= maxDaysPerKey {
			return
		}
		if o.days == nil {
			o.days = map[int32]*activeDay{}
		}
		d = &activeDay{first: seenValue{Seen: Seen{First: t, Last: t}}, last: t}
		d.first.setFirst(r)
		o.days[day] = d
	} else if t.Before(d.first.First) || (t.Equal(d.first.First) && r.EventID < d.first.firstID) {
		d.first.First = t
		d.first.setFirst(r)
	}
	if t.After(d.last) {
		d.last = t
	}
	d.first.Count += n
}

func (o *actorObs) mergeDays(x *actorObs) {
	for day, xd := range x.days {
		d, ok := o.days[day]
		if !ok {
			if len(o.days) < maxDaysPerKey {
				if o.days == nil {
					o.days = map[int32]*activeDay{}
				}
				o.days[day] = xd
			}
			continue
		}
		if xd.first.earlier(&d.first.Seen, d.first.firstID) {
			count := d.first.Count
			d.first = xd.first
			d.first.Count = count
		}
		d.first.Count += xd.first.Count
		if xd.last.After(d.last) {
			d.last = xd.last
		}
	}
}

// lastSeen is the latest time a stored baseline saw the key, zero when
// there is none.
func lastSeen(b *Baseline) time.Time {
	var last time.Time
	if b == nil {
		return last
	}
	for _, m := range b.Dims {
		for _, s := range m {
			if s.Last.After(last) {
				last = s.Last
			}
		}
	}
	return last
}

// dormant reports long-term keys used again after at least the rule's
// window without use: measured from the stored baseline's last use to the
// run's first event, and between the days of this run.
func (res *Result) dormant(prior map[string]*Baseline) []*Finding {
	var out []*Finding
	for _, c := range res.e.dormant {
		for id, o := range res.obs {
			if !strings.HasPrefix(id, "AKIA") || len(o.days) == 0 {
				continue
			}
			days := make([]int32, 0, len(o.days))
			for d := range o.days {
				days = append(days, d)
			}
			sort.Slice(days, func(i, j int) bool { return days[i] < days[j] })
			prev := lastSeen(prior[id])
			how := "last used %s"
			// The credential report's date counts when it is from before
			// the run's first event (a report taken later shows this
			// run's own use) and later than the stored last use.
			if u, ok := res.e.opts.Reported[o.principal]; ok {
				runStart := o.days[days[0]].first.First
				switch {
				case !u.Never && u.LastUsed.Before(runStart) && u.LastUsed.After(prev):
					prev, how = u.LastUsed, "last used %s, per the credential report"
				case u.Never && prev.IsZero() && u.Created.Before(runStart):
					prev, how = u.Created, "never used since created %s, per the credential report"
				}
			}
			for _, day := range days {
				d := o.days[day]
				if !prev.IsZero() && d.first.First.Sub(prev) >= c.Window {
					s := d.first
					f := o.groupOf(&s).finding(c, id, s.First.UTC().Format("2006-01-02"))
					f.Detail = append(f.Detail, fmt.Sprintf("unused for %d days before ("+how+")", int(d.first.First.Sub(prev).Hours()/24), stamp(prev)))
					out = append(out, f)
				}
				if d.last.After(prev) {
					prev, how = d.last, "last used %s"
				}
			}
		}
	}
	return out
}

// agentSwitches reports keys that took up at least Threshold tools (user
// agent families) within Window: read from the first-seen record of each
// family, so it costs no memory of its own. Families the stored baseline
// already knows for the key do not count.
func (res *Result) agentSwitches(prior map[string]*Baseline) []*Finding {
	var out []*Finding
	dim := dimIndex(DimUserAgent)
	for _, c := range res.e.agentSwitch {
		for id, o := range res.obs {
			if !strings.HasPrefix(id, "AKIA") || len(o.dims[dim]) < c.Threshold {
				continue
			}
			var known map[string]Seen
			if b := prior[id]; b != nil {
				known = b.Dims[dim]
			}
			type fam struct {
				name string
				s    *seenValue
			}
			var fams []fam
			for v, s := range o.dims[dim] {
				if _, ok := known[v]; !ok {
					fams = append(fams, fam{v, s})
				}
			}
			sort.Slice(fams, func(i, j int) bool {
				if !fams[i].s.First.Equal(fams[j].s.First) {
					return fams[i].s.First.Before(fams[j].s.First)
				}
				return fams[i].name < fams[j].name
			})
			for i := 0; i+c.Threshold <= len(fams); i++ {
				j := i + c.Threshold - 1
				if fams[j].s.First.Sub(fams[i].s.First) > c.Window {
					continue
				}
				g := &group{keyID: o.keyID, principal: o.principal, account: o.account}
				names := []string{}
				for _, f := range fams[i : j+1] {
					g.merge(o.groupOf(f.s))
					names = append(names, f.name)
				}
				f := g.finding(c, id, "")
				f.Detail = append(f.Detail, fmt.Sprintf("tools taken up within %s: %s", fams[j].s.First.Sub(fams[i].s.First), strings.Join(names, ", ")))
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// KeyUse is what an IAM credential report says of one user's access keys:
// when the user's most recently used key was last used, or, when none of
// them was ever used, when the newest was created.
type KeyUse struct {
	LastUsed time.Time
	// Never: no key of the user was ever used; Created is then the
	// newest key's creation.
	Never   bool
	Created time.Time
}

// ReportedUse reads the keys' last use from a parsed credential report,
// by user ARN. The report names no key IDs, only the user's slots: with
// two keys, the user's latest use counts for both (a dormant key beside a
// busy one is missed rather than a busy key called dormant). Users with
// keys whose use is unknown (no_information, a report from before 2015
// without the column) are left out and counted in skipped.
func ReportedUse(rep *inventory.CredentialReport) (use map[string]KeyUse, skipped int) {
	out := map[string]KeyUse{}
	if rep == nil {
		return out, 0
	}
	for _, row := range rep.Rows {
		if row.ARN == "" || len(row.Keys) == 0 {
			continue
		}
		if !rep.HasLastUsed {
			skipped++
			continue
		}
		u := KeyUse{Never: true}
		known := true
		for _, k := range row.Keys {
			switch k.LastUsedState {
			case inventory.UsageUsed:
				u.Never = false
				if k.LastUsed.After(u.LastUsed) {
					u.LastUsed = k.LastUsed
				}
			case inventory.UsageNever:
				if k.Created.After(u.Created) {
					u.Created = k.Created
				}
			default:
				known = false
			}
		}
		if !known || (u.Never && u.Created.IsZero()) {
			skipped++
			continue
		}
		out[row.ARN] = u
	}
	return out, skipped
}
