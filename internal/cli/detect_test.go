package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/cloudtrail/baseline"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

const detectTestStop = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIARTX3GSDS2RWAIZGX","userName":"alice"},"eventTime":"2024-06-03T14:02:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.50","userAgent":"aws-cli/2.15.30","requestParameters":{"name":"main"},"responseElements":null,"eventID":"e-stop","readOnly":false}`

func TestDetectLookup(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"Events": []map[string]any{{"EventId": "e-stop", "CloudTrailEvent": detectTestStop}}})
	}))
	defer srv.Close()
	client := ctapi.NewFromConfig(aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "x", ""), BaseEndpoint: aws.String(srv.URL)})
	ios, out, errOut := Test("")
	now := time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)
	err := runDetect(context.Background(), &detectOptions{IO: ios, Now: func() time.Time { return now }, Lookup: true,
		LookupRegions: []string{"eu-west-1"}, LookupClient: client, NoState: true, Format: "json", FailOn: "high", Since: "200d"})
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d (%v); stderr %s", ExitCode(err), err, errOut)
	}
	if !strings.Contains(out.String(), `"rule_id":"ct-cloudtrail-stopped"`) || !strings.Contains(out.String(), `"event_ids":["e-stop"]`) {
		t.Errorf("output %s", out)
	}
	if !strings.Contains(errOut.String(), "LookupEvents keeps 90 days: reading eu-west-1 from 2024-03-12") {
		t.Errorf("no clamp notice: %s", errOut)
	}
}

// s3:// through the command's own client, built from the AWS flags and the
// environment, against moto.
func TestDetectS3(t *testing.T) {
	srv := mototest.Start(t)
	srv.SetEnv(t)
	ctx := context.Background()
	client := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(`{"Records":[` + detectTestStop + `]}`))
	zw.Close()
	key := "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/06/03/111122223333_CloudTrail_eu-west-1_20240603T1405Z_x.json.gz"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), Body: bytes.NewReader(z.Bytes())}); err != nil {
		t.Fatal(err)
	}
	ios, out, errOut := Test("")
	err := runDetect(ctx, &detectOptions{IO: ios, Getenv: func(k string) string { return "" }, Sources: []string{"s3://trail/AWSLogs/"},
		NoState: true, Format: "text", FailOn: "low", Since: "2024-06-01", Until: "2024-06-05", AWS: awsFlags{EndpointURL: srv.URL}})
	if ExitCode(err) != ExitFindings {
		t.Fatalf("exit %d (%v); stderr %s", ExitCode(err), err, errOut)
	}
	if !strings.Contains(out.String(), "[ct-cloudtrail-stopped]") || !strings.Contains(errOut.String(), "read 1 events from 1 inputs") {
		t.Errorf("stdout %s\nstderr %s", out, errOut)
	}
	// Outside the range: pruned, nothing read, and that is said (a trail
	// that delivered nothing for the period is a problem, not a clean run).
	ios, out, errOut = Test("")
	err = runDetect(ctx, &detectOptions{IO: ios, Sources: []string{"s3://trail/AWSLogs/"}, NoState: true, Format: "text", FailOn: "low",
		Since: "2024-07-01", AWS: awsFlags{EndpointURL: srv.URL}})
	if ExitCode(err) != ExitError || !strings.Contains(errOut.String(), "read 0 events from 0 inputs") ||
		!strings.Contains(out.String(), "no findings; no CloudTrail records were read") {
		t.Errorf("pruned run: %v\n%s\n%s", err, out, errOut)
	}
}

func TestDetectParseTime(t *testing.T) {
	now := time.Date(2024, 6, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"2024-06-01":           "2024-06-01T00:00:00Z",
		"2024-06-01T10:30":     "2024-06-01T10:30:00Z",
		"2024-06-01T10:30:00Z": "2024-06-01T10:30:00Z",
		"7d":                   "2024-06-03T12:00:00Z",
		"12h":                  "2024-06-10T00:00:00Z",
		"":                     "0001-01-01T00:00:00Z",
	} {
		got, err := detectParseTime(in, now)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	if _, err := detectParseTime("last week", now); err == nil {
		t.Error("accepted 'last week'")
	}
}

func TestDetectSARIF(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/stop.json"
	if err := os.WriteFile(path, []byte("["+detectTestStop+"]"), 0o600); err != nil {
		t.Fatal(err)
	}
	ios, out, errOut := Test("")
	err := runDetect(context.Background(), &detectOptions{IO: ios, Sources: []string{path}, NoState: true, Format: "sarif", FailOn: "none"})
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	if !strings.Contains(out.String(), `"ruleId": "ct-cloudtrail-stopped"`) {
		t.Errorf("sarif: %s", out)
	}
	sariftest.Validate(t, out.Bytes())
}

// A state store that cannot be used (damaged in any shape, a directory)
// must not lose the run: the findings are printed, judged without the
// baseline, the message says what to do, and the exit code is 2.
func TestDetectDamagedState(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "stop.json")
	if err := os.WriteFile(logs, []byte(`{"Records":[`+detectTestStop+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// A store of many keys, so it spans many pages.
	good := filepath.Join(dir, "good.db")
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	obs := map[string]*detect.Baseline{}
	keys := []string{"AKIARTX3GSDS2RWAIZGX"}
	for i := range 300 {
		k := fmt.Sprintf("AKIA%016d", i)
		keys = append(keys, k)
		b := &detect.Baseline{}
		b.Dims[0] = map[string]detect.Seen{}
		for j := range 20 {
			b.Dims[0][fmt.Sprintf("198.51.100.%d", j)] = detect.Seen{First: t0, Last: t0, Count: 1}
		}
		obs[k] = b
	}
	if _, err := baseline.Exchange(good, keys, obs, false); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	tests := []struct {
		name  string
		write func(path string) error
		want  string
	}{
		{"truncated", func(p string) error { return os.WriteFile(p, orig[:len(orig)/2], 0o600) }, "is damaged: use --no-state or move it away"},
		{"random middle pages", func(p string) error {
			b := bytes.Clone(orig)
			r := rand.New(rand.NewPCG(1, 2))
			for i := 2 * page; i < len(b)-page; i++ {
				b[i] = byte(r.Uint32())
			}
			return os.WriteFile(p, b, 0o600)
		}, "is damaged: use --no-state or move it away"},
		{"zeroed meta pages", func(p string) error {
			b := bytes.Clone(orig)
			clear(b[:2*page])
			return os.WriteFile(p, b, 0o600)
		}, "is damaged: use --no-state or move it away"},
		{"not a database", func(p string) error { return os.WriteFile(p, bytes.Repeat([]byte("garbage\n"), 2000), 0o600) }, "is damaged: use --no-state or move it away"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "cannot be used: it is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, learn := range []bool{false, true} {
				// A fresh file each time: after a panic, bbolt's memory map
				// holds the file lock until the process exits.
				state := filepath.Join(t.TempDir(), "detect.db")
				if err := tt.write(state); err != nil {
					t.Fatal(err)
				}
				ios, out, errOut := Test("")
				err := runDetect(context.Background(), &detectOptions{IO: ios, Now: time.Now, Sources: []string{logs},
					StatePath: state, Learn: learn, Format: "text", FailOn: "low"})
				if ExitCode(err) != ExitError {
					t.Errorf("learn=%v: exit %d (%v), want 2", learn, ExitCode(err), err)
				}
				if !strings.Contains(errOut.String(), "keywarden: state store "+state+" "+tt.want) {
					t.Errorf("learn=%v: stderr does not say %q:\n%s", learn, tt.want, errOut)
				}
				if !learn && (!strings.Contains(out.String(), "[ct-cloudtrail-stopped]") || !strings.Contains(out.String(), "judged without the baseline")) {
					t.Errorf("findings lost:\n%s", out)
				}
			}
		})
	}
}

// A gzip bomb is an input that could not be read: named on stderr, said
// in the summary (never "no findings" alone), exit 2.
func TestDetectGzipBomb(t *testing.T) {
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write([]byte(`{"Records":[` + detectTestStop + `,`))
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	for range 64 {
		zw.Write(chunk)
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "bomb.json.gz")
	if err := os.WriteFile(path, z.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		ios, out, errOut := Test("")
		err := runDetect(context.Background(), &detectOptions{IO: ios, Now: time.Now, Sources: []string{path}, NoState: true, Format: format, FailOn: "none"})
		if ExitCode(err) != ExitError {
			t.Errorf("%s: exit %d (%v), want 2", format, ExitCode(err), err)
		}
		if !strings.Contains(errOut.String(), path+": offset ") || !strings.Contains(errOut.String(), "a gzip bomb, not a log") ||
			!strings.Contains(err.Error(), "1 input error in 1 input") {
			t.Errorf("%s: stderr %s; err %v", format, errOut, err)
		}
		// The record before the bomb is still judged.
		if !strings.Contains(out.String(), "ct-cloudtrail-stopped") {
			t.Errorf("%s: findings lost: %s", format, out)
		}
		if format == "text" && !strings.Contains(out.String(), "; 1 input could not be read in full (see stderr)") {
			t.Errorf("summary: %s", out)
		}
	}
}
