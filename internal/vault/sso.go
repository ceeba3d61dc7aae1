package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sso"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/sso/types"
	"github.com/aws/aws-sdk-go-v2/service/ssooidc"
	oidctypes "github.com/aws/aws-sdk-go-v2/service/ssooidc/types"
	"github.com/keywarden/keywarden/internal/vault/awsconfig"
)

// OIDCAPI is the part of the SSO OIDC client the device flow needs.
type OIDCAPI interface {
	RegisterClient(ctx context.Context, in *ssooidc.RegisterClientInput, opts ...func(*ssooidc.Options)) (*ssooidc.RegisterClientOutput, error)
	StartDeviceAuthorization(ctx context.Context, in *ssooidc.StartDeviceAuthorizationInput, opts ...func(*ssooidc.Options)) (*ssooidc.StartDeviceAuthorizationOutput, error)
	CreateToken(ctx context.Context, in *ssooidc.CreateTokenInput, opts ...func(*ssooidc.Options)) (*ssooidc.CreateTokenOutput, error)
}

// PortalAPI is the part of the SSO portal client role credentials and
// sso populate need.
type PortalAPI interface {
	GetRoleCredentials(ctx context.Context, in *sso.GetRoleCredentialsInput, opts ...func(*sso.Options)) (*sso.GetRoleCredentialsOutput, error)
	ListAccounts(ctx context.Context, in *sso.ListAccountsInput, opts ...func(*sso.Options)) (*sso.ListAccountsOutput, error)
	ListAccountRoles(ctx context.Context, in *sso.ListAccountRolesInput, opts ...func(*sso.Options)) (*sso.ListAccountRolesOutput, error)
}

// SSOAssignment is one account and role an Identity Center user can use.
type SSOAssignment = awsconfig.SSOAssignment

// MaxSSOAssignments bounds what populate reads from the portal.
const MaxSSOAssignments = 10000

// SSOAssignments signs in to the Identity Center at startURL (cached like
// any sign-in, under the sso-session name session) and lists every
// account and role the user can reach.
func (s *Sessions) SSOAssignments(ctx context.Context, session, startURL, region string) ([]SSOAssignment, error) {
	r := &awsconfig.Resolved{Profile: &awsconfig.Profile{Name: session, SSOSession: session, SSOStartURL: startURL, SSORegion: region}}
	tok, _, err := s.ssoToken(ctx, r, s.Now(), false)
	if err != nil {
		return nil, err
	}
	portal := s.SSO.Portal(region)
	var out []SSOAssignment
	var next *string
	for {
		page, err := portal.ListAccounts(ctx, &sso.ListAccountsInput{AccessToken: aws.String(tok.AccessToken), NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("sso:ListAccounts at %s: %w", startURL, err)
		}
		for _, a := range page.AccountList {
			roles, err := s.accountRoles(ctx, portal, tok, aws.ToString(a.AccountId))
			if err != nil {
				return nil, err
			}
			for _, role := range roles {
				out = append(out, SSOAssignment{AccountID: aws.ToString(a.AccountId), AccountName: aws.ToString(a.AccountName), RoleName: role})
			}
			if len(out) > MaxSSOAssignments {
				return nil, fmt.Errorf("more than %d accounts and roles at %s", MaxSSOAssignments, startURL)
			}
		}
		if next = page.NextToken; aws.ToString(next) == "" {
			return out, nil
		}
	}
}

func (s *Sessions) accountRoles(ctx context.Context, portal PortalAPI, tok *SSOToken, account string) ([]string, error) {
	var roles []string
	var next *string
	for {
		page, err := portal.ListAccountRoles(ctx, &sso.ListAccountRolesInput{AccessToken: aws.String(tok.AccessToken), AccountId: aws.String(account), NextToken: next})
		if err != nil {
			return nil, fmt.Errorf("sso:ListAccountRoles for account %s: %w", account, err)
		}
		for _, r := range page.RoleList {
			roles = append(roles, aws.ToString(r.RoleName))
		}
		if len(roles) > MaxSSOAssignments {
			return nil, fmt.Errorf("more than %d roles in account %s", MaxSSOAssignments, account)
		}
		if next = page.NextToken; aws.ToString(next) == "" {
			return roles, nil
		}
	}
}

// SSOClients are what IAM Identity Center profiles need from outside.
type SSOClients struct {
	OIDC   func(region string) OIDCAPI
	Portal func(region string) PortalAPI
	// SignIn tells the user where to approve a new sign-in: the URL (with
	// the code in it) and the code to check. The CLI prints both on
	// stderr and opens a browser where there is one.
	SignIn func(url, code string)
	// Sleep waits between polls; tests inject one that moves their clock.
	Sleep func(ctx context.Context, d time.Duration) error
}

// SSOToken is a cached IAM Identity Center sign-in: the access token, the
// refresh token, and the OIDC client registered to get them.
type SSOToken struct {
	StartURL        string    `json:"start_url"`
	Region          string    `json:"region"`
	AccessToken     string    `json:"access_token"`
	RefreshToken    string    `json:"refresh_token,omitempty"`
	ExpiresAt       time.Time `json:"expires_at"`
	ClientID        string    `json:"client_id"`
	ClientSecret    string    `json:"client_secret"`
	ClientExpiresAt time.Time `json:"client_expires_at"`
}

// Device flow grant types and limits.
const (
	grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	grantRefresh    = "refresh_token"
	// DefaultPollInterval is used when the service names none; SlowDownStep
	// is what a slow_down answer adds to it (RFC 8628, 3.5).
	DefaultPollInterval = 5 * time.Second
	SlowDownStep        = 5 * time.Second
	// MaxSignInWait bounds the wait for the user when the service gives
	// no expiry for the device code.
	MaxSignInWait = 10 * time.Minute
)

// ErrSSOSignIn is the family of sign-in failures the user must act on.
var ErrSSOSignIn = errors.New("IAM Identity Center sign-in failed")

// ssoTokenName is the cache item a profile's sign-in is kept under: the
// sso-session's name, shared by its profiles, or the profile's own name in
// the legacy layout.
func ssoTokenName(r *awsconfig.Resolved) string {
	if r.SSOSession != "" {
		return r.SSOSession
	}
	return r.Name
}

// ssoChainID identifies, for cache checks, the IAM Identity Center role a
// chain of role profiles starts at.
func ssoChainID(r *awsconfig.Resolved) string {
	for r.Source != nil {
		r = r.Source
	}
	return "sso:" + r.SSOStartURL + "|" + r.SSOAccountID + "/" + r.SSORoleName
}

// sso returns role credentials for an IAM Identity Center profile: cached
// while fresh, else from sso:GetRoleCredentials with the cached sign-in
// (refreshed, or made anew through the device flow).
func (s *Sessions) sso(ctx context.Context, r *awsconfig.Resolved, region string, now time.Time) (*Result, error) {
	roleID := r.SSOAccountID + "/" + r.SSORoleName
	return s.roleOnce(ctx, "sso", r, ssoChainID(r), roleID, ssoChainID(r), region, now, func() (*Result, error) {
		tok, fresh, err := s.ssoToken(ctx, r, now, false)
		if err != nil {
			return nil, err
		}
		out, err := s.SSO.Portal(r.SSORegion).GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
			AccessToken: aws.String(tok.AccessToken), AccountId: aws.String(r.SSOAccountID), RoleName: aws.String(r.SSORoleName)})
		var unauth *ssotypes.UnauthorizedException
		if !fresh && errors.As(err, &unauth) {
			// The cached sign-in was revoked or ended early: sign in again.
			if tok, _, err = s.ssoToken(ctx, r, now, true); err != nil {
				return nil, err
			}
			out, err = s.SSO.Portal(r.SSORegion).GetRoleCredentials(ctx, &sso.GetRoleCredentialsInput{
				AccessToken: aws.String(tok.AccessToken), AccountId: aws.String(r.SSOAccountID), RoleName: aws.String(r.SSORoleName)})
		}
		if err != nil {
			return nil, fmt.Errorf("sso:GetRoleCredentials for account %s, role %s (profile %q): %w", r.SSOAccountID, r.SSORoleName, r.Name, err)
		}
		rc := out.RoleCredentials
		if rc == nil || rc.AccessKeyId == nil || rc.SecretAccessKey == nil || rc.SessionToken == nil || rc.Expiration == 0 {
			return nil, errors.New("IAM Identity Center answered without complete role credentials")
		}
		creds := Credentials{AccessKeyID: *rc.AccessKeyId, SecretAccessKey: *rc.SecretAccessKey, SessionToken: *rc.SessionToken, Expiration: time.UnixMilli(rc.Expiration).UTC()}
		sess := &Session{Credentials: creds, Kind: "sso", Profile: r.Name, RoleARN: roleID, SourceKeyID: ssoChainID(r), Via: ssoTokenName(r), Params: ssoChainID(r), Created: now}
		if err := s.Vault.SetSession(sess); err != nil {
			return nil, fmt.Errorf("caching the session: %w", err)
		}
		return &Result{Credentials: creds, Region: region, Source: "sso", Kind: "sso"}, nil
	})
}

// ssoToken returns a usable sign-in for r: the cached one while it has
// more than RefreshBefore left (fresh is then false: it came from the
// cache), else one refreshed with the refresh token, else a new one from
// the device flow. Getting a new one holds the sign-in's lock, so
// parallel commands sign in once. force skips the cached access token.
func (s *Sessions) ssoToken(ctx context.Context, r *awsconfig.Resolved, now time.Time, force bool) (*SSOToken, bool, error) {
	name := ssoTokenName(r)
	cached := func() (*SSOToken, error) {
		t, err := s.Vault.GetSSOToken(name)
		if err != nil || t == nil || t.StartURL != r.SSOStartURL || t.Region != r.SSORegion {
			return nil, err
		}
		return t, nil
	}
	usable := func(t *SSOToken) bool {
		return t != nil && !force && !s.NoCache && now.Before(t.ExpiresAt.Add(-RefreshBefore))
	}
	t, err := cached()
	if err != nil {
		return nil, false, err
	}
	if usable(t) {
		return t, false, nil
	}
	unlock, err := s.lock(ctx, ssoTokenPrefix+name)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	// Another process may have signed in while we waited.
	if t, err = cached(); err != nil || usable(t) {
		return t, false, err
	}
	oidc := s.SSO.OIDC(r.SSORegion)
	if t != nil && t.RefreshToken != "" && now.Before(t.ClientExpiresAt) {
		out, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: aws.String(t.ClientID), ClientSecret: aws.String(t.ClientSecret),
			GrantType: aws.String(grantRefresh), RefreshToken: aws.String(t.RefreshToken)})
		if err == nil {
			return s.keepToken(name, t, out, now)
		}
		// A refused refresh token (revoked, expired) means a new sign-in.
	}
	nt, err := s.deviceSignIn(ctx, r, oidc, t, now)
	if err != nil {
		return nil, false, err
	}
	return nt, true, nil
}

// keepToken caches the token CreateToken returned, on client t.
func (s *Sessions) keepToken(name string, t *SSOToken, out *ssooidc.CreateTokenOutput, now time.Time) (*SSOToken, bool, error) {
	if out.AccessToken == nil || out.ExpiresIn <= 0 {
		return nil, false, errors.New("IAM Identity Center answered without an access token")
	}
	nt := *t
	nt.AccessToken = *out.AccessToken
	nt.ExpiresAt = now.Add(time.Duration(out.ExpiresIn) * time.Second)
	nt.RefreshToken = aws.ToString(out.RefreshToken)
	if err := s.Vault.SetSSOToken(name, &nt); err != nil {
		return nil, false, fmt.Errorf("caching the sign-in: %w", err)
	}
	return &nt, true, nil
}

// deviceSignIn runs the OIDC device authorization flow (RFC 8628):
// register a client (or reuse the cached one), start the authorization,
// show the user the URL and code, and poll for the token at the interval
// the service asks for, slowing down when told to, until it is approved,
// refused or expires.
func (s *Sessions) deviceSignIn(ctx context.Context, r *awsconfig.Resolved, oidc OIDCAPI, old *SSOToken, now time.Time) (*SSOToken, error) {
	t := &SSOToken{StartURL: r.SSOStartURL, Region: r.SSORegion}
	if old != nil && now.Before(old.ClientExpiresAt.Add(-time.Hour)) {
		t.ClientID, t.ClientSecret, t.ClientExpiresAt = old.ClientID, old.ClientSecret, old.ClientExpiresAt
	} else {
		in := &ssooidc.RegisterClientInput{ClientName: aws.String("keywarden"), ClientType: aws.String("public")}
		if r.SSOSession != "" {
			// The sso-session layout supports refresh tokens.
			in.GrantTypes = []string{grantDeviceCode, grantRefresh}
			if sess, ok := s.Config.SSOSessions[r.SSOSession]; ok {
				in.Scopes = sess.RegistrationScopes
			}
		}
		out, err := oidc.RegisterClient(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("sso-oidc:RegisterClient in %s: %w", r.SSORegion, err)
		}
		if out.ClientId == nil || out.ClientSecret == nil {
			return nil, errors.New("IAM Identity Center registered no client")
		}
		t.ClientID, t.ClientSecret, t.ClientExpiresAt = *out.ClientId, *out.ClientSecret, time.Unix(out.ClientSecretExpiresAt, 0).UTC()
	}
	auth, err := oidc.StartDeviceAuthorization(ctx, &ssooidc.StartDeviceAuthorizationInput{ClientId: aws.String(t.ClientID), ClientSecret: aws.String(t.ClientSecret), StartUrl: aws.String(r.SSOStartURL)})
	if err != nil {
		return nil, fmt.Errorf("sso-oidc:StartDeviceAuthorization for %s: %w", r.SSOStartURL, err)
	}
	if auth.DeviceCode == nil || auth.UserCode == nil || (auth.VerificationUriComplete == nil && auth.VerificationUri == nil) {
		return nil, errors.New("IAM Identity Center started no device authorization")
	}
	url := aws.ToString(auth.VerificationUriComplete)
	if url == "" {
		url = aws.ToString(auth.VerificationUri)
	}
	if s.SSO.SignIn != nil {
		s.SSO.SignIn(url, *auth.UserCode)
	}
	interval := time.Duration(auth.Interval) * time.Second
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	wait := time.Duration(auth.ExpiresIn) * time.Second
	if wait <= 0 || wait > MaxSignInWait {
		wait = MaxSignInWait
	}
	for waited := time.Duration(0); ; waited += interval {
		if waited >= wait {
			return nil, fmt.Errorf("%w: the sign-in for %s was not approved within %s; run the command again", ErrSSOSignIn, r.SSOStartURL, wait)
		}
		if err := s.SSO.Sleep(ctx, interval); err != nil {
			return nil, err
		}
		out, err := oidc.CreateToken(ctx, &ssooidc.CreateTokenInput{ClientId: aws.String(t.ClientID), ClientSecret: aws.String(t.ClientSecret),
			GrantType: aws.String(grantDeviceCode), DeviceCode: auth.DeviceCode})
		var pending *oidctypes.AuthorizationPendingException
		var slow *oidctypes.SlowDownException
		var expired *oidctypes.ExpiredTokenException
		var denied *oidctypes.AccessDeniedException
		switch {
		case err == nil:
			nt, _, err := s.keepToken(ssoTokenName(r), t, out, s.Now())
			return nt, err
		case errors.As(err, &pending):
		case errors.As(err, &slow):
			interval += SlowDownStep
		case errors.As(err, &expired):
			return nil, fmt.Errorf("%w: the sign-in code for %s expired before it was approved; run the command again", ErrSSOSignIn, r.SSOStartURL)
		case errors.As(err, &denied):
			return nil, fmt.Errorf("%w: the sign-in for %s was refused in the browser", ErrSSOSignIn, r.SSOStartURL)
		default:
			return nil, fmt.Errorf("sso-oidc:CreateToken for %s: %w", r.SSOStartURL, err)
		}
	}
}

// GetSSOToken returns the cached sign-in named name, or nil.
func (v *Vault) GetSSOToken(name string) (*SSOToken, error) {
	data, err := v.Store.Get(ssoTokenPrefix + name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t SSOToken
	if json.Unmarshal(data, &t) != nil {
		return nil, nil // a damaged cache entry is just a miss
	}
	return &t, nil
}

// SetSSOToken caches a sign-in under name.
func (v *Vault) SetSSOToken(name string, t *SSOToken) error {
	if err := CheckProfileName(name); err != nil {
		return err
	}
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return v.Store.Set(ssoTokenPrefix+name, data)
}

// SSOClients returns the IAM Identity Center clients (unsigned: the OIDC and
// portal calls carry tokens, not AWS signatures). Endpoint overrides
// both, for tests and emulators.
func (c Clients) SSOClients() (func(string) OIDCAPI, func(string) PortalAPI) {
	cfg := func(region string) aws.Config { return c.config(aws.AnonymousCredentials{}, region) }
	return func(region string) OIDCAPI { return ssooidc.NewFromConfig(cfg(region)) },
		func(region string) PortalAPI { return sso.NewFromConfig(cfg(region)) }
}
