package vault

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"
)

// NestedEnv marks a process started by `keywarden exec`; its value is the
// profile.
const NestedEnv = "KEYWARDEN_PROFILE"

// conflicting are the variables that would make the child's SDK pick other
// credentials than ours, or a profile that is not the one we ran.
var conflicting = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	NestedEnv,
	// Not a conflict but a secret: the child has no business with the
	// store's passphrase.
	"KEYWARDEN_FILE_PASSPHRASE",
}

// CleanEnv returns env without the variables that conflict with the
// credentials keywarden gives a child, and without the store's passphrase.
func CleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, c := range conflicting {
			if strings.EqualFold(k, c) {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// CredentialEnv are the variables that hand res to a child process.
func CredentialEnv(profile string, res *Result) []string {
	env := []string{
		"AWS_ACCESS_KEY_ID=" + res.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + res.SecretAccessKey,
	}
	if res.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+res.SessionToken)
	}
	if !res.Expiration.IsZero() {
		env = append(env, "AWS_CREDENTIAL_EXPIRATION="+res.Expiration.UTC().Format(time.RFC3339))
	}
	return append(env, RegionEnv(profile, res.Region)...)
}

// RegionEnv sets the region variables (when the profile has a region) and
// the nesting marker.
func RegionEnv(profile, region string) []string {
	var env []string
	if region != "" {
		env = append(env, "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region)
	}
	return append(env, NestedEnv+"="+profile)
}

// Run runs name with args and env, with our stdin, stdout and stderr,
// passes on the signals a terminal or a supervisor sends, and returns the
// exit status the child ended with (128+N for a child killed by signal
// N, as a shell reports it).
func Run(ctx context.Context, name string, args, env []string) (int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	// Signals a terminal sends (Ctrl-C, Ctrl-\, a resize) reach the child
	// directly: it is in the terminal's foreground process group with us.
	// Passing those on as well would deliver them twice.
	fromTTY := term.IsTerminal(int(os.Stdin.Fd()))
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if fromTTY && isTerminalSignal(s) {
					continue
				}
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// CredentialServer serves credentials to a child through the container
// credentials protocol (AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN), which every AWS SDK and the AWS CLI
// read and re-read before expiry: a long job keeps working across sessions.
type CredentialServer struct {
	// Get returns fresh credentials; it is called for every request and
	// is expected to cache.
	Get func(ctx context.Context) (*Result, error)
	// Errors receives problems worth telling the user (MFA needed, STS
	// down); the child only sees an HTTP error.
	Errors func(error)

	token string
	ln    net.Listener
	srv   *http.Server
	mu    sync.Mutex
}

// Start listens on a random loopback port.
func (s *CredentialServer) Start() error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	s.token = hex.EncodeToString(b[:])
	ln, srv, err := serveLoopback(s)
	if err != nil {
		return err
	}
	s.ln, s.srv = ln, srv
	return nil
}

// serveLoopback serves h on a random port of 127.0.0.1.
func serveLoopback(h http.Handler) (net.Listener, *http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return ln, srv, nil
}

// CredentialPath is the one path the server hands credentials out on;
// every other path is 404.
const CredentialPath = "/credentials"

// URL is the endpoint for AWS_CONTAINER_CREDENTIALS_FULL_URI.
func (s *CredentialServer) URL() string { return "http://" + s.ln.Addr().String() + CredentialPath }

// LoopbackHost reports whether host, a request's Host header, names a
// server on port by a loopback name: localhost, 127.0.0.1 or [::1]. A web
// page whose DNS name was rebound to 127.0.0.1 sends its own name:
// refusing it keeps a browser out even before the token is checked.
func LoopbackHost(host string, port int) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil || p != strconv.Itoa(port) {
		return false
	}
	return strings.EqualFold(h, "localhost") || h == "127.0.0.1" || h == "::1"
}

// Env are the variables that point a child at the server.
func (s *CredentialServer) Env() []string {
	return []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + s.URL(),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + s.token,
	}
}

// Token is the authorization token (for tests).
func (s *CredentialServer) Token() string { return s.token }

// Close stops the server.
func (s *CredentialServer) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

type containerCreds struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
}

func (s *CredentialServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !LoopbackHost(r.Host, s.ln.Addr().(*net.TCPAddr).Port) {
		http.Error(w, "forbidden: not a loopback host name", http.StatusForbidden)
		return
	}
	if r.URL.Path != CredentialPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Only the token proves the caller is our child: compare it in
	// constant time, so its bytes cannot be guessed one by one.
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(s.token)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	res, ok := serveGet(w, r, &s.mu, s.Get, s.Errors)
	if !ok {
		return
	}
	c := containerCreds{AccessKeyID: res.AccessKeyID, SecretAccessKey: res.SecretAccessKey, Token: res.SessionToken}
	if !res.Expiration.IsZero() {
		c.Expiration = res.Expiration.UTC().Format(time.RFC3339)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(c)
}

// serveGet gets the credentials for a server's request, one refresh at a
// time (an MFA prompt is not asked twice); on failure it tells errs and
// answers 500 (the details are for the user's terminal, not the child).
func serveGet(w http.ResponseWriter, r *http.Request, mu *sync.Mutex, get func(context.Context) (*Result, error), errs func(error)) (*Result, bool) {
	mu.Lock()
	res, err := get(r.Context())
	mu.Unlock()
	if err != nil {
		if errs != nil {
			errs(err)
		}
		http.Error(w, "keywarden could not get credentials: see the terminal running keywarden exec", http.StatusInternalServerError)
		return nil, false
	}
	return res, true
}

// ProcessCredentials is the credential_process output, version 1.
type ProcessCredentials struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
}

// ProcessOutput renders res for credential_process.
func ProcessOutput(res *Result) ([]byte, error) {
	p := ProcessCredentials{Version: 1, AccessKeyID: res.AccessKeyID, SecretAccessKey: res.SecretAccessKey, SessionToken: res.SessionToken}
	if !res.Expiration.IsZero() {
		p.Expiration = res.Expiration.UTC().Format(time.RFC3339)
	}
	return json.MarshalIndent(p, "", "  ")
}

// Export renders res as shell variables ("env"), credential_process JSON
// ("json") or a ~/.aws/credentials section ("ini").
func Export(profile string, res *Result, format string) (string, error) {
	var b strings.Builder
	switch format {
	case "env":
		for _, kv := range CredentialEnv(profile, res) {
			k, v, _ := strings.Cut(kv, "=")
			if k == NestedEnv {
				continue
			}
			fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
		}
	case "json":
		data, err := ProcessOutput(res)
		if err != nil {
			return "", err
		}
		b.Write(data)
		b.WriteByte('\n')
	case "ini":
		fmt.Fprintf(&b, "[%s]\n", profile)
		fmt.Fprintf(&b, "aws_access_key_id = %s\n", res.AccessKeyID)
		fmt.Fprintf(&b, "aws_secret_access_key = %s\n", res.SecretAccessKey)
		if res.SessionToken != "" {
			fmt.Fprintf(&b, "aws_session_token = %s\n", res.SessionToken)
		}
		if res.Region != "" {
			fmt.Fprintf(&b, "region = %s\n", res.Region)
		}
	default:
		return "", fmt.Errorf("unknown format %q (want env, json or ini)", format)
	}
	return b.String(), nil
}

func shellQuote(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:+=@,", c)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}
