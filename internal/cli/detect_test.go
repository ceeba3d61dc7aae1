package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ctapi "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
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
	// Outside the range: pruned, nothing read.
	ios, out, errOut = Test("")
	err = runDetect(ctx, &detectOptions{IO: ios, Sources: []string{"s3://trail/AWSLogs/"}, NoState: true, Format: "text", FailOn: "low",
		Since: "2024-07-01", AWS: awsFlags{EndpointURL: srv.URL}})
	if err != nil || !strings.Contains(errOut.String(), "read 0 events from 0 inputs") {
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
