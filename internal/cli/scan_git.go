package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/gitsource"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/secretscan"
	"github.com/spf13/cobra"
)

// scanGitOptions are the flags that only the git sources (--git, --staged,
// --pre-push) read. They are kept apart from scanOptions so that a new git
// flag touches this file only: scan's command adds them with
// addScanGitFlags.
type scanGitOptions struct {
	// AllowMissingObjects scans what the repository holds when the
	// history names blobs it lacks (a partial clone), and lists those.
	AllowMissingObjects bool
	// Unreachable also scans what no ref reaches (--git without a range).
	Unreachable bool
}

func addScanGitFlags(cmd *cobra.Command, g *scanGitOptions) {
	cmd.Flags().BoolVar(&g.AllowMissingObjects, "allow-missing-objects", false,
		"scan what a partial clone holds: blobs missing from the repository are counted and listed on stderr instead of failing the scan")
	cmd.Flags().BoolVar(&g.Unreachable, "unreachable", false,
		"with --git: also scan what no ref reaches (commits only a reflog holds or none, dangling trees and blobs), until git gc removes it")
}

// scanGit scans git blobs: the whole history (--git [REV-RANGE]), the
// index (--staged) or a push (--pre-push, reading the hook's stdin). Each
// distinct blob is read once; the collector keeps, for each secret and
// path, the commit that introduced it first.
func scanGit(ctx context.Context, opts *scanOptions, src *secretscan.Sources, col *scanCollector) error {
	_, err := scanGitWith(ctx, opts, opts.GitOptions, src, col)
	return err
}

// scanGitResult is what a git scan reports besides its findings.
type scanGitResult struct {
	// Missing are the blobs the repository lacks, skipped with
	// --allow-missing-objects, by path.
	Missing []gitsource.Blob
}

// scanMissingListed is how many missing blobs stderr names one by one.
const scanMissingListed = 20

func scanGitWith(ctx context.Context, opts *scanOptions, gitOpts scanGitOptions, src *secretscan.Sources, col *scanCollector) (scanGitResult, error) {
	var res scanGitResult
	var mu sync.Mutex
	gopt := gitsource.Options{MaxBlobSize: src.MaxFileSize, Workers: src.Workers, IncludeBinary: src.Archives, Messages: true,
		AllowMissing: gitOpts.AllowMissingObjects,
		Skipped: func(b gitsource.Blob, reason string) {
			src.Stats.Skipped.Add(1)
			if reason == "missing" {
				src.Stats.SkippedBy[secretscan.SkipMissingObject].Add(1)
				mu.Lock()
				res.Missing = append(res.Missing, b)
				mu.Unlock()
			}
		}}
	if _, err := src.Excluded(""); err != nil {
		return res, err
	}
	fn := func(b gitsource.Blob) error {
		if ex, _ := src.Excluded(b.Path); ex {
			src.Stats.Skipped.Add(1)
			src.Stats.SkippedBy[secretscan.SkipExcluded].Add(1)
			return nil
		}
		o := secretscan.Origin{Path: b.Path, Commit: b.Commit, Author: b.Author}
		if !b.Date.IsZero() {
			o.Date = b.Date.UTC().Format(time.RFC3339)
		}
		return src.ScanBytes(ctx, o, b.Data, col.add)
	}
	var err error
	if gitOpts.Unreachable && len(opts.Paths) > 0 {
		// A range names commits; the hooks scan what they are given.
		return res, usageErrorf("--unreachable goes with --git and no REV-RANGE (use --repo for another repository)")
	}
	gopt.Unreachable = gitOpts.Unreachable
	switch {
	case opts.Staged:
		err = gitsource.StagedWith(ctx, opts.Repo, gopt, fn)
	case opts.PrePush:
		err = gitsource.PrePush(ctx, opts.Repo, opts.IO.In, gopt, fn)
	default:
		repo := opts.Repo
		if len(opts.Paths) == 1 {
			if repo, gopt.RevRange, err = scanGitTarget(ctx, opts.Repo, opts.Paths[0]); err != nil {
				return res, err
			}
		}
		defer leaveCoreForGit(opts.Getenv)()
		err = gitsource.History(ctx, repo, gopt, fn)
	}
	if me := (*gitsource.MissingObjectError)(nil); errors.As(err, &me) {
		return res, fmt.Errorf("%w: the clone is partial or damaged (git fsck says more); --allow-missing-objects scans the rest and lists what is missing", err)
	}
	if err != nil {
		return res, err
	}
	sort.Slice(res.Missing, func(i, j int) bool {
		a, b := res.Missing[i], res.Missing[j]
		return a.Path < b.Path || a.Path == b.Path && a.Commit < b.Commit
	})
	scanWriteMissing(opts.IO.ErrOut, res.Missing)
	return res, nil
}

// scanGitTarget reads --git's argument: a revision range of the
// repository in repo, or else (as other scanners take it) a repository.
// It returns the repository to scan and the range ("" for every ref).
func scanGitTarget(ctx context.Context, repo, arg string) (string, string, error) {
	repoOK := gitsource.IsRepository(ctx, repo)
	if repoOK {
		rev, err := gitsource.IsRevision(ctx, repo, arg)
		if err != nil {
			return "", "", UsageError(err)
		}
		if rev {
			return repo, arg, nil
		}
	}
	if gitsource.IsRepository(ctx, arg) {
		if repo != "." {
			return "", "", usageErrorf("%s is a git repository, not a revision of the repository given with --repo %s: name one repository, with --repo",
				report.Printable(arg), report.Printable(repo))
		}
		return arg, "", nil
	}
	if !repoOK {
		return "", "", usageErrorf("%s is not a git repository, and %s is not one to read a revision range from: did you mean --repo %s?",
			report.Printable(arg), report.Printable(repo), report.Printable(arg))
	}
	return "", "", usageErrorf("%s is neither a revision of the repository in %s nor a git repository: did you mean --repo %s?",
		report.Printable(arg), report.Printable(repo), report.Printable(arg))
}

// scanWriteMissing tells on stderr which blobs --allow-missing-objects
// let the scan pass over: a count, then the first of them by path.
func scanWriteMissing(w io.Writer, missing []gitsource.Blob) {
	if len(missing) == 0 {
		return
	}
	noun := "blobs"
	if len(missing) == 1 {
		noun = "blob"
	}
	fmt.Fprintf(w, "keywarden: warning: %d %s missing from the repository not scanned (--allow-missing-objects):\n", len(missing), noun)
	for _, b := range missing[:min(len(missing), scanMissingListed)] {
		if b.Commit != "" {
			fmt.Fprintf(w, "  %s (commit %s, blob %s)\n", report.Printable(b.Path), scanShort(b.Commit), b.OID)
		} else {
			fmt.Fprintf(w, "  %s (blob %s)\n", report.Printable(b.Path), b.OID)
		}
	}
	if n := len(missing) - scanMissingListed; n > 0 {
		fmt.Fprintf(w, "  and %d more\n", n)
	}
}

// leaveCoreForGit lowers GOMAXPROCS by one for a history scan and returns
// the function that restores it. git log and cat-file keep about one core
// busy between them; our threads competing for it cost more than they
// scan (bench/scan.sh's history on 2 cores: best of 4, 1.09 s with one
// thread against 1.25 s with two, and less CPU). A GOMAXPROCS the user
// set is left alone.
func leaveCoreForGit(getenv func(string) string) func() {
	n := runtime.GOMAXPROCS(0)
	if n < 2 || getenv != nil && getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	runtime.GOMAXPROCS(n - 1)
	return func() { runtime.GOMAXPROCS(n) }
}
