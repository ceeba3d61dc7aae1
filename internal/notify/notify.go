// Package notify delivers findings to a webhook (JSON with a
// Slack-compatible "text" field) or an SNS topic, with retries:
// exponential backoff with jitter, Retry-After honoured on 429, a timeout
// per attempt. The clock, the sleep and the jitter are injectable, so
// tests neither wait nor depend on timing.
package notify

import (
	"context"
	"errors"
	"fmt"
	"github.com/keywarden/keywarden/internal/clock"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"time"
)

// Message is one finding to deliver.
type Message struct {
	// ID identifies the finding across runs (its fingerprint).
	ID string
	// Text is the one-line summary (Slack's "text").
	Text string
	// Body is the whole JSON payload.
	Body []byte
}

// Target is where messages go.
type Target interface {
	// Name says which target it is without revealing a secret (a webhook
	// URL's path often is the credential).
	Name() string
	// Send makes one attempt.
	Send(ctx context.Context, m Message) error
}

// ParseTarget reads a --notify value: an https:// URL (http:// only to a
// loopback address: the payload names keys and accounts, and a webhook
// URL is often itself a credential, neither of which may cross a network
// in the clear), or sns:ARN.
func ParseTarget(s string) (kind, value string, err error) {
	if arn, ok := strings.CutPrefix(s, "sns:"); ok {
		parts := strings.SplitN(arn, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[3] == "" || parts[5] == "" {
			return "", "", fmt.Errorf("sns:%s: want sns:arn:aws:sns:REGION:ACCOUNT:TOPIC", arn)
		}
		return "sns", arn, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("%s: want an https:// URL or sns:ARN", Redact(s))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return "", "", fmt.Errorf("%s: plain http only to a loopback address (findings carry key and account IDs): use https", Redact(s))
		}
	default:
		return "", "", fmt.Errorf("%s: want an https:// URL or sns:ARN", Redact(s))
	}
	if u.User != nil {
		return "", "", fmt.Errorf("%s: credentials in the URL are not supported", Redact(s))
	}
	return "webhook", s, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redact shows a URL's scheme and host only: Slack and most chat webhooks
// carry their secret in the path.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" {
		out += "/..."
	}
	return out
}

// Policy says how hard to try.
type Policy struct {
	// Attempts per message (default 5).
	Attempts int
	// Base is the first backoff (default 500ms), doubled after each
	// failure up to Max (default 30s); each wait is drawn from
	// [wait/2, wait] (jitter, so many runs do not retry in step).
	Base, Max time.Duration
	// MaxRetryAfter caps a 429's Retry-After (default 60s): a longer wait
	// gives up for this run (the finding is retried on the next one).
	MaxRetryAfter time.Duration
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// Sleep waits (default: a timer, ended early by ctx).
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for HTTP-date Retry-After values.
	Now func() time.Time
	// Jitter returns a duration in [0, d] (default: uniform random).
	Jitter func(d time.Duration) time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.Base <= 0 {
		p.Base = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 60 * time.Second
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Sleep == nil {
		p.Sleep = clock.Sleep
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Jitter == nil {
		p.Jitter = func(d time.Duration) time.Duration { return rand.N(d + 1) }
	}
	return p
}

// Backoff is the wait before retry n (1 for the first retry), before
// jitter: Base doubled n-1 times, at most Max.
func (p Policy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// permanent marks an error not worth retrying (a 4xx other than 408 and
// 429: the request itself is wrong).
type permanent struct{ err error }

func (e *permanent) Error() string { return e.err.Error() }
func (e *permanent) Unwrap() error { return e.err }

// Permanent wraps err so Deliver does not retry it.
func Permanent(err error) error { return &permanent{err} }

// RetryAfter is a failure whose answer said when to come back.
type RetryAfter struct {
	After time.Duration
	Err   error
}

func (e *RetryAfter) Error() string { return e.Err.Error() }
func (e *RetryAfter) Unwrap() error { return e.Err }

// send tries m on t until it is delivered, the error is permanent, or the
// attempts are spent. It returns the last error and the attempts made.
func (p Policy) send(ctx context.Context, t Target, m Message) (int, error) {
	var err error
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, p.Timeout)
		err = t.Send(actx, m)
		cancel()
		if err == nil {
			return n, nil
		}
		var perm *permanent
		if errors.As(err, &perm) || n >= p.Attempts || ctx.Err() != nil {
			return n, err
		}
		wait := p.Backoff(n)
		wait = wait/2 + p.Jitter(wait/2)
		var ra *RetryAfter
		if errors.As(err, &ra) {
			if ra.After > p.MaxRetryAfter {
				return n, fmt.Errorf("%w (asked to retry after %s, more than %s)", err, ra.After, p.MaxRetryAfter)
			}
			wait = max(wait, ra.After)
		}
		if serr := p.Sleep(ctx, wait); serr != nil {
			return n, err
		}
	}
}

// Outcome is what happened to the messages for one target.
type Outcome struct {
	Target    string
	Delivered []string // IDs
	Failed    int
	// Skipped messages were not tried: the target had already failed a
	// message with every attempt this run (it is down; they wait for the
	// next run).
	Skipped  int
	Attempts int
	Err      error // the last failure
}

// Job is the messages for one target.
type Job struct {
	Target   Target
	Messages []Message
}

// Deliver sends each job's messages to its target, one at a time, in
// order. A target that fails a message after all attempts is not tried
// again in this run: the rest are counted as skipped.
func Deliver(ctx context.Context, p Policy, jobs []Job) []Outcome {
	p = p.withDefaults()
	out := make([]Outcome, 0, len(jobs))
	for _, j := range jobs {
		o := Outcome{Target: j.Target.Name()}
		for i, m := range j.Messages {
			if o.Err != nil {
				o.Skipped = len(j.Messages) - i
				break
			}
			n, err := p.send(ctx, j.Target, m)
			o.Attempts += n
			if err != nil {
				o.Failed++
				o.Err = err
				continue
			}
			o.Delivered = append(o.Delivered, m.ID)
		}
		out = append(out, o)
	}
	return out
}
