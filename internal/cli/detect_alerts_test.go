package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	gdapi "github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/notifytest"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

// detectAlertTrail writes the StopLogging record to a file.
func detectAlertTrail(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trail.jsonl")
	if err := os.WriteFile(p, []byte(detectTestStop+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// gdExport is the GuardDuty export fixture of internal/guardduty.
var gdExport = filepath.Join("..", "guardduty", "testdata", "export.jsonl")

func detectAlertOpts(t *testing.T, srv *httptest.Server, sl *notifytest.Sleeper, out ...string) *detectOptions {
	ios, _, _ := Test("")
	now := time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)
	return &detectOptions{IO: ios, Now: func() time.Time { return now }, Getenv: func(string) string { return "" },
		Sources: []string{detectAlertTrail(t)}, NoState: true, Format: "json", FailOn: "low",
		Notify: out,
		Hooks: detectAlertHooks{HTTPClient: srv.Client(), NotifyPolicy: notify.Policy{Sleep: sl.Sleep,
			Jitter: func(d time.Duration) time.Duration { return d }}}}
}

func TestDetectNotifyWebhook(t *testing.T) {
	tests := []struct {
		name      string
		script    []int
		after     string
		failOn    string
		exit      int
		delivered bool
		stderr    string
		waits     string
	}{
		{name: "success", failOn: "low", exit: ExitFindings, delivered: true, stderr: "delivered"},
		{name: "success, no finding at --fail-on", failOn: "none", exit: ExitClean, delivered: true},
		{name: "500 then success", script: []int{500}, failOn: "low", exit: ExitFindings, delivered: true, waits: "[500ms]"},
		{name: "429 Retry-After", script: []int{429}, after: "3", failOn: "low", exit: ExitFindings, delivered: true, waits: "[3s]"},
		{name: "failing, findings still exit 1", script: []int{500, 500, 500, 500, 500}, failOn: "low", exit: ExitFindings,
			stderr: "NOT delivered", waits: "[500ms 1s 2s 4s]"},
		{name: "failing, no finding at --fail-on: exit 2", script: []int{500, 500, 500, 500, 500}, failOn: "none", exit: ExitError,
			stderr: "tried again on the next run"},
	}
	// The report as a run without --notify prints it.
	srv0 := httptest.NewServer(&notifytest.Webhook{})
	defer srv0.Close()
	plain := detectAlertOpts(t, srv0, &notifytest.Sleeper{})
	runDetect(context.Background(), plain)
	want := plain.IO.Out.(fmt.Stringer).String()
	if !strings.Contains(want, "ct-cloudtrail-stopped") {
		t.Fatalf("no finding to send: %s", want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &notifytest.Webhook{Script: tt.script}
			for range tt.script {
				h.RetryAfter = append(h.RetryAfter, tt.after)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			sl := &notifytest.Sleeper{}
			opts := detectAlertOpts(t, srv, sl, srv.URL+"/services/T0/B0/secret")
			opts.FailOn = tt.failOn
			err := runDetect(context.Background(), opts)
			stdout := opts.IO.Out.(fmt.Stringer).String()
			stderr := opts.IO.ErrOut.(fmt.Stringer).String()
			if ExitCode(err) != tt.exit {
				t.Errorf("exit %d (%v), want %d; stderr %s", ExitCode(err), err, tt.exit, stderr)
			}
			// stdout is complete whatever the webhook does.
			if stdout != want {
				t.Errorf("stdout differs from a run without --notify:\n%s", stdout)
			}
			if got := len(h.Bodies()) > 0; got != tt.delivered {
				t.Errorf("delivered %v, want %v; stderr %s", got, tt.delivered, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) || !strings.Contains(stderr, "--no-state: every finding counts as new") {
				t.Errorf("stderr %q, want %q and the --no-state note", stderr, tt.stderr)
			}
			if strings.Contains(stderr, "secret") {
				t.Errorf("stderr shows the webhook URL's path: %s", stderr)
			}
			if tt.waits != "" && fmt.Sprint(sl.Waits) != tt.waits {
				t.Errorf("waits %v, want %s", sl.Waits, tt.waits)
			}
			for _, b := range h.Bodies() {
				var m struct {
					Text    string
					Source  string
					Finding map[string]any
				}
				if err := json.Unmarshal([]byte(b), &m); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(m.Text, "keywarden detect: ") || m.Source != "keywarden" || m.Finding["rule_id"] == nil {
					t.Errorf("body %s", b)
				}
			}
		})
	}
}

// With a state store each finding is sent once per target; a failed
// delivery is not recorded, so the next run sends it.
func TestDetectNotifyState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "detect.db")
	h := &notifytest.Webhook{Script: []int{500, 500, 500, 500, 500}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	trail := detectAlertTrail(t)
	run := func() (int, string) {
		opts := detectAlertOpts(t, srv, &notifytest.Sleeper{}, srv.URL+"/hook")
		opts.Sources, opts.NoState, opts.StatePath = []string{trail}, false, state
		err := runDetect(context.Background(), opts)
		return ExitCode(err), opts.IO.ErrOut.(fmt.Stringer).String()
	}
	// Run 1: the webhook is down.
	if _, stderr := run(); !strings.Contains(stderr, "0 new findings delivered") || !strings.Contains(stderr, "NOT delivered") {
		t.Fatalf("run 1: %s", stderr)
	}
	// Run 2: it is back; everything is sent, since nothing was recorded.
	_, stderr := run()
	n := len(h.Bodies())
	if n == 0 || !strings.Contains(stderr, fmt.Sprintf("%d new findings delivered", n)) {
		t.Fatalf("run 2 sent %d: %s", n, stderr)
	}
	// Run 3: nothing new.
	if _, stderr := run(); !strings.Contains(stderr, fmt.Sprintf("0 new findings delivered (%d sent by an earlier run, not again)", n)) {
		t.Fatalf("run 3: %s", stderr)
	}
	if len(h.Bodies()) != n {
		t.Errorf("run 3 sent %d more", len(h.Bodies())-n)
	}
}

func TestDetectNotifyTargets(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{"http://hooks.example.com/services/x", "--notify http://hooks.example.com/...: plain http only to a loopback address"},
		{"sns:arn:aws:sns:eu-west-1", "want sns:arn:aws:sns:REGION:ACCOUNT:TOPIC"},
		{"hooks.example.com/x", "want an https:// URL or sns:ARN"},
	} {
		ios, _, _ := Test("")
		err := runDetect(context.Background(), &detectOptions{IO: ios, NoState: true, Format: "text", FailOn: "low", Sources: []string{"x"}, Notify: []string{tt.in}})
		if ExitCode(err) != ExitError || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want exit 2 with %q", tt.in, err, tt.err)
		}
	}
}

// sns:ARN through the command's own client (from the AWS flags) to
// moto_server, read back from a subscribed SQS queue.
func TestDetectNotifySNS(t *testing.T) {
	srv := mototest.Start(t)
	srv.SetEnv(t)
	topic, read := srv.TopicWithQueue(t, "alerts")
	ios, out, errOut := Test("")
	err := runDetect(context.Background(), &detectOptions{IO: ios, Getenv: func(string) string { return "" }, Sources: []string{detectAlertTrail(t)},
		NoState: true, Format: "json", FailOn: "low", Notify: []string{"sns:" + topic}, AWS: awsFlags{EndpointURL: srv.URL}})
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d (%v): %s", ExitCode(err), err, errOut)
	}
	findings := strings.Count(out.String(), "\n")
	got := read()
	if len(got) != findings {
		t.Fatalf("%d messages on the queue, want one per finding (%d); stderr %s", len(got), findings, errOut)
	}
	for _, m := range got {
		var body struct{ Text string }
		if err := json.Unmarshal([]byte(m.Message), &body); err != nil || !strings.Contains(body.Text, "AKIARTX3GSDS2RWAIZGX") {
			t.Errorf("message %s", m.Message)
		}
	}
}

func TestDetectGuardDutyFormats(t *testing.T) {
	if _, err := os.Stat(gdExport); err != nil {
		t.Fatal(err)
	}
	run := func(format string, extra ...string) (string, string, int) {
		ios, out, errOut := Test("")
		opts := &detectOptions{IO: ios, Sources: []string{detectAlertTrail(t)}, NoState: true, Format: format, FailOn: "low",
			GuardDuty: []string{gdExport}}
		if len(extra) > 0 {
			opts.Key = extra[0]
		}
		err := runDetect(context.Background(), opts)
		return out.String(), errOut.String(), ExitCode(err)
	}
	out, errOut, code := run("json")
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "GuardDuty: 3 findings about keys and credentials from 1 input; skipped 1 finding about another kind of resource, 1 archived finding, 1 earlier version of an updated finding") {
		t.Errorf("stderr %s", errOut)
	}
	sources := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var f struct {
			RuleID     string `json:"rule_id"`
			References []string
			Properties map[string]any
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatal(err)
		}
		src := f.Properties["source"].(string)
		sources[src]++
		if src == "guardduty" && (!strings.HasPrefix(f.RuleID, "guardduty/") || f.Properties["attack"] != nil || strings.Contains(strings.Join(f.References, " "), "attack.mitre.org")) {
			t.Errorf("guardduty finding %s", line)
		}
	}
	if sources["guardduty"] != 3 || sources["keywarden"] == 0 {
		t.Errorf("sources %v, want 3 from guardduty and some from keywarden", sources)
	}
	// The text groups GuardDuty's finding under the key keywarden found.
	out, _, _ = run("text")
	i, j := strings.Index(out, "\nAKIA************IZGX"), strings.Index(out, "[guardduty/UnauthorizedAccess:IAMUser/MaliciousIPCaller]")
	k := strings.Index(out, "\nASIA")
	if i < 0 || j < i || k < j {
		t.Errorf("GuardDuty's finding about the key is not in the key's group:\n%s", out)
	}
	out, _, _ = run("csv")
	if !strings.HasSuffix(strings.SplitN(out, "\n", 2)[0], ",source") || !strings.Contains(out, ",guardduty\n") {
		t.Errorf("csv %s", out)
	}
	// --key keeps GuardDuty's findings about that key only.
	out, _, _ = run("json", "ASIARTX3GSDSQWERTY12")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "InstanceCredentialExfiltration.OutsideAWS") {
		t.Errorf("--key: %s", out)
	}
	out, _, _ = run("sarif")
	if !strings.Contains(out, `"ruleId": "guardduty/UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"`) {
		t.Errorf("sarif: %s", out)
	}
	t.Run("sarif schema", func(t *testing.T) { sariftest.Validate(t, []byte(out)) }) // skips without the schema
}

func TestDetectGuardDutyErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "gd.jsonl")
	good, _ := os.ReadFile(gdExport)
	os.WriteFile(bad, append([]byte("{\"id\":\n"), good...), 0o600)
	denied := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"not allowed: guardduty:ListDetectors"}`)
	}))
	defer denied.Close()
	client := gdapi.New(gdapi.Options{Region: "us-east-1", BaseEndpoint: aws.String(denied.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "x", ""), Retryer: aws.NopRetryer{}})
	for _, tt := range []struct {
		name, src, stderr string
	}{
		{"bad line", bad, "GuardDuty " + bad + ":3:1: bad JSON: in the value from line 1: invalid character"},
		{"api denied", "api", "GuardDuty API: GuardDuty ListDetectors"},
		{"stdin", "-", "stdin is for CloudTrail"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ios, out, errOut := Test("")
			err := runDetect(context.Background(), &detectOptions{IO: ios, Sources: []string{detectAlertTrail(t)}, NoState: true,
				Format: "text", FailOn: "low", GuardDuty: []string{tt.src}, Hooks: detectAlertHooks{GuardDutyClient: client}})
			if ExitCode(err) != ExitError {
				t.Errorf("exit %d (%v), want 2", ExitCode(err), err)
			}
			if !strings.Contains(errOut.String()+fmt.Sprint(err), tt.stderr) {
				t.Errorf("stderr %s (err %v), want %q", errOut, err, tt.stderr)
			}
			if tt.src != "-" && !strings.Contains(out.String(), "ct-cloudtrail-stopped") {
				t.Errorf("findings not printed: %s", out)
			}
		})
	}
}

// --guardduty s3://bucket/prefix: GuardDuty's export layout, gzip, listed
// and read through the command's own S3 client, against moto.
func TestDetectGuardDutyS3(t *testing.T) {
	srv := mototest.Start(t)
	srv.SetEnv(t)
	ctx := context.Background()
	client := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("gd-export")}); err != nil {
		t.Fatal(err)
	}
	export, err := os.ReadFile(gdExport)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(export)
	zw.Close()
	key := "AWSLogs/111122223333/GuardDuty/us-east-1/2024/06/03/0f3a7c1e-5b2d-3c4e-9f8a-1b2c3d4e5f6a.jsonl.gz"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("gd-export"), Key: aws.String(key), Body: bytes.NewReader(z.Bytes())}); err != nil {
		t.Fatal(err)
	}
	ios, out, errOut := Test("")
	err = runDetect(ctx, &detectOptions{IO: ios, Getenv: func(string) string { return "" }, Sources: []string{detectAlertTrail(t)},
		GuardDuty: []string{"s3://gd-export/AWSLogs/"}, NoState: true, Format: "json", FailOn: "low", AWS: awsFlags{EndpointURL: srv.URL}})
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d (%v): %s", ExitCode(err), err, errOut)
	}
	if n := strings.Count(out.String(), `"source":"guardduty"`); n != 3 {
		t.Errorf("%d GuardDuty findings, want 3: %s", n, out)
	}
	if !strings.Contains(errOut.String(), "GuardDuty: 3 findings about keys and credentials from 1 input") {
		t.Errorf("stderr %s", errOut)
	}
}

// A store that cannot be used costs the once-only promise, not the
// alerts: every finding is sent, and stderr says why.
func TestDetectNotifyDamagedState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "detect.db")
	if err := os.WriteFile(state, []byte("not a bbolt file, only text long enough to be read as one"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &notifytest.Webhook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	opts := detectAlertOpts(t, srv, &notifytest.Sleeper{}, srv.URL+"/hook")
	opts.NoState, opts.StatePath = false, state
	err := runDetect(context.Background(), opts)
	stderr := opts.IO.ErrOut.(fmt.Stringer).String()
	if ExitCode(err) != ExitError || !strings.Contains(stderr, "the state store is not usable: every finding counts as new and is sent") {
		t.Errorf("exit %d; stderr %s", ExitCode(err), stderr)
	}
	if n := len(h.Bodies()); n == 0 || !strings.Contains(stderr, fmt.Sprintf("%d new findings delivered", n)) {
		t.Errorf("%d delivered; stderr %s", n, stderr)
	}
}
