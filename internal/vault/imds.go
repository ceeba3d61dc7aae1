package vault

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// IMDSServer serves credentials to a child the way EC2's instance
// metadata service does, version 2 only (`exec --ec2-server`), for tools
// that read nothing else:
//
//	PUT /latest/api/token  (X-aws-ec2-metadata-token-ttl-seconds: 1..21600) -> a token
//	GET /latest/meta-data/iam/security-credentials/       -> the role name
//	GET /latest/meta-data/iam/security-credentials/ROLE   -> the credentials
//
// with X-aws-ec2-metadata-token on every GET. As on EC2, a request with
// X-Forwarded-For is refused (a proxy relaying for someone else), and a
// token is good for its TTL only; as with --server, it listens on
// 127.0.0.1 only and answers only requests whose Host names a loopback
// address with its port (DNS rebinding).
type IMDSServer struct {
	// Get returns fresh credentials; called for each credentials request.
	Get func(ctx context.Context) (*Result, error)
	// Errors receives problems worth telling the user.
	Errors func(error)
	// Role is the role name the server shows ("keywarden" when empty or
	// not a valid IAM name).
	Role string
	// Now is the clock (time.Now when nil); tests inject one.
	Now func() time.Time

	ln  net.Listener
	srv *http.Server

	mu     sync.Mutex // one refresh at a time
	tokMu  sync.Mutex
	tokens map[string]time.Time // token -> expiry
}

// IMDS limits, as EC2 sets them.
const (
	imdsMaxTTL = 21600
	// imdsMaxTokens bounds the tokens kept (expired ones are dropped
	// first); a child asking for more is refused.
	imdsMaxTokens = 1024
	imdsCredsPath = "/latest/meta-data/iam/security-credentials/"
)

var iamRoleName = lazyregexp.New(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

func (s *IMDSServer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *IMDSServer) role() string {
	if iamRoleName().MatchString(s.Role) {
		return s.Role
	}
	return "keywarden"
}

// Start listens on a random loopback port.
func (s *IMDSServer) Start() error {
	s.tokens = map[string]time.Time{}
	ln, srv, err := serveLoopback(s)
	if err != nil {
		return err
	}
	s.ln, s.srv = ln, srv
	return nil
}

// URL is the endpoint for AWS_EC2_METADATA_SERVICE_ENDPOINT.
func (s *IMDSServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Env are the variables that point a child's SDK at the server.
func (s *IMDSServer) Env() []string {
	return []string{"AWS_EC2_METADATA_SERVICE_ENDPOINT=" + s.URL(), "AWS_EC2_METADATA_V1_DISABLED=true"}
}

// IMDSEnv returns env without what would keep a child's SDK from the
// server (AWS_EC2_METADATA_DISABLED, another endpoint or endpoint mode).
func IMDSEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "AWS_EC2_METADATA_V1_DISABLED":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Close stops the server.
func (s *IMDSServer) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

func (s *IMDSServer) newToken(ttl time.Duration) (string, bool) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	now := s.now()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	if len(s.tokens) >= imdsMaxTokens {
		return "", false
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false
	}
	t := base64.RawURLEncoding.EncodeToString(b[:])
	s.tokens[t] = now.Add(ttl)
	return t, true
}

// validToken checks a token in constant time against each one issued.
func (s *IMDSServer) validToken(tok string) bool {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	now := s.now()
	ok := false
	for t, exp := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(t)) == 1 && now.Before(exp) {
			ok = true
		}
	}
	return ok
}

type imdsCreds struct {
	Code            string `json:"Code"`
	LastUpdated     string `json:"LastUpdated"`
	Type            string `json:"Type"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

func (s *IMDSServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !LoopbackHost(r.Host, s.ln.Addr().(*net.TCPAddr).Port) {
		http.Error(w, "forbidden: not a loopback host name", http.StatusForbidden)
		return
	}
	if len(r.Header.Values("X-Forwarded-For")) > 0 {
		http.Error(w, "forbidden: X-Forwarded-For", http.StatusForbidden)
		return
	}
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ttl, err := strconv.Atoi(r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds"))
		if err != nil || ttl < 1 || ttl > imdsMaxTTL {
			http.Error(w, "bad request: X-aws-ec2-metadata-token-ttl-seconds must be 1 to 21600", http.StatusBadRequest)
			return
		}
		tok, ok := s.newToken(time.Duration(ttl) * time.Second)
		if !ok {
			http.Error(w, "too many tokens", http.StatusTooManyRequests)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", strconv.Itoa(ttl))
		_, _ = w.Write([]byte(tok))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Version 2 only: no token, no answer (EC2 says 401 too).
	if !s.validToken(r.Header.Get("X-aws-ec2-metadata-token")) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case imdsCredsPath:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(s.role()))
	case imdsCredsPath + s.role():
		res, ok := serveGet(w, r, &s.mu, s.Get, s.Errors)
		if !ok {
			return
		}
		c := imdsCreds{Code: "Success", LastUpdated: s.now().UTC().Format(time.RFC3339), Type: "AWS-HMAC",
			AccessKeyID: res.AccessKeyID, SecretAccessKey: res.SecretAccessKey, Token: res.SessionToken}
		exp := res.Expiration
		if exp.IsZero() { // a long-term key (--no-session): SDKs need an expiry
			exp = s.now().Add(time.Hour)
		}
		c.Expiration = exp.UTC().Format(time.RFC3339)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	default:
		http.NotFound(w, r)
	}
}
