package cloudtrail

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// moto has no LookupEvents: this server speaks the API's JSON protocol,
// pages its answer and records when each request came.
func TestLookupEvents(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	var bodies []map[string]any
	pages := [][]string{
		{strings.Replace(rec1, `"eventID":"e1"`, `"eventID":"p1a"`, 1), strings.Replace(rec1, `"eventID":"e1"`, `"eventID":"p1b"`, 1)},
		{strings.Replace(rec2, `"eventID":"e2"`, `"eventID":"p2a"`, 1)},
		{strings.Replace(rec1, `"eventID":"e1"`, `"eventID":"p3a"`, 1)},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".LookupEvents") {
			http.Error(w, "unexpected target "+r.Header.Get("X-Amz-Target"), 400)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var in map[string]any
		json.Unmarshal(raw, &in)
		mu.Lock()
		times = append(times, time.Now())
		bodies = append(bodies, in)
		page := 0
		if tok, ok := in["NextToken"].(string); ok {
			page = int(tok[0] - '0')
		}
		mu.Unlock()
		out := map[string]any{}
		var evs []map[string]any
		for _, e := range pages[page] {
			evs = append(evs, map[string]any{"EventId": "x", "EventName": "y", "EventTime": 1717405200, "CloudTrailEvent": e})
		}
		out["Events"] = evs
		if page+1 < len(pages) {
			out["NextToken"] = string(rune('0' + page + 1))
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	client := ctapi.NewFromConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	now := time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
	src := &LookupSource{Client: client, Region: "eu-west-1", Since: now.AddDate(0, 0, -200), Now: now}
	if _, _, clamped := src.Window(); !clamped {
		t.Error("a 200-day range was not clamped to the 90-day window")
	}
	ch := make(chan Input, 1)
	ch <- src.Input()
	close(ch)
	var ids []string
	var st Stats
	Process(context.Background(), ch, 1, func(_ int, r *Record) { ids = append(ids, strings.Clone(r.EventID)) },
		func(e *InputError) { t.Errorf("input error: %v", e) }, &st)
	if strings.Join(ids, ",") != "p1a,p1b,p2a,p3a" {
		t.Errorf("events %v", ids)
	}
	if len(times) != 3 || src.Calls != 3 {
		t.Fatalf("%d requests, want 3", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < 450*time.Millisecond {
			t.Errorf("requests %d and %d %s apart: faster than 2 per second", i-1, i, gap)
		}
	}
	start, _ := bodies[0]["StartTime"].(float64)
	if want := now.Add(-LookupWindow).Unix(); int64(start) != want {
		t.Errorf("StartTime %v, want %d (90 days back)", bodies[0]["StartTime"], want)
	}
	if mr, _ := bodies[0]["MaxResults"].(float64); mr != 50 {
		t.Errorf("MaxResults %v", bodies[0]["MaxResults"])
	}
}

// An API error ends the input with an error that names it.
func TestLookupEventsError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(400)
		io.WriteString(w, `{"__type":"InvalidTimeRangeException","message":"bad range"}`)
	}))
	defer srv.Close()
	client := ctapi.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), BaseEndpoint: aws.String(srv.URL)})
	ch := make(chan Input, 1)
	ch <- (&LookupSource{Client: client, Region: "us-east-1"}).Input()
	close(ch)
	var errs []string
	var st Stats
	Process(context.Background(), ch, 1, func(int, *Record) {}, func(e *InputError) { errs = append(errs, e.Error()) }, &st)
	if len(errs) != 1 || !strings.Contains(errs[0], "lookup-events:us-east-1") || !strings.Contains(errs[0], "InvalidTimeRange") {
		t.Errorf("errors %v", errs)
	}
}
