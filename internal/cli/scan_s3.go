package cli

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/s3objects"
	"github.com/keywarden/keywarden/internal/secretscan"
)

// scanS3Target reads an s3://bucket/prefix argument into what ScanObjects
// scans, with the client of --profile, --region and --endpoint-url (the
// one detect builds for its s3:// sources).
func scanS3Target(ctx context.Context, opts *scanOptions, u string) (secretscan.ObjectTarget, error) {
	bucket, prefix, err := cloudtrail.ParseS3URL(u)
	if err != nil {
		return secretscan.ObjectTarget{}, UsageError(err)
	}
	since, err := detectParseTime(opts.Since, opts.Now())
	if err != nil {
		return secretscan.ObjectTarget{}, UsageError(fmt.Errorf("--since: %w", err))
	}
	client := opts.S3Client
	if client == nil {
		cfg, err := opts.AWS.load(ctx)
		if err != nil {
			return secretscan.ObjectTarget{}, UsageError(fmt.Errorf("AWS configuration: %w", err))
		}
		client = opts.AWS.s3Client(cfg, opts.Getenv)
	}
	return secretscan.ObjectTarget{Store: s3objects.Store{Client: client, Bucket: bucket}, Prefix: prefix, Since: since}, nil
}
