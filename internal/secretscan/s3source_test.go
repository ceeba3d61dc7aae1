package secretscan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fakeS3 serves objects in pages of pageSize keys, as ListObjectsV2 pages
// (with continuation tokens), and counts the calls.
type fakeS3 struct {
	mu       sync.Mutex
	keys     []string
	data     map[string][]byte
	modified map[string]time.Time
	pageSize int
	lists    int
	gets     []string
	fail     map[string]bool
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	start := 0
	if in.ContinuationToken != nil {
		start, _ = strconv.Atoi(*in.ContinuationToken)
	}
	var keys []string
	for _, k := range f.keys {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			keys = append(keys, k)
		}
	}
	out := &s3.ListObjectsV2Output{}
	end := min(start+f.pageSize, len(keys))
	for _, k := range keys[start:end] {
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k), Size: aws.Int64(int64(len(f.data[k]))), LastModified: aws.Time(f.modified[k])})
	}
	if end < len(keys) {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := aws.ToString(in.Key)
	f.gets = append(f.gets, k)
	if f.fail[k] {
		return nil, errors.New("AccessDenied")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(f.data[k]))}, nil
}

func TestScanS3Paging(t *testing.T) {
	k := newTestKeys(t, 41)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeS3{pageSize: 2, data: map[string][]byte{}, modified: map[string]time.Time{}, fail: map[string]bool{"p/denied.env": true}}
	add := func(key, body string, mod time.Time) {
		f.keys = append(f.keys, key)
		f.data[key] = []byte(body)
		f.modified[key] = mod
	}
	add("p/a/creds", k.fill("[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"), recent)
	add("p/b/old.env", k.fill("AWS_ACCESS_KEY_ID={ID2}\nAWS_SECRET_ACCESS_KEY={SECRET2}\n"), old)
	add("p/c/logo.png", "\x89PNG", recent)
	add("p/d/vendor/x.env", k.fill("AWS_ACCESS_KEY_ID={ID2}\n"), recent)
	add("p/denied.env", "", recent)
	add("p/e/big.txt", strings.Repeat("x", 2000), recent)
	add("p/f/app.zip", "PK", recent)
	add("p/g/", "", recent)
	add("p/h/ps.txt", "\xff\xfe"+utf16le(k.fill("$Env:AWS_ACCESS_KEY_ID=\"{ASIA}\"\n")), recent)
	add("q/outside", k.fill("{ID}\n"), recent)

	var errs []string
	st := &Stats{}
	src := &Sources{Detector: New(Options{}), MaxFileSize: 1000, Exclude: []string{"vendor"}, Stats: st, Workers: 3,
		Warn: func(err error) { errs = append(errs, err.Error()) }}
	var got []string
	err := src.ScanS3(context.Background(), S3Target{Client: f, Bucket: "bk", Prefix: "p/", Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, func(o Origin, ms []Match) {
		got = append(got, o.Path+" "+summary(k, ms))
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"s3://bk/p/a/creds pair:ID+SECRET", "s3://bk/p/h/ps.txt key-id:ASIA"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if f.lists != 5 {
		t.Errorf("%d list calls, want 5 (9 keys under p/, pages of 2)", f.lists)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "s3://bk/p/denied.env: AccessDenied") {
		t.Errorf("errors %q", errs)
	}
	for r, n := range map[SkipReason]int64{SkipOlder: 1, SkipExtension: 1, SkipExcluded: 1, SkipTooLarge: 1, SkipArchive: 1} {
		if got := st.SkippedBy[r].Load(); got != n {
			t.Errorf("skipped %s: %d, want %d", r, got, n)
		}
	}
	if st.Skipped.Load() != 5 || st.Files.Load() != 2 {
		t.Errorf("skipped %d, scanned %d; want 5, 2", st.Skipped.Load(), st.Files.Load())
	}
	slices.Sort(f.gets)
	if want := []string{"p/a/creds", "p/denied.env", "p/h/ps.txt"}; !slices.Equal(f.gets, want) {
		t.Errorf("fetched %q, want %q (skipped objects are never fetched)", f.gets, want)
	}
}

func utf16le(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteByte(c)
		b.WriteByte(0)
	}
	return b.String()
}
