package cloudtrail

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3API is the part of the S3 client the reader uses.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", u)
	}
	return bucket, prefix, nil
}

// S3Source lists CloudTrail objects under a bucket prefix.
type S3Source struct {
	Client S3API
	Bucket string
	Prefix string
	// Since and Until prune the AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/
	// layout: days entirely outside the range are never listed. Zero means
	// unbounded.
	Since, Until time.Time
	// ListConcurrency bounds parallel listing calls (default 8).
	ListConcurrency int
	// Lists counts ListObjectsV2 calls (for tests and progress).
	Lists int64
	mu    sync.Mutex
}

// Inputs sends one Input per object, streamed from S3 when opened (no
// temporary files). It closes out when the listing is done.
func (s *S3Source) Inputs(ctx context.Context, out chan<- Input, onErr func(*InputError)) {
	defer close(out)
	conc := s.ListConcurrency
	if conc <= 0 {
		conc = 8
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var walk func(prefix string, delimited bool)
	walk = func(prefix string, delimited bool) {
		defer wg.Done()
		sem <- struct{}{}
		var subs []string
		p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{
			Bucket:    aws.String(s.Bucket),
			Prefix:    aws.String(prefix),
			Delimiter: delimiter(delimited),
		})
		for p.HasMorePages() {
			s.mu.Lock()
			s.Lists++
			s.mu.Unlock()
			page, err := p.NextPage(ctx)
			if err != nil {
				onErr(&InputError{Source: "s3://" + s.Bucket + "/" + prefix, Offset: -1, Err: err})
				break
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				if !IsLogFile("/"+key) || !s.keep(key, true) {
					continue
				}
				select {
				case out <- s.input(key):
				case <-ctx.Done():
					<-sem
					return
				}
			}
			for _, cp := range page.CommonPrefixes {
				sub := aws.ToString(cp.Prefix)
				if s.keep(sub, false) {
					subs = append(subs, sub)
				}
			}
		}
		<-sem
		for _, sub := range subs {
			wg.Add(1)
			go walk(sub, true)
		}
	}
	wg.Add(1)
	// Without a date range a flat listing is fewest calls; with one, walk
	// the hierarchy so whole days are pruned unlisted.
	walk(s.Prefix, !s.Since.IsZero() || !s.Until.IsZero())
	wg.Wait()
}

func delimiter(on bool) *string {
	if on {
		return aws.String("/")
	}
	return nil
}

func (s *S3Source) input(key string) Input {
	name := "s3://" + s.Bucket + "/" + key
	return Input{Name: name, Open: func(ctx context.Context) (io.ReadCloser, error) {
		o, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		return o.Body, nil
	}}
}

// keep decides whether a key or prefix can hold records in the range.
func (s *S3Source) keep(key string, object bool) bool {
	segs := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for _, seg := range segs {
		if seg == "CloudTrail-Digest" {
			return false
		}
	}
	if object || (s.Since.IsZero() && s.Until.IsZero()) {
		// Objects are filtered by event time as they are read.
		return true
	}
	from, to, ok := DayRange(key)
	if !ok {
		return true
	}
	// A day's folder holds files delivered that day, whose events may be
	// from shortly before midnight: keep a day of slack before Until.
	if !s.Since.IsZero() && !to.After(s.Since) {
		return false
	}
	if !s.Until.IsZero() && !from.Add(-24*time.Hour).Before(s.Until) {
		return false
	}
	return true
}

// DayRange reads the date a CloudTrail S3 key or prefix covers from the
// AWSLogs/.../CloudTrail/<region>/YYYY[/MM[/DD]] layout: [from, to). It
// returns false when the key carries no date.
func DayRange(key string) (from, to time.Time, ok bool) {
	segs := strings.Split(strings.TrimSuffix(key, "/"), "/")
	i := -1
	for j, seg := range segs {
		if seg == "CloudTrail" || seg == "CloudTrail-Insight" {
			i = j
		}
	}
	if i < 0 || len(segs) < i+3 {
		return time.Time{}, time.Time{}, false
	}
	parts := segs[i+2:]
	if len(parts) > 3 {
		parts = parts[:3]
	}
	var n [3]int
	for j, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil {
			return time.Time{}, time.Time{}, false
		}
		n[j] = v
	}
	switch len(parts) {
	case 1:
		from = time.Date(n[0], 1, 1, 0, 0, 0, 0, time.UTC)
		to = from.AddDate(1, 0, 0)
	case 2:
		if n[1] < 1 || n[1] > 12 {
			return time.Time{}, time.Time{}, false
		}
		from = time.Date(n[0], time.Month(n[1]), 1, 0, 0, 0, 0, time.UTC)
		to = from.AddDate(0, 1, 0)
	default:
		if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 {
			return time.Time{}, time.Time{}, false
		}
		from = time.Date(n[0], time.Month(n[1]), n[2], 0, 0, 0, 0, time.UTC)
		to = from.AddDate(0, 0, 1)
	}
	return from, to, true
}
