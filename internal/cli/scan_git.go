package cli

import (
	"context"
	"time"

	"github.com/keywarden/keywarden/internal/gitsource"
	"github.com/keywarden/keywarden/internal/secretscan"
)

// scanGit scans git blobs: the whole history (--git [REV-RANGE]), the
// index (--staged) or a push (--pre-push, reading the hook's stdin). Each
// distinct blob is read once; the collector keeps, for each secret and
// path, the commit that introduced it first.
func scanGit(ctx context.Context, opts *scanOptions, src *secretscan.Sources, col *scanCollector) error {
	gopt := gitsource.Options{MaxBlobSize: src.MaxFileSize, Workers: src.Workers, IncludeBinary: src.Archives,
		Skipped: func(gitsource.Blob, string) { src.Stats.Skipped.Add(1) }}
	if _, err := src.Excluded(""); err != nil {
		return err
	}
	fn := func(b gitsource.Blob) error {
		if ex, _ := src.Excluded(b.Path); ex {
			src.Stats.Skipped.Add(1)
			return nil
		}
		o := secretscan.Origin{Path: b.Path, Commit: b.Commit, Author: b.Author}
		if !b.Date.IsZero() {
			o.Date = b.Date.UTC().Format(time.RFC3339)
		}
		return src.ScanBytes(ctx, o, b.Data, col.add)
	}
	switch {
	case opts.Staged:
		return gitsource.StagedWith(ctx, opts.Repo, gopt, fn)
	case opts.PrePush:
		return gitsource.PrePush(ctx, opts.Repo, opts.IO.In, gopt, fn)
	default:
		if len(opts.Paths) == 1 {
			gopt.RevRange = opts.Paths[0]
		}
		return gitsource.History(ctx, opts.Repo, gopt, fn)
	}
}
