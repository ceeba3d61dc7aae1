package athena

// The SQL this package generates, run on a real SQL engine: DuckDB,
// embedded through its Go bindings (this file is the only importer, so
// DuckDB is in the test binary, never in keywarden's). The table has
// Athena's CloudTrail schema and is loaded from the fixtures the way
// Athena's JSON SerDe reads CloudTrail files; the few Trino functions the
// compiler uses that DuckDB lacks are macros below.
//
// For every rule of rules.yaml (loaded now, so rules added later are
// covered), the findings through SQL equal the Go engine's on the same
// records: same rule ids, keys, values, counts and event ids.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"

	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// trinoMacros give DuckDB the Trino functions the compiler emits.
// json_extract_scalar is NULL for objects, arrays and invalid JSON, as in
// Trino; regexp_like is RE2 in DuckDB, as in Go.
var trinoMacros = []string{
	`CREATE MACRO json_extract_scalar(j, p) AS (CASE WHEN j IS NULL OR NOT json_valid(j) THEN NULL WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END)`,
	`CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)`,
	`CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)`,
	`CREATE MACRO to_unixtime(ts) AS epoch(ts)`,
}

// athenaSchema is AWS's CloudTrail table (the columns the compiler reads
// and a few more), with the partition columns of our DDL.
const athenaSchema = `CREATE TABLE cloudtrail (
	eventversion VARCHAR,
	useridentity STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR,
		accesskeyid VARCHAR, username VARCHAR,
		sessioncontext STRUCT(attributes STRUCT(mfaauthenticated VARCHAR, creationdate VARCHAR),
			sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, username VARCHAR))),
	eventtime VARCHAR, eventsource VARCHAR, eventname VARCHAR, awsregion VARCHAR, sourceipaddress VARCHAR,
	useragent VARCHAR, errorcode VARCHAR, errormessage VARCHAR, requestparameters VARCHAR, responseelements VARCHAR,
	additionaleventdata VARCHAR, requestid VARCHAR, eventid VARCHAR,
	resources STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[],
	eventtype VARCHAR, apiversion VARCHAR, readonly VARCHAR, recipientaccountid VARCHAR, serviceeventdetails VARCHAR,
	sharedeventid VARCHAR, vpcendpointid VARCHAR, vpcendpointaccountid VARCHAR, eventcategory VARCHAR, sessioncredentialfromconsole VARCHAR,
	account VARCHAR, region VARCHAR, "timestamp" VARCHAR)`

// fixtureFiles are the rule fixtures and, when present, ../shared/data.
func fixtureFiles(t *testing.T) (rules map[string][]string, shared []string) {
	t.Helper()
	rules = map[string][]string{}
	dirs, err := filepath.Glob(filepath.Join("..", "detect", "testdata", "rules", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no rule fixtures: %v", err)
	}
	for _, d := range dirs {
		fs, _ := filepath.Glob(filepath.Join(d, "*.json"))
		rules[filepath.Base(d)] = fs
	}
	edge, _ := filepath.Glob(filepath.Join("testdata", "records", "*.json"))
	rules["_edge"] = edge
	root := filepath.Join("..", "..", "..", "..", "shared", "data", "cloudtrail")
	if _, err := os.Stat(root); err == nil {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
				shared = append(shared, p)
			}
			return nil
		})
	}
	return rules, shared
}

// everyFixture is every fixture file, in a fixed order.
func everyFixture(t *testing.T) []string {
	ruleFiles, shared := fixtureFiles(t)
	if len(shared) == 0 {
		t.Log("../shared/data/cloudtrail is absent: checking the rule fixtures only")
	}
	var every []string
	for _, fs := range ruleFiles {
		every = append(every, fs...)
	}
	every = append(every, shared...)
	sort.Strings(every)
	return every
}

// rawRecords splits a CloudTrail file ({"Records": [...]}, an array, or
// JSON lines) into its records' JSON.
func rawRecords(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wrapped struct{ Records []json.RawMessage }
	if json.Unmarshal(data, &wrapped) == nil && wrapped.Records != nil {
		return wrapped.Records
	}
	var arr []json.RawMessage
	if json.Unmarshal(data, &arr) == nil {
		return arr
	}
	var out []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			break
		}
		out = append(out, m)
	}
	return out
}

// serdeValue is what Athena's JSON SerDe gives a STRING column: a JSON
// string's text, any other JSON value's text; null is NULL.
func serdeValue(raw json.RawMessage) any {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// serdeStruct lowers a JSON object's keys (the SerDe matches struct fields
// without case) and reads leaves as strings.
func serdeStruct(raw json.RawMessage) any {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return serdeValue(raw)
	}
	out := map[string]any{}
	for k, v := range m {
		v = bytes.TrimSpace(v)
		if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
			out[strings.ToLower(k)] = serdeStruct(v)
		} else {
			out[strings.ToLower(k)] = serdeValue(v)
		}
	}
	return out
}

// athenaRow is one record as an Athena row (as JSON for read_json).
func athenaRow(raw json.RawMessage) (map[string]any, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	row := map[string]any{}
	for k, v := range m {
		lk := strings.ToLower(k)
		switch lk {
		case "useridentity":
			row[lk] = serdeStruct(v)
		case "resources":
			var list []json.RawMessage
			if json.Unmarshal(v, &list) == nil {
				var rs []any
				for _, r := range list {
					rs = append(rs, serdeStruct(r))
				}
				row[lk] = rs
			}
		default:
			row[lk] = serdeValue(v)
		}
	}
	acct, _ := row["recipientaccountid"].(string)
	region, _ := row["awsregion"].(string)
	et, _ := row["eventtime"].(string)
	day := ""
	if tm, err := time.Parse(time.RFC3339, et); err == nil {
		day = tm.UTC().Format("2006/01/02")
	}
	row["account"], row["region"], row["timestamp"] = acct, region, day
	return row, true
}

// skipDuck skips the DuckDB tests in -short runs and under the race
// detector (see race_test.go).
func skipDuck(t *testing.T) {
	if testing.Short() {
		t.Skip("DuckDB: not in -short")
	}
	if raceEnabled {
		t.Skip("DuckDB: SQL semantics, not concurrency: run without -race")
	}
}

type duck struct {
	db   *sql.DB
	seen int
	// rank is each event ID's place in the files, to hand the engine
	// the query's rows in the order the local reader reads them.
	rank map[string]int
}

func openDuck(t *testing.T) *duck {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // macros and the table live in one connection's database
	t.Cleanup(func() { db.Close() })
	for _, q := range append(append([]string{}, trinoMacros...), athenaSchema) {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &duck{db: db, rank: map[string]int{}}
}

// load inserts the files' records; it returns how many.
func (d *duck) load(t *testing.T, files []string) int {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), fmt.Sprintf("rows%d.ndjson", d.seen))
	d.seen++
	var buf bytes.Buffer
	n := 0
	for _, f := range files {
		for _, raw := range rawRecords(t, f) {
			row, ok := athenaRow(raw)
			if !ok {
				continue
			}
			if id, ok := row["eventid"].(string); ok {
				if _, seen := d.rank[id]; !seen {
					d.rank[id] = len(d.rank)
				}
			}
			b, err := json.Marshal(row)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
			n++
		}
	}
	if n == 0 {
		return 0
	}
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cols := duckColumns(t, d.db)
	q := fmt.Sprintf(`INSERT INTO cloudtrail SELECT * FROM read_json(%s, format = 'newline_delimited', columns = {%s})`, str(tmp), cols)
	if _, err := d.db.Exec(q); err != nil {
		t.Fatalf("loading %d rows: %v", n, err)
	}
	return n
}

// duckColumns reads the table's column types back for read_json.
func duckColumns(t *testing.T, db *sql.DB) string {
	rows, err := db.Query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'cloudtrail' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, fmt.Sprintf("%s: %s", str(n), str(ty)))
	}
	return strings.Join(parts, ", ")
}

func (d *duck) reset(t *testing.T) {
	if _, err := d.db.Exec(`DELETE FROM cloudtrail`); err != nil {
		t.Fatal(err)
	}
	d.rank = map[string]int{}
}

// query runs a family's SQL and returns its rows as CloudTrail JSON
// lines, through AppendRecord as the Athena runner does.
func (d *duck) query(t *testing.T, q string) []byte {
	t.Helper()
	return d.queryWith(t, q, len(Columns), AppendRecord)
}

// queryWith runs a query of n result columns and turns each row into a
// record line with record.
func (d *duck) queryWith(t *testing.T, q string, n int, record func([]byte, []*string) ([]byte, error)) []byte {
	t.Helper()
	rows, err := d.db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, q)
	}
	defer rows.Close()
	var out []byte
	for rows.Next() {
		vals := make([]sql.NullString, n)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]*string, len(vals))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				row[i] = &s
			}
		}
		if out, err = record(out, row); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return d.fileOrder(t, out)
}

// fileOrder sorts record lines into the order of the files. The engine
// keeps order-dependent evidence samples for bursts (which events of a
// window are shown, not how many), so the comparison feeds it the same
// records in the same order, and what it tests is the SQL's selection.
func (d *duck) fileOrder(t *testing.T, out []byte) []byte {
	lines := bytes.SplitAfter(out, []byte{'\n'})
	rank := func(l []byte) int {
		var r struct {
			EventID *string `json:"eventID"`
		}
		if json.Unmarshal(l, &r) != nil || r.EventID == nil {
			return len(d.rank)
		}
		if n, ok := d.rank[*r.EventID]; ok {
			return n
		}
		return len(d.rank)
	}
	sort.SliceStable(lines, func(i, j int) bool { return rank(lines[i]) < rank(lines[j]) })
	return bytes.Join(lines, nil)
}

var testWindow = Window{Since: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
var testNow = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
var testTable = Table{Database: "main", Name: "cloudtrail"}

// findingKey is what must agree between the engines.
type findingKey struct {
	Rule, Actor, Value string
	Count              int
	Events             string
}

func keys(fs []*detect.Finding) []findingKey {
	var out []findingKey
	for _, f := range fs {
		out = append(out, findingKey{f.Rule.ID, f.Actor, f.Value, f.Count, strings.Join(f.EventIDs, ",")})
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

// goFindings runs the local engine over the files.
func goFindings(t *testing.T, rules []*detect.Rule, files []string) []findingKey {
	t.Helper()
	var data [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	return engineFindings(t, rules, data...)
}

func engineFindings(t *testing.T, rules []*detect.Rule, inputs ...[]byte) []findingKey {
	t.Helper()
	return weightedFindings(t, rules, false, inputs...)
}

// weightedFindings runs the engine as the command does for a plan whose
// key family is reduced (weighted) or not.
func weightedFindings(t *testing.T, rules []*detect.Rule, weighted bool, inputs ...[]byte) []findingKey {
	t.Helper()
	return keys(runEngine(t, rules, weighted, inputs...).Findings(nil))
}

// runEngine feeds the inputs to one worker of the engine.
func runEngine(t *testing.T, rules []*detect.Rule, weighted bool, inputs ...[]byte) *detect.Result {
	t.Helper()
	e, err := detect.New(rules, detect.Options{KeyWeights: weighted})
	if err != nil {
		t.Fatal(err)
	}
	w := e.NewWorker()
	for i, in := range inputs {
		cloudtrail.Decode(fmt.Sprint(i), bytes.NewReader(in), w.Observe, func(ie *cloudtrail.InputError) {
			t.Errorf("input %d: %v", i, ie)
		})
	}
	return e.Merge(w)
}

// sqlFindings runs the plan's queries and the engine over their rows.
func sqlFindings(t *testing.T, d *duck, rules []*detect.Rule) ([]findingKey, int) {
	t.Helper()
	p, err := NewPlan(rules, false)
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	rows := 0
	for _, f := range p.Families {
		out := d.query(t, f.SQL(testTable, testWindow, testNow))
		rows += bytes.Count(out, []byte{'\n'})
		inputs = append(inputs, out)
	}
	return weightedFindings(t, rules, p.KeyWeights, inputs...), rows
}

// asMatch turns a rule's match (or then) block into a plain match rule,
// so each block is held to event-by-event agreement, whatever its kind.
func asMatch(r *detect.Rule, block map[string]any, suffix string) *detect.Rule {
	c := *r
	c.ID, c.Kind, c.Match, c.Then, c.Distinct, c.Threshold = r.ID+suffix, detect.KindMatch, block, nil, "", 0
	return &c
}

func TestDuckDBEveryRuleAgreesWithGoEngine(t *testing.T) {
	skipDuck(t)
	all := detect.Builtin()
	every := everyFixture(t)
	d := openDuck(t)
	n := d.load(t, every)
	t.Logf("%d records from %d files", n, len(every))

	fired := 0
	for _, r := range all {
		t.Run(r.ID, func(t *testing.T) {
			set := []*detect.Rule{r}
			if r.Kind == detect.KindLogBucket {
				// It also needs the events that name log buckets: the
				// plan adds them; nothing else to do.
				set = []*detect.Rule{r}
			}
			want := goFindings(t, set, every)
			got, rows := sqlFindings(t, d, set)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("findings through SQL (%d rows) differ from the Go engine's\n got: %v\nwant: %v", rows, got, want)
			}
			if len(want) > 0 {
				fired++
			}
			for i, b := range []map[string]any{r.Match, r.Then} {
				if len(b) == 0 || r.Kind == detect.KindMatch {
					continue
				}
				m := asMatch(r, b, []string{"-match", "-then"}[i])
				want := goFindings(t, []*detect.Rule{m}, every)
				got, _ := sqlFindings(t, d, []*detect.Rule{m})
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s block through SQL differs from the Go matcher\n got: %v\nwant: %v", m.ID, got, want)
				}
			}
		})
	}
	t.Logf("%d of %d rules fired on the fixtures", fired, len(all))
	if fired < len(all)/2 {
		t.Errorf("only %d of %d rules fired: the comparison says little", fired, len(all))
	}

	// All rules at once: the plan as the command runs it.
	t.Run("all-rules", func(t *testing.T) {
		want := goFindings(t, all, every)
		got, rows := sqlFindings(t, d, all)
		t.Logf("%d findings; %d rows fetched of %d", len(want), rows, n)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("findings through SQL differ\n got: %d\nwant: %d", len(got), len(want))
		}
	})
}

// TestDuckDBPrefilterNeverNarrower holds each rule's own fixtures to it
// separately, so a rule whose findings would be hidden by another
// rule's events still shows.
func TestDuckDBPerRuleFixtures(t *testing.T) {
	skipDuck(t)
	ruleFiles, _ := fixtureFiles(t)
	d := openDuck(t)
	for _, r := range detect.Builtin() {
		files := ruleFiles[r.ID]
		if len(files) == 0 {
			continue
		}
		for _, f := range files {
			t.Run(r.ID+"/"+filepath.Base(f), func(t *testing.T) {
				d.reset(t)
				if d.load(t, []string{f}) == 0 {
					t.Skip("no records")
				}
				set := []*detect.Rule{r}
				want := goFindings(t, set, []string{f})
				got, _ := sqlFindings(t, d, set)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("got %v\nwant %v", got, want)
				}
				if strings.HasPrefix(filepath.Base(f), "fire") && len(want) == 0 {
					t.Errorf("fire fixture did not fire")
				}
			})
		}
	}
}

// TestDuckDBFamilyReduction reports, per family of the whole rule set,
// the rows the reduced query returns against the rows of its condition
// alone (the key family: every key-signed event), on the fixtures and
// ../shared/data; the findings through the reduced queries are the Go
// engine's (TestDuckDBEveryRuleAgreesWithGoEngine, all-rules).
func TestDuckDBFamilyReduction(t *testing.T) {
	skipDuck(t)
	d := openDuck(t)
	n := d.load(t, everyFixture(t))
	p, err := NewPlan(detect.Builtin(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Families {
		got := bytes.Count(d.query(t, f.SQL(testTable, testWindow, testNow)), []byte{'\n'})
		// Before the key and sequence reductions: the key family's every
		// row, the sequences' follow-ups returned whole.
		before := f
		before.Key, before.Seqs = nil, nil
		for _, s := range f.Seqs {
			before.Keep = "(" + before.Keep + " OR " + s.Then + ")"
		}
		was := bytes.Count(d.query(t, before.SQL(testTable, testWindow, testNow)), []byte{'\n'})
		whole := f
		whole.Key, whole.Bursts, whole.Seqs, whole.Keep = nil, nil, nil, ""
		all := bytes.Count(d.query(t, whole.SQL(testTable, testWindow, testNow)), []byte{'\n'})
		t.Logf("family %s (%d rules): %d rows returned (%d before the key and sequence reductions), %d rows match its condition, of %d records",
			f.Name, len(f.Rules), got, was, all, n)
		if got > all {
			t.Errorf("family %s: the reduced query returns more rows (%d) than its condition (%d)", f.Name, got, all)
		}
		if f.Name == FamilyKey && got >= all {
			t.Errorf("key family: no reduction (%d rows of %d)", got, all)
		}
	}
}

// TestDuckDBRuleReduction: burst rules' rows are cut in SQL to the time
// windows that may reach the threshold, and sequence rules' follow-up rows
// to those a first event of the actor may count (findings unchanged:
// TestDuckDBEveryRuleAgreesWithGoEngine); each returns fewer rows than
// the rules' blocks alone on the fixtures.
func TestDuckDBRuleReduction(t *testing.T) {
	skipDuck(t)
	d := openDuck(t)
	d.load(t, everyFixture(t))
	for _, tc := range []struct {
		kind    string
		reduced func(Family) bool
		strip   func(*Family)
	}{
		{detect.KindBurst, func(f Family) bool { return len(f.Bursts) > 0 }, func(f *Family) { f.Bursts = nil }},
		{detect.KindSequence, func(f Family) bool { return len(f.Seqs) > 0 }, func(f *Family) { f.Seqs = nil }},
	} {
		reduced, whole, rules := 0, 0, 0
		for _, r := range detect.Builtin() {
			if r.Kind != tc.kind {
				continue
			}
			p, err := NewPlan([]*detect.Rule{r}, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Families) != 1 || !tc.reduced(p.Families[0]) {
				continue
			}
			rules++
			f := p.Families[0]
			n := bytes.Count(d.query(t, f.SQL(testTable, testWindow, testNow)), []byte{'\n'})
			tc.strip(&f)
			f.Keep = ""
			m := bytes.Count(d.query(t, f.SQL(testTable, testWindow, testNow)), []byte{'\n'})
			if n > m {
				t.Errorf("%s: %d rows reduced, %d without", r.ID, n, m)
			}
			reduced, whole = reduced+n, whole+m
		}
		t.Logf("%d %s rules: %d rows returned instead of %d", rules, tc.kind, reduced, whole)
		if rules == 0 || reduced >= whole {
			t.Errorf("no reduction: %d %s rules, %d rows of %d", rules, tc.kind, reduced, whole)
		}
	}
}
