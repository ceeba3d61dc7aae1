package athena

import (
	"fmt"
	"strconv"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// Sequences reduced in SQL.
//
// The engine keeps, per sequence rule and actor, the time of every event
// its match block accepts (all of them are evidence: they are all
// returned), and counts the events its then block accepts in five-minute
// slots; a first event at t counts the slots from t's to t+window's. A
// follow-up event in slot s can therefore count only when the actor has
// a first event t with slot(t) <= s <= slot(t+window); the latest such t
// (the latest first event in a slot up to s) decides, since slot(t+window)
// grows with t. The query computes it with a window function over the
// actor's events ordered by slot and returns a then-block row only when
// it may count. Rows whose time SQL cannot read as Go does, and every
// follow-up of an actor with such a first event, are returned whole. The
// match condition is the compiler's superset of Go's, so an event SQL
// takes for a first event that Go does not only keeps more rows.

// seqSlot is the engine's slot width (detect's seqSlot), in seconds.
const seqSlot = 5 * 60

// seqFilter reduces a sequence rule's follow-up rows.
type seqFilter struct {
	Rule        string
	First, Then string
	Window      time.Duration
}

// sequenceFilter is the reduction of a sequence rule's then block (cond),
// its match block compiled as first.
func sequenceFilter(r *detect.Rule, first, cond string) seqFilter {
	return seqFilter{Rule: r.ID, First: first, Then: cond, Window: r.Window}
}

// columns are the inner query's columns for sequence i and the outer
// condition returning its rows.
func (s seqFilter) columns(i int) (inner []string, outer string) {
	slot := fmt.Sprintf("floor(%s / %d)", epochSQL, seqSlot)
	inner = []string{
		fmt.Sprintf("(%s) AS kw_t%d", s.Then, i),
		// The latest first event in a slot up to this row's.
		fmt.Sprintf("max(CASE WHEN (%s) AND %s THEN floor(%s) END) OVER (PARTITION BY %s ORDER BY %s RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS kw_q%d",
			s.First, strictTimeSQL, epochSQL, actorSQL, slot, i),
		// First events whose time SQL cannot place.
		fmt.Sprintf("count(CASE WHEN (%s) AND NOT %s THEN 1 END) OVER (PARTITION BY %s) AS kw_u%d", s.First, strictTimeSQL, actorSQL, i),
	}
	w := strconv.FormatFloat(s.Window.Seconds(), 'f', -1, 64)
	outer = fmt.Sprintf("(kw_t%[1]d AND (NOT kw_ok OR kw_u%[1]d > 0 OR floor(kw_e / %[2]d) <= floor((kw_q%[1]d + %[3]s) / %[2]d)))", i, seqSlot, w)
	return inner, outer
}
