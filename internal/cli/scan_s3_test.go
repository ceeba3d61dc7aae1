package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/mototest"
)

// scan s3://bucket/prefix on moto: a credentials file in a bucket (the
// classic leak), a gzipped env file (read with --archives, skipped and
// said without), an object over --max-file-size (skipped and said), and
// --since.
func TestScanS3(t *testing.T) {
	srv := mototest.Start(t)
	// The scan's client comes from --profile (in a shared credentials
	// file), --region and --endpoint-url, and nothing else.
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[moto]\naws_access_key_id = "+mototest.AccessKeyID+"\naws_secret_access_key = "+mototest.SecretAccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	flags := awsFlags{Profile: "moto", Region: "eu-west-1", EndpointURL: srv.URL}
	client := flags.s3Client(srv.Config(), func(string) string { return "" })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("backups")}); err != nil {
		t.Fatal(err)
	}
	id, secret := scanTestKey(t, 31)
	id2, secret2 := scanTestKey(t, 32)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("AWS_ACCESS_KEY_ID=" + id2 + "\nAWS_SECRET_ACCESS_KEY=" + secret2 + "\n"))
	zw.Close()
	objects := map[string][]byte{
		"home/bob/.aws/credentials": []byte("[default]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n"),
		"deploy/app.env.gz":         gz.Bytes(),
		"logs/big.log":              bytes.Repeat([]byte("nothing to see here\n"), 200),
		"home/bob/":                 nil, // a console "folder"
		"other/readme.txt":          []byte("not under the prefix " + id + "\n"),
	}
	for k, v := range objects {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String(k), Body: bytes.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(mod func(*scanOptions)) (string, string, int) {
		return scanRun(t, "", func(o *scanOptions) {
			o.Paths = []string{"s3://backups/home/", "s3://backups/deploy", "s3://backups/logs/"}
			o.MaxFileSize = "1KB"
			o.AWS = flags
			o.Getenv = func(string) string { return "" }
			mod(o)
		})
	}

	t.Run("credentials file, gzipped env, too large", func(t *testing.T) {
		out, errOut, code := run(func(o *scanOptions) { o.Archives = true })
		if code != ExitFindings {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		for _, want := range []string{
			"s3://backups/home/bob/.aws/credentials\n", "s3://backups/deploy/app.env.gz!app.env\n",
			awskey.Redact(id), awskey.Redact(id2), "2 findings: 2 critical",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in\n%s", want, out)
			}
		}
		if strings.Contains(out, secret) || strings.Contains(out, "readme") {
			t.Errorf("secret in clear, or an object outside the prefixes:\n%s", out)
		}
		if want := "keywarden: skipped 1: 1 larger than --max-file-size"; !strings.Contains(errOut, want) {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	})
	t.Run("without --archives the gzipped file is said", func(t *testing.T) {
		out, errOut, code := run(func(o *scanOptions) {})
		if code != ExitFindings || strings.Contains(out, "app.env") || !strings.Contains(out, "1 finding: 1 critical") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if want := "skipped 2: 1 larger than --max-file-size (raise --max-file-size to scan it), 1 an archive or compressed file (add --archives to look inside)"; !strings.Contains(errOut, want) {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	})
	t.Run("--since", func(t *testing.T) {
		out, errOut, code := run(func(o *scanOptions) { o.Since = "1h" })
		if code != ExitFindings || strings.Contains(errOut, "older") {
			t.Errorf("--since 1h: exit %d\n%s\n%s", code, out, errOut)
		}
		out, errOut, code = run(func(o *scanOptions) {
			o.Since = "1h"
			o.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
		})
		if code != ExitClean || !strings.Contains(errOut, "skipped 3: 3 older than --since") {
			t.Errorf("--since after every object: exit %d\n%s\n%s", code, out, errOut)
		}
	})
	t.Run("no such bucket", func(t *testing.T) {
		_, _, err := scanRunErr(t, "", func(o *scanOptions) {
			o.Paths = []string{"s3://nosuchbucket/"}
			o.AWS = flags
		})
		if ExitCode(err) != ExitError || !strings.Contains(err.Error(), "listing s3://nosuchbucket/") {
			t.Errorf("exit %d: %v", ExitCode(err), err)
		}
	})
}

func TestScanS3Usage(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*scanOptions)
		want string
	}{
		{"--since without s3", func(o *scanOptions) { o.Paths = []string{"."}; o.Since = "1d" }, "--since applies to s3:// sources only"},
		{"bad --since", func(o *scanOptions) { o.Paths = []string{"s3://b/"}; o.Since = "yesterday" }, "--since: cannot read time"},
		{"no bucket", func(o *scanOptions) { o.Paths = []string{"s3:///x"} }, "names no bucket"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := scanRunErr(t, "", tt.mod)
			if ExitCode(err) != ExitError || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("exit %d: %v, want %q", ExitCode(err), err, tt.want)
			}
		})
	}
}
