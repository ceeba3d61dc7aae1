package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	athenasdk "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/cloudtrail/athena"
	"github.com/keywarden/keywarden/internal/mototest"
	bolt "go.etcd.io/bbolt"
)

// athenaTestFixtures are rule fixtures whose events span a first-seen, a
// burst and a plain match rule: both families have findings.
var athenaTestFixtures = []string{"ct-cloudtrail-stopped", "ct-first-seen-region", "ct-access-denied-burst"}

// athenaColumn says where a result column comes from in a record.
var athenaColumnPath = map[string]string{
	"ui_type": "userIdentity.type", "ui_principalid": "userIdentity.principalId", "ui_arn": "userIdentity.arn",
	"ui_accountid": "userIdentity.accountId", "ui_accesskeyid": "userIdentity.accessKeyId",
	"ui_username": "userIdentity.userName", "ui_invokedby": "userIdentity.invokedBy",
	"ui_mfa":        "userIdentity.sessionContext.attributes.mfaAuthenticated",
	"ui_issuertype": "userIdentity.sessionContext.sessionIssuer.type", "ui_issuerarn": "userIdentity.sessionContext.sessionIssuer.arn",
	"ui_issuerusername": "userIdentity.sessionContext.sessionIssuer.userName",
}

// athenaRows turns CloudTrail files into rows as Athena returns them
// (header first), as moto's seeded result: every record, a superset of
// any family's rows, which the engine judges again. events is each row's
// athena.EventsColumn ("" for NULL): the key family's rows say how many
// events they stand for ("1": the rows unreduced).
func athenaRows(t *testing.T, files []string, events string) []map[string]any {
	t.Helper()
	hdr := []map[string]string{}
	for _, c := range athena.Columns {
		hdr = append(hdr, map[string]string{"VarCharValue": c})
	}
	rows := []map[string]any{{"Data": hdr}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Records []map[string]any }
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, rec := range doc.Records {
			var cells []map[string]string
			for _, c := range athena.Columns {
				path, ok := athenaColumnPath[c]
				if !ok {
					for k := range rec {
						if strings.ToLower(k) == c {
							path = k
						}
					}
				}
				var v any = rec
				for _, p := range strings.Split(path, ".") {
					m, _ := v.(map[string]any)
					v = m[p]
				}
				if c == athena.EventsColumn && events != "" {
					v = events
				}
				if c == "ui_session" {
					ui, _ := rec["userIdentity"].(map[string]any)
					v = ui["sessionContext"] != nil
				}
				switch x := v.(type) {
				case nil:
					cells = append(cells, map[string]string{})
				case string:
					cells = append(cells, map[string]string{"VarCharValue": x})
				default:
					b, _ := json.Marshal(x)
					cells = append(cells, map[string]string{"VarCharValue": string(b)})
				}
			}
			rows = append(rows, map[string]any{"Data": cells})
		}
	}
	return rows
}

func athenaFixtureFiles(t *testing.T) []string {
	var files []string
	for _, r := range athenaTestFixtures {
		fs, _ := filepath.Glob(filepath.Join("..", "cloudtrail", "detect", "testdata", "rules", r, "fire.json"))
		files = append(files, fs...)
	}
	if len(files) != len(athenaTestFixtures) {
		t.Fatalf("fixtures: %v", files)
	}
	return files
}

// findingLines are the JSON writer's lines, sorted: whole findings,
// evidence, event IDs and fingerprints included.
func findingLines(out string) []string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	return lines
}

// TestDetectAthenaMoto: detect --athena end to end through the clients
// the command builds, against moto: the cost guard lists the trail in
// moto S3 and refuses above --max-scan; with --yes, both family queries
// run in moto Athena and the findings (JSON writer) equal those of
// detect on the same records read from files.
func TestDetectAthenaMoto(t *testing.T) {
	srv := startMotoEnv(t)
	ctx := context.Background()
	files := athenaFixtureFiles(t)

	// The local engine on the files.
	ios, out, errOut := Test("")
	err := runDetect(ctx, &detectOptions{IO: ios, Sources: files, NoState: true, Format: "json", FailOn: "none"})
	if ExitCode(err) != ExitClean {
		t.Fatalf("local run: %v %s", err, errOut)
	}
	want := findingLines(out.String())
	if len(want) < 3 {
		t.Fatalf("local findings %v: the fixtures should fire", want)
	}

	c := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	key := "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/06/03/x.json.gz"
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), Body: bytes.NewReader(make([]byte, 3<<20))}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)
	run := func(maxScan string, yes bool) (string, string, error) {
		ios, out, errOut := Test("")
		opts := &detectOptions{IO: ios, Getenv: func(string) string { return "" }, Now: func() time.Time { return now },
			NoState: true, Format: "json", FailOn: "high", Since: "2024-06-01", Until: "2024-06-05", AWS: awsFlags{EndpointURL: srv.URL}}
		opts.Athena = detectAthenaOptions{Table: "cloudtrail_logs", Database: "default", Workgroup: "primary", Output: "s3://results/",
			Logs: "s3://trail/AWSLogs/", MaxScan: maxScan, Yes: yes, PricePerTB: 5,
			Backoff: func(int) time.Duration { return time.Millisecond }}
		err := runDetect(ctx, opts)
		return out.String(), errOut.String(), err
	}

	// Above --max-scan: exit 2 before any query, saying why.
	stdout, stderr, err := run("1M", false)
	if ExitCode(err) != ExitError || !strings.Contains(err.Error(), "above --max-scan 1.0 MiB: pass --yes") || stdout != "" {
		t.Fatalf("cost guard: exit %d %v\n%s", ExitCode(err), err, stderr)
	}
	if !strings.Contains(stderr, "3.0 MiB in 1 objects under 1 account/region folders") || !strings.Contains(stderr, "2 queries scan at $5.00/TB") {
		t.Errorf("no estimate: %s", stderr)
	}

	// With --yes: both queries run; moto returns the seeded rows.
	seedAthena(t, srv, athenaRows(t, files, ""), athenaRows(t, files, "1"))
	stdout, stderr, err = run("1M", true)
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d %v\n%s", ExitCode(err), err, stderr)
	}
	got := findingLines(stdout)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings through Athena differ from the local engine's\n got: %v\nwant: %v", got, want)
	}
	for _, s := range []string{"athena: match query", "athena: key query", "not compilable to SQL, falls back"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}

	// The rules that follow keys learn from the key query's rows alone
	// (they say how many events they stand for; the match query's rows
	// may repeat some of the same events): with no key rows, no
	// first-seen finding, whatever the match query returned.
	seedAthena(t, srv, athenaRows(t, files, ""), athenaRows(t, nil, "1"))
	stdout, stderr, err = run("1M", true)
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d %v\n%s", ExitCode(err), err, stderr)
	}
	var noKey []string
	for _, l := range want {
		if !strings.Contains(l, `"rule_kind":"first-seen"`) {
			noKey = append(noKey, l)
		}
	}
	if len(noKey) == len(want) {
		t.Fatalf("no first-seen finding among the local ones: the check says nothing")
	}
	if got := findingLines(stdout); strings.Join(got, "\n") != strings.Join(noKey, "\n") {
		t.Errorf("with an empty key query\n got: %v\nwant: %v", got, noKey)
	}
}

func TestDetectAthenaUsage(t *testing.T) {
	for _, c := range []struct {
		opts detectOptions
		want string
	}{
		{detectOptions{Since: "2024-06-01", Sources: []string{"x.json"}}, "not SOURCE arguments"},
		{detectOptions{}, "--athena needs --since"},
		{detectOptions{Since: "2024-06-01"}, "--athena needs --athena-logs"},
		{detectOptions{Since: "2024-06-01", Athena: detectAthenaOptions{Accounts: []string{"12"}}}, "account \"12\": want 12 digits"},
		{detectOptions{Since: "2024-06-01", Athena: detectAthenaOptions{Output: "/tmp/x"}}, "want an s3:// URL"},
		{detectOptions{Since: "2024-06-01", Athena: detectAthenaOptions{MaxScan: "lots", Logs: "s3://b/AWSLogs/"}}, "--max-scan"},
	} {
		ios, _, _ := Test("")
		o := c.opts
		o.IO, o.NoState, o.Format, o.FailOn = ios, true, "text", "low"
		o.Athena.Table, o.Athena.Database = "t", "default"
		if o.Athena.MaxScan == "" {
			o.Athena.MaxScan = "100GB"
		}
		err := runDetect(context.Background(), &o)
		if ExitCode(err) != ExitError || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: exit %d %v, want %q", c.opts, ExitCode(err), err, c.want)
		}
	}
}

func TestDetectParseScan(t *testing.T) {
	for in, want := range map[string]int64{"100GB": 100 << 30, "2T": 2 << 40, "512M": 512 << 20, "1TiB": 1 << 40} {
		if got, err := detectParseScan(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1G", "99999999T"} {
		if _, err := detectParseScan(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// athenaFailKey is an Athena API whose key-family query fails and whose
// match-family query returns rows.
type athenaFailKey struct {
	rows []types.Row
}

func (a *athenaFailKey) StartQueryExecution(_ context.Context, in *athenasdk.StartQueryExecutionInput, _ ...func(*athenasdk.Options)) (*athenasdk.StartQueryExecutionOutput, error) {
	id := "q-match"
	if strings.Contains(*in.QueryString, "'ASIA'))") && !strings.Contains(*in.QueryString, "OR COALESCE(eventname") {
		id = "q-key"
	}
	return &athenasdk.StartQueryExecutionOutput{QueryExecutionId: aws.String(id)}, nil
}

func (a *athenaFailKey) GetQueryExecution(_ context.Context, in *athenasdk.GetQueryExecutionInput, _ ...func(*athenasdk.Options)) (*athenasdk.GetQueryExecutionOutput, error) {
	st := &types.QueryExecutionStatus{State: types.QueryExecutionStateSucceeded}
	if *in.QueryExecutionId == "q-key" {
		st = &types.QueryExecutionStatus{State: types.QueryExecutionStateFailed, StateChangeReason: aws.String("HIVE_BAD_DATA: \x1b[31mbad row")}
	}
	return &athenasdk.GetQueryExecutionOutput{QueryExecution: &types.QueryExecution{Status: st}}, nil
}

func (a *athenaFailKey) GetQueryResults(context.Context, *athenasdk.GetQueryResultsInput, ...func(*athenasdk.Options)) (*athenasdk.GetQueryResultsOutput, error) {
	return &athenasdk.GetQueryResultsOutput{ResultSet: &types.ResultSet{Rows: a.rows}}, nil
}

func (a *athenaFailKey) StopQueryExecution(context.Context, *athenasdk.StopQueryExecutionInput, ...func(*athenasdk.Options)) (*athenasdk.StopQueryExecutionOutput, error) {
	return &athenasdk.StopQueryExecutionOutput{}, nil
}

type emptyLister struct{}

func (emptyLister) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return &s3.ListObjectsV2Output{}, nil
}

// TestDetectAthenaFailedQuery: a failed family query is an input error
// naming the query and Athena's reason (controls made printable); the
// other family's findings are still printed, and the run exits 2.
func TestDetectAthenaFailedQuery(t *testing.T) {
	var rows []types.Row
	for _, r := range athenaRows(t, athenaFixtureFiles(t)[:1], "") {
		var row types.Row
		for _, c := range r["Data"].([]map[string]string) {
			d := types.Datum{}
			if v, ok := c["VarCharValue"]; ok {
				d.VarCharValue = aws.String(v)
			}
			row.Data = append(row.Data, d)
		}
		rows = append(rows, row)
	}
	ios, out, errOut := Test("")
	opts := &detectOptions{IO: ios, NoState: true, Format: "text", FailOn: "low", Since: "2024-06-01", Until: "2024-06-05"}
	opts.Athena = detectAthenaOptions{Table: "t", Database: "default", Logs: "s3://trail/AWSLogs/", MaxScan: "1G",
		Accounts: []string{"111122223333"}, Regions: []string{"eu-west-1"},
		Client: &athenaFailKey{rows: rows}, S3: emptyLister{}, Backoff: func(int) time.Duration { return 0 }}
	err := runDetect(context.Background(), opts)
	if ExitCode(err) != ExitError {
		t.Fatalf("exit %d %v", ExitCode(err), err)
	}
	if !strings.Contains(out.String(), "[ct-cloudtrail-stopped]") {
		t.Errorf("the match family's findings are missing:\n%s", out)
	}
	if !strings.Contains(errOut.String(), "athena:key") || !strings.Contains(errOut.String(), "Athena query q-key FAILED: HIVE_BAD_DATA") || strings.Contains(errOut.String(), "\x1b") {
		t.Errorf("stderr:\n%q", errOut)
	}
}

// startMotoEnv starts moto and points the test process's SDK at it.
func startMotoEnv(t *testing.T) *mototest.Server {
	srv := mototest.Start(t)
	srv.SetEnv(t)
	return srv
}

// TestDetectAthenaStoredBaseline: with --state holding the account's
// baseline, detect --athena judges a key new to the store from its first
// call against what the account is known to use, as the local engine
// does (its first hour does not become its own baseline), and stores
// the same baseline afterwards.
func TestDetectAthenaStoredBaseline(t *testing.T) {
	srv := startMotoEnv(t)
	ctx := context.Background()
	dir := filepath.Join("..", "cloudtrail", "detect", "testdata", "stateful")
	history, newkey := filepath.Join(dir, "history.json"), filepath.Join(dir, "newkey.json")
	tmp := t.TempDir()
	local, viaAthena := filepath.Join(tmp, "local.db"), filepath.Join(tmp, "athena.db")
	ios, _, errOut := Test("")
	if err := runDetect(ctx, &detectOptions{IO: ios, Sources: []string{history}, StatePath: local, Format: "json", FailOn: "none"}); err != nil {
		t.Fatalf("learning the history: %v %s", err, errOut)
	}
	stored, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(viaAthena, stored, 0o600); err != nil {
		t.Fatal(err)
	}

	ios, out, errOut := Test("")
	err = runDetect(ctx, &detectOptions{IO: ios, Sources: []string{newkey}, StatePath: local, Format: "json", FailOn: "none"})
	if ExitCode(err) != ExitClean {
		t.Fatalf("local run: %v %s", err, errOut)
	}
	want := findingLines(out.String())
	if !strings.Contains(out.String(), `"rule_id":"ct-account-new-network"`) {
		t.Fatalf("the local engine did not judge the new key against the account: %v", want)
	}

	seedAthena(t, srv, athenaRows(t, []string{newkey}, ""), athenaRows(t, []string{newkey}, "1"))
	ios, out, errOut = Test("")
	opts := &detectOptions{IO: ios, Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC) },
		StatePath: viaAthena, Format: "json", FailOn: "none", Since: "2024-06-01", Until: "2024-06-05", AWS: awsFlags{EndpointURL: srv.URL}}
	opts.Athena = detectAthenaOptions{Table: "cloudtrail_logs", Database: "default", Workgroup: "primary", Output: "s3://results/",
		Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"}, S3: emptyLister{}, MaxScan: "1G",
		Logs: "s3://trail/AWSLogs/", Backoff: func(int) time.Duration { return time.Millisecond }}
	if err := runDetect(ctx, opts); ExitCode(err) != ExitClean {
		t.Fatalf("athena run: %v %s", err, errOut)
	}
	if got := findingLines(out.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings through Athena with the stored baseline differ from the local engine's\n got: %v\nwant: %v", got, want)
	}
	a, b := storeContents(t, local), storeContents(t, viaAthena)
	if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("the baseline stored after the Athena run differs from the local run's\n got: %q\nwant: %q", b, a)
	}
}

// storeContents lists every key and value of a baseline store, by their
// bucket paths. Two stores with the same contents may differ in bytes:
// bbolt's pages depend on the order keys were written in.
func storeContents(t *testing.T, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(prefix+"/"+string(k), b.Bucket(k))
			}
			out = append(out, fmt.Sprintf("%s/%s=%x", prefix, k, v))
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name), b) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// seedAthena queues moto's results of the next two queries: the match
// family's rows, then the key family's.
func seedAthena(t *testing.T, srv *mototest.Server, match, key []map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"region": srv.Config().Region, "results": []any{
		map[string]any{"rows": match}, map[string]any{"rows": key}}})
	resp, err := http.Post(srv.URL+"/moto-api/static/athena/query-results", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
