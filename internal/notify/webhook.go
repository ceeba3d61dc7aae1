package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook posts each message's Body as JSON to a URL.
type Webhook struct {
	URL    string
	Client *http.Client // default: a client with no timeout of its own (Policy sets one per attempt)
	// Now reads HTTP-date Retry-After values (default time.Now).
	Now func() time.Time
}

// Name is the URL without its path.
func (w *Webhook) Name() string { return Redact(w.URL) }

// Send makes one POST. 2xx is delivered; 429 and 503 carry their
// Retry-After; redirects (not followed) and other 4xx (but 408) are
// permanent; the rest are retried.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: %v", w.Name(), err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keywarden-detect")
	c := http.Client{}
	if w.Client != nil {
		c = *w.Client
	}
	// A redirect is not followed: it could lead the payload (and the
	// headers) to plain http or another host.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		// The error quotes the URL: say the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = w.Name()
		}
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("%s answered %s: %q", w.Name(), resp.Status, strings.TrimSpace(string(body)))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now()); ok {
			return &RetryAfter{After: d, Err: err}
		}
		return err
	case resp.StatusCode == http.StatusRequestTimeout:
		return err
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return Permanent(fmt.Errorf("%s answered %s: redirects are not followed (give the final URL)", w.Name(), resp.Status))
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return Permanent(err)
	}
	return err
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 1<<31)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}
