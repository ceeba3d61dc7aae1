package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/keywarden/keywarden/internal/vault/awsconfig"
)

// STSAPI is the part of the STS client sessions need.
type STSAPI interface {
	GetSessionToken(ctx context.Context, in *sts.GetSessionTokenInput, opts ...func(*sts.Options)) (*sts.GetSessionTokenOutput, error)
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// STS's limits on session durations (see DESIGN.md, "STS and local
// credentials"). They are checked before calling, so a user learns of a
// bad duration_seconds without spending an MFA code on it.
const (
	MinDuration            = 900 * time.Second
	MaxSessionDuration     = 129600 * time.Second // GetSessionToken, IAM user
	MaxRootSessionDuration = 3600 * time.Second   // GetSessionToken, root
	MaxRoleDuration        = 12 * time.Hour       // AssumeRole, the largest role maximum
	DefaultSessionDuration = 12 * time.Hour       // STS's own default for GetSessionToken
	DefaultRoleDuration    = time.Hour            // the AWS CLI's default for roles
)

// CheckDuration validates d for a session of kind ("session" or "role");
// root is whether the long-term key is the account root's.
func CheckDuration(kind string, d time.Duration, root bool) error {
	if d%time.Second != 0 {
		return fmt.Errorf("duration %s is not a whole number of seconds", d)
	}
	max, what := MaxSessionDuration, "GetSessionToken allows an IAM user"
	switch {
	case kind == "role":
		max, what = MaxRoleDuration, "AssumeRole allows (and only for roles whose maximum session duration is raised to 12h)"
	case root:
		max, what = MaxRootSessionDuration, "GetSessionToken allows the root user"
	}
	if d < MinDuration || d > max {
		return fmt.Errorf("session duration %s is out of range: %s %s to %s", d, what, MinDuration, max)
	}
	return nil
}

// Sessions hands out credentials for profiles: from the cache while they
// are fresh, otherwise from STS with the stored long-term key.
type Sessions struct {
	Vault  *Vault
	Config *awsconfig.Config
	// NewSTS returns an STS client signing with creds, in region.
	NewSTS func(creds Credentials, region string) STSAPI
	MFA    MFASource
	Now    func() time.Time
	// Duration overrides duration_seconds and the defaults (--duration).
	Duration time.Duration
	// NoCache makes every call go to STS (the result is still cached).
	NoCache bool
	// Lock, when set, serialises getting a new session for one cache item
	// across processes. Several aws commands run at once through
	// credential_process (or parallel Terraform providers) would each
	// find the cache empty and each ask for an MFA code; with the lock the
	// first asks and caches the session, and the others wait for it and
	// take it from the cache. See SessionLock.
	Lock func(ctx context.Context, item string) (unlock func(), err error)
}

// lock takes s.Lock for item, if there is one.
func (s *Sessions) lock(ctx context.Context, item string) (func(), error) {
	if s.Lock == nil {
		return func() {}, nil
	}
	unlock, err := s.Lock(ctx, item)
	if err != nil {
		return nil, fmt.Errorf("waiting for another keywarden getting the same session: %w", err)
	}
	return unlock, nil
}

// Result is what Credentials returns: the credentials, the region to use,
// and where they came from.
type Result struct {
	Credentials
	Region string
	// Source is "cache", "sts" or "long-term".
	Source string
	Kind   string
}

// IsRoot reports whether arn is an account's root user.
func IsRoot(arn string) bool { return strings.HasSuffix(arn, ":root") }

// Credentials returns temporary credentials for profile.
//
//   - A role profile (role_arn) gets AssumeRole, signed by the long-term key
//     of its source_profile, with MFA when mfa_serial is set.
//   - Any other profile gets GetSessionToken with its own key, with MFA
//     when mfa_serial is set. The session is cached under the key's profile
//     and serves every profile that shares that key and mfa_serial.
func (s *Sessions) Credentials(ctx context.Context, profile string) (*Result, error) {
	r, err := s.Config.Resolve(profile)
	if err != nil {
		return nil, err
	}
	key, err := s.Vault.GetKey(r.KeyProfile)
	if err != nil {
		return nil, err
	}
	region := r.Region
	now := s.Now()
	if r.RoleARN != "" {
		return s.role(ctx, profile, r, key, region, now)
	}
	return s.session(ctx, r, key, region, now)
}

func (s *Sessions) duration(r *awsconfig.Resolved, def time.Duration) time.Duration {
	switch {
	case s.Duration > 0:
		return s.Duration
	case r.Duration > 0:
		return r.Duration
	}
	return def
}

func (s *Sessions) session(ctx context.Context, r *awsconfig.Resolved, key *Key, region string, now time.Time) (*Result, error) {
	cached := func() (*Result, error) {
		if s.NoCache {
			return nil, nil
		}
		c, err := s.Vault.GetSession("session", r.KeyProfile)
		if err != nil || c == nil || !c.Fresh(now) || c.SourceKeyID != key.AccessKeyID || c.MFASerial != r.MFASerial {
			return nil, err
		}
		return &Result{Credentials: c.Credentials, Region: region, Source: "cache", Kind: "session"}, nil
	}
	if res, err := cached(); res != nil || err != nil {
		return res, err
	}
	unlock, err := s.lock(ctx, sessionName("session", r.KeyProfile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have made the session while we waited.
	if res, err := cached(); res != nil || err != nil {
		return res, err
	}
	root := IsRoot(key.ARN)
	def := DefaultSessionDuration
	if root {
		def = MaxRootSessionDuration
	}
	d := s.duration(r, def)
	if err := CheckDuration("session", d, root); err != nil {
		return nil, fmt.Errorf("profile %q: %w", r.Name, err)
	}
	in := &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(int32(d / time.Second))}
	if r.MFASerial != "" {
		code, err := s.MFA.Token(ctx, MFARequest{Serial: r.MFASerial, Profile: r.Name, MFAProcess: r.MFAProcess})
		if err != nil {
			return nil, err
		}
		in.SerialNumber, in.TokenCode = aws.String(r.MFASerial), aws.String(code)
	}
	out, err := s.NewSTS(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, region).GetSessionToken(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("sts:GetSessionToken for profile %q: %w", r.Name, err)
	}
	creds, err := fromSTS(out.Credentials)
	if err != nil {
		return nil, err
	}
	sess := &Session{Credentials: creds, Kind: "session", Profile: r.KeyProfile, MFASerial: r.MFASerial, SourceKeyID: key.AccessKeyID, Created: now}
	if err := s.Vault.SetSession(sess); err != nil {
		return nil, fmt.Errorf("caching the session: %w", err)
	}
	return &Result{Credentials: creds, Region: region, Source: "sts", Kind: "session"}, nil
}

func (s *Sessions) role(ctx context.Context, profile string, r *awsconfig.Resolved, key *Key, region string, now time.Time) (*Result, error) {
	cached := func() (*Result, error) {
		if s.NoCache {
			return nil, nil
		}
		c, err := s.Vault.GetSession("role", profile)
		if err != nil || c == nil || !c.Fresh(now) || c.SourceKeyID != key.AccessKeyID || c.RoleARN != r.RoleARN {
			return nil, err
		}
		return &Result{Credentials: c.Credentials, Region: region, Source: "cache", Kind: "role"}, nil
	}
	if res, err := cached(); res != nil || err != nil {
		return res, err
	}
	unlock, err := s.lock(ctx, sessionName("role", profile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if res, err := cached(); res != nil || err != nil {
		return res, err
	}
	d := s.duration(r, DefaultRoleDuration)
	if err := CheckDuration("role", d, false); err != nil {
		return nil, fmt.Errorf("profile %q: %w", profile, err)
	}
	name := r.RoleSessionName
	if name == "" {
		name = fmt.Sprintf("keywarden-%d", now.Unix())
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(r.RoleARN),
		RoleSessionName: aws.String(name),
		DurationSeconds: aws.Int32(int32(d / time.Second)),
	}
	if r.ExternalID != "" {
		in.ExternalId = aws.String(r.ExternalID)
	}
	if r.MFASerial != "" {
		code, err := s.MFA.Token(ctx, MFARequest{Serial: r.MFASerial, Profile: profile, MFAProcess: r.MFAProcess})
		if err != nil {
			return nil, err
		}
		in.SerialNumber, in.TokenCode = aws.String(r.MFASerial), aws.String(code)
	}
	out, err := s.NewSTS(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, region).AssumeRole(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("sts:AssumeRole %s for profile %q: %w", r.RoleARN, profile, err)
	}
	creds, err := fromSTS(out.Credentials)
	if err != nil {
		return nil, err
	}
	sess := &Session{Credentials: creds, Kind: "role", Profile: profile, MFASerial: r.MFASerial, RoleARN: r.RoleARN, SourceKeyID: key.AccessKeyID, Created: now}
	if err := s.Vault.SetSession(sess); err != nil {
		return nil, fmt.Errorf("caching the session: %w", err)
	}
	return &Result{Credentials: creds, Region: region, Source: "sts", Kind: "role"}, nil
}

func fromSTS(c *ststypes.Credentials) (Credentials, error) {
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return Credentials{}, errors.New("STS answered without complete credentials")
	}
	return Credentials{
		AccessKeyID:     *c.AccessKeyId,
		SecretAccessKey: *c.SecretAccessKey,
		SessionToken:    *c.SessionToken,
		Expiration:      c.Expiration.UTC(),
	}, nil
}
