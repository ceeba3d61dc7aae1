// Package s3objects serves an S3 bucket to the secret scanner: it lists
// objects with ListObjectsV2, page by page, and streams them with
// GetObject. It is the scanner's only AWS I/O; what to skip and how to
// read an object is decided in internal/secretscan.
package s3objects

import (
	"context"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/secretscan"
)

// Store is one bucket, read through Client (the part of the S3 client
// detect's reader of CloudTrail logs uses too).
type Store struct {
	Client cloudtrail.S3API
	Bucket string
}

var _ secretscan.ObjectStore = Store{}

// List calls fn for each object under prefix, page by page. The empty
// "folder" objects the console makes (a key ending in "/", no content)
// are left out.
func (s Store) List(ctx context.Context, prefix string, fn func(secretscan.StoredObject) error) error {
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			key, size := aws.ToString(o.Key), aws.ToInt64(o.Size)
			if strings.HasSuffix(key, "/") && size == 0 {
				continue
			}
			if err := fn(secretscan.StoredObject{Key: key, Size: size, Modified: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Open streams one object.
func (s Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	return out.Body, nil
}

// URL names an object as s3://bucket/key.
func (s Store) URL(key string) string { return "s3://" + s.Bucket + "/" + key }
