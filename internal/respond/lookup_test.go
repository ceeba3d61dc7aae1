package respond

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// trailServer speaks CloudTrail's LookupEvents (moto has none): it
// answers AccessKeyId and EventName lookups from a list of events, two
// events a page, and throttles the requests whose number is in throttle.
type trailServer struct {
	mu       sync.Mutex
	events   []map[string]any
	raw      []string
	throttle map[int]bool
	requests []string // "AccessKeyId=AKIA... token"
}

func newTrailServer(t *testing.T, lines string, throttle ...int) (*trailServer, *ctapi.Client) {
	ts := &trailServer{throttle: map[int]bool{}}
	for _, n := range throttle {
		ts.throttle[n] = true
	}
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		ts.events, ts.raw = append(ts.events, m), append(ts.raw, l)
	}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	client := ctapi.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
	})
	return ts, client
}

func (ts *trailServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var in struct {
		LookupAttributes []struct{ AttributeKey, AttributeValue string }
		NextToken        string
	}
	_ = json.Unmarshal(raw, &in)
	ts.mu.Lock()
	n := len(ts.requests)
	attr := in.LookupAttributes[0]
	ts.requests = append(ts.requests, attr.AttributeKey+"="+attr.AttributeValue+" "+in.NextToken)
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if ts.throttle[n] {
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		return
	}
	var match []string
	for i, e := range ts.events {
		id, _ := e["userIdentity"].(map[string]any)
		if (attr.AttributeKey == "AccessKeyId" && id["accessKeyId"] == attr.AttributeValue) ||
			(attr.AttributeKey == "EventName" && e["eventName"] == attr.AttributeValue) {
			match = append(match, ts.raw[i])
		}
	}
	start, _ := strconv.Atoi(in.NextToken)
	end := min(start+2, len(match))
	out := map[string]any{}
	var evs []map[string]any
	for _, e := range match[start:end] {
		evs = append(evs, map[string]any{"EventId": "x", "CloudTrailEvent": e})
	}
	out["Events"] = evs
	if end < len(match) {
		out["NextToken"] = strconv.Itoa(end)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// sleeps records the waits instead of waiting.
type sleeps struct{ d []time.Duration }

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.d = append(s.d, d)
	return nil
}

const leaked, created, session = "AKIARZPUZDIKLEAKEDKY", "AKIARZPUZDIKCREATEDK", "ASIARZPUZDIKEZ3NSKTV"

func trailWith(extra ...string) string {
	r := strings.NewReplacer("LEAKED", leaked, "CREATED", created, "SESSION", session)
	return r.Replace(trailOfLeak + strings.Join(extra, "\n"))
}

func TestCollectLookup(t *testing.T) {
	// Requests 1 and 2 are throttled (backing off twice), then the pages
	// come: the leaked key's 3 events (2 pages), then the created key's and
	// the session's, found through the events.
	ts, client := newTrailServer(t, trailWith(), 1, 2)
	sl := &sleeps{}
	l := &Lookup{Client: client, Region: "us-east-1", Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Sleep: sl.sleep}
	events, err := Collect(context.Background(), []*Lookup{l}, leaked, 50, func(e *cloudtrail.InputError) { t.Error(e) })
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range events {
		ids = append(ids, e.EventID)
	}
	slices.Sort(ids)
	if strings.Join(ids, " ") != "ev-1 ev-2 ev-3 ev-4 ev-5" {
		t.Errorf("events %v", ids)
	}
	want := []string{
		"AccessKeyId=" + leaked + " ", "AccessKeyId=" + leaked + " 2", "AccessKeyId=" + leaked + " 2", "AccessKeyId=" + leaked + " 2",
		"AccessKeyId=" + created + " ", "AccessKeyId=" + session + " ",
	}
	if !slices.Equal(ts.requests, want) {
		t.Errorf("requests:\n%s\nwant\n%s", strings.Join(ts.requests, "\n"), strings.Join(want, "\n"))
	}
	// Every request after the first waited at least the interval; each
	// throttled retry doubled it.
	wantSleeps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond}
	if !slices.Equal(sl.d, wantSleeps) {
		t.Errorf("waits %v, want %v", sl.d, wantSleeps)
	}
	if l.Requests != 6 || l.Throttled != 2 {
		t.Errorf("requests %d throttled %d", l.Requests, l.Throttled)
	}
}

func TestLookupGivesUp(t *testing.T) {
	_, client := newTrailServer(t, trailWith(), 0, 1, 2, 3)
	sl := &sleeps{}
	l := &Lookup{Client: client, Sleep: sl.sleep, MaxRetries: 3}
	err := l.ByKey(context.Background(), leaked, func(*cloudtrail.Record) {}, func(*cloudtrail.InputError) {})
	if err == nil || !strings.Contains(err.Error(), "still throttled after 3 retries") {
		t.Fatalf("err = %v", err)
	}
}

// An ASIA key is traced back to the key that made it: a role session
// through the account's AssumeRole calls (read until it turns up), a
// user's session through the user's own keys, without reading the
// account's other minting calls.
func TestTraceSessionLookup(t *testing.T) {
	const userSession = "ASIARZPUZDIKUSERSESS"
	trail := trailWith(
		`{"eventVersion":"1.08","eventTime":"2026-02-27T11:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetSessionToken","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","eventID":"ev-7","userIdentity":{"type":"IAMUser","accessKeyId":"LEAKED","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice"},"responseElements":{"credentials":{"accessKeyId":"`+userSession+`"}}}`,
		`{"eventVersion":"1.08","eventTime":"2026-02-27T11:05:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","readOnly":true,"eventID":"ev-8","userIdentity":{"type":"IAMUser","accessKeyId":"`+userSession+`","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","userName":"alice","sessionContext":{"attributes":{"mfaAuthenticated":"false"}}}}`)
	tests := []struct {
		key, event, parentARN string
		requests              []string
	}{
		{session, "AssumeRole", "arn:aws:iam::123456789012:user/alice", []string{
			"AccessKeyId=" + session + " ", "EventName=GetSessionToken ", "EventName=AssumeRole "}},
		{userSession, "GetSessionToken", "arn:aws:iam::123456789012:user/alice", []string{
			"AccessKeyId=" + userSession + " ", "AccessKeyId=" + leaked + " ", "AccessKeyId=" + leaked + " 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			ts, client := newTrailServer(t, trail)
			sl := &sleeps{}
			opt := Options{Lookups: []*Lookup{{Client: client, Sleep: sl.sleep}}}
			o, err := traceSession(context.Background(), aliceKeys{}, tc.key, opt)
			if err != nil {
				t.Fatal(err)
			}
			if o.ParentKey != leaked || o.EventName != tc.event || o.ParentARN != tc.parentARN {
				t.Errorf("origin %+v", o)
			}
			if !slices.Equal(ts.requests, tc.requests) {
				t.Errorf("requests:\n%s\nwant\n%s", strings.Join(ts.requests, "\n"), strings.Join(tc.requests, "\n"))
			}
		})
	}
}

// aliceKeys lists alice's one key.
type aliceKeys struct{ IAMAPI }

func (aliceKeys) ListAccessKeys(_ context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	if aws.ToString(in.UserName) != "alice" {
		return &iam.ListAccessKeysOutput{}, nil
	}
	return &iam.ListAccessKeysOutput{AccessKeyMetadata: []iamtypes.AccessKeyMetadata{{AccessKeyId: aws.String(leaked), UserName: aws.String("alice")}}}, nil
}
