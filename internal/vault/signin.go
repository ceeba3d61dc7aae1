package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Console sign-in (the AWS federation endpoint): temporary credentials
// become a sign-in token, and the token a URL that opens the console.
const (
	// DefaultFederationURL is AWS's federation endpoint.
	DefaultFederationURL = "https://signin.aws.amazon.com/federation"
	// DefaultConsolePath is where the console opens.
	DefaultConsolePath = "/console/home"
	// MaxConsoleSession bounds SessionDuration for role sessions;
	// MaxFederationDuration bounds GetFederationToken (36 hours).
	MaxConsoleSession     = 12 * time.Hour
	MaxFederationDuration = 36 * time.Hour
	// maxSigninResponse bounds what we read from the endpoint.
	maxSigninResponse = 64 << 10
)

// FederationPolicy is the session policy of a console session made with
// GetFederationToken: it allows everything, so the session has exactly
// the IAM user's own permissions (the intersection of the user's policies
// and this one), minus whatever requires MFA, since a federation token
// carries no MFA context.
const FederationPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

// FederationSTS is the STS call console sign-in needs for an IAM user.
type FederationSTS interface {
	GetFederationToken(ctx context.Context, in *sts.GetFederationTokenInput, opts ...func(*sts.Options)) (*sts.GetFederationTokenOutput, error)
}

// ConsoleCredentials returns credentials the federation endpoint accepts
// for profile: a role or IAM Identity Center profile's session as it is
// (Federated false); for a profile on an IAM user's key, a
// GetFederationToken session signed with the long-term key (Federated
// true), made only once the user has passed MFA (the profile's MFA
// session, got or reused as for any command) when the profile has
// mfa_serial. d is the federation token's duration (0: 12 hours).
func (s *Sessions) ConsoleCredentials(ctx context.Context, profile string, d time.Duration) (*Result, bool, error) {
	r, err := s.Config.Resolve(profile)
	if err != nil {
		return nil, false, err
	}
	if r.IsSSO() || r.RoleARN != "" {
		res, err := s.resolved(ctx, r)
		return res, false, err
	}
	key, err := s.Vault.GetKey(r.KeyProfile)
	if err != nil {
		return nil, false, err
	}
	if d == 0 {
		d = DefaultSessionDuration
	}
	if d < MinDuration || d > MaxFederationDuration || d%time.Second != 0 {
		return nil, false, fmt.Errorf("console session duration %s is out of range: GetFederationToken allows %s to %s", d, MinDuration, MaxFederationDuration)
	}
	now := s.Now()
	if r.MFASerial != "" {
		spec := mfaSpec{keyProfile: r.KeyProfile, serial: r.MFASerial, mfaProcess: r.MFAProcess, prompt: r.MFAPrompt, duration: s.duration(r, 0), profile: r.Name}
		if _, _, err := s.getSession(ctx, spec, key, r.Region, now); err != nil {
			return nil, false, err
		}
	}
	client, ok := s.NewSTS(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, r.Region).(FederationSTS)
	if !ok {
		return nil, false, errors.New("this STS client cannot call GetFederationToken")
	}
	out, err := client.GetFederationToken(ctx, &sts.GetFederationTokenInput{
		Name:            aws.String(federatedName(profile)),
		DurationSeconds: aws.Int32(int32(d / time.Second)),
		Policy:          aws.String(FederationPolicy),
	})
	if err != nil {
		return nil, false, fmt.Errorf("sts:GetFederationToken for profile %q: %w", profile, err)
	}
	creds, err := fromSTS(out.Credentials)
	if err != nil {
		return nil, false, err
	}
	return &Result{Credentials: creds, Region: r.Region, Source: "sts", Kind: "federation"}, true, nil
}

// federatedName is the federated user's name: 2 to 32 characters of
// [\w+=,.@-], from the profile.
func federatedName(profile string) string {
	var b strings.Builder
	for _, c := range "keywarden-" + profile {
		if c < 0x80 && validSTSName("a"+string(c)) {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	n := b.String()
	if len(n) > 32 {
		n = n[:32]
	}
	return n
}

// ConsoleDestination is the console page to land on: path (default the
// console home) in region, when given.
func ConsoleDestination(path, region string) (string, error) {
	if path == "" {
		path = DefaultConsolePath
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n") {
		return "", fmt.Errorf("--path %q must be a console path starting with /", path)
	}
	u, err := url.Parse("https://console.aws.amazon.com" + path)
	if err != nil {
		return "", fmt.Errorf("--path %q: %w", path, err)
	}
	if region != "" {
		q := u.Query()
		q.Set("region", region)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// SigninToken asks the federation endpoint for a sign-in token for creds.
// duration is the console session's length for role sessions; it must be
// zero for GetFederationToken credentials (AWS refuses it: their own
// duration applies).
func SigninToken(ctx context.Context, client *http.Client, endpoint string, creds Credentials, duration time.Duration) (string, error) {
	sess, err := json.Marshal(map[string]string{"sessionId": creds.AccessKeyID, "sessionKey": creds.SecretAccessKey, "sessionToken": creds.SessionToken})
	if err != nil {
		return "", err
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(sess)}}
	if duration > 0 {
		q.Set("SessionDuration", strconv.Itoa(int(duration/time.Second)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("federation endpoint %q: %w", endpoint, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("federation endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSigninResponse+1))
	if err != nil {
		return "", fmt.Errorf("federation endpoint: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("federation endpoint %s refused the session: HTTP %d", endpoint, resp.StatusCode)
	}
	return ParseSigninToken(body)
}

// ParseSigninToken reads the federation endpoint's getSigninToken answer.
func ParseSigninToken(body []byte) (string, error) {
	if len(body) > maxSigninResponse {
		return "", fmt.Errorf("federation endpoint: answer larger than %d bytes", maxSigninResponse)
	}
	var out struct{ SigninToken string }
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("federation endpoint: answer is not JSON: %v", err)
	}
	if out.SigninToken == "" || len(out.SigninToken) > 16<<10 {
		return "", errors.New("federation endpoint: answer without a SigninToken")
	}
	return out.SigninToken, nil
}

// LoginURL is the URL that signs in to the console with token and lands
// on destination.
func LoginURL(endpoint, token, destination string) string {
	q := url.Values{"Action": {"login"}, "Issuer": {"keywarden"}, "Destination": {destination}, "SigninToken": {token}}
	return endpoint + "?" + q.Encode()
}
