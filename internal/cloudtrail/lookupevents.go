package cloudtrail

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// LookupAPI is the part of the CloudTrail client the LookupEvents reader
// uses.
type LookupAPI interface {
	LookupEvents(ctx context.Context, in *ctapi.LookupEventsInput, opts ...func(*ctapi.Options)) (*ctapi.LookupEventsOutput, error)
}

// LookupWindow is how far back LookupEvents reaches: management events of
// the last 90 days.
const LookupWindow = 90 * 24 * time.Hour

// LookupInterval spaces LookupEvents calls: the API allows 2 requests per
// second per account and region.
var LookupInterval = 500 * time.Millisecond

// LookupSource reads management events from the LookupEvents API of one
// region.
type LookupSource struct {
	Client       LookupAPI
	Region       string
	Since, Until time.Time
	Now          time.Time
	// Calls counts API calls made.
	Calls int
}

// Window returns the time range actually queried: Since is clamped to the
// 90-day window (clamped reports whether it was), Until to now.
func (l *LookupSource) Window() (from, to time.Time, clamped bool) {
	now := l.Now
	if now.IsZero() {
		now = time.Now()
	}
	from, to = l.Since, l.Until
	oldest := now.Add(-LookupWindow)
	if from.IsZero() || from.Before(oldest) {
		clamped = !from.IsZero()
		from = oldest
	}
	if to.IsZero() || to.After(now) {
		to = now
	}
	return from, to, clamped
}

// Input returns the source as one Input whose stream is JSON lines, one
// CloudTrailEvent per line, fetched page by page (50 events a page) at no
// more than 2 requests a second.
func (l *LookupSource) Input() Input {
	return Input{Name: "lookup-events:" + l.Region, Open: func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(l.pump(ctx, pw)) }()
		return pr, nil
	}}
}

func (l *LookupSource) pump(ctx context.Context, w io.Writer) error {
	from, to, _ := l.Window()
	in := &ctapi.LookupEventsInput{StartTime: aws.Time(from), EndTime: aws.Time(to), MaxResults: aws.Int32(50)}
	tick := time.NewTicker(LookupInterval)
	defer tick.Stop()
	first := true
	for {
		if !first {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		first = false
		l.Calls++
		out, err := l.Client.LookupEvents(ctx, in, func(o *ctapi.Options) {
			if l.Region != "" {
				o.Region = l.Region
			}
		})
		if err != nil {
			return err
		}
		for _, e := range out.Events {
			if e.CloudTrailEvent == nil {
				continue
			}
			if _, err := io.WriteString(w, *e.CloudTrailEvent+"\n"); err != nil {
				return err
			}
		}
		if out.NextToken == nil || *out.NextToken == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}
