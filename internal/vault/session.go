package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
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
	// MaxChainedRoleDuration is STS's cap on a role session assumed with
	// temporary credentials (an MFA session or another role's session).
	MaxChainedRoleDuration = time.Hour
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
	// SSO reaches IAM Identity Center for sso_* profiles.
	SSO SSOClients
	// NoSession is --no-session: a plain profile gets its long-term key
	// itself, a role profile AssumeRole straight from the long-term key.
	// The caller warns; it is never the default.
	NoSession bool
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
//   - A role profile (role_arn) with mfa_serial asking for at most 1 hour
//     (the default) gets AssumeRole signed by the MFA session of its
//     source_profile's key (below), so one MFA code serves every profile
//     on that key and device; its role session is renewed from that MFA
//     session without a code until the MFA session itself runs out.
//   - A role profile asking for more than 1 hour gets AssumeRole with an
//     MFA code, signed directly by the long-term key: a role assumed with
//     temporary credentials is capped at 1 hour. Without mfa_serial, too,
//     the role is assumed from the long-term key.
//   - Any other profile gets GetSessionToken with its own key, with MFA
//     when mfa_serial is set. The session is cached under the key's profile
//     and serves every profile that shares that key and mfa_serial.
func (s *Sessions) Credentials(ctx context.Context, profile string) (*Result, error) {
	r, err := s.Config.Resolve(profile)
	if err != nil {
		return nil, err
	}
	return s.resolved(ctx, r)
}

func (s *Sessions) resolved(ctx context.Context, r *awsconfig.Resolved) (*Result, error) {
	region := r.Region
	now := s.Now()
	if r.IsSSO() {
		if s.NoSession {
			return nil, fmt.Errorf("profile %q is an IAM Identity Center profile: it has no long-term key to use without a session", r.Name)
		}
		return s.sso(ctx, r, region, now)
	}
	if r.KeyProfile == "" {
		// A chain that starts at an IAM Identity Center profile: its
		// cached hops are tied to that profile's start URL and role.
		if s.NoSession {
			return nil, fmt.Errorf("profile %q is assumed from an IAM Identity Center profile: there is no long-term key to use without a session", r.Name)
		}
		return s.chainedRole(ctx, r, ssoChainID(r), region, now)
	}
	key, err := s.Vault.GetKey(r.KeyProfile)
	if err != nil {
		return nil, err
	}
	switch {
	case s.NoSession:
		return s.longTerm(ctx, r, key, region, now)
	case r.Source != nil:
		return s.chainedRole(ctx, r, key.AccessKeyID, region, now)
	case r.RoleARN != "":
		return s.role(ctx, r, key, region, now)
	}
	return s.session(ctx, r, key, region, now)
}

// longTerm is --no-session: the long-term key itself for a plain profile;
// for a role profile, AssumeRole signed directly with the long-term key
// (with a code when it has mfa_serial), never through an MFA session.
// Nothing is cached.
func (s *Sessions) longTerm(ctx context.Context, r *awsconfig.Resolved, key *Key, region string, now time.Time) (*Result, error) {
	if r.Source != nil {
		return nil, fmt.Errorf("profile %q is assumed from role profile %q's session: a chained role has no long-term key to use without a session", r.Name, r.Source.Name)
	}
	if r.RoleARN == "" {
		return &Result{Credentials: Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, Region: region, Source: "long-term", Kind: "long-term"}, nil
	}
	d := s.duration(r, DefaultRoleDuration)
	in, err := assumeRoleInput(r, d, now)
	if err != nil {
		return nil, err
	}
	how := "from the long-term key"
	if r.MFASerial != "" {
		code, err := s.MFA.Token(ctx, MFARequest{Serial: r.MFASerial, Profile: r.Name, MFAProcess: r.MFAProcess, Prompt: r.MFAPrompt})
		if err != nil {
			return nil, err
		}
		in.SerialNumber, in.TokenCode = aws.String(r.MFASerial), aws.String(code)
		how = "with MFA from the long-term key"
	}
	out, err := s.NewSTS(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, region).AssumeRole(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("sts:AssumeRole %s for profile %q (%s): %w", r.RoleARN, r.Name, how, err)
	}
	creds, err := fromSTS(out.Credentials)
	if err != nil {
		return nil, err
	}
	return &Result{Credentials: creds, Region: region, Source: "sts", Kind: "role"}, nil
}

// chainedRole assumes r's role with the session of its source role
// profile (got, cached and renewed the same way, hop by hop). STS caps a
// chained role session at 1 hour.
func (s *Sessions) chainedRole(ctx context.Context, r *awsconfig.Resolved, keyID string, region string, now time.Time) (*Result, error) {
	profile := r.Name
	d := s.duration(r, DefaultRoleDuration)
	if d > MaxChainedRoleDuration {
		return nil, fmt.Errorf("profile %q: a role assumed with another role's session (source_profile %q) lasts at most %s (STS's cap on role chaining), not %s", profile, r.Source.Name, MaxChainedRoleDuration, d)
	}
	if err := CheckDuration("role", d, false); err != nil {
		return nil, fmt.Errorf("profile %q: %w", profile, err)
	}
	return s.roleOnce(ctx, "role", r, keyID, r.RoleARN, roleParams(r), region, now, func() (*Result, error) {
		return s.chainedAssume(ctx, r, keyID, region, now, d)
	})
}

func (s *Sessions) chainedAssume(ctx context.Context, r *awsconfig.Resolved, keyID string, region string, now time.Time, d time.Duration) (*Result, error) {
	profile := r.Name
	in, err := assumeRoleInput(r, d, now)
	if err != nil {
		return nil, err
	}
	// The source hops last what their own profiles say: --duration is
	// this profile's.
	src := *s
	src.Duration = 0
	sres, err := src.resolved(ctx, r.Source)
	if err != nil {
		return nil, err
	}
	out, err := s.NewSTS(sres.Credentials, region).AssumeRole(ctx, in)
	if sres.Source == "cache" && refusedCredentials(err) {
		// The cached source session is no longer taken: renew that hop.
		src.NoCache = true
		if sres, err = src.resolved(ctx, r.Source); err != nil {
			return nil, err
		}
		out, err = s.NewSTS(sres.Credentials, region).AssumeRole(ctx, in)
	}
	return s.roleResult(out, err, profile, r, keyID, region, now, r.Source.Name, fmt.Sprintf("with the session of role profile %q", r.Source.Name))
}

// assumeRoleInput builds the AssumeRole request for role profile r,
// checking what STS would refuse before spending a code on it.
func assumeRoleInput(r *awsconfig.Resolved, d time.Duration, now time.Time) (*sts.AssumeRoleInput, error) {
	name := r.RoleSessionName
	if name == "" {
		name = fmt.Sprintf("keywarden-%d", now.Unix())
	} else if !validSTSName(name) {
		return nil, fmt.Errorf("profile %q: role_session_name %q must be 2 to 64 letters, digits or +=,.@_- characters", r.Name, name)
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(r.RoleARN),
		RoleSessionName: aws.String(name),
		DurationSeconds: aws.Int32(int32(d / time.Second)),
	}
	if r.ExternalID != "" {
		in.ExternalId = aws.String(r.ExternalID)
	}
	if r.SourceIdentity != "" {
		if !validSTSName(r.SourceIdentity) {
			return nil, fmt.Errorf("profile %q: source_identity %q must be 2 to 64 letters, digits or +=,.@_- characters", r.Name, r.SourceIdentity)
		}
		in.SourceIdentity = aws.String(r.SourceIdentity)
	}
	for _, k := range slices.Sorted(maps.Keys(r.SessionTags)) {
		in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(r.SessionTags[k])})
	}
	for _, k := range r.TransitiveSessionTags {
		if _, ok := r.SessionTags[k]; !ok {
			return nil, fmt.Errorf("profile %q: transitive_session_tags names %q, which is not one of its session_tags", r.Name, k)
		}
		in.TransitiveTagKeys = append(in.TransitiveTagKeys, k)
	}
	return in, nil
}

// validSTSName reports whether v is a valid role session name or source
// identity: [\w+=,.@-]{2,64}.
func validSTSName(v string) bool {
	if len(v) < 2 || len(v) > 64 {
		return false
	}
	for _, c := range v {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+=,.@-", c)
		if !ok {
			return false
		}
	}
	return true
}

// roleParams digests what a role session was asked with (see
// Session.Params).
func roleParams(r *awsconfig.Resolved) string {
	h := sha256.New()
	field := func(v string) { fmt.Fprintf(h, "%d:%s;", len(v), v) }
	field(r.RoleARN)
	field(r.ExternalID)
	field(r.RoleSessionName)
	field(r.SourceIdentity)
	for _, k := range slices.Sorted(maps.Keys(r.SessionTags)) {
		field(k)
		field(r.SessionTags[k])
	}
	field("transitive")
	for _, k := range r.TransitiveSessionTags {
		field(k)
	}
	if r.Source != nil {
		field("source")
		field(r.Source.Name)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
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

// mfaSpec says which GetSessionToken session is wanted: the one cached
// under keyProfile, made with mfa serial (none when empty).
type mfaSpec struct {
	keyProfile string
	serial     string
	mfaProcess string
	prompt     string
	// duration is the session's length; zero means STS's default for the
	// key (12 hours, 1 hour for root).
	duration time.Duration
	// profile is the profile the user asked for (the prompt names it);
	// forRole is set when the session is wanted to assume its role from.
	profile string
	forRole bool
	// refused is the access key ID of a cached session STS refused: it
	// is not handed out again.
	refused string
}

func (s *Sessions) session(ctx context.Context, r *awsconfig.Resolved, key *Key, region string, now time.Time) (*Result, error) {
	spec := mfaSpec{keyProfile: r.KeyProfile, serial: r.MFASerial, mfaProcess: r.MFAProcess, prompt: r.MFAPrompt, duration: s.duration(r, 0), profile: r.Name}
	sess, source, err := s.getSession(ctx, spec, key, region, now)
	if err != nil {
		return nil, err
	}
	return &Result{Credentials: sess.Credentials, Region: region, Source: source, Kind: "session"}, nil
}

// getSession returns the GetSessionToken session spec asks for: the cached
// one while it is fresh, else a new one (asking for an MFA code), cached
// under spec.keyProfile. Getting a new one holds that item's lock, so
// callers that want it at the same time (plain profiles and role profiles
// sharing the key and mfa_serial, in this process or others) wait for one
// prompt instead of each asking. source is "cache" or "sts".
func (s *Sessions) getSession(ctx context.Context, spec mfaSpec, key *Key, region string, now time.Time) (*Session, string, error) {
	cached := func() (*Session, error) {
		if s.NoCache {
			return nil, nil
		}
		c, err := s.Vault.GetSession("session", spec.keyProfile)
		if err != nil || c == nil || !c.Fresh(now) || c.SourceKeyID != key.AccessKeyID || c.MFASerial != spec.serial || c.AccessKeyID == spec.refused {
			return nil, err
		}
		return c, nil
	}
	if c, err := cached(); c != nil || err != nil {
		return c, "cache", err
	}
	unlock, err := s.lock(ctx, sessionName("session", spec.keyProfile))
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	// Another process may have made the session while we waited.
	if c, err := cached(); c != nil || err != nil {
		return c, "cache", err
	}
	what := fmt.Sprintf("profile %q", spec.profile)
	if spec.forRole {
		what = fmt.Sprintf("the MFA session of profile %q (role profile %q is assumed from it)", spec.keyProfile, spec.profile)
	}
	root := IsRoot(key.ARN)
	d := spec.duration
	if d == 0 {
		d = DefaultSessionDuration
		if root {
			d = MaxRootSessionDuration
		}
	}
	if err := CheckDuration("session", d, root); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	in := &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(int32(d / time.Second))}
	if spec.serial != "" {
		code, err := s.MFA.Token(ctx, MFARequest{Serial: spec.serial, Profile: spec.profile, MFAProcess: spec.mfaProcess, Prompt: spec.prompt})
		if err != nil {
			return nil, "", err
		}
		in.SerialNumber, in.TokenCode = aws.String(spec.serial), aws.String(code)
	}
	out, err := s.NewSTS(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, region).GetSessionToken(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("sts:GetSessionToken for %s: %w", what, err)
	}
	creds, err := fromSTS(out.Credentials)
	if err != nil {
		return nil, "", err
	}
	sess := &Session{Credentials: creds, Kind: "session", Profile: spec.keyProfile, MFASerial: spec.serial, SourceKeyID: key.AccessKeyID, Created: now}
	if err := s.Vault.SetSession(sess); err != nil {
		return nil, "", fmt.Errorf("caching the session: %w", err)
	}
	return sess, "sts", nil
}

// roleChained reports whether a role profile with MFA, asking for a role
// session of d, gets it by AssumeRole from the shared MFA session (d fits
// under STS's 1-hour cap on roles assumed with temporary credentials)
// rather than by AssumeRole with an MFA code from the long-term key.
func roleChained(mfaSerial string, d time.Duration) bool {
	return mfaSerial != "" && d <= MaxChainedRoleDuration
}

// roleOnce returns profile r's cached role session while it is fresh and
// was asked for with r's settings; otherwise it takes the item's lock,
// looks again (another process may have made it meanwhile) and calls
// assume.
func (s *Sessions) roleOnce(ctx context.Context, kind string, r *awsconfig.Resolved, keyID, roleID, params, region string, now time.Time, assume func() (*Result, error)) (*Result, error) {
	cached := func() (*Result, error) {
		if s.NoCache {
			return nil, nil
		}
		c, err := s.Vault.GetSession(kind, r.Name)
		if err != nil || c == nil || !c.Fresh(now) || c.SourceKeyID != keyID || c.RoleARN != roleID || c.Params != params {
			return nil, err
		}
		return &Result{Credentials: c.Credentials, Region: region, Source: "cache", Kind: kind}, nil
	}
	if res, err := cached(); res != nil || err != nil {
		return res, err
	}
	unlock, err := s.lock(ctx, sessionName(kind, r.Name))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if res, err := cached(); res != nil || err != nil {
		return res, err
	}
	return assume()
}

func (s *Sessions) role(ctx context.Context, r *awsconfig.Resolved, key *Key, region string, now time.Time) (*Result, error) {
	return s.roleOnce(ctx, "role", r, key.AccessKeyID, r.RoleARN, roleParams(r), region, now, func() (*Result, error) { return s.assumeRole(ctx, r, key, region, now) })
}

func (s *Sessions) assumeRole(ctx context.Context, r *awsconfig.Resolved, key *Key, region string, now time.Time) (*Result, error) {
	profile := r.Name
	d := s.duration(r, DefaultRoleDuration)
	if err := CheckDuration("role", d, false); err != nil {
		return nil, fmt.Errorf("profile %q: %w", profile, err)
	}
	in, err := assumeRoleInput(r, d, now)
	if err != nil {
		return nil, err
	}
	via, how := "", "with MFA from the long-term key"
	switch {
	case roleChained(r.MFASerial, d):
		// One MFA code for every profile sharing the key and device: the
		// role is assumed with the shared MFA session, which carries the
		// MFA context (aws:MultiFactorAuthPresent) into the role session.
		// The session is cut to 1 hour by STS: what was asked anyway.
		kr, err := s.Config.Resolve(r.KeyProfile)
		if err != nil {
			return nil, err
		}
		// The MFA session lasts what the key's own profile says, unless
		// that profile is this role profile (its duration_seconds is
		// the role's): then STS's default.
		md := kr.Duration
		if kr.RoleARN != "" {
			md = 0
		}
		spec := mfaSpec{keyProfile: r.KeyProfile, serial: r.MFASerial, mfaProcess: r.MFAProcess, prompt: r.MFAPrompt, duration: md, profile: profile, forRole: true}
		sess, source, err := s.getSession(ctx, spec, key, region, now)
		if err != nil {
			return nil, err
		}
		via = r.KeyProfile
		how = fmt.Sprintf("with the MFA session of profile %q", via)
		out, err := s.NewSTS(sess.Credentials, region).AssumeRole(ctx, in)
		if source == "cache" && refusedCredentials(err) {
			// STS no longer takes the cached MFA session (a clock out of
			// step, say): make a new one, which asks for a code, rather
			// than fail on every call until the cache says it expired.
			spec.refused = sess.AccessKeyID
			if sess, _, err = s.getSession(ctx, spec, key, region, now); err != nil {
				return nil, err
			}
			out, err = s.NewSTS(sess.Credentials, region).AssumeRole(ctx, in)
		}
		return s.roleResult(out, err, profile, r, key.AccessKeyID, region, now, via, how)
	case r.MFASerial != "":
		code, err := s.MFA.Token(ctx, MFARequest{Serial: r.MFASerial, Profile: profile, MFAProcess: r.MFAProcess, Prompt: r.MFAPrompt})
		if err != nil {
			return nil, err
		}
		in.SerialNumber, in.TokenCode = aws.String(r.MFASerial), aws.String(code)
	default:
		how = "from the long-term key"
	}
	out, err := s.NewSTS(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, region).AssumeRole(ctx, in)
	return s.roleResult(out, err, profile, r, key.AccessKeyID, region, now, via, how)
}

// roleResult caches and returns the outcome of AssumeRole for profile.
func (s *Sessions) roleResult(out *sts.AssumeRoleOutput, err error, profile string, r *awsconfig.Resolved, keyID, region string, now time.Time, via, how string) (*Result, error) {
	if err != nil {
		return nil, fmt.Errorf("sts:AssumeRole %s for profile %q (%s): %w", r.RoleARN, profile, how, err)
	}
	creds, err := fromSTS(out.Credentials)
	if err != nil {
		return nil, err
	}
	sess := &Session{Credentials: creds, Kind: "role", Profile: profile, MFASerial: r.MFASerial, RoleARN: r.RoleARN, SourceKeyID: keyID, Via: via, Params: roleParams(r), Created: now}
	if err := s.Vault.SetSession(sess); err != nil {
		return nil, fmt.Errorf("caching the session: %w", err)
	}
	return &Result{Credentials: creds, Region: region, Source: "sts", Kind: "role"}, nil
}

// refusedCredentials reports whether err is STS refusing the credentials
// that signed the call (expired, or unknown to it).
func refusedCredentials(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ExpiredToken", "InvalidClientTokenId":
		return true
	}
	return false
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
