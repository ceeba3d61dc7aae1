package guardduty

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	gd "github.com/aws/aws-sdk-go-v2/service/guardduty"
)

// fakeGuardDuty speaks GuardDuty's REST-JSON protocol for ListDetectors,
// ListFindings and GetFindings (moto_server implements none of the
// finding calls, so the emulator cannot serve them). It pages finding IDs
// two at a time.
type fakeGuardDuty struct {
	t        *testing.T
	findings map[string]json.RawMessage // by id
	order    []string
	failGet  int // answer GetFindings with this status
	mu       sync.Mutex
	calls    []string
	criteria []string
}

func newFake(t *testing.T) *fakeGuardDuty {
	f := &fakeGuardDuty{t: t, findings: map[string]json.RawMessage{}}
	for _, line := range strings.Split(strings.TrimSpace(string(fixture(t, "export.jsonl"))), "\n") {
		var head struct{ ID string }
		if err := json.Unmarshal([]byte(line), &head); err != nil {
			t.Fatal(err)
		}
		if _, dup := f.findings[head.ID]; !dup {
			f.order = append(f.order, head.ID)
		}
		f.findings[head.ID] = json.RawMessage(line)
	}
	return f
}

func (f *fakeGuardDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/detector":
		f.calls = append(f.calls, "ListDetectors")
		fmt.Fprint(w, `{"detectorIds":["12abc34d567e8fa901bc2d34e56789f0"]}`)
	case r.Method == http.MethodPost && r.URL.Path == "/detector/12abc34d567e8fa901bc2d34e56789f0/findings":
		var in struct {
			NextToken       string          `json:"nextToken"`
			FindingCriteria json.RawMessage `json:"findingCriteria"`
		}
		json.Unmarshal(body, &in)
		f.calls = append(f.calls, "ListFindings"+in.NextToken)
		f.criteria = append(f.criteria, canonicalJSON(in.FindingCriteria))
		start := 0
		fmt.Sscan(in.NextToken, &start)
		end := min(start+2, len(f.order))
		out := map[string]any{"findingIds": f.order[start:end]}
		if end < len(f.order) {
			out["nextToken"] = fmt.Sprint(end)
		}
		json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodPost && r.URL.Path == "/detector/12abc34d567e8fa901bc2d34e56789f0/findings/get":
		f.calls = append(f.calls, "GetFindings")
		if f.failGet != 0 {
			w.Header().Set("X-Amzn-ErrorType", "InternalServerErrorException")
			w.WriteHeader(f.failGet)
			fmt.Fprint(w, `{"message":"internal error","__type":"InternalServerErrorException"}`)
			return
		}
		var in struct {
			FindingIDs []string `json:"findingIds"`
		}
		json.Unmarshal(body, &in)
		var out []json.RawMessage
		for _, id := range in.FindingIDs {
			out = append(out, f.findings[id])
		}
		json.NewEncoder(w).Encode(map[string]any{"findings": out})
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
	}
}

func fakeClient(t *testing.T, h http.Handler) *gd.Client {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return gd.New(gd.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAQ3EGRAJXU5PL6GQY", "test", ""),
		Retryer:      aws.NopRetryer{},
	})
}

func TestFromAPI(t *testing.T) {
	fake := newFake(t)
	since := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	s := &Set{}
	st, err := FromAPI(context.Background(), fakeClient(t, fake), since, s.Add, func(e *InputError) { t.Errorf("input error %v", e) })
	if err != nil {
		t.Fatal(err)
	}
	s.Merge(st)
	// Five findings over three pages of two: every page read, each page's
	// IDs fetched with one GetFindings.
	want := "ListDetectors ListFindings GetFindings ListFindings2 GetFindings ListFindings4 GetFindings"
	if got := strings.Join(fake.calls, " "); got != want {
		t.Errorf("calls:\n got %s\nwant %s", got, want)
	}
	if s.Kept != 3 || s.OtherFindings != 1 || s.Archived != 1 {
		t.Errorf("stats %+v, want 3 kept, 1 other, 1 archived", s.Stats)
	}
	// The API path decodes like the export: same fields.
	exp, _ := decodeAll(t, "export.jsonl", fixture(t, "export.jsonl"))
	for i, f := range s.Findings() {
		e := exp.Findings()[i]
		if f.ID != e.ID || f.AccessKeyID != e.AccessKeyID || f.Severity != e.Severity || !f.LastSeen.Equal(e.LastSeen) || f.RemoteIP != e.RemoteIP {
			t.Errorf("finding %d from the API %+v\ndiffers from the export's %+v", i, f, e)
		}
	}
	// Archived findings left out, and those not updated since --since.
	want = `{"criterion":{"service.archived":{"equals":["false"]},"updatedAt":{"greaterThanOrEqual":1717200000000}}}`
	if c := fake.criteria[0]; c != want {
		t.Errorf("criteria\n got %s\nwant %s", c, want)
	}
}

func TestFromAPIError(t *testing.T) {
	fake := newFake(t)
	fake.failGet = http.StatusInternalServerError
	s := &Set{}
	st, err := FromAPI(context.Background(), fakeClient(t, fake), time.Time{}, s.Add, func(e *InputError) { t.Errorf("input error %v", e) })
	s.Merge(st)
	if err == nil || !strings.Contains(err.Error(), "GuardDuty GetFindings (detector 12abc34d567e8fa901bc2d34e56789f0)") ||
		!strings.Contains(err.Error(), "internal error") {
		t.Fatalf("err = %v, want the GetFindings failure with the service's words", err)
	}
	if len(fake.criteria) != 1 || strings.Contains(fake.criteria[0], "updatedAt") {
		t.Errorf("criteria %v: without --since, no updatedAt condition", fake.criteria)
	}
}

// canonicalJSON writes raw again with object keys sorted (numbers kept as
// written): SDK versions serialize the criteria's map in any order.
func canonicalJSON(raw json.RawMessage) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return string(raw)
	}
	return string(b)
}
