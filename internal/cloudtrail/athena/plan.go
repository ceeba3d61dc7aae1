package athena

import (
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// Families of rules, each one query.
const (
	// FamilyMatch: rules whose findings depend only on the events their
	// match (and then) blocks accept: match, log-bucket, burst and
	// sequence. One query returns the rows any of them might accept.
	FamilyMatch = "match"
	// FamilyKey: rules that follow each access key through all its calls
	// (first-seen, dormant, agent-switch, instance-credentials-reuse).
	// The engine skips every event not signed with an AKIA or ASIA key,
	// so the query returns only those.
	FamilyKey = "key"
	// FamilyAll: rules of a kind this package does not know; the query
	// returns every event of the window.
	FamilyAll = "all"
)

// Family is one query's worth of rules.
type Family struct {
	Name  string
	Rules []string
	// schema is the target's layout (nil: the keywarden table).
	schema *Schema
	// Where is the condition on rows, without the partition bounds.
	Where string
	// Keep is the part of Where rows are returned for unconditionally;
	// Bursts are the burst rules whose rows are returned only from time
	// buckets that may reach their threshold (empty: every row of Where).
	Keep   string
	Bursts []burstFilter
	// Seqs are the sequence rules whose follow-up rows are returned only
	// when a first event may count them (sequence.go).
	Seqs []seqFilter
	// Key, for the key family, reduces its rows to each group of
	// interchangeable events' first and last (firstseen.go); nil: every
	// row of Where.
	Key *keyReduction
}

// burstFilter reduces a burst rule's rows in SQL: the Go engine counts
// fixed windows of Window, alone or paired with the window before, so an
// event can only be part of a finding when the pair of windows before or
// after it holds at least Threshold of the rule's events (distinct values
// need as many events, or fewer when each event brings several fields).
type burstFilter struct {
	Rule      string
	Cond      string
	Window    time.Duration
	Threshold int
	PerEvent  int
}

// Plan is the queries a rule set needs.
type Plan struct {
	Families []Family
	// Widened lists the tests SQL cannot decide (their rows are all
	// fetched and judged in Go).
	Widened []Widening
	// Unknown names rules of kinds not placed in a family (fetched whole).
	Unknown []string
	// KeyWeights says the key family is reduced: the engine must be run
	// with detect.Options.KeyWeights.
	KeyWeights bool
}

var (
	matchKinds = map[string]bool{detect.KindMatch: true, detect.KindLogBucket: true, detect.KindAdminRole: true, detect.KindKeyInUse: true,
		detect.KindBurst: true, detect.KindSequence: true}
	// factKinds are match kinds whose findings depend on facts the engine
	// learns from other events (detect.ContextEvents), which the match
	// family must then fetch too.
	factKinds = map[string]bool{detect.KindLogBucket: true, detect.KindAdminRole: true, detect.KindKeyInUse: true}
	keyKinds  = map[string]bool{detect.KindFirstSeen: true, detect.KindDormant: true, detect.KindAgentSwitch: true,
		detect.KindInstanceCredentials: true, detect.KindInstanceOutside: true}
)

// keyCondition selects the events the key family's rules observe.
const keyCondition = "(starts_with(" + "COALESCE(useridentity.accesskeyid, '')" + ", 'AKIA') OR starts_with(COALESCE(useridentity.accesskeyid, ''), 'ASIA'))"

// NewPlan groups rules into families and compiles the match family's
// condition. lineage adds the calls that mint credentials (--key).
func NewPlan(rules []*detect.Rule, lineage bool) (*Plan, error) {
	return NewPlanFor(nil, rules, lineage)
}

// NewPlanFor is NewPlan for a target of the schema (nil: the keywarden
// table).
func NewPlanFor(sch *Schema, rules []*detect.Rule, lineage bool) (*Plan, error) {
	p := &Plan{}
	defer func() {
		for i := range p.Families {
			p.Families[i].schema = sch
		}
	}()
	// Lake's rows carry only eventjson, and the sequence and key
	// reductions read Athena's columns: on Lake those rows come whole.
	var match, key, all Family
	match.Name, key.Name, all.Name = FamilyMatch, FamilyKey, FamilyAll
	var alts, keep []string
	needFacts := false
	for _, r := range rules {
		switch {
		case matchKinds[r.Kind]:
			match.Rules = append(match.Rules, r.ID)
			var first string
			for i, b := range []map[string]any{r.Match, r.Then} {
				if len(b) == 0 {
					continue
				}
				sql, wd, err := matchIn(sch, r.ID, b)
				if err != nil {
					return nil, fmt.Errorf("rule %s: %w", r.ID, err)
				}
				alts = append(alts, sql)
				p.Widened = append(p.Widened, wd...)
				if i == 0 {
					first = sql
				}
				if bf, ok := reducible(r, sql); ok {
					match.Bursts = append(match.Bursts, bf)
				} else if r.Kind == detect.KindSequence && i == 1 && sch.textTimes() {
					match.Seqs = append(match.Seqs, sequenceFilter(r, first, sql))
				} else {
					keep = append(keep, sql)
				}
			}
			needFacts = needFacts || factKinds[r.Kind]
		case keyKinds[r.Kind]:
			key.Rules = append(key.Rules, r.ID)
			if key.Key == nil && sch.textTimes() {
				key.Key = &keyReduction{}
			}
			if key.Key != nil {
				key.Key.Days = key.Key.Days || r.Kind == detect.KindDormant
			}
		default:
			all.Rules = append(all.Rules, r.ID)
			p.Unknown = append(p.Unknown, r.ID)
		}
	}
	var extra []string
	if needFacts {
		extra = append(extra, detect.ContextEvents()...)
	}
	if lineage {
		extra = append(extra, cloudtrail.MintedKeyEvents()...)
	}
	if len(extra) > 0 {
		alts = append(alts, "COALESCE(eventname, '') IN ("+list(extra, str)+")")
		keep = append(keep, alts[len(alts)-1])
	}
	if len(all.Rules) > 0 {
		// Every row is fetched anyway: one query serves every rule.
		all.Rules = append(append(all.Rules, match.Rules...), key.Rules...)
		all.Where = "TRUE"
		p.Families = []Family{all}
		return p, nil
	}
	if len(match.Rules) > 0 || lineage {
		match.Where = "(" + strings.Join(alts, "\n  OR ") + ")"
		match.Keep = "FALSE"
		if len(keep) > 0 {
			match.Keep = "(" + strings.Join(keep, "\n  OR ") + ")"
		}
		p.Families = append(p.Families, match)
	}
	if len(key.Rules) > 0 {
		key.Where = keyCondition
		p.Families = append(p.Families, key)
		p.KeyWeights = key.Key != nil
	}
	return p, nil
}

// Window bounds the scan: the partitions read and the events kept.
type Window struct {
	Since, Until time.Time
	Accounts     []string
	Regions      []string
	// schema is the target whose bound partitions gives (nil: ours).
	schema *Schema
}

// The expressions are compiled on first use, not at every start of the
// binary (identRE's bounded repetition alone is ~2,800 allocations).
var (
	identRE   = lazyregexp.New(`^[A-Za-z0-9_]{1,255}$`)
	accountRE = lazyregexp.New(`^[0-9]{12}$`)
	regionRE  = lazyregexp.New(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
)

// Table names a table in a database, checked for SQL use.
type Table struct{ Database, Name string }

// Check refuses names that would need more than plain quoting.
func (t Table) Check() error {
	for _, n := range []string{t.Database, t.Name} {
		if !identRE().MatchString(n) {
			return fmt.Errorf("table name %q: want letters, digits and _", n)
		}
	}
	return nil
}

func (t Table) quoted() string {
	if t.Database == "" {
		return t.Name // a CloudTrail Lake event data store's ID
	}
	return `"` + t.Database + `"."` + t.Name + `"`
}

// Check refuses windows that do not bound the scan or that name
// partitions SQL cannot quote safely.
func (w Window) Check() error {
	if w.Since.IsZero() {
		return fmt.Errorf("a start time is needed: the partitions read must be bounded")
	}
	if !w.Until.IsZero() && !w.Since.Before(w.Until) {
		return fmt.Errorf("the start must be before the end")
	}
	for _, a := range w.Accounts {
		if !accountRE().MatchString(a) {
			return fmt.Errorf("account %q: want 12 digits", a)
		}
	}
	for _, r := range w.Regions {
		if !regionRE().MatchString(r) {
			return fmt.Errorf("region %q: want a region name such as eu-west-1", r)
		}
	}
	return nil
}

// Days returns the date partitions (yyyy/MM/dd) the window reads: from
// the start's day to the day after the end's, because CloudTrail files
// are filed by delivery time, up to about 15 minutes after the event.
func (w Window) Days(now time.Time) (first, last time.Time) {
	first = w.Since.UTC().Truncate(24 * time.Hour)
	end := w.Until
	if end.IsZero() {
		end = now
	}
	last = end.UTC().Add(24 * time.Hour).Truncate(24 * time.Hour)
	return first, last
}

const dayLayout = "2006/01/02"

// partitions is the condition on the partition columns.
func (w Window) partitions(now time.Time) string {
	if w.schema.Name() != LayoutKeywarden {
		return w.schema.bound(w, now)
	}
	first, last := w.Days(now)
	parts := []string{`"timestamp" >= ` + str(first.Format(dayLayout)), `"timestamp" <= ` + str(last.Format(dayLayout))}
	if len(w.Accounts) > 0 {
		parts = append(parts, "account IN ("+list(w.Accounts, str)+")")
	}
	if len(w.Regions) > 0 {
		parts = append(parts, "region IN ("+list(w.Regions, str)+")")
	}
	return strings.Join(parts, " AND ")
}

// SQL is the family's query over table within the window. now closes an
// open-ended window.
func (f Family) SQL(t Table, w Window, now time.Time) string {
	// The target's FROM and bound, select list, event time and result
	// columns: below, these names are the schema's.
	t, w = f.schema.target(t), f.schema.window(w)
	selectList, epochSQL, Columns := f.schema.selects(), f.schema.epoch(), f.schema.resultColumns()
	if f.Key != nil {
		return f.Key.sql("\nFROM "+t.quoted(), w.partitions(now)+"\n  AND "+f.Where, w)
	}
	scan := "\nFROM " + t.quoted() + "\nWHERE " + w.partitions(now) + "\n  AND " + f.Where
	if len(f.Bursts) == 0 && len(f.Seqs) == 0 {
		return "SELECT " + strings.Join(selectList, ", ") + scan
	}
	// One scan: window functions count each burst rule's events per
	// actor in the two pairs of windows around each event, and find
	// each sequence's first events before a follow-up.
	inner := append([]string{}, selectList...)
	inner = append(inner, f.Keep+" AS kw_keep", epochSQL+" AS kw_e")
	if len(f.Seqs) > 0 {
		// (Athena's eventtime text, read strictly: sequence filters
		// exist only where the schema has textTimes.)
		inner = append(inner, strictTimeSQL+" AS kw_ok")
	}
	outer := []string{"kw_keep"}
	for i, s := range f.Seqs {
		in, out := s.columns(i)
		inner, outer = append(inner, in...), append(outer, out)
	}
	for i, b := range f.Bursts {
		w := int64(b.Window / time.Second)
		n := func(shift string) string {
			return fmt.Sprintf("count(CASE WHEN %s THEN 1 END) OVER (PARTITION BY %s, floor((%s%s) / %d))", b.Cond, actorSQL, epochSQL, shift, 2*w)
		}
		inner = append(inner, fmt.Sprintf("(%s) AS kw_m%d", b.Cond, i), n("")+fmt.Sprintf(" AS kw_a%d", i), n(fmt.Sprintf(" + %d", w))+fmt.Sprintf(" AS kw_b%d", i))
		outer = append(outer, fmt.Sprintf("(kw_m%[1]d AND (kw_e IS NULL OR kw_e < 0 OR kw_a%[1]d * %[2]d >= %[3]d OR kw_b%[1]d * %[2]d >= %[3]d))", i, b.PerEvent, b.Threshold))
	}
	return "SELECT " + strings.Join(Columns, ", ") + "\nFROM (\nSELECT " + strings.Join(inner, ",\n  ") + scan + "\n) kw\nWHERE " + strings.Join(outer, "\n  OR ")
}

// epochSQL is the event's time in seconds (NULL when unreadable: such
// rows are always returned).
const epochSQL = "to_unixtime(try(from_iso8601_timestamp(eventtime)))"

// principalSQL and actorSQL are cloudtrail.Record's Principal and Actor.
var (
	principalSQL = "(CASE WHEN " + col("useridentity.arn") + " <> '' THEN useridentity.arn WHEN " + col("useridentity.principalid") +
		" <> '' THEN useridentity.principalid WHEN " + col("useridentity.invokedby") + " <> '' THEN useridentity.invokedby ELSE " +
		col("useridentity.type") + " END)"
	consoleSQL = "(COALESCE(sessioncredentialfromconsole, '') IN ('true', 'True', 'TRUE') OR (" + col("eventname") +
		" = 'ConsoleLogin' AND " + col("eventsource") + " = 'signin.amazonaws.com' AND " + col("errormessage") + " = '' AND " + col("errorcode") + " = ''))"
	actorSQL = "(CASE WHEN " + consoleSQL + " THEN " + principalSQL + " || ' (console from ' || " + col("sourceipaddress") + " || ')' WHEN " +
		col("useridentity.accesskeyid") + " <> '' THEN useridentity.accesskeyid ELSE " + principalSQL + " END)"
)

// reducible says whether a burst rule's rows can be reduced in SQL: its
// window is whole seconds and what it counts is events or distinct
// values of fields with one value per event.
func reducible(r *detect.Rule, cond string) (burstFilter, bool) {
	if r.Kind != detect.KindBurst || r.Window < time.Second || r.Window%time.Second != 0 || r.Threshold < 1 {
		return burstFilter{}, false
	}
	per := 1
	if r.Distinct != "" {
		fields := strings.Split(r.Distinct, "|")
		for _, f := range fields {
			if _, ok := scalarColumns[f]; !ok {
				return burstFilter{}, false
			}
		}
		per = len(fields)
	}
	return burstFilter{Rule: r.ID, Cond: cond, Window: r.Window, Threshold: r.Threshold, PerEvent: per}, true
}

// Columns are the names of the query's result columns, in order: the
// record's, then EventsColumn.
var Columns []string

// selectList reads every field the Go engine decodes (EventsColumn
// NULL); baseColumns and baseSelect are the record's alone.
var selectList, baseColumns, baseSelect []string

func init() {
	for _, c := range columnList {
		baseColumns = append(baseColumns, c[0])
		if c[1] == "" {
			baseSelect = append(baseSelect, c[0])
		} else {
			baseSelect = append(baseSelect, c[1]+" AS "+c[0])
		}
	}
	Columns = append(append(Columns, baseColumns...), EventsColumn)
	selectList = append(append(selectList, baseSelect...), "CAST(NULL AS VARCHAR) AS "+EventsColumn)
}

// columnList: result name, expression (empty: the column itself).
var columnList = [][2]string{
	{"eventversion", ""},
	{"eventtime", ""},
	{"eventsource", ""},
	{"eventname", ""},
	{"eventtype", ""},
	{"eventcategory", ""},
	{"eventid", ""},
	{"requestid", ""},
	{"awsregion", ""},
	{"sourceipaddress", ""},
	{"useragent", ""},
	{"errorcode", ""},
	{"errormessage", ""},
	{"recipientaccountid", ""},
	{"vpcendpointid", ""},
	{"vpcendpointaccountid", ""},
	{"readonly", ""},
	{"sessioncredentialfromconsole", ""},
	{"requestparameters", ""},
	{"responseelements", ""},
	{"additionaleventdata", ""},
	{"ui_type", "useridentity.type"},
	{"ui_principalid", "useridentity.principalid"},
	{"ui_arn", "useridentity.arn"},
	{"ui_accountid", "useridentity.accountid"},
	{"ui_accesskeyid", "useridentity.accesskeyid"},
	{"ui_username", "useridentity.username"},
	{"ui_invokedby", "useridentity.invokedby"},
	{"ui_session", "(CASE WHEN useridentity.sessioncontext IS NULL THEN 'false' ELSE 'true' END)"},
	{"ui_mfa", "useridentity.sessioncontext.attributes.mfaauthenticated"},
	{"ui_issuertype", "useridentity.sessioncontext.sessionissuer.type"},
	{"ui_issuerarn", "useridentity.sessioncontext.sessionissuer.arn"},
	{"ui_issuerusername", "useridentity.sessioncontext.sessionissuer.username"},
	// The first resources' ARNs: a KMS Decrypt names its key only there
	// (the key-in-use facts read it). try() makes an absent element NULL
	// (a subscript past the end is an error in Trino).
	{"res_arn1", "try(resources[1].arn)"},
	{"res_arn2", "try(resources[2].arn)"},
	{"res_arn3", "try(resources[3].arn)"},
}
