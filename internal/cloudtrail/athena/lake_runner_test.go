package athena

// The CloudTrail Lake call flow. moto does not implement Lake's queries
// (StartQuery answers "not implemented"), so the SDK talks to an
// httptest fake of the CloudTrail JSON API (awsJson1_1,
// X-Amz-Target: CloudTrail_20131101.<Op>) scripted per case.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ctsdk "github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// fakeLake scripts the API's answers.
type fakeLake struct {
	mu        sync.Mutex
	states    []string // DescribeQuery's QueryStatus, the last repeated
	scanned   []int64  // DescribeQuery's BytesScanned, the last repeated
	errMsg    string
	throttles map[string]int // operation -> throttling errors before success
	pages     [][][]map[string]string
	calls     []string
	cancelled []string
	statement string
	onPoll    func()
}

func (f *fakeLake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "CloudTrail_20131101.")
	f.calls = append(f.calls, op)
	var in map[string]any
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if f.throttles[op] > 0 {
		f.throttles[op]--
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		return
	}
	var out any
	switch op {
	case "StartQuery":
		f.statement, _ = in["QueryStatement"].(string)
		out = map[string]any{"QueryId": "lq-1"}
	case "DescribeQuery":
		if f.onPoll != nil {
			f.onPoll()
		}
		st, sc := f.states[0], f.scanned[0]
		if len(f.states) > 1 {
			f.states = f.states[1:]
		}
		if len(f.scanned) > 1 {
			f.scanned = f.scanned[1:]
		}
		out = map[string]any{"QueryId": "lq-1", "QueryStatus": st, "ErrorMessage": f.errMsg,
			"QueryStatistics": map[string]any{"BytesScanned": sc, "EventsScanned": 10}}
	case "GetQueryResults":
		page := 0
		if tok, _ := in["NextToken"].(string); tok != "" {
			fmt.Sscanf(tok, "page-%d", &page)
		}
		res := map[string]any{"QueryStatus": "FINISHED", "QueryResultRows": f.pages[page],
			"QueryStatistics": map[string]any{"BytesScanned": f.scanned[len(f.scanned)-1], "ResultsCount": len(f.pages[page])}}
		if page+1 < len(f.pages) {
			res["NextToken"] = fmt.Sprintf("page-%d", page+1)
		}
		out = res
	case "CancelQuery":
		id, _ := in["QueryId"].(string)
		f.cancelled = append(f.cancelled, id)
		out = map[string]any{"QueryId": id, "QueryStatus": "CANCELLED"}
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"UnsupportedOperationException","message":"%s"}`, op)
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

// lakeClient is the real SDK client, pointed at the fake; the SDK's own
// retries are off so the runner's throttling is what is tested.
func lakeClient(t *testing.T, f *fakeLake) *ctsdk.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return ctsdk.New(ctsdk.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 1,
		HTTPClient:       srv.Client(),
	})
}

func lakeRow(id, name string) []map[string]string {
	return []map[string]string{{"eventjson": fmt.Sprintf(`{"eventVersion":"1.08","eventID":%q,"eventName":%q,"eventTime":"2024-06-01T10:00:00Z",
	  "userIdentity":{"type":"IAMUser","accessKeyId":"AKIAEXAMPLE000000001"},"requestParameters":{"userName":"bob"}}`, id, name)}}
}

func TestLakeRunnerFlow(t *testing.T) {
	cases := []struct {
		name      string
		api       *fakeLake
		maxScan   int64
		wantErr   string
		wantRows  int64
		wantPages int
		wantSleep []time.Duration
		wantThr   int
		wantSkip  int64
		cancelled bool
	}{
		{name: "pages", api: &fakeLake{states: []string{"QUEUED", "RUNNING", "FINISHED"}, scanned: []int64{0, 100, 4242},
			pages: [][][]map[string]string{{lakeRow("e1", "CreateUser")}, {lakeRow("e2", "CreateUser"), lakeRow("e3", "CreateAccessKey")}, {lakeRow("e4", "DeleteUser")}}},
			wantRows: 4, wantPages: 3, wantSleep: []time.Duration{1, 2}},
		{name: "failed", api: &fakeLake{states: []string{"RUNNING", "FAILED"}, scanned: []int64{0},
			errMsg: "Query failed: column eventjson cannot be resolved"},
			wantErr: "CloudTrail Lake query lq-1 FAILED: Query failed: column eventjson", wantSleep: []time.Duration{1}},
		{name: "timed-out", api: &fakeLake{states: []string{"TIMED_OUT"}, scanned: []int64{0}},
			wantErr: "CloudTrail Lake query lq-1 TIMED_OUT"},
		{name: "cancelled-elsewhere", api: &fakeLake{states: []string{"CANCELLED"}, scanned: []int64{0}},
			wantErr: "CloudTrail Lake query lq-1 CANCELLED"},
		{name: "throttled", api: &fakeLake{states: []string{"FINISHED"}, scanned: []int64{4242},
			throttles: map[string]int{"StartQuery": 1, "DescribeQuery": 2, "GetQueryResults": 1},
			pages:     [][][]map[string]string{{lakeRow("e1", "CreateUser")}}},
			wantRows: 1, wantPages: 1, wantThr: 4, wantSleep: []time.Duration{1, 1, 2, 1}},
		{name: "throttled-for-good", api: &fakeLake{states: []string{"FINISHED"}, scanned: []int64{0},
			throttles: map[string]int{"DescribeQuery": 100}},
			wantErr: "ThrottlingException", wantThr: 3, wantSleep: []time.Duration{1, 2, 4}},
		{name: "scan-limit", api: &fakeLake{states: []string{"RUNNING"}, scanned: []int64{10, 5000}}, maxScan: 1000,
			wantErr: "stopped after scanning 5000 bytes, above --max-scan (1000 bytes)", wantSleep: []time.Duration{1}, cancelled: true},
		{name: "row-without-eventjson", api: &fakeLake{states: []string{"FINISHED"}, scanned: []int64{4242},
			pages: [][][]map[string]string{{lakeRow("e1", "CreateUser"), {{"eventid": "e2"}}, {{"eventjson": "not json"}}, lakeRow("e4", "CreateUser")}}},
			wantRows: 4, wantPages: 1, wantSkip: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sl sleeps
			r := &LakeRunner{Client: lakeClient(t, c.api), MaxScan: c.maxScan,
				Backoff: func(n int) time.Duration { return time.Duration(1 << n) }, Sleep: sl.sleep, MaxThrottled: 3}
			src := &Source{Lake: r, Family: Family{Name: "match"}, SQL: "SELECT eventjson FROM eds-1"}
			if name := src.Input().Name; name != "lake:match" {
				t.Errorf("input name %q", name)
			}
			recs, decErr := readSource(t, src)
			st := src.Stats
			switch {
			case c.wantErr == "" && decErr != nil:
				t.Fatalf("error: %v", decErr)
			case c.wantErr != "" && (decErr == nil || !strings.Contains(decErr.Error(), c.wantErr)):
				t.Fatalf("error %v, want %q", decErr, c.wantErr)
			}
			if st.Rows != c.wantRows || st.Pages != c.wantPages || st.Throttled != c.wantThr || st.Skipped != c.wantSkip {
				t.Errorf("stats %+v, want %d rows in %d pages, %d throttled, %d skipped", st, c.wantRows, c.wantPages, c.wantThr, c.wantSkip)
			}
			if fmt.Sprint(sl.d) != fmt.Sprint(c.wantSleep) {
				t.Errorf("waits %v, want %v", sl.d, c.wantSleep)
			}
			if got := fmt.Sprint(c.api.cancelled); got != map[bool]string{true: "[lq-1]", false: "[]"}[c.cancelled] {
				t.Errorf("cancelled %s", got)
			}
			if c.wantErr == "" {
				if len(recs) != int(c.wantRows-c.wantSkip) || recs[0] != `e1/CreateUser/AKIAEXAMPLE000000001/{"userName":"bob"}` {
					t.Errorf("records %q", recs)
				}
				if st.BytesScanned != 4242 {
					t.Errorf("bytes scanned %d", st.BytesScanned)
				}
				if c.api.statement != "SELECT eventjson FROM eds-1" {
					t.Errorf("statement %q", c.api.statement)
				}
			}
			if c.wantSkip > 0 && !strings.Contains(st.SkipReason, "row 2: the row has no eventjson") {
				t.Errorf("skip reason %q", st.SkipReason)
			}
		})
	}
}

// TestLakeRunnerCancelsOnContextEnd: Ctrl-C while the query runs cancels
// it in Lake, on a context of its own.
func TestLakeRunnerCancelsOnContextEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	api := &fakeLake{states: []string{"RUNNING"}, scanned: []int64{0}, onPoll: func() {
		if polls++; polls == 2 {
			cancel()
		}
	}}
	var sl sleeps
	r := &LakeRunner{Client: lakeClient(t, api), Backoff: DefaultBackoff, Sleep: sl.sleep}
	_, err := r.Run(ctx, "SELECT eventjson FROM eds-1", func([]string, []*string) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if fmt.Sprint(api.cancelled) != "[lq-1]" {
		t.Errorf("cancelled %v, want [lq-1]", api.cancelled)
	}
}

func TestAppendEvent(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		name string
		row  []*string
		want string // the line, or the error's text
	}{
		{"event", []*string{s(`{"eventID":"e1"}`)}, `{"eventID":"e1"}` + "\n"},
		{"multi-line", []*string{s("{\n\"eventID\": \"e1\"\r\n}")}, `{ "eventID": "e1"  }` + "\n"},
		{"null", []*string{nil}, "no eventjson"},
		{"array", []*string{s(`[1]`)}, "not a JSON object"},
		{"two values", []*string{s(`{}{}`)}, "not a JSON object"},
		{"huge", []*string{s(`{"x":"` + strings.Repeat("x", MaxRowBytes) + `"}`)}, "larger than any CloudTrail event"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := appendEvent(nil, c.row)
			if err != nil {
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want %q", err, c.want)
				}
				return
			}
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// readSource decodes a source's rows as the local reader does: each
// record as "eventID/eventName/accessKeyId/requestParameters", and the
// first input error.
func readSource(t *testing.T, src *Source) ([]string, error) {
	t.Helper()
	in := src.Input()
	rc, err := in.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var recs []string
	var decErr error
	cloudtrail.Decode(in.Name, rc, func(rec *cloudtrail.Record) {
		recs = append(recs, rec.EventID+"/"+rec.EventName+"/"+rec.UserIdentity.AccessKeyID+"/"+string(rec.RequestParameters))
	}, func(e *cloudtrail.InputError) {
		if decErr == nil {
			decErr = e
		}
	})
	return recs, decErr
}

// FuzzAppendEvent: a Lake row is outside input; whatever it holds,
// appendEvent does not panic, and what it accepts is one line holding
// one JSON object.
func FuzzAppendEvent(f *testing.F) {
	f.Add(`{"eventID":"e1","eventName":"CreateUser"}`)
	f.Add("{\n\"a\": [1, {\"b\": \"c\\nd\"}]\r\n}")
	f.Add(`[]`)
	f.Add(`{"a":`)
	f.Add("\x00{}")
	f.Fuzz(func(t *testing.T, ev string) {
		out, err := appendEvent(nil, []*string{&ev})
		if err != nil {
			return
		}
		line := out[:len(out)-1]
		if out[len(out)-1] != '\n' || strings.ContainsAny(string(line), "\r\n") {
			t.Fatalf("not one line: %q", out)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(line, &obj); err != nil {
			t.Fatalf("accepted %q, which is no JSON object: %v", ev, err)
		}
	})
}
