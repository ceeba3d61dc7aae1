package vault

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Clients builds AWS clients signed with given credentials. The long-term
// key is handed to the SDK directly: keywarden never lets the SDK's default
// chain pick credentials from the environment or ~/.aws/credentials.
type Clients struct {
	// Endpoint overrides AWS's endpoints (--endpoint-url, AWS_ENDPOINT_URL),
	// for emulators.
	Endpoint string
	// HTTPClient, when set, carries every request (tests wrap it).
	HTTPClient aws.HTTPClient
	// RetryMaxAttempts, when positive, replaces the SDK's default.
	RetryMaxAttempts int
}

// Config returns an aws.Config signing with creds in region (us-east-1
// when empty: STS and IAM are global services).
func (c Clients) Config(creds Credentials, region string) aws.Config {
	return c.config(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken), region)
}

func (c Clients) config(creds aws.CredentialsProvider, region string) aws.Config {
	if region == "" {
		region = "us-east-1"
	}
	cfg := aws.Config{Region: region, Credentials: creds}
	if c.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(c.Endpoint)
	}
	if c.HTTPClient != nil {
		cfg.HTTPClient = c.HTTPClient
	}
	if c.RetryMaxAttempts > 0 {
		cfg.RetryMaxAttempts = c.RetryMaxAttempts
	}
	return cfg
}

// STS returns an STS client.
func (c Clients) STS(creds Credentials, region string) STSAPI {
	return sts.NewFromConfig(c.Config(creds, region))
}

// IAM returns an IAM client.
func (c Clients) IAM(creds Credentials, region string) IAMAPI {
	return iam.NewFromConfig(c.Config(creds, region))
}
