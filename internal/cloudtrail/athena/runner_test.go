package athena

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/smithy-go"
)

// fakeAthena scripts the API's answers: the states GetQueryExecution
// walks through, errors to return first, pages of results. moto has
// neither failed queries, nor throttling, nor paging, so these parts of
// the flow are proved here; the rest against moto (moto_test.go).
type fakeAthena struct {
	states    []types.QueryExecutionState
	reason    string
	throttles map[string]int // call -> throttling errors before success
	pages     [][]types.Row
	calls     []string
	stopped   []string
	onPoll    func()
}

func (f *fakeAthena) throttle(call string) error {
	f.calls = append(f.calls, call)
	if f.throttles[call] > 0 {
		f.throttles[call]--
		return &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	return nil
}

func (f *fakeAthena) StartQueryExecution(ctx context.Context, in *sdk.StartQueryExecutionInput, _ ...func(*sdk.Options)) (*sdk.StartQueryExecutionOutput, error) {
	if err := f.throttle("start"); err != nil {
		return nil, err
	}
	return &sdk.StartQueryExecutionOutput{QueryExecutionId: aws.String("q-1")}, nil
}

func (f *fakeAthena) GetQueryExecution(ctx context.Context, in *sdk.GetQueryExecutionInput, _ ...func(*sdk.Options)) (*sdk.GetQueryExecutionOutput, error) {
	if err := f.throttle("poll"); err != nil {
		return nil, err
	}
	if f.onPoll != nil {
		f.onPoll()
	}
	st := f.states[0]
	if len(f.states) > 1 {
		f.states = f.states[1:]
	}
	return &sdk.GetQueryExecutionOutput{QueryExecution: &types.QueryExecution{
		Status:     &types.QueryExecutionStatus{State: st, StateChangeReason: aws.String(f.reason)},
		Statistics: &types.QueryExecutionStatistics{DataScannedInBytes: aws.Int64(4242)},
	}}, nil
}

func (f *fakeAthena) GetQueryResults(ctx context.Context, in *sdk.GetQueryResultsInput, _ ...func(*sdk.Options)) (*sdk.GetQueryResultsOutput, error) {
	if err := f.throttle("results"); err != nil {
		return nil, err
	}
	i := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &i)
	}
	out := &sdk.GetQueryResultsOutput{ResultSet: &types.ResultSet{Rows: f.pages[i]}}
	if i+1 < len(f.pages) {
		out.NextToken = aws.String(fmt.Sprint(i + 1))
	}
	return out, nil
}

func (f *fakeAthena) StopQueryExecution(ctx context.Context, in *sdk.StopQueryExecutionInput, _ ...func(*sdk.Options)) (*sdk.StopQueryExecutionOutput, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	f.stopped = append(f.stopped, aws.ToString(in.QueryExecutionId))
	return &sdk.StopQueryExecutionOutput{}, nil
}

func row(vals ...*string) types.Row {
	var r types.Row
	for _, v := range vals {
		r.Data = append(r.Data, types.Datum{VarCharValue: v})
	}
	return r
}

func header() types.Row {
	var vals []*string
	for _, c := range Columns {
		vals = append(vals, aws.String(c))
	}
	return row(vals...)
}

// eventRow is a result row for one event, other columns NULL.
func eventRow(id, name, key string) types.Row {
	vals := make([]*string, len(Columns))
	set := map[string]string{"eventid": id, "eventname": name, "eventsource": "iam.amazonaws.com",
		"eventtime": "2024-06-01T10:00:00Z", "ui_accesskeyid": key, "ui_session": "false",
		"requestparameters": `{"userName":"bob"}`, "awsregion": "us-east-1"}
	for i, c := range Columns {
		if v, ok := set[c]; ok {
			vals[i] = aws.String(v)
		}
	}
	return row(vals...)
}

// hugeRow is larger than any CloudTrail event.
func hugeRow() types.Row {
	r := eventRow("e2", "CreateUser", "AKIAEXAMPLE000000001")
	r.Data[0].VarCharValue = aws.String(strings.Repeat("x", MaxRowBytes))
	return r
}

// sleeps records the waits instead of waiting.
type sleeps struct{ d []time.Duration }

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.d = append(s.d, d)
	return ctx.Err()
}

func TestRunnerFlow(t *testing.T) {
	running := []types.QueryExecutionState{types.QueryExecutionStateQueued, types.QueryExecutionStateRunning, types.QueryExecutionStateRunning}
	cases := []struct {
		name      string
		api       *fakeAthena
		wantErr   string
		wantRows  int64
		wantPages int
		wantSleep []time.Duration
		wantThr   int
		// wantSkipped rows are no CloudTrail event: counted, said, and
		// the others still read.
		wantSkipped int64
	}{
		{name: "pages", api: &fakeAthena{
			states: append(running, types.QueryExecutionStateSucceeded),
			pages: [][]types.Row{
				{header(), eventRow("e1", "CreateUser", "AKIAEXAMPLE000000001")},
				{eventRow("e2", "CreateUser", "AKIAEXAMPLE000000001"), eventRow("e3", "CreateAccessKey", "AKIAEXAMPLE000000001")},
				{eventRow("e4", "DeleteUser", "AKIAEXAMPLE000000002")},
			}},
			wantRows: 4, wantPages: 3,
			// three polls found it unfinished: three growing waits
			wantSleep: []time.Duration{1, 2, 4}},
		{name: "failed", api: &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateRunning, types.QueryExecutionStateFailed},
			reason: "TABLE_NOT_FOUND: line 2:6: Table 'default.nope' does not exist"},
			wantErr: "Athena query q-1 FAILED: TABLE_NOT_FOUND", wantSleep: []time.Duration{1}},
		{name: "cancelled-elsewhere", api: &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateCancelled}},
			wantErr: "Athena query q-1 CANCELLED"},
		{name: "throttled", api: &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateSucceeded},
			throttles: map[string]int{"start": 1, "poll": 2, "results": 1},
			pages:     [][]types.Row{{header(), eventRow("e1", "CreateUser", "AKIAEXAMPLE000000001")}}},
			wantRows: 1, wantPages: 1, wantThr: 4, wantSleep: []time.Duration{1, 1, 2, 1}},
		{name: "throttled-for-good", api: &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateSucceeded},
			throttles: map[string]int{"poll": 100}},
			wantErr: "ThrottlingException", wantThr: 3, wantSleep: []time.Duration{1, 2, 4}},
		{name: "oversized-row-skipped", api: &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateSucceeded},
			pages: [][]types.Row{{header(), eventRow("e1", "CreateUser", "AKIAEXAMPLE000000001"), hugeRow(), eventRow("e3", "CreateUser", "AKIAEXAMPLE000000001")}}},
			wantRows: 3, wantPages: 1, wantSkipped: 1},
		{name: "not-our-columns", api: &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateSucceeded},
			pages: [][]types.Row{{row(aws.String("x")), row(aws.String("1"))}}},
			wantErr: `the result has no column "eventversion"`, wantRows: 1, wantPages: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sl sleeps
			r := &Runner{Client: c.api, Database: "default", Workgroup: "primary",
				Backoff: func(n int) time.Duration { return time.Duration(1 << n) }, Sleep: sl.sleep, MaxThrottled: 3}
			src := &Source{Runner: r, Family: Family{Name: "match"}, SQL: "SELECT 1"}
			recs, decErr := readSource(t, src)
			st := src.Stats
			switch {
			case c.wantErr == "" && decErr != nil:
				t.Fatalf("error: %v", decErr)
			case c.wantErr != "" && (decErr == nil || !strings.Contains(decErr.Error(), c.wantErr)):
				t.Fatalf("error %v, want %q", decErr, c.wantErr)
			}
			if st.Rows != c.wantRows || st.Pages != c.wantPages || st.Throttled != c.wantThr {
				t.Errorf("stats %+v, want %d rows in %d pages, %d throttled", st, c.wantRows, c.wantPages, c.wantThr)
			}
			if st.Skipped != c.wantSkipped || (c.wantSkipped > 0 && !strings.Contains(st.SkipReason, "row 2: row of")) {
				t.Errorf("skipped %d (%q), want %d", st.Skipped, st.SkipReason, c.wantSkipped)
			}
			if fmt.Sprint(sl.d) != fmt.Sprint(c.wantSleep) {
				t.Errorf("waits %v, want %v", sl.d, c.wantSleep)
			}
			if c.wantErr == "" {
				if len(recs) != int(c.wantRows-c.wantSkipped) || !strings.HasPrefix(recs[0], "e1/CreateUser/AKIAEXAMPLE000000001/{\"userName\":\"bob\"}") {
					t.Errorf("records %q", recs)
				}
				if st.BytesScanned != 4242 {
					t.Errorf("bytes scanned %d", st.BytesScanned)
				}
			}
		})
	}
}

// TestRunnerStopsQueryOnCancel: Ctrl-C (the run's context ending) while
// the query runs stops it in Athena, on a context of its own.
func TestRunnerStopsQueryOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	api := &fakeAthena{states: []types.QueryExecutionState{types.QueryExecutionStateRunning},
		onPoll: func() {
			if polls++; polls == 2 {
				cancel()
			}
		}}
	var sl sleeps
	r := &Runner{Client: api, Backoff: DefaultBackoff, Sleep: sl.sleep}
	_, err := r.Run(ctx, "SELECT 1", func([]string, []*string) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if fmt.Sprint(api.stopped) != "[q-1]" {
		t.Errorf("stopped %v, want [q-1]", api.stopped)
	}
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for n, w := range want {
		if got := DefaultBackoff(n); got != w {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestAppendRecordRefusesHugeRows(t *testing.T) {
	vals := make([]*string, len(Columns))
	big := strings.Repeat("x", MaxRowBytes+1)
	vals[0] = &big
	if _, err := AppendRecord(nil, vals); err == nil {
		t.Fatal("no error for a row over MaxRowBytes")
	}
	if _, err := AppendRecord(nil, vals[:3]); err == nil {
		t.Fatal("no error for a short row")
	}
}

// TestAppendRecordEvents: a reduced row's count of events becomes the
// record's keywardenEvents; anything but a positive count in range is a
// bad row (skipped and counted by the source), never a guess.
func TestAppendRecordEvents(t *testing.T) {
	at := slices.Index(Columns, EventsColumn)
	if at < 0 {
		t.Fatalf("no %s among the columns", EventsColumn)
	}
	for _, tc := range []struct {
		v    *string
		want string // "" : an error
	}{
		{nil, `{"eventID":"e1"}`},
		{aws.String("7"), `{"eventID":"e1","keywardenEvents":7}`},
		{aws.String("+7"), `{"eventID":"e1","keywardenEvents":7}`},
		{aws.String("0"), ""},
		{aws.String("-2"), ""},
		{aws.String("1e3"), ""},
		{aws.String("1099511627777"), ""},
		{aws.String(`1}, "x": {`), ""},
	} {
		vals := make([]*string, len(Columns))
		vals[slices.Index(Columns, "eventid")] = aws.String("e1")
		vals[at] = tc.v
		got, err := AppendRecord(nil, vals)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: no error, got %s", *tc.v, got)
			}
			continue
		}
		if err != nil || strings.TrimSpace(string(got)) != tc.want {
			t.Errorf("got %s %v, want %s", got, err, tc.want)
		}
	}
}
