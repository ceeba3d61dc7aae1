package secretscan

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// S3 as a source: the classic leak is a credentials file, an env file or a
// backup in a bucket. Objects are listed with ListObjectsV2 (page by page)
// and streamed with GetObject, nothing written to disk; they go through
// the same readers as files (UTF-16, binary, --archives: archives,
// compressed objects, printable strings) and the same limits.

// S3Target is a bucket prefix to scan.
type S3Target struct {
	// Client is the part of the S3 client the scan uses, as detect's
	// reader of CloudTrail logs in S3 does.
	Client cloudtrail.S3API
	Bucket string
	Prefix string
	// Since skips objects last modified before it (zero: none).
	Since time.Time
}

// maxS3Zip bounds a zip object, which is read whole (a zip is read from
// its end); tar, gzip and the other compressed objects are streamed.
const maxS3Zip = 256 << 20

// s3Object is one listed object to fetch.
type s3Object struct {
	key  string
	size int64
}

// URL names an object of the target as s3://bucket/key.
func (t S3Target) URL(key string) string { return "s3://" + t.Bucket + "/" + key }

// ScanS3 scans the objects under t.Prefix. What it skips (older than
// Since, excluded, a binary type, too large, an archive without Archives)
// is counted in Stats by reason; an object that cannot be read is told to
// Warn and the scan goes on; a listing that fails ends the scan with its
// error (what was not listed was not scanned).
func (s *Sources) ScanS3(ctx context.Context, t S3Target, sink Sink) error {
	emit, err := s.start(sink)
	if err != nil {
		return err
	}
	jobs := make(chan s3Object, 64)
	var wg sync.WaitGroup
	for w := 0; w < s.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := s.scanS3Object(ctx, t, j, emit); err != nil {
					s.warn(fmt.Errorf("%s: %w", t.URL(j.key), err))
				}
			}
		}()
	}
	err = s.listS3(ctx, t, jobs)
	close(jobs)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("listing %s: %w", t.URL(t.Prefix), err)
	}
	return ctx.Err()
}

// listS3 sends the objects to scan to jobs, page by page, and counts the
// ones it skips.
func (s *Sources) listS3(ctx context.Context, t S3Target, jobs chan<- s3Object) error {
	p := s3.NewListObjectsV2Paginator(t.Client, &s3.ListObjectsV2Input{Bucket: aws.String(t.Bucket), Prefix: aws.String(t.Prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			key, size := aws.ToString(o.Key), aws.ToInt64(o.Size)
			if strings.HasSuffix(key, "/") && size == 0 {
				continue // a "folder" the console made: no content
			}
			if r, skip := s.skipS3(t, key, size, aws.ToTime(o.LastModified)); skip {
				s.skip(t.URL(key), false, r)
				continue
			}
			select {
			case jobs <- s3Object{key: key, size: size}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// skipS3 says whether an object listed is skipped, and why.
func (s *Sources) skipS3(t S3Target, key string, size int64, modified time.Time) (SkipReason, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(key, t.Prefix), "/")
	if rel == "" {
		rel = path.Base(key)
	}
	archive := archiveKind(key) != "" || compressedKind(key) != ""
	switch ex, _ := s.Excluded(rel); {
	case !t.Since.IsZero() && !modified.IsZero() && modified.Before(t.Since):
		return SkipOlder, true
	case ex:
		return SkipExcluded, true
	case skipExt[strings.ToLower(path.Ext(key))]:
		return SkipExtension, true
	case archive && !s.Archives:
		return SkipArchive, true
	case archiveKind(key) == "zip" && size > maxS3Zip, !archive && size > s.MaxFileSize:
		return SkipTooLarge, true
	}
	return 0, false
}

// scanS3Object fetches one object and scans it as its kind asks.
func (s *Sources) scanS3Object(ctx context.Context, t S3Target, j s3Object, emit Sink) error {
	out, err := t.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(t.Bucket), Key: aws.String(j.key)})
	if err != nil {
		return err
	}
	body := out.Body
	defer body.Close()
	name := t.URL(j.key)
	o := Origin{Path: name}
	switch kind := archiveKind(j.key); {
	case kind == "zip":
		data, err := io.ReadAll(io.LimitReader(body, maxS3Zip+1))
		if err != nil {
			return err
		}
		if len(data) > maxS3Zip {
			s.skip(name, false, SkipTooLarge)
			return nil
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return err
		}
		return archiveErr(name, s.scanZipOrigin(ctx, o, zr, 1, s.newBudget(), emit))
	case kind != "":
		return archiveErr(name, s.scanTarOrigin(ctx, o, body, kind == "tgz", 1, s.newBudget(), emit))
	case compressedKind(j.key) != "":
		return archiveErr(name, s.scanCompressed(ctx, o, compressedKind(j.key), body, 1, s.newBudget(), emit))
	case j.size > s.wholeFileMax:
		return s.scanFileStream(ctx, fileJob{path: name}, body, emit)
	}
	data, err := io.ReadAll(io.LimitReader(body, s.MaxFileSize+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > s.MaxFileSize {
		// It grew since it was listed.
		s.skip(name, false, SkipTooLarge)
		return nil
	}
	s.scanItem(o, data, false, emit)
	return nil
}
