package cloudtrail

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/mototest"
)

// The S3 reader against moto's S3, with a bucket laid out like a real
// trail: two accounts, two regions, five days, digests beside the logs.
func TestS3SourceMoto(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	client := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, acct := range []string{"111122223333", "444455556666"} {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			for day := 1; day <= 5; day++ {
				id := fmt.Sprintf("%s-%s-%d", acct, region, day)
				ts := fmt.Sprintf("2024-06-%02dT12:00:00Z", day)
				body := strings.Replace(strings.Replace(rec1, `"eventID":"e1"`, `"eventID":"`+id+`"`, 1), "2024-06-03T09:00:00Z", ts, 1)
				key := fmt.Sprintf("logs/AWSLogs/%s/CloudTrail/%s/2024/06/%02d/%s_CloudTrail_%s_202406%02dT1200Z_abc.json.gz", acct, region, day, acct, region, day)
				put(key, gz(t, []byte(`{"Records":[`+body+`]}`)))
				put(fmt.Sprintf("logs/AWSLogs/%s/CloudTrail-Digest/%s/2024/06/%02d/digest.json.gz", acct, region, day), gz(t, []byte(`{"awsAccountId":"`+acct+`"}`)))
				if day >= 2 && day <= 3 {
					want[id] = true
				}
			}
		}
	}
	read := func(src *S3Source) ([]string, []*InputError) {
		ch := make(chan Input)
		var mu sync.Mutex
		var ids []string
		var errs []*InputError
		onErr := func(e *InputError) { mu.Lock(); errs = append(errs, e); mu.Unlock() }
		go src.Inputs(ctx, ch, onErr)
		var st Stats
		Process(ctx, ch, 8, func(_ int, r *Record) {
			mu.Lock()
			ids = append(ids, strings.Clone(r.EventID))
			mu.Unlock()
		}, onErr, &st)
		sort.Strings(ids)
		return ids, errs
	}

	// A date range lists only the days that can hold it (plus a day of
	// slack for delivery lag), never the digests.
	src := &S3Source{Client: client, Bucket: "trail", Prefix: "logs/", Since: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC), Until: time.Date(2024, 6, 4, 0, 0, 0, 0, time.UTC)}
	ids, errs := read(src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, id := range ids {
		if !strings.HasSuffix(id, "-4") && !want[id] {
			t.Errorf("read %s, outside the range", id)
		}
		if want[id] {
			got = append(got, id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("read %v, want %d in range", ids, len(want))
	}
	// Pruned: the listing never went into days 1 and 5.
	if len(ids) != 12 {
		t.Errorf("read %d objects, want 12 (days 2-4 of 4 trails)", len(ids))
	}

	// No range: a flat listing of everything but the digests.
	all, errs := read(&S3Source{Client: client, Bucket: "trail", Prefix: "logs/AWSLogs/"})
	if len(errs) > 0 || len(all) != 20 {
		t.Errorf("flat listing: %d records, errors %v", len(all), errs)
	}

	// A missing bucket is an input error naming it.
	_, errs = read(&S3Source{Client: client, Bucket: "nope"})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "s3://nope/") {
		t.Errorf("missing bucket: %v", errs)
	}
}

func TestParseS3URL(t *testing.T) {
	for in, want := range map[string]string{
		"s3://b":               "b|",
		"s3://b/AWSLogs/":      "b|AWSLogs/",
		"s3://b/a/b/c.json.gz": "b|a/b/c.json.gz",
		"s3:///x":              "err",
		"https://b.s3/x":       "err",
	} {
		b, p, err := ParseS3URL(in)
		got := b + "|" + p
		if err != nil {
			got = "err"
		}
		if got != want {
			t.Errorf("ParseS3URL(%q) = %q, want %q", in, got, want)
		}
	}
}
