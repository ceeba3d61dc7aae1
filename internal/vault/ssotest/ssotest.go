// Package ssotest is an httptest IAM Identity Center: the SSO OIDC API
// (RegisterClient, StartDeviceAuthorization, CreateToken with the device
// code and refresh token grants) and the portal's GetRoleCredentials, with
// the answers a device flow meets: authorization_pending, slow_down,
// expired_token, access_denied.
package ssotest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the fake Identity Center.
type Server struct {
	URL string
	Now func() time.Time

	// Pending is how many polls answer authorization_pending before the
	// user approves; SlowDowns how many of those answer slow_down instead.
	Pending, SlowDowns int
	// Expire makes the device code expire instead of being approved;
	// Deny makes the user refuse.
	Expire, Deny bool
	// TokenLife is how long access tokens last (default 8h).
	TokenLife time.Duration
	// Roles are the account/role pairs the user may use ("111122223333/Admin").
	Roles map[string]bool
	// Issue, when set, makes the role credentials (an STS test server's
	// IssueRole, so that they can sign AssumeRole there).
	Issue func(account, role string, exp time.Time) (id, secret, token string)

	mu      sync.Mutex
	n       int
	clients map[string]string // client ID -> secret
	devices map[string]int    // device code -> polls so far
	tokens  map[string]time.Time
	refresh map[string]bool
	calls   []string
}

// Start starts the server; it stops with the test.
func Start(t testing.TB, now func() time.Time) *Server {
	s := &Server{Now: now, Roles: map[string]bool{}, clients: map[string]string{}, devices: map[string]int{}, tokens: map[string]time.Time{}, refresh: map[string]bool{}}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// Calls lists the operations answered, in order ("CreateToken:authorization_pending", ...).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Count returns how many calls named op (with any outcome suffix) there were.
func (s *Server) Count(op string) int {
	n := 0
	for _, c := range s.Calls() {
		if c == op || len(c) > len(op) && c[:len(op)+1] == op+":" {
			n++
		}
	}
	return n
}

func (s *Server) fail(w http.ResponseWriter, call string, status int, typ, code string) {
	s.calls = append(s.calls, call+":"+code)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": code})
}

func (s *Server) ok(w http.ResponseWriter, call string, body any) {
	s.calls = append(s.calls, call)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var in map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
			s.fail(w, r.URL.Path, 400, "InvalidRequestException", "invalid_request")
			return
		}
	}
	str := func(k string) string { v, _ := in[k].(string); return v }
	s.n++
	now := s.Now()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/client/register":
		id, secret := fmt.Sprintf("client-%d", s.n), fmt.Sprintf("client-secret-%d", s.n)
		s.clients[id] = secret
		s.ok(w, "RegisterClient", map[string]any{"clientId": id, "clientSecret": secret, "clientIdIssuedAt": now.Unix(), "clientSecretExpiresAt": now.Add(90 * 24 * time.Hour).Unix()})
	case r.Method == http.MethodPost && r.URL.Path == "/device_authorization":
		if s.clients[str("clientId")] != str("clientSecret") || str("startUrl") == "" {
			s.fail(w, "StartDeviceAuthorization", 400, "InvalidClientException", "invalid_client")
			return
		}
		dc := fmt.Sprintf("device-%d", s.n)
		s.devices[dc] = 0
		s.ok(w, "StartDeviceAuthorization", map[string]any{"deviceCode": dc, "userCode": "ABCD-EFGH", "verificationUri": s.URL + "/start", "verificationUriComplete": s.URL + "/start?user_code=ABCD-EFGH", "expiresIn": 600, "interval": 1})
	case r.Method == http.MethodPost && r.URL.Path == "/token":
		if s.clients[str("clientId")] != str("clientSecret") {
			s.fail(w, "CreateToken", 400, "InvalidClientException", "invalid_client")
			return
		}
		switch str("grantType") {
		case "refresh_token":
			if !s.refresh[str("refreshToken")] {
				s.fail(w, "CreateToken", 400, "InvalidGrantException", "invalid_grant")
				return
			}
			delete(s.refresh, str("refreshToken"))
			s.token(w, "CreateToken:refresh", now)
		case "urn:ietf:params:oauth:grant-type:device_code":
			polls, ok := s.devices[str("deviceCode")]
			if !ok {
				s.fail(w, "CreateToken", 400, "InvalidGrantException", "invalid_grant")
				return
			}
			s.devices[str("deviceCode")] = polls + 1
			switch {
			case s.Expire && polls >= s.Pending:
				s.fail(w, "CreateToken", 400, "ExpiredTokenException", "expired_token")
			case polls < s.SlowDowns:
				s.fail(w, "CreateToken", 400, "SlowDownException", "slow_down")
			case polls < s.Pending:
				s.fail(w, "CreateToken", 400, "AuthorizationPendingException", "authorization_pending")
			case s.Deny:
				s.fail(w, "CreateToken", 400, "AccessDeniedException", "access_denied")
			default:
				delete(s.devices, str("deviceCode"))
				s.token(w, "CreateToken", now)
			}
		default:
			s.fail(w, "CreateToken", 400, "UnsupportedGrantTypeException", "unsupported_grant_type")
		}
	case r.Method == http.MethodGet && r.URL.Path == "/federation/credentials":
		exp, ok := s.tokens[r.Header.Get("X-Amz-Sso_bearer_token")]
		if !ok || !now.Before(exp) {
			s.fail(w, "GetRoleCredentials", 401, "UnauthorizedException", "unauthorized")
			return
		}
		q := r.URL.Query()
		if !s.Roles[q.Get("account_id")+"/"+q.Get("role_name")] {
			s.fail(w, "GetRoleCredentials", 403, "ForbiddenException", "forbidden")
			return
		}
		credExp := now.Add(time.Hour)
		id, secret, token := fmt.Sprintf("ASIASSOROLE%09d", s.n), fmt.Sprintf("ssosecret%031d", s.n), fmt.Sprintf("sso-token-%d", s.n)
		if s.Issue != nil {
			id, secret, token = s.Issue(q.Get("account_id"), q.Get("role_name"), credExp)
		}
		s.ok(w, "GetRoleCredentials", map[string]any{"roleCredentials": map[string]any{
			"accessKeyId": id, "secretAccessKey": secret, "sessionToken": token, "expiration": credExp.UnixMilli(),
		}})
	case r.Method == http.MethodGet && (r.URL.Path == "/assignment/accounts" || r.URL.Path == "/assignment/roles"):
		exp, ok := s.tokens[r.Header.Get("X-Amz-Sso_bearer_token")]
		if !ok || !now.Before(exp) {
			s.fail(w, "List", 401, "UnauthorizedException", "unauthorized")
			return
		}
		s.list(w, r)
	default:
		s.fail(w, r.URL.Path, 404, "ResourceNotFoundException", "not_found")
	}
}

// token issues an access token (and a refresh token).
func (s *Server) token(w http.ResponseWriter, call string, now time.Time) {
	life := s.TokenLife
	if life == 0 {
		life = 8 * time.Hour
	}
	at, rt := fmt.Sprintf("access-%d", s.n), fmt.Sprintf("refresh-%d", s.n)
	s.tokens[at] = now.Add(life)
	s.refresh[rt] = true
	s.ok(w, call, map[string]any{"accessToken": at, "refreshToken": rt, "tokenType": "Bearer", "expiresIn": int(life / time.Second)})
}

// list answers ListAccounts and ListAccountRoles from Roles, one item a
// page so that callers must follow nextToken.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var items []map[string]string
	seen := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(s.Roles)) {
		account, role, _ := strings.Cut(k, "/")
		switch {
		case r.URL.Path == "/assignment/accounts" && !seen[account]:
			seen[account] = true
			items = append(items, map[string]string{"accountId": account, "accountName": "Acct " + account, "emailAddress": "a@example.com"})
		case r.URL.Path == "/assignment/roles" && account == q.Get("account_id"):
			items = append(items, map[string]string{"accountId": account, "roleName": role})
		}
	}
	i, _ := strconv.Atoi(q.Get("next_token"))
	body := map[string]any{}
	key, call := "accountList", "ListAccounts"
	if r.URL.Path == "/assignment/roles" {
		key, call = "roleList", "ListAccountRoles"
	}
	if i < len(items) {
		body[key] = items[i : i+1]
		if i+1 < len(items) {
			body["nextToken"] = strconv.Itoa(i + 1)
		}
	}
	s.ok(w, call, body)
}
