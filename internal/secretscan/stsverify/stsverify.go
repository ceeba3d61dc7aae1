// Package stsverify asks AWS whether a key pair found by the scanner is
// live, with a signed sts:GetCallerIdentity: the one call that needs no
// permission and cannot be denied, so its answer says exactly whether the
// key works and whose it is. It sends nothing else, and refuses keys of
// known canary-token accounts, whose use would alert their owner.
//
// It is separate from the detector so that detection stays pure and a
// scan without --verify cannot reach the network.
package stsverify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/keywarden/keywarden/internal/awskey"
)

// Status is the outcome of one verification.
type Status string

// The outcomes.
const (
	Live    Status = "live"    // AWS accepted the key: it works, and Verdict.ARN says whose it is
	Revoked Status = "revoked" // AWS does not know the key ID (deleted, deactivated) or the session expired
	Invalid Status = "invalid" // the key ID exists but the secret is not its secret
	Canary  Status = "canary"  // not sent: the key belongs to a canary-token account
	Error   Status = "error"   // no answer (network, timeout, throttling)
	Skipped Status = "skipped" // not sent: the credential cannot sign a request on its own
)

// Verdict is what AWS said about a key pair.
type Verdict struct {
	Status  Status `json:"status"`
	ARN     string `json:"arn,omitempty"`
	Account string `json:"account,omitempty"`
	UserID  string `json:"user_id,omitempty"`
	// Detail is AWS's error code or our reason, never a secret.
	Detail string `json:"detail,omitempty"`
}

// CanaryAccounts are the AWS accounts that issue canarytokens.org ("AWS API
// key" tokens by Thinkst). Using such a key, even for GetCallerIdentity,
// alerts whoever planted it, and tells an attacker's tooling apart from a
// defender's only by intent. The list is public: the accounts are decoded
// from published canary key IDs and kept by other scanners (trufflehog's
// AWS detector, several canary-detection write-ups).
var CanaryAccounts = map[string]bool{
	"052310077262": true,
	"171436882533": true,
	"266735846894": true,
	"534261010715": true,
	"595918472158": true,
	"717712589309": true,
	"730335385048": true,
	"819147034852": true,
	"893192397702": true,
	"992382622183": true,
}

// IsCanary reports whether id belongs to a known canary-token account.
func IsCanary(id string) bool {
	acct, ok := awskey.AccountID(id)
	return ok && CanaryAccounts[acct]
}

// Verifier checks key pairs one at a time, at most one request per
// Interval, each bounded by Timeout.
type Verifier struct {
	// Endpoint overrides STS's endpoint (tests, emulators); empty means
	// AWS's regional endpoint for Region.
	Endpoint string
	Region   string
	Timeout  time.Duration
	Interval time.Duration
	// AllowCanaries sends keys of canary accounts too (--verify-canaries).
	AllowCanaries bool
	HTTPClient    *http.Client

	mu   sync.Mutex
	last time.Time
	memo map[string]Verdict
}

// Verify asks STS about the pair. The same pair is asked once per Verifier.
func (v *Verifier) Verify(ctx context.Context, id, secret, token string) Verdict {
	switch awskey.KindOf(id) {
	case awskey.KindLongTerm:
	case awskey.KindTemporary:
		if token == "" {
			// STS would answer InvalidClientTokenId, which would read as
			// "revoked" when the token was merely not found.
			return Verdict{Status: Skipped, Detail: "a temporary key needs its session token, and none was found with it"}
		}
	default:
		return Verdict{Status: Skipped, Detail: "only AKIA and ASIA keys sign API requests"}
	}
	if !v.AllowCanaries && IsCanary(id) {
		acct, _ := awskey.AccountID(id)
		return Verdict{Status: Canary, Account: acct, Detail: "key of a known canary-token account (canarytokens.org): not sent; --verify-canaries overrides"}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	key := id + "\x00" + secret + "\x00" + token
	if r, ok := v.memo[key]; ok {
		return r
	}
	if v.memo == nil {
		v.memo = map[string]Verdict{}
	}
	if wait := time.Until(v.last.Add(v.Interval)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Verdict{Status: Error, Detail: ctx.Err().Error()}
		}
	}
	r := v.call(ctx, id, secret, token)
	v.last = time.Now()
	v.memo[key] = r
	return r
}

func (v *Verifier) call(ctx context.Context, id, secret, token string) Verdict {
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	region := v.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := sts.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, token),
		RetryMaxAttempts: 1,
	}
	if v.Endpoint != "" {
		opts.BaseEndpoint = aws.String(v.Endpoint)
	}
	if v.HTTPClient != nil {
		opts.HTTPClient = v.HTTPClient
	}
	out, err := sts.New(opts).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil {
		return Verdict{Status: Live, ARN: aws.ToString(out.Arn), Account: aws.ToString(out.Account), UserID: aws.ToString(out.UserId)}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException":
			return Verdict{Status: Revoked, Detail: api.ErrorCode()}
		case "SignatureDoesNotMatch", "IncompleteSignature":
			return Verdict{Status: Invalid, Detail: api.ErrorCode()}
		case "AccessDenied":
			// GetCallerIdentity cannot be denied by IAM policy; an explicit
			// deny here comes from a key that works but is fenced in (an SCP
			// or a network condition): the key is live.
			return Verdict{Status: Live, Detail: "AccessDenied: the key authenticated but the call was denied"}
		}
		return Verdict{Status: Error, Detail: api.ErrorCode()}
	}
	if ctx.Err() != nil {
		return Verdict{Status: Error, Detail: fmt.Sprintf("no answer within %s", timeout)}
	}
	return Verdict{Status: Error, Detail: errorText(err)}
}

// errorText shortens a transport error; it never holds a secret (the SDK
// does not put credentials in errors), but keep it short for one line.
func errorText(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
