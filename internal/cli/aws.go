package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
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
func (a *awsFlags) load(ctx context.Context) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
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
