package vault

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

func startIMDS(t *testing.T, clk *clock) *IMDSServer {
	t.Helper()
	exp := time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)
	s := &IMDSServer{
		Role: "work",
		Now:  clk.Now,
		Get: func(context.Context) (*Result, error) {
			return &Result{Credentials: Credentials{AccessKeyID: "ASIAEXAMPLEIMDS00001", SecretAccessKey: "imds-secret", SessionToken: "imds-token", Expiration: exp}}, nil
		},
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIMDSServerSDK: the AWS SDK's own IMDS client and EC2 role provider
// get the credentials (token, role name, credentials).
func TestIMDSServerSDK(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	s := startIMDS(t, clk)
	client := imds.New(imds.Options{Endpoint: s.URL(), ClientEnableState: imds.ClientEnabled, EnableFallback: aws.FalseTernary /* v2 only */})
	p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })
	c, err := p.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "ASIAEXAMPLEIMDS00001" || c.SecretAccessKey != "imds-secret" || c.SessionToken != "imds-token" || !c.Expires.Equal(time.Date(2026, 5, 1, 20, 0, 0, 0, time.UTC)) {
		t.Fatalf("credentials %+v", c)
	}
}

// TestIMDSServerRefuses: every request a real IMDSv2 would refuse, and
// those --server refuses (a foreign Host), are refused.
func TestIMDSServerRefuses(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	s := startIMDS(t, clk)
	base := strings.TrimSuffix(s.URL(), "/")
	port := s.ln.Addr().(*net.TCPAddr).Port
	do := func(method, path string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const ttlH = "X-aws-ec2-metadata-token-ttl-seconds"
	const tokH = "X-aws-ec2-metadata-token"
	code, tok := do("PUT", "/latest/api/token", map[string]string{ttlH: "60"})
	if code != 200 || len(tok) < 40 {
		t.Fatalf("token: %d %q", code, tok)
	}
	creds := imdsCredsPath + "work"
	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		want               int
	}{
		{"token without TTL", "PUT", "/latest/api/token", nil, 400},
		{"token TTL 0", "PUT", "/latest/api/token", map[string]string{ttlH: "0"}, 400},
		{"token TTL too long", "PUT", "/latest/api/token", map[string]string{ttlH: "21601"}, 400},
		{"token TTL not a number", "PUT", "/latest/api/token", map[string]string{ttlH: "1e3"}, 400},
		{"token by GET", "GET", "/latest/api/token", map[string]string{ttlH: "60"}, 405},
		{"token through a proxy", "PUT", "/latest/api/token", map[string]string{ttlH: "60", "X-Forwarded-For": "203.0.113.9"}, 403},
		{"credentials without a token (IMDSv1)", "GET", creds, nil, 401},
		{"credentials with a wrong token", "GET", creds, map[string]string{tokH: tok + "x"}, 401},
		{"credentials through a proxy", "GET", creds, map[string]string{tokH: tok, "X-Forwarded-For": "203.0.113.9"}, 403},
		{"credentials for a rebound DNS name", "GET", creds, map[string]string{tokH: tok, "Host": "evil.example:" + itoa(port)}, 403},
		{"credentials on another port", "GET", creds, map[string]string{tokH: tok, "Host": "127.0.0.1:1"}, 403},
		{"credentials by POST", "POST", creds, map[string]string{tokH: tok}, 405},
		{"another role", "GET", imdsCredsPath + "admin", map[string]string{tokH: tok}, 404},
		{"another path", "GET", "/latest/user-data", map[string]string{tokH: tok}, 404},
		{"role name", "GET", imdsCredsPath, map[string]string{tokH: tok}, 200},
		{"credentials", "GET", creds, map[string]string{tokH: tok, "Host": "localhost:" + itoa(port)}, 200},
	} {
		code, body := do(tc.method, tc.path, tc.hdr)
		if code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
		if code != 200 && strings.Contains(body, "imds-secret") {
			t.Errorf("%s: refused, yet the secret is in the answer", tc.name)
		}
		if tc.name == "credentials" {
			var c imdsCreds
			if err := json.Unmarshal([]byte(body), &c); err != nil || c.Code != "Success" || c.Type != "AWS-HMAC" || c.Token != "imds-token" || c.Expiration != "2026-05-01T20:00:00Z" {
				t.Errorf("credentials %q: %v", body, err)
			}
		}
	}
	// The token lasts its TTL, no longer.
	clk.Add(59 * time.Second)
	if code, _ := do("GET", creds, map[string]string{tokH: tok}); code != 200 {
		t.Fatalf("token within its TTL: %d", code)
	}
	clk.Add(time.Second)
	if code, _ := do("GET", creds, map[string]string{tokH: tok}); code != 401 {
		t.Fatalf("token past its TTL: %d, want 401", code)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestIMDSRoleAndEnv(t *testing.T) {
	for role, want := range map[string]string{"work": "work", "": "keywarden", "a/b": "keywarden", "x\x1b[31m": "keywarden"} {
		if got := (&IMDSServer{Role: role}).role(); got != want {
			t.Errorf("role %q: %q, want %q", role, got, want)
		}
	}
	env := IMDSEnv([]string{"AWS_EC2_METADATA_DISABLED=true", "aws_ec2_metadata_service_endpoint=http://x", "PATH=/bin"})
	if strings.Join(env, ",") != "PATH=/bin" {
		t.Errorf("IMDSEnv = %v", env)
	}
}
