// Package mototest starts the moto AWS emulator (moto_server) on a random
// loopback port for tests that exercise real AWS API behaviour: IAM, STS,
// S3. It is imported only from _test.go files.
//
// Where moto_server is not installed the test is skipped with a message,
// unless KEYWARDEN_REQUIRE_MOTO is set (CI sets it), in which case the test
// fails: CI must never silently skip the emulator tests.
package mototest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Server is a running moto_server.
type Server struct {
	// URL is the endpoint, e.g. "http://127.0.0.1:43123".
	URL string
}

// Fixed credentials moto accepts; they are not secrets.
const (
	AccessKeyID     = "AKIAQ3EGRAJXU5PL6GQY"
	SecretAccessKey = "mototestmototestmototestmototestmototest"
	// Account is moto's default account ID.
	Account = "123456789012"
)

// Start launches a fresh moto_server for this test and stops it when the
// test ends. Each call gets its own server and so its own empty account.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("KEYWARDEN_REQUIRE_MOTO") != "" {
			t.Fatalf("moto_server is not on PATH but KEYWARDEN_REQUIRE_MOTO is set")
		}
		t.Skip("moto_server not found on PATH: skipping the emulator test (install moto 5 to run it)")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := launch(t, bin, port)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("moto_server did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func launch(t testing.TB, bin string, port int) (*Server, error) {
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The port was free when chosen, but another test's server may have
	// taken it since: a server answering is ours only when our process
	// logs the request, so each probe carries a mark only we send.
	mark := fmt.Sprintf("keywarden-probe-%d-%d", os.Getpid(), time.Now().UnixNano())
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			return nil, fmt.Errorf("moto_server exited: %s", logs.String())
		default:
		}
		resp, err := http.Get(url + "/moto-api/?" + mark)
		if err == nil {
			resp.Body.Close()
			if ours(&logs, mark, done) {
				break
			}
			stop()
			return nil, fmt.Errorf("another server answers on %s", url)
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not answering on %s after 30s: %s", url, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(stop)
	return &Server{URL: url}, nil
}

// ours waits (up to 5 s) for the server's log to show the request that
// carried mark: werkzeug logs each request once it has answered it.
func ours(logs *lockedBuffer, mark string, done <-chan struct{}) bool {
	for range 50 {
		if strings.Contains(logs.String(), mark) {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// Config returns an aws.Config pointed at the server with moto's test
// credentials, region us-east-1 and no retries beyond the SDK's default.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
}

// Env returns environment variables that point the SDK (and keywarden run
// as a subprocess) at the server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetEnv points the SDK of the test process itself at the server: Env,
// and no shared config or credentials file (so a developer's own profiles
// cannot leak in). It uses t.Setenv: the test cannot run in parallel.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// Reset clears all of the server's state.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
