package athena

import (
	"fmt"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// Layouts of the Athena tables AWS documents for CloudTrail, by their
// partition columns (the column names and types are the same in all of
// them), and CloudTrail Lake's event data stores.
const (
	// LayoutKeywarden is the table --athena-ddl prints: partition
	// projected over account, region and `timestamp` (yyyy/MM/dd).
	LayoutKeywarden = "keywarden"
	// LayoutAWSProjected is AWS's partition-projection example: one
	// `timestamp` partition (yyyy/MM/dd) under one account's and one
	// region's folder (organization trails: the same under o-xxxx/).
	LayoutAWSProjected = "aws-projected"
	// LayoutAWSRegionDate is AWS's manually partitioned table: region,
	// year, month, day (zero-padded, as ALTER TABLE ADD PARTITION in
	// AWS's example).
	LayoutAWSRegionDate = "aws-region-date"
	// LayoutNone is a table without partitions (the CloudTrail console's
	// "Create Athena table"): every query scans the whole table.
	LayoutNone = "none"
)

// Layouts lists the --athena-layout values.
var Layouts = []string{LayoutKeywarden, LayoutAWSProjected, LayoutAWSRegionDate, LayoutNone}

// Schema is how a query target lays CloudTrail out: what the FROM names,
// which predicates bound the scan, and where the compiler reads fields
// that are not the Athena table's plain columns. The zero value's
// pointer (nil) is the keywarden layout.
type Schema struct {
	layout string
	// lake is the CloudTrail Lake event data store's ID (Lake only).
	lake string
}

// AthenaSchema is an Athena table of one of Layouts.
func AthenaSchema(layout string) (*Schema, error) {
	for _, l := range Layouts {
		if l == layout {
			return &Schema{layout: layout}, nil
		}
	}
	return nil, fmt.Errorf("unknown table layout %q (want %s)", layout, strings.Join(Layouts, "|"))
}

var (
	lakeIDRE  = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`)
	lakeARNRE = lazyregexp.New(`^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:eventdatastore/([A-Za-z0-9][A-Za-z0-9-]{0,127})$`)
)

// LakeSchema is a CloudTrail Lake event data store, named by its ID or
// its ARN (the query's FROM takes the ID).
func LakeSchema(store string) (*Schema, error) {
	if m := lakeARNRE().FindStringSubmatch(store); m != nil {
		store = m[1]
	}
	if !lakeIDRE().MatchString(store) {
		return nil, fmt.Errorf("event data store %q: want its ID (letters, digits and -) or its ARN", store)
	}
	return &Schema{layout: "lake", lake: store}, nil
}

// orDefault is s, or the keywarden layout for nil.
func (s *Schema) orDefault() *Schema {
	if s == nil {
		return &Schema{layout: LayoutKeywarden}
	}
	return s
}

// Name is the layout's name ("lake" for CloudTrail Lake).
func (s *Schema) Name() string { return s.orDefault().layout }

// Lake says whether the target is a CloudTrail Lake event data store.
func (s *Schema) Lake() bool { return s.orDefault().lake != "" }

// textTimes says whether the event time is Athena's text column. The key
// and sequence reductions read it strictly (strictTimeSQL) to tell a
// well-formed time from one the engine judges itself; on CloudTrail Lake
// eventtime is a timestamp, so those reductions are left out there and
// the engine sees every row they would have dropped.
func (s *Schema) textTimes() bool { return !s.Lake() }

// Store is the Lake event data store's ID.
func (s *Schema) Store() string { return s.orDefault().lake }

// BoundsByDate says whether the layout's predicates bound the bytes a
// query scans by date. Without date partitions every query scans the
// whole table.
func (s *Schema) BoundsByDate() bool { return s.orDefault().layout != LayoutNone }

// target is the query's FROM: t, or the Lake event data store.
func (s *Schema) target(t Table) Table {
	if s.Lake() {
		return Table{Name: s.lake}
	}
	return t
}

// window is w bound by the schema (Window.partitions).
func (s *Schema) window(w Window) Window {
	w.schema = s
	return w
}

// bound is the condition that bounds the scan to the window: partition
// predicates on Athena, eventtime on Lake (whose storage is organized by
// event time). Accounts and regions that are not partition columns are
// read from recipientaccountid and awsregion: CloudTrail files an event
// under AWSLogs/<recipientAccountId>/CloudTrail/<awsRegion>/.
func (s *Schema) bound(w Window, now time.Time) string {
	s = s.orDefault()
	if s.layout == LayoutKeywarden {
		return w.partitions(now)
	}
	first, last := w.Days(now)
	var parts []string
	switch s.layout {
	case LayoutAWSProjected:
		parts = append(parts, `"timestamp" >= `+str(first.Format(dayLayout)), `"timestamp" <= `+str(last.Format(dayLayout)))
	case LayoutAWSRegionDate:
		// The year's own bounds let the catalog prune partitions by
		// value; the concatenation is exact for zero-padded months and
		// days.
		parts = append(parts, `"year" >= `+str(first.Format("2006")), `"year" <= `+str(last.Format("2006")),
			`concat("year", '/', "month", '/', "day") >= `+str(first.Format(dayLayout)),
			`concat("year", '/', "month", '/', "day") <= `+str(last.Format(dayLayout)))
	case LayoutNone:
		parts = append(parts, "TRUE")
	default: // lake
		parts = append(parts, "eventtime >= TIMESTAMP "+str(w.Since.UTC().Truncate(time.Second).Format(time.DateTime)))
		if !w.Until.IsZero() {
			// The engine drops the events after --until; a second more
			// keeps the bound from cutting a fraction of one.
			parts = append(parts, "eventtime <= TIMESTAMP "+str(w.Until.UTC().Truncate(time.Second).Add(time.Second).Format(time.DateTime)))
		}
	}
	if len(w.Accounts) > 0 {
		parts = append(parts, "recipientaccountid IN ("+list(w.Accounts, str)+")")
	}
	if len(w.Regions) > 0 {
		if s.layout == LayoutAWSRegionDate {
			parts = append(parts, `"region" IN (`+list(w.Regions, str)+")")
		} else {
			parts = append(parts, "awsregion IN ("+list(w.Regions, str)+")")
		}
	}
	return strings.Join(parts, " AND ")
}

// lakeFields are the fields Lake's typed columns hold differently from
// Athena's table (CloudTrail Lake's "Supported schema for CloudTrail
// event record fields"): readonly is a boolean.
var lakeFields = map[string]string{
	"readOnly": boolCol("CAST(readonly AS varchar)"),
}

// field overrides scalarColumns for the schema; why says the field
// cannot be read exactly there.
func (s *Schema) field(name string) (expr, why string, ok bool) {
	if !s.Lake() {
		return "", "", false
	}
	if name == "identity.session" {
		// Athena's SerDe leaves an absent sessionContext NULL; whether
		// Lake's columnar struct does is not documented.
		return "", "CloudTrail Lake's schema does not say whether an absent sessionContext is NULL", true
	}
	e, ok := lakeFields[name]
	return e, "", ok
}

// document is the JSON text SQL reads a path inside a record document
// (requestParameters...) from, and the path's prefix there. Lake keeps
// those documents as maps of strings (nested values flattened to text);
// its eventjson column holds the event as CloudTrail wrote it.
func (s *Schema) document(head, column string) (string, string) {
	if s.Lake() {
		return "eventjson", "$." + head + "."
	}
	return column, "$."
}

// selects is the query's select list before the burst columns.
func (s *Schema) selects() []string {
	if s.Lake() {
		return []string{"eventjson"}
	}
	return selectList
}

// epoch is the event's time in seconds.
func (s *Schema) epoch() string {
	if s.Lake() {
		return "to_unixtime(eventtime)"
	}
	return epochSQL
}

// resultColumns are the names of the query's result columns.
func (s *Schema) resultColumns() []string {
	if s.Lake() {
		return []string{"eventjson"}
	}
	return Columns
}

// Lake says whether the family's query is for CloudTrail Lake.
func (f Family) Lake() bool { return f.schema.Lake() }
