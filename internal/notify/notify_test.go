package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/notify/notifytest"
	"github.com/keywarden/keywarden/internal/report"
)

func msgs(n int) []Message {
	var out []Message
	for i := range n {
		out = append(out, Message{ID: fmt.Sprint("f", i), Text: "t", Body: []byte(fmt.Sprintf(`{"text":"finding %d"}`, i))})
	}
	return out
}

func TestWebhookDelivery(t *testing.T) {
	now := time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		script    []int
		headers   []map[string]string
		n         int
		delivered int
		failed    int
		skipped   int
		waits     []time.Duration
		errHas    string
	}{
		{name: "success", n: 2, delivered: 2},
		{name: "500 then success", script: []int{500, 502}, headers: []map[string]string{nil, nil}, n: 1, delivered: 1,
			// jitter is the upper half of the backoff: here the whole of it
			waits: []time.Duration{500 * time.Millisecond, time.Second}},
		{name: "429 Retry-After seconds", script: []int{429}, headers: []map[string]string{{"Retry-After": "7"}}, n: 1, delivered: 1,
			waits: []time.Duration{7 * time.Second}},
		{name: "429 Retry-After date", script: []int{429}, headers: []map[string]string{{"Retry-After": now.Add(12 * time.Second).Format(http.TimeFormat)}}, n: 1, delivered: 1,
			waits: []time.Duration{12 * time.Second}},
		{name: "429 Retry-After too long gives up for this run", script: []int{429}, headers: []map[string]string{{"Retry-After": "3600"}}, n: 2,
			failed: 1, skipped: 1, errHas: "asked to retry after 1h0m0s"},
		{name: "400 is permanent", script: []int{400}, headers: []map[string]string{nil}, n: 3, failed: 1, skipped: 2, errHas: "answered 400 Bad Request"},
		{name: "down: attempts spent, rest skipped", script: []int{500, 500, 500, 500, 500}, headers: make([]map[string]string, 5), n: 3,
			failed: 1, skipped: 2, errHas: "answered 500",
			waits: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var after []string
			for _, h := range tt.headers {
				after = append(after, h["Retry-After"])
			}
			rec := &notifytest.Webhook{Script: tt.script, RetryAfter: after}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			fs := &notifytest.Sleeper{}
			p := Policy{Sleep: fs.Sleep, Jitter: func(d time.Duration) time.Duration { return d }, Now: func() time.Time { return now }}
			wh := &Webhook{URL: srv.URL + "/services/T0/B0/secret", Client: srv.Client(), Now: func() time.Time { return now }}
			out := Deliver(context.Background(), p, []Job{{Target: wh, Messages: msgs(tt.n)}})
			o := out[0]
			if len(o.Delivered) != tt.delivered || o.Failed != tt.failed || o.Skipped != tt.skipped {
				t.Errorf("delivered %v failed %d skipped %d, want %d, %d, %d (err %v)", o.Delivered, o.Failed, o.Skipped, tt.delivered, tt.failed, tt.skipped, o.Err)
			}
			if len(rec.Bodies()) != tt.delivered {
				t.Errorf("server accepted %d bodies, want %d", len(rec.Bodies()), tt.delivered)
			}
			if fmt.Sprint(fs.Waits) != fmt.Sprint(tt.waits) {
				t.Errorf("waits %v, want %v", fs.Waits, tt.waits)
			}
			if tt.errHas != "" && (o.Err == nil || !strings.Contains(o.Err.Error(), tt.errHas)) {
				t.Errorf("err %v, want it to say %q", o.Err, tt.errHas)
			}
			if o.Err != nil && strings.Contains(o.Err.Error(), "secret") {
				t.Errorf("err %q shows the webhook URL's path", o.Err)
			}
		})
	}
}

func TestWebhookRedirectNotFollowed(t *testing.T) {
	followed := false
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed = true })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	out := Deliver(context.Background(), Policy{Sleep: (&notifytest.Sleeper{}).Sleep},
		[]Job{{Target: &Webhook{URL: srv.URL + "/hook", Client: srv.Client()}, Messages: msgs(1)}})
	if followed || out[0].Attempts != 1 || out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "redirects are not followed") {
		t.Errorf("followed %v, outcome %+v: want one attempt, not followed", followed, out[0])
	}
}

func TestWebhookTimeoutPerAttempt(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	fs := &notifytest.Sleeper{}
	p := Policy{Attempts: 2, Timeout: time.Millisecond, Sleep: fs.Sleep, Jitter: func(time.Duration) time.Duration { return 0 }}
	out := Deliver(context.Background(), p, []Job{{Target: &Webhook{URL: srv.URL, Client: srv.Client()}, Messages: msgs(1)}})
	if out[0].Failed != 1 || out[0].Attempts != 2 || !errors.Is(out[0].Err, context.DeadlineExceeded) {
		t.Errorf("outcome %+v, want 2 attempts each ended by the timeout", out[0])
	}
}

func TestBackoff(t *testing.T) {
	p := Policy{Base: time.Second, Max: 5 * time.Second}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, p.Backoff(n))
	}
	if fmt.Sprint(got) != "[1s 2s 4s 5s 5s]" {
		t.Errorf("backoff %v", got)
	}
}

func TestJitterStaysInUpperHalf(t *testing.T) {
	// The default jitter draws from [wait/2, wait].
	p := Policy{}.withDefaults()
	for range 1000 {
		if d := p.Jitter(time.Second); d < 0 || d > time.Second {
			t.Fatalf("jitter %s out of [0, 1s]", d)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, kind, errHas string
	}{
		{in: "https://hooks.slack.com/services/T0/B0/x", kind: "webhook"},
		{in: "http://127.0.0.1:8080/hook", kind: "webhook"},
		{in: "http://[::1]:8080/hook", kind: "webhook"},
		{in: "http://localhost/hook", kind: "webhook"},
		{in: "http://hooks.example.com/services/T0/B0/secret", errHas: "plain http only to a loopback address"},
		{in: "ftp://example.com/x", errHas: "want an https:// URL or sns:ARN"},
		{in: "https://user:pw@example.com/x", errHas: "credentials in the URL"},
		{in: "hooks.example.com", errHas: "want an https:// URL"},
		{in: "sns:arn:aws:sns:eu-west-1:111122223333:alerts", kind: "sns"},
		{in: "sns:arn:aws:sqs:eu-west-1:111122223333:alerts", errHas: "want sns:arn:aws:sns:REGION:ACCOUNT:TOPIC"},
		{in: "sns:alerts", errHas: "want sns:arn"},
	}
	for _, tt := range tests {
		kind, _, err := ParseTarget(tt.in)
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%s: err %v, want %q", tt.in, err, tt.errHas)
			}
			if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pw")) {
				t.Errorf("%s: err %q shows the URL's secret part", tt.in, err)
			}
			continue
		}
		if err != nil || kind != tt.kind {
			t.Errorf("%s: %s, %v; want %s", tt.in, kind, err, tt.kind)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"0", 0, true}, {"30", 30 * time.Second, true}, {"-1", 0, false}, {"soon", 0, false},
		{"Mon, 03 Jun 2024 12:01:00 GMT", time.Minute, true}, {"Mon, 03 Jun 2024 11:00:00 GMT", 0, true},
	} {
		d, ok := parseRetryAfter(tt.in, now)
		if d != tt.want || ok != tt.ok {
			t.Errorf("%q: %s %v, want %s %v", tt.in, d, ok, tt.want, tt.ok)
		}
	}
}

func TestFromFinding(t *testing.T) {
	f := report.Finding{
		RuleID: "ct-cloudtrail-stopped", Severity: report.SeverityHigh, Title: "CloudTrail logging stopped",
		Message:     "1 event (StopLogging) at 2024-06-03T14:02:00Z from 203.0.113.50 <!channel> \x1b[31mred\u009b",
		Fingerprint: "abc",
		Properties: map[string]any{"key": "AKIARTX3GSDS2RWAIZGX", "principal": "alice & <@U123>", "account": "111122223333",
			"next": []string{"keywarden respond AKIARTX3GSDS2RWAIZGX"}},
	}
	m, err := FromFinding(f, "keywarden")
	if err != nil {
		t.Fatal(err)
	}
	want := "keywarden detect: HIGH CloudTrail logging stopped (ct-cloudtrail-stopped) - AKIARTX3GSDS2RWAIZGX (alice &amp; &lt;@U123&gt;, account 111122223333): " +
		"1 event (StopLogging) at 2024-06-03T14:02:00Z from 203.0.113.50 &lt;!channel&gt; ?[31mred?. Next: keywarden respond AKIARTX3GSDS2RWAIZGX"
	if m.Text != want {
		t.Errorf("text\n got %q\nwant %q", m.Text, want)
	}
	var body struct {
		Text    string
		Source  string
		Finding struct {
			RuleID string `json:"rule_id"`
		}
	}
	if err := json.Unmarshal(m.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Text != want || body.Source != "keywarden" || body.Finding.RuleID != "ct-cloudtrail-stopped" || m.ID != "abc" {
		t.Errorf("body %s", m.Body)
	}
	if strings.ContainsRune(string(m.Body), 0x9b) || strings.ContainsRune(string(m.Body), 0x1b) {
		t.Errorf("body carries raw controls: %q", m.Body)
	}
	long := f
	long.Message = strings.Repeat("x", 5000)
	m, _ = FromFinding(long, "keywarden")
	if n := len([]rune(m.Text)); n != maxText {
		t.Errorf("long text is %d runes, want %d", n, maxText)
	}
}

// Retry-After comes from the server: whatever it says, the wait is never
// negative and parsing never panics.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-5", "Mon, 03 Jun 2024 12:01:00 GMT", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT"} {
		f.Add(s)
	}
	now := time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := parseRetryAfter(v, now); d < 0 || (!ok && d != 0) {
			t.Fatalf("%q: %s %v", v, d, ok)
		}
	})
}
