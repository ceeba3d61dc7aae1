package athena

import (
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// The key family's reduction.
//
// The rules that follow access keys (first-seen, dormant, agent-switch,
// instance-credentials-*) remember, per key, each value of a few of the
// event's attributes (address, network, region, tool, launch region, the
// VPC endpoint of another account, the UTC day for dormancy) with the
// first event that brought it (time, then event ID), the last time and
// how many events: detect.actorObs. Two events of a key that agree on
// every column those come from (the raw columns, so the grouping is never
// coarser than what Go derives from them) bring the same values: within
// such a group only the first event (which may be any value's first
// event), the last one (any value's last time) and the group's size
// matter. So the query returns, per group, its first and last event; the
// first carries the group's size less one for the last
// (cloudtrail.Record.Events), and the engine (detect.Options.KeyWeights)
// counts each row that many times. Counts, first and last times, first
// events and the stored baseline's update are the local engine's.
//
// Rows SQL cannot order exactly like Go (an eventTime not in CloudTrail's
// own yyyy-MM-ddTHH:mm:ssZ form, or before 1970) are returned whole, one
// event each. Duplicate deliveries of an event (same event ID, name and
// time: the engine's duplicate check) are counted once, as Go does; when
// the copies differ in other columns, which copy is kept is SQL's choice
// (Go's is the first read, itself an order of workers).

// keyReduction is the key family's reduction; Days groups by UTC day too
// (dormant rules count days of use).
type keyReduction struct {
	Days bool
}

// EventsColumn is the result column holding how many events a row of a
// reduced query stands for (NULL: one event, read as is).
const EventsColumn = "kw_events"

// strictTimeSQL holds for rows whose time SQL reads exactly as Go does:
// CloudTrail's own yyyy-MM-ddTHH:mm:ssZ (Go's fast path parses exactly
// these when the date exists, which from_iso8601_timestamp checks too),
// from 1970 on (Go's integer division of Unix seconds is SQL's floor).
const strictTimeSQL = "(regexp_like(" + "COALESCE(eventtime, '')" + ", '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$') AND " +
	epochSQL + " IS NOT NULL AND " + epochSQL + " >= 0)"

// group is what two events must agree on to be interchangeable for the
// key rules (observeFirstSeen reads nothing else but the time and the
// first event's own fields), over the inner query's result columns.
func (k keyReduction) group() []string {
	g := []string{
		col("ui_accesskeyid"),
		// address, network, instance-outside addresses, console actor
		col("sourceipaddress"),
		// region (unless a regionless service) and launch region
		col("awsregion"),
		"(" + col("eventsource") + " IN (" + list(detect.RegionlessSources(), str) + "))",
		"(" + col("eventname") + " = 'RunInstances' AND " + col("errorcode") + " = '' AND " + col("eventsource") + " = 'ec2.amazonaws.com')",
		// tool family, Lambda mark
		col("useragent"),
		// principal, account, instance or task session
		col("ui_arn"), col("ui_principalid"), col("ui_invokedby"), col("ui_type"),
		col("ui_accountid"), col("recipientaccountid"),
		// console session
		consoleSQL,
		// another account's VPC endpoint
		col("vpcendpointaccountid"), col("vpcendpointid"),
		"kw_ok",
	}
	if k.Days {
		g = append(g, "(CASE WHEN kw_ok THEN floor(kw_e / 86400) END)")
	}
	return g
}

// sql is the reduced key query: dedupe, group, keep each group's first
// and last event.
func (k keyReduction) sql(from, where string, w Window) string {
	// The engine skips events outside Since/Until before the key rules
	// see them: so does the query, or a group's first event might be
	// one the engine drops.
	// (Other rows are returned whole: Go reads their times.)
	inWindow := epochSQL + " >= " + seconds(w.Since)
	if !w.Until.IsZero() {
		inWindow += " AND " + epochSQL + " < " + seconds(w.Until)
	}
	inner := append(append([]string{}, baseSelect...),
		epochSQL+" AS kw_e",
		strictTimeSQL+" AS kw_ok",
		"row_number() OVER (PARTITION BY "+col("eventid")+", "+col("eventname")+", "+col("eventtime")+
			" ORDER BY "+col("sourceipaddress")+", "+col("useragent")+", "+col("awsregion")+", "+col("useridentity.arn")+") AS kw_dup")
	scan := "SELECT " + strings.Join(inner, ",\n  ") + from + "\nWHERE " + where + "\n  AND (NOT " + strictTimeSQL + " OR (" + inWindow + "))"
	part := "PARTITION BY " + strings.Join(k.group(), ", ")
	counted := "SELECT kw1.*,\n  count(*) OVER (" + part + ") AS kw_n,\n" +
		"  row_number() OVER (" + part + " ORDER BY kw_e, " + col("eventid") + ") AS kw_f,\n" +
		"  row_number() OVER (" + part + " ORDER BY kw_e DESC, " + col("eventid") + " DESC) AS kw_l\n" +
		"FROM (\n" + scan + "\n) kw1\nWHERE kw_dup = 1 OR " + col("eventid") + " = ''"
	events := "CAST((CASE WHEN NOT kw_ok OR kw_n = 1 OR kw_f > 1 THEN 1 ELSE kw_n - 1 END) AS VARCHAR) AS " + EventsColumn
	return "SELECT " + strings.Join(baseColumns, ", ") + ", " + events + "\nFROM (\n" + counted + "\n) kw2\nWHERE NOT kw_ok OR kw_f = 1 OR kw_l = 1"
}

// seconds is t as Unix seconds, a SQL number.
func seconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
}

// Weighted says the family's rows carry their EventsColumn counts: the
// engine must be run with detect.Options.KeyWeights.
func (f Family) Weighted() bool { return f.Key != nil }
