package cli

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/keywarden/keywarden/internal/cloudtrail/athena"
)

// fakeLakeAPI answers every query with the same rows (every record of
// the files as eventjson: a superset of any family's rows, judged again
// by the engine), after scanning `scanned` bytes.
type fakeLakeAPI struct {
	mu         sync.Mutex
	rows       [][]map[string]string
	scanned    int64
	statements []string
	cancelled  int
}

func (f *fakeLakeAPI) StartQuery(_ context.Context, in *cloudtrail.StartQueryInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.StartQueryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statements = append(f.statements, aws.ToString(in.QueryStatement))
	return &cloudtrail.StartQueryOutput{QueryId: aws.String("lq-1")}, nil
}

func (f *fakeLakeAPI) DescribeQuery(context.Context, *cloudtrail.DescribeQueryInput, ...func(*cloudtrail.Options)) (*cloudtrail.DescribeQueryOutput, error) {
	return &cloudtrail.DescribeQueryOutput{QueryStatus: cttypes.QueryStatusRunning,
		QueryStatistics: &cttypes.QueryStatisticsForDescribeQuery{BytesScanned: aws.Int64(f.scanned)}}, nil
}

func (f *fakeLakeAPI) GetQueryResults(context.Context, *cloudtrail.GetQueryResultsInput, ...func(*cloudtrail.Options)) (*cloudtrail.GetQueryResultsOutput, error) {
	return &cloudtrail.GetQueryResultsOutput{QueryStatus: cttypes.QueryStatusFinished, QueryResultRows: f.rows,
		QueryStatistics: &cttypes.QueryStatistics{BytesScanned: aws.Int64(f.scanned)}}, nil
}

func (f *fakeLakeAPI) CancelQuery(context.Context, *cloudtrail.CancelQueryInput, ...func(*cloudtrail.Options)) (*cloudtrail.CancelQueryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled++
	return &cloudtrail.CancelQueryOutput{}, nil
}

// finishing makes DescribeQuery say FINISHED from the second poll on.
type finishing struct {
	*fakeLakeAPI
	polls int
}

func (f *finishing) DescribeQuery(ctx context.Context, in *cloudtrail.DescribeQueryInput, o ...func(*cloudtrail.Options)) (*cloudtrail.DescribeQueryOutput, error) {
	out, err := f.fakeLakeAPI.DescribeQuery(ctx, in, o...)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polls++; f.polls%2 == 0 {
		out.QueryStatus = cttypes.QueryStatusFinished
	}
	return out, err
}

func lakeRows(t *testing.T, files []string) [][]map[string]string {
	t.Helper()
	var rows [][]map[string]string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range doc.Records {
			rows = append(rows, []map[string]string{{"eventjson": string(r)}})
		}
	}
	return rows
}

// TestDetectLake: detect --lake end to end with the command's source
// plumbing: the findings (JSON writer) equal detect's on the same records
// read from files; a query scanning more than --max-scan is cancelled
// (exit 2) unless --yes.
func TestDetectLake(t *testing.T) {
	files := athenaFixtureFiles(t)
	ctx := context.Background()
	ios, out, errOut := Test("")
	if err := runDetect(ctx, &detectOptions{IO: ios, Sources: files, NoState: true, Format: "json", FailOn: "none"}); ExitCode(err) != ExitClean {
		t.Fatalf("local run: %v %s", err, errOut)
	}
	want := strings.Join(findingLines(out.String()), "\n")
	run := func(api athena.LakeAPI, yes bool) (string, string, error) {
		ios, out, errOut := Test("")
		opts := &detectOptions{IO: ios, Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC) },
			NoState: true, Format: "json", FailOn: "high", Since: "2024-06-01", Until: "2024-06-05"}
		opts.Athena = detectAthenaOptions{Lake: "arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/EXAMPLE-f852", Layout: "keywarden",
			MaxScan: "1G", Yes: yes, LakeClient: api, Backoff: func(int) time.Duration { return 0 }}
		err := runDetect(ctx, opts)
		return out.String(), errOut.String(), err
	}

	api := &fakeLakeAPI{rows: lakeRows(t, files), scanned: 4 << 20}
	stdout, stderr, err := run(&finishing{fakeLakeAPI: api}, false)
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d %v\n%s", ExitCode(err), err, stderr)
	}
	if got := strings.Join(findingLines(stdout), "\n"); got != want {
		t.Errorf("findings through Lake differ from the local engine's\n got: %v\nwant: %v", got, want)
	}
	for _, s := range []string{"lake: match query lq-1 scanned 4.0 MiB", "lake: key query", "cannot estimate the bytes a query scans before it runs"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	if len(api.statements) != 2 || !strings.Contains(api.statements[0], "\nFROM EXAMPLE-f852\nWHERE eventtime >= TIMESTAMP '2024-06-01 00:00:00'") {
		t.Errorf("statements %q", api.statements)
	}

	// Above --max-scan while running (the fake never finishes): cancelled, exit 2, saying why.
	big := &fakeLakeAPI{rows: api.rows, scanned: 5 << 30}
	_, stderr, err = run(big, false)
	if ExitCode(err) != ExitError || !strings.Contains(stderr, "above --max-scan") || big.cancelled != 2 {
		t.Fatalf("scan limit: exit %d, %d cancelled, %v\n%s", ExitCode(err), big.cancelled, err, stderr)
	}
	// --yes lifts it.
	big = &fakeLakeAPI{rows: api.rows, scanned: 5 << 30}
	if _, stderr, err = run(&finishing{fakeLakeAPI: big}, true); ExitCode(err) != ExitFindings || big.cancelled != 0 {
		t.Fatalf("--yes: exit %d, %d cancelled, %v\n%s", ExitCode(err), big.cancelled, err, stderr)
	}
}

// startAfterLister records where the cost guard's listings start.
type startAfterLister struct{ starts []string }

func (l *startAfterLister) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	l.starts = append(l.starts, aws.ToString(in.StartAfter))
	return &s3.ListObjectsV2Output{Contents: []s3types.Object{{Key: aws.String(aws.ToString(in.Prefix) + "2014/01/01/x.json.gz"), Size: aws.Int64(1 << 20)}}}, nil
}

// TestDetectAthenaLayoutNone: a table without date partitions is scanned
// whole; the cost guard estimates every day since CloudTrail began and
// the run needs --yes, whatever --max-scan says.
func TestDetectAthenaLayoutNone(t *testing.T) {
	l := &startAfterLister{}
	ios, _, errOut := Test("")
	opts := &detectOptions{IO: ios, NoState: true, Format: "text", FailOn: "none", Since: "2024-06-01", Until: "2024-06-05"}
	opts.Athena = detectAthenaOptions{Table: "t", Database: "default", Logs: "s3://trail/AWSLogs/", MaxScan: "1T", Layout: "none",
		Accounts: []string{"111122223333"}, Regions: []string{"eu-west-1"}, Client: &athenaFailKey{}, S3: l}
	err := runDetect(context.Background(), opts)
	if ExitCode(err) != ExitError || !strings.Contains(err.Error(), "would scan the whole table (2.0 MiB, 2 queries): pass --yes") {
		t.Fatalf("exit %d %v", ExitCode(err), err)
	}
	if !strings.Contains(errOut.String(), "--athena-layout none: the table has no date partitions") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if len(l.starts) != 1 || !strings.HasSuffix(l.starts[0], "/eu-west-1/2013/11/01") {
		t.Errorf("listing started after %q, want CloudTrail's first day", l.starts)
	}
}
