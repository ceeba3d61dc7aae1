package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

// awsFlags are the AWS CLI's own connection flags, for commands that call
// AWS. The SDK's default chain does the rest: AWS_PROFILE, AWS_REGION,
// ~/.aws/config and credentials, AWS_ENDPOINT_URL (which tests use to
// point at a local emulator).
type awsFlags struct {
	Profile     string
	Region      string
	EndpointURL string
}

func (a *awsFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.Profile, "profile", "", "use this profile from ~/.aws/config (default: AWS_PROFILE or the default chain)")
	cmd.Flags().StringVar(&a.Region, "region", "", "AWS region (default: AWS_REGION or the profile's)")
	cmd.Flags().StringVar(&a.EndpointURL, "endpoint-url", "", "send requests to this endpoint instead of AWS's (for emulators)")
}

// load builds an aws.Config from the flags and the SDK's default chain.
// The SDK's own logger is silenced: its warnings ("falling back to
// IMDSv1") are not the user's business, and what matters comes back as an
// error that explainAWSError translates.
func (a *awsFlags) load(ctx context.Context) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if a.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.Profile))
	}
	if a.Region != "" {
		opts = append(opts, config.WithRegion(a.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	if a.EndpointURL != "" {
		cfg.BaseEndpoint = aws.String(a.EndpointURL)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// s3Client builds the S3 client of a command's AWS flags: path-style
// addressing when requests go to another endpoint (an emulator does not
// serve bucket.host names).
func (a *awsFlags) s3Client(cfg aws.Config, getenv func(string) string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = a.EndpointURL != "" || getenv("AWS_ENDPOINT_URL") != "" })
}

// awsError is an error from the AWS SDK said in terms of what to do, with
// the SDK's own words kept below it.
type awsError struct {
	hint string
	err  error
}

func (e *awsError) Error() string { return e.hint + "\n  AWS said: " + e.err.Error() }

// awsErrorLine is err for a list of input errors: one line with no
// control character (what the input said is printed as Printable does),
// and for an AWS error the hint on the line before.
func awsErrorLine(err error) string {
	line := report.Printable(err.Error())
	if hint := awsHint(err); hint != "" {
		return report.Printable(hint) + "\n  AWS said: " + line
	}
	return line
}
func (e *awsError) Unwrap() error { return e.err }

// explainAWSError translates the AWS SDK errors users meet most (a missing
// profile, no or expired credentials, access denied, throttling, an
// unreachable endpoint, an unknown key, a bad signature, no region) into
// what to do about them. Any other error is returned as it is. Main calls
// it for every command, so no command needs its own translation.
func explainAWSError(err error) error {
	if err == nil {
		return nil
	}
	var done *awsError
	var perm *inventory.PermissionError
	if errors.As(err, &done) || errors.As(err, &perm) {
		return err // already says what to do
	}
	hint := awsHint(err)
	if hint == "" {
		return err
	}
	e := &awsError{hint: hint, err: err}
	var exit *ExitErr
	if errors.As(err, &exit) {
		return &ExitErr{Code: exit.Code, Err: e}
	}
	return e
}

const awsExpiredHint = "the AWS credentials have expired: get new ones (`aws sso login`, or a fresh session with `keywarden exec PROFILE`) and retry"

// awsHint returns what to do about err, or "" when it is not an AWS error
// this knows.
func awsHint(err error) string {
	var noProfile config.SharedConfigProfileNotExistError
	if errors.As(err, &noProfile) {
		return fmt.Sprintf("AWS profile %q does not exist in ~/.aws/config or ~/.aws/credentials (or AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE): "+
			"list the profiles with `aws configure list-profiles`, fix --profile or AWS_PROFILE, or create it with `aws configure --profile %s`", noProfile.Profile, noProfile.Profile)
	}
	var noRegion *aws.MissingRegionError
	if errors.As(err, &noRegion) {
		return "no AWS region is set: pass --region, set AWS_REGION, or add region to the profile"
	}
	var ssoToken *ssocreds.InvalidTokenError
	if errors.As(err, &ssoToken) {
		return "the SSO session has expired: run `aws sso login` (with --profile for the profile you use) and retry"
	}
	// The credential chain's failure has a type only on the older signing
	// path; the newer auth path wraps it in plain text ("get identity: get
	// credentials: ...").
	var signing *v4.SigningError
	msg := err.Error()
	if errors.As(err, &signing) || strings.Contains(msg, "get credentials: ") || strings.Contains(msg, "failed to retrieve credentials") ||
		strings.Contains(msg, "failed to refresh cached credentials") {
		if strings.Contains(strings.ToLower(msg), "expired") {
			return awsExpiredHint
		}
		return "no AWS credentials were found: pass --profile, set AWS_PROFILE, or configure a key (`aws configure`, `keywarden add PROFILE`)"
	}
	action := "the call"
	var op *smithy.OperationError
	if errors.As(err, &op) {
		action = strings.ToLower(op.Service()) + ":" + op.Operation()
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
			return awsExpiredHint
		case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError", "Forbidden":
			switch msg := api.ErrorMessage(); {
			case strings.Contains(msg, "MultiFactorAuthentication"):
				return "AWS refused the MFA code: give the current code of the device in the profile's mfa_serial (each code works once, for about 30 seconds; check the device's clock)"
			case strings.Contains(msg, "with session credentials"):
				return "this call needs a long-term access key, and the credentials are a session's: store the IAM user's own key (`keywarden add PROFILE`)"
			}
			return fmt.Sprintf("AWS denied %s to these credentials: grant that permission to the identity (`aws sts get-caller-identity` names it), or use a profile that has it", action)
		case "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestThrottled":
			return fmt.Sprintf("AWS throttled %s even after retries: wait a minute and retry, or ask for less (a shorter --since, fewer regions)", action)
		case "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidToken":
			return "AWS does not know this access key ID (deleted, inactive, or of another partition): check aws_access_key_id in the profile, or get a new key"
		case "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature":
			return "AWS rejected the request signature: the secret access key does not belong to the key ID (check aws_secret_access_key), or this machine's clock is off"
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Sprintf("cannot resolve the AWS endpoint %s: check the network and DNS, --region (a typo makes an endpoint that does not exist) and --endpoint-url", dns.Name)
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return "cannot reach the AWS endpoint: check the network, a proxy (HTTPS_PROXY), --region and --endpoint-url"
	}
	var attempts *retry.MaxAttemptsError
	if errors.As(err, &attempts) {
		return fmt.Sprintf("%s failed on every retry: check the network and retry later", action)
	}
	return ""
}
