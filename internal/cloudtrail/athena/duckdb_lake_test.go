package athena

// The other targets' SQL on DuckDB: AWS's table layouts bound the scan
// to the same rows as ours, and on a table with CloudTrail Lake's column
// types (eventtime a timestamp, readonly a boolean, the event's JSON in
// eventjson) every rule's findings equal the Go engine's.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// loadLake creates the table "lake" with Lake's types from the files'
// records, and returns the records it holds (Lake ingests only events
// with a valid time), as JSON lines for the Go engine.
func (d *duck) loadLake(t *testing.T, files []string) []byte {
	t.Helper()
	var rows, lines bytes.Buffer
	for _, f := range files {
		for _, raw := range rawRecords(t, f) {
			row, ok := athenaRow(raw)
			if !ok {
				continue
			}
			var compact bytes.Buffer
			if json.Compact(&compact, raw) != nil {
				continue
			}
			if et, _ := row["eventtime"].(string); !lakeTime(et) {
				continue
			}
			if id, ok := row["eventid"].(string); ok {
				if _, seen := d.rank[id]; !seen {
					d.rank[id] = len(d.rank)
				}
			}
			row["eventjson"] = compact.String()
			b, err := json.Marshal(row)
			if err != nil {
				t.Fatal(err)
			}
			rows.Write(append(b, '\n'))
			lines.Write(append(compact.Bytes(), '\n'))
		}
	}
	tmp := filepath.Join(t.TempDir(), "lake.ndjson")
	if err := os.WriteFile(tmp, rows.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cols := duckColumns(t, d.db) + ", 'eventjson': 'VARCHAR'"
	q := `CREATE TABLE lake AS SELECT * EXCLUDE (eventtime, readonly, account, region, "timestamp"),
		strptime(eventtime, ['%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%gZ', '%Y-%m-%dT%H:%M:%S.%fZ']) AS eventtime, TRY_CAST(readonly AS BOOLEAN) AS readonly
		FROM read_json(` + str(tmp) + `, format = 'newline_delimited', columns = {` + cols + `})`
	if _, err := d.db.Exec(q); err != nil {
		t.Fatalf("creating the Lake table: %v", err)
	}
	return lines.Bytes()
}

// lakeTime: the times Lake's timestamp column holds (CloudTrail writes
// whole seconds in UTC).
func lakeTime(s string) bool {
	_, err := time.Parse("2006-01-02T15:04:05Z", s)
	return err == nil
}

func lakeFindings(t *testing.T, d *duck, rules []*detect.Rule) ([]findingKey, int) {
	t.Helper()
	s, err := LakeSchema("lake")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlanFor(s, rules, false)
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	n := 0
	for _, f := range p.Families {
		out := d.queryWith(t, f.SQL(Table{}, testWindow, testNow), 1, appendEvent)
		n += bytes.Count(out, []byte{'\n'})
		inputs = append(inputs, out)
	}
	return engineFindings(t, rules, inputs...), n
}

func TestDuckDBLakeEveryRuleAgreesWithGoEngine(t *testing.T) {
	skipDuck(t)
	all := detect.Builtin()
	d := openDuck(t)
	events := d.loadLake(t, everyFixture(t))
	// Each rule alone, then all of them as the command runs them.
	sets := make([][]*detect.Rule, 0, len(all)+1)
	for _, r := range all {
		sets = append(sets, []*detect.Rule{r})
	}
	sets = append(sets, all)
	fired := 0
	for _, set := range sets {
		want := engineFindings(t, set, events)
		got, rows := lakeFindings(t, d, set)
		name := set[0].ID
		if len(set) > 1 {
			name = "all rules"
			t.Logf("all rules: %d findings; %d rows fetched of %d records", len(want), rows, bytes.Count(events, []byte{'\n'}))
		} else if len(want) > 0 {
			fired++
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: findings through Lake's SQL (%d rows) differ from the Go engine's\n got: %v\nwant: %v", name, rows, got, want)
		}
	}
	if fired < len(all)/2 {
		t.Errorf("only %d of %d rules fired: the comparison says little", fired, len(all))
	}
}

// TestDuckDBLayoutsBoundAlike: for windows of a day or two around the
// fixtures' days, AWS's layouts (the region/year/month/day partitions
// made from the same folders) return exactly the rows ours does.
func TestDuckDBLayoutsBoundAlike(t *testing.T) {
	skipDuck(t)
	d := openDuck(t)
	total := d.load(t, everyFixture(t))
	if total == 0 {
		t.Skip("no records")
	}
	if _, err := d.db.Exec(`CREATE VIEW region_date AS SELECT * EXCLUDE (account, "timestamp"), substr("timestamp", 1, 4) AS "year",
		substr("timestamp", 6, 2) AS "month", substr("timestamp", 9, 2) AS "day" FROM cloudtrail`); err != nil {
		t.Fatal(err)
	}
	var days []string
	rs, err := d.db.Query(`SELECT DISTINCT "timestamp" FROM cloudtrail WHERE "timestamp" <> '' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		days = append(days, s)
	}
	rs.Close()
	tables := map[string]Table{LayoutKeywarden: testTable, LayoutAWSProjected: testTable, LayoutAWSRegionDate: {"main", "region_date"}}
	checked, cut := 0, 0
	for _, day := range days {
		since, err := time.Parse(dayLayout, day)
		if err != nil {
			continue
		}
		w := Window{Since: since.Add(10 * time.Hour), Until: since.Add(30 * time.Hour)}
		var want []string
		for _, l := range []string{LayoutKeywarden, LayoutAWSProjected, LayoutAWSRegionDate} {
			s, _ := AthenaSchema(l)
			// Every row the bound lets through.
			f := Family{Name: FamilyAll, Where: "TRUE", schema: s}
			got := sortedLines(d.query(t, f.SQL(tables[l], w, testNow)))
			if want == nil {
				want = got
				if n := len(got) - 1; n > 0 && n < total { // sortedLines keeps the trailing empty line
					cut++
				}
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("window from %s: %s returns other rows than %s", day, l, LayoutKeywarden)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no day partitions in the fixtures")
	}
	t.Logf("%d windows, %d of them returning some but not all of the %d records", checked, cut, total)
	if cut == 0 {
		t.Error("no window returned some but not all records: the bounds were not tested")
	}
	// The windows cut: a bound that let everything through would pass.
	f := Family{Name: FamilyAll, Where: "TRUE"}
	w := Window{Since: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	if n := len(bytes.TrimSpace(d.query(t, f.SQL(testTable, w, testNow)))); n != 0 {
		t.Errorf("a window after every event returned %d bytes of rows", n)
	}
}

func sortedLines(b []byte) []string {
	var out []string
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		out = append(out, string(l))
	}
	sort.Strings(out)
	return out
}

// TestDuckDBLakeBound: on Lake the bound is the event time itself. For
// windows whose ends are events' own times, the rows are exactly the
// events from the start to the end, both included (and the second
// after the end, which the engine then drops).
func TestDuckDBLakeBound(t *testing.T) {
	skipDuck(t)
	d := openDuck(t)
	events := d.loadLake(t, everyFixture(t))
	var times []time.Time
	for _, l := range bytes.Split(bytes.TrimSpace(events), []byte{'\n'}) {
		var r struct{ EventTime string }
		if json.Unmarshal(l, &r) == nil {
			if tm, err := time.Parse(time.RFC3339, r.EventTime); err == nil {
				times = append(times, tm)
			}
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) < 10 {
		t.Skip("too few events")
	}
	s, err := LakeSchema("lake")
	if err != nil {
		t.Fatal(err)
	}
	f := Family{Name: FamilyAll, Where: "TRUE", schema: s}
	for _, w := range []Window{
		{Since: times[len(times)/4], Until: times[len(times)/2]},
		{Since: times[len(times)/3], Until: times[len(times)/3]},
		{Since: times[len(times)-1]},
	} {
		want := 0
		for _, tm := range times {
			if !tm.Before(w.Since) && (w.Until.IsZero() || !tm.After(w.Until.Add(time.Second))) {
				want++
			}
		}
		got := bytes.Count(d.queryWith(t, f.SQL(Table{}, w, testNow), 1, appendEvent), []byte{'\n'})
		if got != want || want == 0 {
			t.Errorf("window %v to %v: %d rows, want %d", w.Since, w.Until, got, want)
		}
	}
}
