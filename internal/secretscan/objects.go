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
)

// Object stores as a source: the classic leak is a credentials file, an
// env file or a backup in an S3 bucket. Objects are listed page by page
// and streamed, nothing written to disk; they go through the same readers
// as files (UTF-16, binary, --archives: archives, compressed objects,
// printable strings) and the same limits. The store itself (S3's API) is
// internal/s3objects: this package reads what it is handed and does no
// AWS I/O.

// ObjectStore lists and opens the objects of one bucket.
type ObjectStore interface {
	// List calls fn for each object whose key starts with prefix, in the
	// store's order, until fn returns an error, which List returns.
	List(ctx context.Context, prefix string, fn func(StoredObject) error) error
	// Open streams one object's content.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// URL names an object in findings and messages (s3://bucket/key).
	URL(key string) string
}

// StoredObject is one object as listed.
type StoredObject struct {
	Key      string
	Size     int64
	Modified time.Time // zero: unknown
}

// ObjectTarget is the part of a store to scan.
type ObjectTarget struct {
	Store  ObjectStore
	Prefix string
	// Since skips objects last modified before it (zero: none).
	Since time.Time
}

// maxObjectZip bounds a zip object, which is read whole (a zip is read from
// its end); tar, gzip and the other compressed objects are streamed.
const maxObjectZip = 256 << 20

// ScanObjects scans the objects under t.Prefix. What it skips (older than
// Since, excluded, a binary type, too large, an archive without Archives)
// is counted in Stats by reason; an object that cannot be read is told to
// Warn and the scan goes on; a listing that fails ends the scan with its
// error (what was not listed was not scanned).
func (s *Sources) ScanObjects(ctx context.Context, t ObjectTarget, sink Sink) error {
	emit, err := s.start(sink)
	if err != nil {
		return err
	}
	jobs := make(chan StoredObject, 64)
	var wg sync.WaitGroup
	for w := 0; w < s.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := s.scanObject(ctx, t, j, emit); err != nil {
					s.warn(fmt.Errorf("%s: %w", t.Store.URL(j.Key), err))
				}
			}
		}()
	}
	err = s.listObjects(ctx, t, jobs)
	close(jobs)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("listing %s: %w", t.Store.URL(t.Prefix), err)
	}
	return ctx.Err()
}

// listObjects sends the objects to scan to jobs and counts the ones it
// skips.
func (s *Sources) listObjects(ctx context.Context, t ObjectTarget, jobs chan<- StoredObject) error {
	return t.Store.List(ctx, t.Prefix, func(o StoredObject) error {
		if r, skip := s.skipObject(t, o); skip {
			s.skip(t.Store.URL(o.Key), false, r)
			return nil
		}
		select {
		case jobs <- o:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// skipObject says whether an object listed is skipped, and why.
func (s *Sources) skipObject(t ObjectTarget, o StoredObject) (SkipReason, bool) {
	key, size, modified := o.Key, o.Size, o.Modified
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
	case archiveKind(key) == "zip" && size > maxObjectZip, !archive && size > s.MaxFileSize:
		return SkipTooLarge, true
	}
	return 0, false
}

// scanObject fetches one object and scans it as its kind asks.
func (s *Sources) scanObject(ctx context.Context, t ObjectTarget, j StoredObject, emit Sink) error {
	body, err := t.Store.Open(ctx, j.Key)
	if err != nil {
		return err
	}
	defer body.Close()
	name := t.Store.URL(j.Key)
	o := Origin{Path: name}
	switch kind := archiveKind(j.Key); {
	case kind == "zip":
		data, err := io.ReadAll(io.LimitReader(body, maxObjectZip+1))
		if err != nil {
			return err
		}
		if len(data) > maxObjectZip {
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
	case compressedKind(j.Key) != "":
		return archiveErr(name, s.scanCompressed(ctx, o, compressedKind(j.Key), body, 1, s.newBudget(), emit))
	case j.Size > s.wholeFileMax:
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
