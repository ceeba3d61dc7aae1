package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/aws/smithy-go/logging"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/keywarden/keywarden/internal/inventory"
)

// TestExplainAWSError runs the translation over the error values the SDK
// really returns, wrapped the way the SDK and our commands wrap them.
func TestExplainAWSError(t *testing.T) {
	op := func(service, operation string, err error) error {
		return &smithy.OperationError{ServiceID: service, OperationName: operation, Err: err}
	}
	api := func(code string) error {
		return &smithy.GenericAPIError{Code: code, Message: "the message AWS sent for " + code, Fault: smithy.FaultClient}
	}
	perm := &inventory.PermissionError{Action: "iam:ListUsers", Err: api("AccessDenied")}
	tests := []struct {
		name string
		err  error
		want string // in the hint; "" means the error is returned as it is
	}{
		{"missing profile", config.SharedConfigProfileNotExistError{Profile: "prod"}, `AWS profile "prod" does not exist`},
		{"missing profile, wrapped", fmt.Errorf("AWS configuration: %w", config.SharedConfigProfileNotExistError{Profile: "prod"}), "aws configure list-profiles"},
		{"no region", &aws.MissingRegionError{}, "pass --region"},
		{"no credentials, signing path", op("STS", "GetCallerIdentity", &v4.SigningError{Err: errors.New("failed to retrieve credentials: no EC2 IMDS role found")}), "no AWS credentials were found"},
		{"no credentials, auth path", op("CloudTrail", "LookupEvents", errors.New("get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found")), "no AWS credentials were found"},
		{"SSO token expired", op("IAM", "ListUsers", fmt.Errorf("get identity: get credentials: %w", &ssocreds.InvalidTokenError{Err: errors.New("the SSO session has expired or is invalid")})), "aws sso login"},
		{"expired token", op("IAM", "ListUsers", api("ExpiredToken")), "credentials have expired"},
		{"expired token exception", op("CloudTrail", "LookupEvents", api("ExpiredTokenException")), "credentials have expired"},
		{"access denied names the action", op("IAM", "GetAccountAuthorizationDetails", api("AccessDenied")), "AWS denied iam:GetAccountAuthorizationDetails"},
		{"wrong MFA code is not a permission problem", op("STS", "GetSessionToken", &smithy.GenericAPIError{Code: "AccessDenied", Message: "MultiFactorAuthentication failed with invalid MFA one time pass code."}), "AWS refused the MFA code"},
		{"session credentials for GetSessionToken", op("STS", "GetSessionToken", &smithy.GenericAPIError{Code: "AccessDenied", Message: "Cannot call GetSessionToken with session credentials"}), "needs a long-term access key"},
		{"access denied exception", op("CloudTrail", "LookupEvents", api("AccessDeniedException")), "AWS denied cloudtrail:LookupEvents"},
		{"throttling after retries", op("CloudTrail", "LookupEvents", &retry.MaxAttemptsError{Attempt: 3, Err: api("ThrottlingException")}), "AWS throttled cloudtrail:LookupEvents"},
		{"S3 slow down", op("S3", "ListObjectsV2", api("SlowDown")), "AWS throttled s3:ListObjectsV2"},
		{"invalid client token", op("STS", "GetCallerIdentity", api("InvalidClientTokenId")), "does not know this access key ID"},
		{"S3 invalid access key", op("S3", "GetObject", api("InvalidAccessKeyId")), "does not know this access key ID"},
		{"signature mismatch", op("STS", "GetCallerIdentity", api("SignatureDoesNotMatch")), "secret access key does not belong to the key ID"},
		{"DNS", op("IAM", "ListUsers", &smithyhttp.RequestSendError{Err: &net.DNSError{Err: "no such host", Name: "iam.eu-wst-1.amazonaws.com", IsNotFound: true}}), "cannot resolve the AWS endpoint iam.eu-wst-1.amazonaws.com"},
		{"connection refused", op("STS", "GetCallerIdentity", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}), "cannot reach the AWS endpoint"},
		{"every retry failed", op("STS", "GetCallerIdentity", &retry.MaxAttemptsError{Attempt: 3, Err: errors.New("EOF")}), "sts:GetCallerIdentity failed on every retry"},
		{"audit's own permission error stays", perm, ""},
		{"an unknown API error stays", op("IAM", "ListUsers", api("NoSuchEntity")), ""},
		{"not an AWS error", errors.New("open x.json: no such file or directory"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := explainAWSError(tt.err)
			if tt.want == "" {
				if got != tt.err {
					t.Errorf("explainAWSError(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			if !strings.Contains(got.Error(), tt.want) {
				t.Errorf("explainAWSError(%v) =\n%v\nwant it to say %q", tt.err, got, tt.want)
			}
			if !strings.Contains(got.Error(), "AWS said: "+tt.err.Error()) {
				t.Errorf("the SDK's words are lost: %v", got)
			}
			var ae *awsError
			if !errors.As(got, &ae) || ae.err.Error() != tt.err.Error() {
				t.Error("the original error is not in the chain")
			}
			if explainAWSError(got) != got {
				t.Error("explaining twice changes the error")
			}
			// A command's exit code survives the translation.
			wrapped := explainAWSError(UsageError(tt.err))
			if ExitCode(wrapped) != ExitError || !strings.Contains(wrapped.Error(), tt.want) {
				t.Errorf("through ExitErr: code %d, %v", ExitCode(wrapped), wrapped)
			}
		})
	}
	if explainAWSError(nil) != nil {
		t.Error("nil is not nil")
	}
}

// The SDK's logger (which prints "WARN falling back to IMDSv1" and the
// like to stderr) is silenced in every configuration commands load.
func TestAWSLoadSilencesSDKLogger(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_PROFILE", "")
	cfg, err := (&awsFlags{Region: "eu-west-1"}).load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Logger.(logging.Nop); !ok {
		t.Errorf("cfg.Logger is %T, want logging.Nop", cfg.Logger)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region %q", cfg.Region)
	}
}

// Input errors with AWS errors inside keep one line of input text each,
// with no control character, under the hint.
func TestAWSErrorLine(t *testing.T) {
	denied := &smithy.OperationError{ServiceID: "S3", OperationName: "ListObjectsV2", Err: &smithy.GenericAPIError{Code: "AccessDenied"}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain input error", errors.New("logs/a\x1b[2J\nforged.json: offset 3: bad"), "logs/a?[2J?forged.json: offset 3: bad"},
		{"AWS error under its hint", fmt.Errorf("s3://b/\x1b]0;x\x07: %w", denied),
			"AWS denied s3:ListObjectsV2 to these credentials: grant that permission to the identity (`aws sts get-caller-identity` names it), or use a profile that has it\n" +
				"  AWS said: s3://b/?]0;x?: operation error S3: ListObjectsV2, api error AccessDenied: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awsErrorLine(tt.err); got != tt.want {
				t.Errorf("awsErrorLine =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
