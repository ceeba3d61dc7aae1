package athena

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/mototest"
)

// motoPost calls moto's own API (seeding results, state transitions).
func motoPost(t *testing.T, srv *mototest.Server, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s: %s", path, resp.Status)
	}
}

func motoRows(rows ...types.Row) []map[string]any {
	var out []map[string]any
	for _, r := range rows {
		var data []map[string]string
		for _, d := range r.Data {
			if d.VarCharValue == nil {
				data = append(data, map[string]string{})
			} else {
				data = append(data, map[string]string{"VarCharValue": *d.VarCharValue})
			}
		}
		out = append(out, map[string]any{"Data": data})
	}
	return out
}

// TestMotoAthenaFlow runs a family query through the real SDK against
// moto: start, poll while moto holds the query QUEUED then RUNNING (its
// state manager, set to advance by hand), read the seeded rows back as
// records; then a query cancelled by the run's context is stopped in
// moto (its state becomes CANCELLED).
func TestMotoAthenaFlow(t *testing.T) {
	srv := mototest.Start(t)
	client := sdk.NewFromConfig(srv.Config())
	ctx := context.Background()

	motoPost(t, srv, "/moto-api/static/athena/query-results", map[string]any{
		"region": srv.Config().Region,
		"results": []any{map[string]any{"rows": motoRows(header(),
			eventRow("e1", "CreateUser", "AKIAEXAMPLE000000001"),
			eventRow("e2", "CreateAccessKey", "AKIAEXAMPLE000000001"))}},
	})
	motoPost(t, srv, "/moto-api/state-manager/set-transition", map[string]any{
		"model_name": "athena::execution", "transition": map[string]any{"progression": "manual", "times": 2}})

	var sl sleeps
	r := &Runner{Client: client, Database: "default", Workgroup: "primary", Output: "s3://results/",
		Backoff: func(n int) time.Duration { return time.Duration(1 << n) }, Sleep: sl.sleep}
	src := &Source{Runner: r, Family: Family{Name: "match"}, SQL: "SELECT 1"}
	in := src.Input()
	rc, err := in.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	cloudtrail.Decode(in.Name, rc, func(rec *cloudtrail.Record) {
		got = append(got, rec.EventID+" "+rec.EventName+" "+rec.UserIdentity.AccessKeyID)
	}, func(e *cloudtrail.InputError) { t.Errorf("input error: %v", e) })
	rc.Close()
	if strings.Join(got, ",") != "e1 CreateUser AKIAEXAMPLE000000001,e2 CreateAccessKey AKIAEXAMPLE000000001" {
		t.Errorf("records %q", got)
	}
	if src.Stats.Polls < 2 || len(sl.d) < 1 {
		t.Errorf("moto's query finished at once (%d polls, waits %v): the transition was not applied", src.Stats.Polls, sl.d)
	}
	if src.Stats.Rows != 2 || src.Stats.Pages != 1 {
		t.Errorf("stats %+v", src.Stats)
	}

	// Cancelled while running: the query is stopped.
	motoPost(t, srv, "/moto-api/state-manager/set-transition", map[string]any{
		"model_name": "athena::execution", "transition": map[string]any{"progression": "manual", "times": 1000}})
	cctx, cancel := context.WithCancel(ctx)
	polls := 0
	r.Sleep = func(ctx context.Context, d time.Duration) error {
		if polls++; polls == 2 {
			cancel()
		}
		return ctx.Err()
	}
	st, err := r.Run(cctx, "SELECT 2", func([]string, []*string) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	qe, err := client.GetQueryExecution(ctx, &sdk.GetQueryExecutionInput{QueryExecutionId: aws.String(st.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if s := qe.QueryExecution.Status.State; s != types.QueryExecutionStateCancelled {
		t.Errorf("query state in moto %s, want CANCELLED", s)
	}
}

// TestMotoCostGuardListing: the layout of an organization trail is found
// by listing, and the estimate sums only the objects of the window's days
// (one day more at the end: files are filed by delivery time).
func TestMotoCostGuardListing(t *testing.T) {
	srv := mototest.Start(t)
	c := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	ctx := context.Background()
	bucket := "org-trail"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, size int) {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(make([]byte, size))}); err != nil {
			t.Fatal(err)
		}
	}
	base := "logs/AWSLogs/o-abcdefghij/"
	for _, a := range []string{"111122223333", "444455556666"} {
		for _, r := range []string{"eu-west-1", "us-east-1"} {
			p := base + a + "/CloudTrail/" + r + "/"
			put(p+"2024/05/31/before.json.gz", 1000) // before the window
			put(p+"2024/06/01/a.json.gz", 100)
			put(p+"2024/06/02/b.json.gz", 10)
			put(p+"2024/06/03/c.json.gz", 1) // the day after --until's day: late deliveries
			put(p+"2024/06/04/after.json.gz", 5000)
		}
	}
	put(base+"111122223333/CloudTrail-Digest/eu-west-1/2024/06/01/d.json.gz", 7000)
	put("logs/AWSLogs/o-abcdefghij/README", 3)

	l, skipped, err := Discover(ctx, c, bucket, "logs/AWSLogs/", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.OrgID != "o-abcdefghij" || l.Base != base || strings.Join(l.Accounts, ",") != "111122223333,444455556666" || strings.Join(l.Regions, ",") != "eu-west-1,us-east-1" {
		t.Fatalf("layout %+v", l)
	}
	_ = skipped
	w := Window{Since: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC), Until: time.Date(2024, 6, 2, 18, 0, 0, 0, time.UTC)}
	s, err := Estimate(ctx, c, l, w, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Bytes != 4*111 || s.Objects != 12 || s.Prefixes != 4 {
		t.Errorf("estimate %+v, want 444 bytes in 12 objects under 4 folders", s)
	}
	w.Accounts, w.Regions = []string{"444455556666"}, []string{"us-east-1"}
	if s, err = Estimate(ctx, c, l, w, time.Time{}); err != nil || s.Bytes != 111 || s.Prefixes != 1 {
		t.Errorf("estimate for one account and region %+v, %v", s, err)
	}
	ddl, err := DDL(Table{"default", "org_trail"}, l, w.Since)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "org.ddl.golden", ddl)
}
