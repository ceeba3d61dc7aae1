// Package ststest is a small STS for tests: GetSessionToken, AssumeRole and
// GetCallerIdentity over the query protocol, with what moto does not do:
// it checks MFA codes (TOTP, with github.com/pquerna/otp, at the test's
// clock), refuses a code used twice, and enforces STS's duration limits.
// It also records which key signed each call, so a test can tell a role
// assumed from the long-term key from one chained through a session.
//
// The credentials it hands out work against it: a call signed with them
// is accepted until they expire (ExpiredToken after), with STS's rules for
// temporary credentials: GetSessionToken is refused, and AssumeRole is
// capped at 1 hour (role chaining).
package ststest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Server is the fake STS.
type Server struct {
	URL string
	// Now is the clock codes are checked and expirations computed at.
	Now func() time.Time

	mu      sync.Mutex
	users   map[string]*User // by long-term access key ID
	devices map[string]string
	used    map[string]bool
	issued  map[string]*issued // temporary credentials, by access key ID
	calls   []Call
	n       int
	// signin are the console sign-in tokens the federation endpoint
	// handed out, with the session each stands for.
	signin map[string]SigninSession
}

// SigninSession is what a console sign-in token was issued for.
type SigninSession struct {
	AccessKeyID string
	// Duration is the SessionDuration asked for (0 when none was given).
	Duration  int
	Federated bool
	RoleARN   string
}

// User is an IAM user (or root) with a long-term key.
type User struct {
	ARN, AccessKeyID, SecretAccessKey string
	// MFASerial and MFASecret are its virtual MFA device (base32 seed).
	MFASerial, MFASecret string
}

// issued are temporary credentials the server handed out.
type issued struct {
	user       *User
	token      string
	expiration time.Time
	mfa        bool   // made with an MFA code, or with credentials that were
	roleARN    string // set for a role session
	secret     string
	federated  bool // made by GetFederationToken
}

// Call is one request the server answered (or refused).
type Call struct {
	Action   string
	SignedBy string // the access key ID in the Authorization header
	// Temporary is whether SignedBy is temporary credentials this server
	// issued (an MFA session or a role session) rather than a long-term key.
	Temporary bool
	// MFA is whether the request was MFA-authenticated: it carried a valid
	// code, or was signed with credentials made with one (what IAM sees as
	// aws:MultiFactorAuthPresent).
	MFA      bool
	Duration int
	Serial   string
	Code     string
	RoleARN  string
	// SignerRole is the role of the session that signed the call, when
	// it was a role session (role chaining).
	SignerRole string
	// Tags, TransitiveTagKeys, SourceIdentity and RoleSessionName are
	// what AssumeRole was asked for.
	Tags              map[string]string
	TransitiveTagKeys []string
	SourceIdentity    string
	RoleSessionName   string
	// Policy is GetFederationToken's session policy.
	Policy string
	Err    string
}

// Start starts the server; it stops with the test.
func Start(t testing.TB, now func() time.Time) *Server {
	s := &Server{Now: now, users: map[string]*User{}, devices: map[string]string{}, used: map[string]bool{}, issued: map[string]*issued{}, signin: map[string]SigninSession{}}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// AddUser registers a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.AccessKeyID] = &u
	if u.MFASerial != "" {
		s.devices[u.MFASerial] = u.MFASecret
	}
}

// IssueRole hands out role credentials for roleARN as if made elsewhere
// (IAM Identity Center), valid until exp and MFA-authenticated, so that
// they can sign calls here.
func (s *Server) IssueRole(roleARN string, exp time.Time) (id, secret, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	id, secret, token = fmt.Sprintf("ASIATESTISSUED%05d", s.n), fmt.Sprintf("issuedsecret%028d", s.n), fmt.Sprintf("issued-token-%d", s.n)
	s.issued[id] = &issued{user: &User{ARN: roleARN}, token: token, expiration: exp, mfa: true, roleARN: roleARN, secret: secret}
	return id, secret, token
}

// NewMFASecret returns a fresh TOTP seed.
func NewMFASecret(t testing.TB) string {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: "keywarden-test", AccountName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret()
}

// Code returns the code a device with secret shows at when.
func Code(t testing.TB, secret string, when time.Time) string {
	c, err := totp.GenerateCode(secret, when)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Calls returns the calls so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of action were answered successfully.
func (s *Server) Count(action string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Action == action && c.Err == "" {
			n++
		}
	}
	return n
}

var credRe = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

type xmlCreds struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/federation" {
		s.federation(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{Action: r.Form.Get("Action"), Serial: r.Form.Get("SerialNumber"), Code: r.Form.Get("TokenCode"), RoleARN: r.Form.Get("RoleArn")}
	if m := credRe.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		c.SignedBy = m[1]
	}
	c.Duration, _ = strconv.Atoi(r.Form.Get("DurationSeconds"))
	c.SourceIdentity, c.RoleSessionName = r.Form.Get("SourceIdentity"), r.Form.Get("RoleSessionName")
	for i := 1; r.Form.Has(fmt.Sprintf("Tags.member.%d.Key", i)); i++ {
		if c.Tags == nil {
			c.Tags = map[string]string{}
		}
		c.Tags[r.Form.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = r.Form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
	}
	for i := 1; r.Form.Has(fmt.Sprintf("TransitiveTagKeys.member.%d", i)); i++ {
		c.TransitiveTagKeys = append(c.TransitiveTagKeys, r.Form.Get(fmt.Sprintf("TransitiveTagKeys.member.%d", i)))
	}
	fail := func(status int, code, msg string) {
		c.Err = code
		s.calls = append(s.calls, c)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, code, msg)
	}
	user, ok := s.users[c.SignedBy]
	var temp *issued
	if !ok {
		temp, ok = s.issued[c.SignedBy]
		if !ok || r.Header.Get("X-Amz-Security-Token") != temp.token {
			fail(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
			return
		}
		if !s.Now().Before(temp.expiration) {
			fail(403, "ExpiredToken", "The security token included in the request is expired")
			return
		}
		user, c.Temporary, c.MFA, c.SignerRole = temp.user, true, temp.mfa, temp.roleARN
	}
	isRoot := len(user.ARN) > 5 && user.ARN[len(user.ARN)-5:] == ":root"
	checkMFA := func() bool {
		if c.Serial == "" && c.Code == "" {
			return true
		}
		secret, ok := s.devices[c.Serial]
		if !ok || secret != user.MFASecret {
			fail(403, "AccessDenied", "MultiFactorAuthentication failed, unable to validate MFA code.")
			return false
		}
		valid, _ := totp.ValidateCustom(c.Code, secret, s.Now(), totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if !valid || s.used[c.Serial+"/"+c.Code] {
			fail(403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
			return false
		}
		s.used[c.Serial+"/"+c.Code] = true
		c.MFA = true
		return true
	}
	s.n++
	creds := func(d int, roleARN string) xmlCreds {
		exp := s.Now().Add(time.Duration(d) * time.Second).UTC()
		x := xmlCreds{
			AccessKeyID:     fmt.Sprintf("ASIATESTSESSION%05d", s.n),
			SecretAccessKey: fmt.Sprintf("sessionsecret%027d", s.n),
			SessionToken:    fmt.Sprintf("token-%d-%s", s.n, c.Serial),
			Expiration:      exp.Format(time.RFC3339),
		}
		s.issued[x.AccessKeyID] = &issued{user: user, token: x.SessionToken, expiration: exp, mfa: c.MFA, roleARN: roleARN, secret: x.SecretAccessKey}
		return x
	}
	var body any
	switch c.Action {
	case "GetCallerIdentity":
		body = struct {
			XMLName xml.Name `xml:"GetCallerIdentityResponse"`
			Result  struct {
				Arn, UserId, Account string
			} `xml:"GetCallerIdentityResult"`
		}{Result: struct{ Arn, UserId, Account string }{callerARN(user, temp), "AIDATEST", "111122223333"}}
	case "GetSessionToken":
		if temp != nil {
			fail(403, "AccessDenied", "Cannot call GetSessionToken with session credentials")
			return
		}
		d := c.Duration
		if d == 0 {
			d = 43200
		}
		max := 129600
		if isRoot {
			max = 3600
		}
		if d < 900 || d > max {
			fail(400, "ValidationError", fmt.Sprintf("DurationSeconds %d out of range [900, %d]", d, max))
			return
		}
		if !checkMFA() {
			return
		}
		body = struct {
			XMLName xml.Name `xml:"GetSessionTokenResponse"`
			Result  struct {
				Credentials xmlCreds
			} `xml:"GetSessionTokenResult"`
		}{Result: struct{ Credentials xmlCreds }{creds(d, "")}}
	case "AssumeRole":
		d := c.Duration
		if d == 0 {
			d = 3600
		}
		if d < 900 || d > 43200 {
			fail(400, "ValidationError", fmt.Sprintf("DurationSeconds %d out of range [900, 43200]", d))
			return
		}
		if temp != nil && d > 3600 {
			fail(400, "ValidationError", "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
			return
		}
		if !checkMFA() {
			return
		}
		body = struct {
			XMLName xml.Name `xml:"AssumeRoleResponse"`
			Result  struct {
				Credentials xmlCreds
			} `xml:"AssumeRoleResult"`
		}{Result: struct{ Credentials xmlCreds }{creds(d, c.RoleARN)}}
	case "GetFederationToken":
		if temp != nil {
			fail(403, "AccessDenied", "Cannot call GetFederationToken with session credentials")
			return
		}
		d := c.Duration
		if d == 0 {
			d = 43200
		}
		if d < 900 || d > 129600 {
			fail(400, "ValidationError", fmt.Sprintf("DurationSeconds %d out of range [900, 129600]", d))
			return
		}
		if r.Form.Get("Name") == "" || len(r.Form.Get("Name")) > 32 {
			fail(400, "ValidationError", "Name must be 2 to 32 characters")
			return
		}
		c.Policy = r.Form.Get("Policy")
		x := creds(d, "")
		s.issued[x.AccessKeyID].federated = true
		s.issued[x.AccessKeyID].mfa = false // GetFederationToken carries no MFA context
		body = struct {
			XMLName xml.Name `xml:"GetFederationTokenResponse"`
			Result  struct {
				Credentials xmlCreds
			} `xml:"GetFederationTokenResult"`
		}{Result: struct{ Credentials xmlCreds }{x}}
	default:
		fail(400, "InvalidAction", "unknown action")
		return
	}
	s.calls = append(s.calls, c)
	w.Header().Set("Content-Type", "text/xml")
	_ = xml.NewEncoder(w).Encode(body)
}

// callerARN is what GetCallerIdentity says for a caller: the user, or the
// assumed role for a role session.
func callerARN(u *User, temp *issued) string {
	if temp == nil || temp.roleARN == "" {
		return u.ARN
	}
	name := temp.roleARN
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return "arn:aws:sts::111122223333:assumed-role/" + name + "/keywarden"
}

// federation is the console federation endpoint: getSigninToken turns
// temporary credentials this server issued into a sign-in token (refusing
// SessionDuration for GetFederationToken credentials, as AWS does).
func (s *Server) federation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	if q.Get("Action") != "getSigninToken" {
		http.Error(w, "unsupported action", http.StatusBadRequest)
		return
	}
	var sess struct{ SessionID, SessionKey, SessionToken string }
	if err := json.Unmarshal([]byte(q.Get("Session")), &struct {
		ID    *string `json:"sessionId"`
		Key   *string `json:"sessionKey"`
		Token *string `json:"sessionToken"`
	}{&sess.SessionID, &sess.SessionKey, &sess.SessionToken}); err != nil {
		http.Error(w, "bad Session", http.StatusBadRequest)
		return
	}
	is, ok := s.issued[sess.SessionID]
	if !ok || is.secret != sess.SessionKey || is.token != sess.SessionToken || !s.Now().Before(is.expiration) {
		http.Error(w, "invalid credentials", http.StatusBadRequest)
		return
	}
	d := 0
	if v := q.Get("SessionDuration"); v != "" {
		if is.federated {
			http.Error(w, "SessionDuration is not supported with GetFederationToken credentials", http.StatusBadRequest)
			return
		}
		var err error
		if d, err = strconv.Atoi(v); err != nil || d < 900 || d > 43200 {
			http.Error(w, "bad SessionDuration", http.StatusBadRequest)
			return
		}
	}
	s.n++
	tok := fmt.Sprintf("signin-token-%d", s.n)
	s.signin[tok] = SigninSession{AccessKeyID: sess.SessionID, Duration: d, Federated: is.federated, RoleARN: is.roleARN}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": tok})
}

// SigninToken reports what a sign-in token the federation endpoint
// issued stands for.
func (s *Server) SigninToken(tok string) (SigninSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.signin[tok]
	return ss, ok
}
