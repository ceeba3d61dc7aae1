package s3objects

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keywarden/keywarden/internal/secretscan"
)

// fakeS3 serves objects in pages of pageSize keys, as ListObjectsV2 pages
// (with continuation tokens), and counts the calls.
type fakeS3 struct {
	keys     []string
	data     map[string]string
	modified time.Time
	pageSize int
	lists    int
	buckets  []string
	fail     map[string]bool
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.lists++
	f.buckets = append(f.buckets, aws.ToString(in.Bucket))
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
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k), Size: aws.Int64(int64(len(f.data[k]))), LastModified: aws.Time(f.modified)})
	}
	if end < len(keys) {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	k := aws.ToString(in.Key)
	if f.fail[k] || aws.ToString(in.Bucket) != "bk" {
		return nil, errors.New("AccessDenied")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader([]byte(f.data[k])))}, nil
}

func newFake() *fakeS3 {
	f := &fakeS3{pageSize: 2, modified: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		data: map[string]string{"p/a": "alpha", "p/b/": "", "p/c": "gamma", "p/d/": "not a folder", "p/e": "", "q/x": "outside"},
		fail: map[string]bool{"p/c": true}}
	f.keys = []string{"p/a", "p/b/", "p/c", "p/d/", "p/e", "q/x"}
	return f
}

// List reads every page under the prefix, leaves out the console's empty
// "folder" objects and keeps each object's size and time.
func TestList(t *testing.T) {
	f := newFake()
	st := Store{Client: f, Bucket: "bk"}
	var got []string
	err := st.List(context.Background(), "p/", func(o secretscan.StoredObject) error {
		if !o.Modified.Equal(f.modified) {
			t.Errorf("%s modified %v, want %v", o.Key, o.Modified, f.modified)
		}
		got = append(got, o.Key+" "+strconv.FormatInt(o.Size, 10))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"p/a 5", "p/c 5", "p/d/ 12", "p/e 0"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	if f.lists != 3 || !slices.Equal(slices.Compact(f.buckets), []string{"bk"}) {
		t.Errorf("%d list calls to %q, want 3 to bk (5 keys under p/, pages of 2)", f.lists, f.buckets)
	}
}

// An error from fn stops the listing and is returned as it is.
func TestListStopsOnError(t *testing.T) {
	f := newFake()
	stop := errors.New("stop")
	n := 0
	err := Store{Client: f, Bucket: "bk"}.List(context.Background(), "p/", func(secretscan.StoredObject) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 || f.lists != 1 {
		t.Fatalf("error %v after %d objects and %d list calls, want stop after 1 and 1", err, n, f.lists)
	}
}

func TestOpenAndURL(t *testing.T) {
	st := Store{Client: newFake(), Bucket: "bk"}
	r, err := st.Open(context.Background(), "p/a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, err := io.ReadAll(r); err != nil || string(b) != "alpha" {
		t.Fatalf("read %q, %v", b, err)
	}
	if _, err := st.Open(context.Background(), "p/c"); err == nil || err.Error() != "AccessDenied" {
		t.Fatalf("open of a denied object: %v, want S3's error", err)
	}
	if u := st.URL("p/a b"); u != "s3://bk/p/a b" {
		t.Fatalf("URL %q", u)
	}
}
