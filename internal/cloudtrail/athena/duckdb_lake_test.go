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
		strptime(eventtime, '%Y-%m-%dT%H:%M:%SZ') AS eventtime, TRY_CAST(readonly AS BOOLEAN) AS readonly
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
	if d.load(t, everyFixture(t)) == 0 {
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
	p, err := NewPlan(detect.Builtin(), false)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]Table{LayoutKeywarden: testTable, LayoutAWSProjected: testTable, LayoutAWSRegionDate: {"main", "region_date"}}
	checked := 0
	for _, day := range days {
		since, err := time.Parse(dayLayout, day)
		if err != nil {
			continue
		}
		w := Window{Since: since.Add(10 * time.Hour), Until: since.Add(30 * time.Hour)}
		var want map[string][]string
		for _, l := range []string{LayoutKeywarden, LayoutAWSProjected, LayoutAWSRegionDate} {
			s, _ := AthenaSchema(l)
			got := map[string][]string{}
			for _, f := range p.Families {
				f.schema = s
				got[f.Name] = sortedLines(d.query(t, f.SQL(tables[l], w, testNow)))
			}
			if want == nil {
				want = got
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
	t.Logf("%d windows", checked)
}

func sortedLines(b []byte) []string {
	var out []string
	for _, l := range bytes.Split(b, []byte{'\n'}) {
		out = append(out, string(l))
	}
	sort.Strings(out)
	return out
}
