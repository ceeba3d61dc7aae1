package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCleanEnvAndCredentialEnv(t *testing.T) {
	in := []string{"PATH=/bin", "AWS_PROFILE=x", "AWS_ACCESS_KEY_ID=old", "aws_secret_access_key=old", "AWS_SESSION_TOKEN=old",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://x", "KEYWARDEN_FILE_PASSPHRASE=pw", "AWS_ENDPOINT_URL=http://e", "HOME=/h"}
	got := CleanEnv(in)
	if want := []string{"PATH=/bin", "AWS_ENDPOINT_URL=http://e", "HOME=/h"}; !slices.Equal(got, want) {
		t.Fatalf("CleanEnv = %v, want %v", got, want)
	}
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	env := CredentialEnv("work", &Result{Credentials: Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "s", SessionToken: "t", Expiration: exp}, Region: "eu-west-1"})
	want := []string{"AWS_ACCESS_KEY_ID=ASIAX", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", "AWS_CREDENTIAL_EXPIRATION=2026-01-02T03:04:05Z",
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1", "KEYWARDEN_PROFILE=work"}
	if !slices.Equal(env, want) {
		t.Fatalf("CredentialEnv = %v", env)
	}
}

func TestExportFormats(t *testing.T) {
	res := &Result{Credentials: Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "a/b+c'd", SessionToken: "tok", Expiration: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, Region: "us-west-2"}
	env, err := Export("work", res, "env")
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := "export AWS_ACCESS_KEY_ID=ASIAX\nexport AWS_SECRET_ACCESS_KEY='a/b+c'\\''d'\nexport AWS_SESSION_TOKEN=tok\nexport AWS_CREDENTIAL_EXPIRATION=2026-01-02T03:04:05Z\nexport AWS_REGION=us-west-2\nexport AWS_DEFAULT_REGION=us-west-2\n"
	if env != wantEnv {
		t.Errorf("env:\n%s\nwant:\n%s", env, wantEnv)
	}
	js, _ := Export("work", res, "json")
	var p ProcessCredentials
	if err := json.Unmarshal([]byte(js), &p); err != nil || p.Version != 1 || p.SessionToken != "tok" || p.Expiration != "2026-01-02T03:04:05Z" {
		t.Errorf("json: %s %v", js, err)
	}
	ini, _ := Export("work", res, "ini")
	if ini != "[work]\naws_access_key_id = ASIAX\naws_secret_access_key = a/b+c'd\naws_session_token = tok\nregion = us-west-2\n" {
		t.Errorf("ini:\n%s", ini)
	}
	if _, err := Export("work", res, "xml"); err == nil {
		t.Error("xml accepted")
	}
}

func TestCredentialServer(t *testing.T) {
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	calls := 0
	s := &CredentialServer{Get: func(context.Context) (*Result, error) {
		calls++
		if calls == 3 {
			return nil, errors.New("MFA needed")
		}
		return &Result{Credentials: Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "sec", SessionToken: "tok", Expiration: exp}}, nil
	}}
	var reported []error
	s.Errors = func(err error) { reported = append(reported, err) }
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Fatalf("not loopback: %s", s.URL())
	}
	if len(s.Token()) != 64 {
		t.Fatalf("token %q", s.Token())
	}
	get := func(token string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", s.URL(), nil)
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		return http.DefaultClient.Do(req)
	}
	for _, bad := range []string{"", "wrong", s.Token()[:63], s.Token() + "x"} {
		resp, err := get(bad)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("token %q: status %d", bad, resp.StatusCode)
		}
	}
	if calls != 0 {
		t.Fatal("credentials fetched for an unauthorised request")
	}
	resp, err := get(s.Token())
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&c)
	resp.Body.Close()
	if resp.StatusCode != 200 || c["AccessKeyId"] != "ASIAX" || c["SecretAccessKey"] != "sec" || c["Token"] != "tok" || c["Expiration"] != exp.Format(time.RFC3339) {
		t.Fatalf("reply %d %v", resp.StatusCode, c)
	}
	resp, _ = get(s.Token())
	resp.Body.Close()
	resp, _ = get(s.Token())
	resp.Body.Close()
	if resp.StatusCode != 500 || len(reported) != 1 {
		t.Fatalf("failure: status %d, reported %v", resp.StatusCode, reported)
	}
	env := s.Env()
	if env[0] != "AWS_CONTAINER_CREDENTIALS_FULL_URI="+s.URL() || env[1] != "AWS_CONTAINER_AUTHORIZATION_TOKEN="+s.Token() {
		t.Fatalf("env %v", env)
	}
}

// TestCredentialServerHostAndPath: only loopback names with the server's
// port get past the Host check (a DNS-rebound page sends its own name),
// and only CredentialPath serves credentials.
func TestCredentialServerHostAndPath(t *testing.T) {
	calls := 0
	s := &CredentialServer{Get: func(context.Context) (*Result, error) {
		calls++
		return &Result{Credentials: Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "sec", SessionToken: "tok"}}, nil
	}}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	for _, tc := range []struct {
		host, path string
		want       int
	}{
		{"127.0.0.1:" + port, CredentialPath, 200},
		{"localhost:" + port, CredentialPath, 200},
		{"LocalHost:" + port, CredentialPath, 200},
		{"[::1]:" + port, CredentialPath, 200},
		{"evil.example:" + port, CredentialPath, 403},
		{"localhost.evil.example:" + port, CredentialPath, 403},
		{"127.0.0.2:" + port, CredentialPath, 403},
		{"127.0.0.1", CredentialPath, 403},
		{"localhost", CredentialPath, 403},
		{"127.0.0.1:1", CredentialPath, 403},
		{"::1:" + port, CredentialPath, 403},
		{"127.0.0.1:" + port, "/", 404},
		{"127.0.0.1:" + port, CredentialPath + "/", 404},
		{"127.0.0.1:" + port, "/latest/meta-data/iam/security-credentials/", 404},
		{"evil.example:" + port, "/", 403},
	} {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			before := calls
			req, _ := http.NewRequest("GET", "http://"+u.Host+tc.path, nil)
			req.Host = tc.host
			req.Header.Set("Authorization", s.Token())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, body)
			}
			if got := calls - before; (tc.want == 200) != (got == 1) {
				t.Fatalf("credentials fetched %d times for status %d", got, resp.StatusCode)
			}
			if tc.want != 200 && strings.Contains(string(body), "sec") {
				t.Fatalf("refused request got the secret: %s", body)
			}
		})
	}
	// HTTP/1.0 allows a request with no Host header at all: refused too.
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nAuthorization: %s\r\n\r\n", CredentialPath, s.Token())
	reply, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(reply), "HTTP/1.0 403 ") || strings.Contains(string(reply), "sec") {
		t.Fatalf("no Host header: %q", reply)
	}
}

// FuzzLoopbackHost: whatever the Host header, LoopbackHost accepts only
// the three loopback names with the port, and never panics.
func FuzzLoopbackHost(f *testing.F) {
	for _, h := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "evil:8080", "[::1]", "::1:8080", "", ":", "[", "127.0.0.1:08080"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !LoopbackHost(host, 8080) {
			return
		}
		switch strings.ToLower(host) {
		case "127.0.0.1:8080", "localhost:8080", "[::1]:8080":
		default:
			t.Fatalf("accepted %q", host)
		}
	})
}

func TestRunExitStatus(t *testing.T) {
	code, err := Run(context.Background(), "sh", []string{"-c", "exit 7"}, nil)
	if err != nil || code != 7 {
		t.Fatalf("exit 7: %d %v", code, err)
	}
	code, err = Run(context.Background(), "sh", []string{"-c", "kill -TERM $$"}, nil)
	if err != nil || code != 143 {
		t.Fatalf("killed by TERM: %d %v", code, err)
	}
	if _, err := Run(context.Background(), "no-such-command-keywarden", nil, nil); err == nil {
		t.Fatal("missing command ran")
	}
}

func TestCheckProfileName(t *testing.T) {
	for _, ok := range []string{"work", "a.b-c_d", "team/prod", "with space"} {
		if err := CheckProfileName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a]b", "a\nb", "\x1b[31m", strings.Repeat("x", 129)} {
		if err := CheckProfileName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
