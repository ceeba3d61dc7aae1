package respond

import (
	"context"
	"errors"
	"fmt"
	"github.com/keywarden/keywarden/internal/clock"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Lookup reads one key's management events from the CloudTrail
// LookupEvents API: 90 days, 50 events a page, no faster than Interval
// between requests (the API allows 2 a second), backing off when
// throttled.
type Lookup struct {
	Client cloudtrail.LookupAPI
	Region string
	Now    time.Time
	// Interval between requests; 0 means cloudtrail.LookupInterval.
	Interval time.Duration
	// Sleep waits; nil means a timer (tests inject one that records).
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxRetries is how many times a throttled request is retried (with a
	// doubling wait) before giving up; 0 means 6.
	MaxRetries int
	// MaxEvents bounds the events read for one query; 0 means 100,000.
	MaxEvents int
	// Progress is told after each page.
	Progress func(query string, requests, events int)

	// Requests and Throttled count the calls made and refused.
	Requests, Throttled int
	started             bool
}

func (l *Lookup) wait(ctx context.Context, d time.Duration) error {
	if l.Sleep != nil {
		return l.Sleep(ctx, d)
	}
	return clock.Sleep(ctx, d)
}

func isThrottle(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
			return true
		}
	}
	return false
}

// ByKey reads the events signed with key.
func (l *Lookup) ByKey(ctx context.Context, key string, fn func(*cloudtrail.Record), onErr func(*cloudtrail.InputError)) error {
	return l.query(ctx, cttypes.LookupAttributeKeyAccessKeyId, key, fn, onErr, nil)
}

// ByEvent reads the events of one name (used to find where an ASIA key
// came from: GetSessionToken, AssumeRole), page by page until done()
// says enough (nil: all of them).
func (l *Lookup) ByEvent(ctx context.Context, name string, fn func(*cloudtrail.Record), onErr func(*cloudtrail.InputError), done func() bool) error {
	return l.query(ctx, cttypes.LookupAttributeKeyEventName, name, fn, onErr, done)
}

func (l *Lookup) query(ctx context.Context, attr cttypes.LookupAttributeKey, value string, fn func(*cloudtrail.Record), onErr func(*cloudtrail.InputError), done func() bool) error {
	interval := l.Interval
	if interval == 0 {
		interval = cloudtrail.LookupInterval
	}
	retries := l.MaxRetries
	if retries == 0 {
		retries = 6
	}
	limit := l.MaxEvents
	if limit == 0 {
		limit = 100000
	}
	now := l.Now
	if now.IsZero() {
		now = time.Now()
	}
	name := fmt.Sprintf("LookupEvents %s=%s (%s)", attr, value, l.Region)
	in := &ctapi.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: attr, AttributeValue: aws.String(value)}},
		StartTime:        aws.Time(now.Add(-cloudtrail.LookupWindow)), EndTime: aws.Time(now), MaxResults: aws.Int32(50),
	}
	events := 0
	for {
		var out *ctapi.LookupEventsOutput
		backoff := interval
		for attempt := 0; ; attempt++ {
			if l.started {
				if err := l.wait(ctx, backoff); err != nil {
					return err
				}
			}
			l.started = true
			l.Requests++
			var err error
			out, err = l.Client.LookupEvents(ctx, in, func(o *ctapi.Options) {
				if l.Region != "" {
					o.Region = l.Region
				}
			})
			if err == nil {
				break
			}
			if !isThrottle(err) {
				return classify("cloudtrail:LookupEvents", err)
			}
			l.Throttled++
			if attempt >= retries {
				return fmt.Errorf("cloudtrail:LookupEvents: still throttled after %d retries: %w", retries, err)
			}
			backoff *= 2
		}
		var b strings.Builder
		for _, e := range out.Events {
			if e.CloudTrailEvent != nil {
				b.WriteString(*e.CloudTrailEvent)
				b.WriteByte('\n')
			}
		}
		st := cloudtrail.Decode(name, strings.NewReader(b.String()), fn, onErr)
		events += st.Records
		if l.Progress != nil {
			l.Progress(name, l.Requests, events)
		}
		if out.NextToken == nil || *out.NextToken == "" || (done != nil && done()) {
			return nil
		}
		if events >= limit {
			return fmt.Errorf("%s: stopped after %d events (the limit); the investigation is incomplete", name, events)
		}
		in.NextToken = out.NextToken
	}
}

// Collect reads, in every region of lookups, the events of key and of
// every key derived from it (its sessions, the keys it created, their
// sessions...), following the derivations as they are found. At most
// maxKeys keys are queried.
func Collect(ctx context.Context, lookups []*Lookup, key string, maxKeys int, onErr func(*cloudtrail.InputError)) ([]Event, error) {
	var events []Event
	g := NewGraph()
	queried := map[string]bool{}
	queue := []string{key}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if queried[k] {
			continue
		}
		if len(queried) >= maxKeys {
			return events, fmt.Errorf("stopped after querying %d keys derived from %s; the investigation is incomplete", maxKeys, key)
		}
		queried[k] = true
		for _, l := range lookups {
			err := l.ByKey(ctx, k, func(r *cloudtrail.Record) {
				g.Observe(r)
				events = append(events, EventOf(r))
			}, onErr)
			if err != nil {
				return events, err
			}
		}
		for _, e := range g.Derived(k) {
			if !queried[e.Child] {
				queue = append(queue, e.Child)
			}
		}
	}
	return events, nil
}

// SessionEvents are the calls that mint sessions, which Origin reads to
// trace an ASIA key back.
var SessionEvents = []string{"GetSessionToken", "AssumeRole", "GetFederationToken"}
