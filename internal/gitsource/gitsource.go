// Package gitsource enumerates what a secret scanner must read in a git
// repository: every distinct blob of its history, the blobs staged for the
// next commit, and the blobs introduced by the commits of a push.
//
// It is built for speed on large histories. Reading `git log -p` would make
// git compute a content diff for every commit and show each line of a file
// as many times as it survives in a diff; instead gitsource asks git only
// for tree diffs (`git log --raw`, cheap: no blob is read), keeps the first
// commit and path at which each blob ID appears, and streams the content of
// each distinct blob exactly once through long-lived `git cat-file`
// processes, while the caller's workers scan blobs already read. Blobs too
// large or binary (a NUL byte in their first 8000 bytes, git's own test) are
// skipped before any scanning.
//
// The repository is treated as hostile: git runs with replace refs
// disabled (GIT_NO_REPLACE_OBJECTS=1, so a replace ref cannot hide a blob),
// with its configuration overridden wherever it could run a program
// (pager, fsmonitor, signature checks, external diff, textconv), and its
// output is read in the -z formats so that any byte may appear in a path.
package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Blob is one blob to scan.
type Blob struct {
	OID string
	// Path, Commit, Author and Date say where the blob first appeared: the
	// earliest commit (in date order, parents first) that introduced it, and
	// its path there. Staged blobs have only a Path.
	Path   string
	Commit string
	Author string // "Name <email>"
	Date   time.Time
	// Data is the blob's content. It is valid only during the callback:
	// the buffer is reused afterwards.
	Data []byte
	// Message marks a commit's message (OID is the commit's, Path is
	// CommitMessagePath) or an annotated tag's (OID is the tag object's,
	// Path is "refs/tags/NAME (tag message)"), with Options.Messages.
	Message bool
}

// CommitMessagePath is the Path of a commit message's Blob.
const CommitMessagePath = "(commit message)"

// Options tune a history scan.
type Options struct {
	// RevRange selects the commits: "" means every ref (like --all);
	// otherwise revision arguments as git log takes them, separated by
	// spaces ("main..feature", "v1.2.0..", "HEAD~20..HEAD", "A B --not C").
	// Of the options, only --all, --branches, --tags, --remotes, --glob,
	// --exclude and --not are accepted.
	RevRange string
	// MaxBlobSize skips blobs larger than this many bytes. 0 means
	// DefaultMaxBlobSize; a negative value means no limit.
	MaxBlobSize int64
	// Workers is how many calls of fn may run at once; 0 means one per CPU.
	Workers int

	// Unreachable also scans what no ref reaches (git fsck --no-reflogs):
	// commits only a reflog or nothing at all holds, with their history,
	// and dangling trees and blobs. Only without RevRange.
	Unreachable bool
	// Messages scans the messages of commits and annotated tags too: a
	// key pasted into a commit message is in history like a file.
	Messages bool
	// IncludeBinary passes binary blobs (a NUL byte in the first 8000
	// bytes) to fn as well, for callers that look inside archives.
	IncludeBinary bool
	// AllowMissing scans what is there when the history names blobs the
	// repository does not hold (a partial clone): each is counted in
	// Stats.Missing and told to Skipped as "missing". Without it the first
	// missing blob stops the scan with a *MissingObjectError.
	AllowMissing bool
	// Skipped, when set, is told about every distinct blob not passed to fn
	// and why ("too large", "binary", "missing"). It may be called
	// concurrently.
	Skipped func(b Blob, reason string)
}

// MissingObjectError is a blob the history names but the repository does
// not hold: a partial or shallow clone, or a damaged repository. A secret
// scanner must not pass it over in silence.
type MissingObjectError struct {
	OID    string
	Path   string // where the blob first appeared
	Commit string // the commit that introduced it ("" for staged blobs and tags)
}

func (e *MissingObjectError) Error() string {
	if e.Commit == "" {
		return fmt.Sprintf("blob %s of %q is missing from the repository", e.OID, e.Path)
	}
	return fmt.Sprintf("blob %s of %q in commit %s is missing from the repository", e.OID, e.Path, e.Commit)
}

// DefaultMaxBlobSize is the size limit used when Options.MaxBlobSize is 0.
const DefaultMaxBlobSize = 10 << 20

// Stats counts what a scan did, for progress lines and reports.
type Stats struct {
	Commits int64 // commits read from the log
	Blobs   int64 // distinct blobs passed to fn
	Bytes   int64 // their total size
	Skipped int64 // distinct blobs skipped (too large, binary, missing)
	Missing int64 // of those, blobs missing from the repository (with AllowMissing)
}

// History calls fn once for each distinct blob reachable in the range,
// attributed to the commit that introduced it (the earliest), including
// files deleted later and branches never merged. Commits are read in date
// order, parents first; merges are read as combined diffs, so a blob that
// only a merge introduced (a conflict resolution) is found too. Without a
// range, blobs and trees that tags point at directly are scanned as well
// (their Path is the ref name, Commit is empty). fn may be called
// concurrently. The first error from fn stops the scan and is returned.
func History(ctx context.Context, repoDir string, opt Options, fn func(Blob) error) error {
	_, err := HistoryStats(ctx, repoDir, opt, fn)
	return err
}

// HistoryStats is History, also returning what it counted.
func HistoryStats(ctx context.Context, repoDir string, opt Options, fn func(Blob) error) (Stats, error) {
	revs, err := revArgs(opt.RevRange)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	all := strings.TrimSpace(opt.RevRange) == ""
	var unr unreachable
	if opt.Unreachable && all {
		if unr, err = findUnreachable(ctx, repoDir); err != nil {
			return st, err
		}
	}
	produce := func(ctx context.Context, emit func(job) error) error {
		args := []string{"log", "--raw", "-z", "-c", "--root", "--no-renames", "--no-abbrev",
			"--no-ext-diff", "--no-textconv", "--no-color", "--no-show-signature", "--no-mailmap",
			"--encoding=UTF-8", "--date-order", "--reverse", logFormat}
		args = append(args, revs...)
		if len(unr.commits) > 0 {
			// The unreachable commits join --all, read from stdin (there
			// may be more than a command line holds).
			args = append(args, "--stdin")
		}
		args = append(args, "--")
		cmd := command(ctx, repoDir, append([]string{"-c", logDeltaCache}, args...)...)
		if len(unr.commits) > 0 {
			cmd.Stdin = strings.NewReader(strings.Join(unr.commits, "\n") + "\n")
		}
		stderr := &limitedBuffer{}
		cmd.Stderr = stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		growPipe(stdout, logReadBuffer)
		if err := cmd.Start(); err != nil {
			return gitError(args, err, "")
		}
		// Each blob is scanned once: the first time its ID appears. The log
		// runs oldest first, so that is the commit that introduced it.
		seen := make(map[string]struct{}, 1<<14)
		var last *commitInfo
		perr := parseLogWith(stdout, opt.Messages, func(c change) error {
			if c.commit != last {
				last = c.commit
				atomic.AddInt64(&st.Commits, 1)
			}
			if c.message {
				return emit(job{oid: c.commit.oid, path: CommitMessagePath, commit: c.commit, message: true})
			}
			key := oidKey(c.oid)
			if _, dup := seen[key]; dup {
				return nil
			}
			seen[key] = struct{}{}
			return emit(job{oid: string(c.oid), path: string(c.path), commit: c.commit})
		})
		if perr != nil {
			// Stop git before reporting: it may be blocked writing to us.
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return perr
		}
		if err := cmd.Wait(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return gitError(args, err, stderr.String())
		}
		if !all {
			return nil
		}
		once := func(j job) error {
			key := oidKey([]byte(j.oid))
			if _, dup := seen[key]; dup {
				return nil
			}
			seen[key] = struct{}{}
			return emit(j)
		}
		// Every ref: also the blobs and trees that tags point at directly.
		if err := refBlobs(ctx, repoDir, opt.Messages, once); err != nil {
			return err
		}
		for _, t := range unr.trees {
			if err := treeBlobs(ctx, repoDir, t, fmt.Sprintf(UnreachableTreePath, t), once); err != nil {
				return err
			}
		}
		for _, b := range unr.blobs {
			if err := once(job{oid: b, path: UnreachableBlobPath}); err != nil {
				return err
			}
		}
		return nil
	}
	err = run(ctx, repoDir, opt, pipeline{partial: true, readBuffer: historyReadBuffer}, produce, fn, &st)
	return st, err
}

// logDeltaCache bounds git log's cache of delta bases. Its tree diffs
// read every tree twice, mostly deltas; with git's default (96 MB) the
// cache grows to that size, and first touching that much memory cost
// more than it saved: on the bench history git log took 0.70-0.81 s of
// CPU and 27,000 page faults with the default, 0.41-0.53 s and 4,700-6,600
// with 8-16 MB (perf stat, 3 runs each).
const logDeltaCache = "core.deltaBaseCacheLimit=16m"

// logReadBuffer is the size of the pipe git log writes into, where the
// system allows: fewer wake-ups of the parser, and git is not held up
// while the parser waits for cat-file.
const logReadBuffer = 1 << 20

// oidKey turns a hex object ID into a map key half its size.
func oidKey(hex []byte) string {
	if len(hex)%2 != 0 {
		return string(hex)
	}
	b := make([]byte, len(hex)/2)
	for i := range b {
		hi, ok1 := unhex(hex[2*i])
		lo, ok2 := unhex(hex[2*i+1])
		if !ok1 || !ok2 {
			return string(hex)
		}
		b[i] = hi<<4 | lo
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// revArgs splits a revision range into git log arguments, refusing any
// option other than the ref selectors: a range comes from a user or a
// hook's input and must not smuggle in --output=FILE or the like.
func revArgs(rng string) ([]string, error) {
	f := strings.Fields(rng)
	if len(f) == 0 {
		return []string{"--all"}, nil
	}
	for _, a := range f {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--all", "--branches", "--tags", "--remotes", "--glob", "--exclude", "--not":
			continue
		}
		return nil, fmt.Errorf("revision range: option %q is not allowed (only --all, --branches, --tags, --remotes, --glob, --exclude, --not)", a)
	}
	return f, nil
}

// pipeline says how run reads blobs for one kind of scan.
type pipeline struct {
	// partial: the repository may be a partial clone, whose absent blobs
	// must be kept from cat-file. History and PrePush ask git (one more
	// process, a few milliseconds of a history scan); Staged does not,
	// since `git add` wrote every staged blob into the repository itself.
	partial bool
	// readBuffer is the size of the buffer (and, where the system allows,
	// the pipe) git cat-file's answers are read through: large for a
	// history, where fewer reads mean fewer times git and the reader wait
	// on each other; small for the few blobs of a commit, where clearing
	// a megabyte costs more than it saves.
	readBuffer int
	// loose, when set, reads a blob without git when it can (Staged: the
	// blobs `git add` just wrote are loose objects). ok false sends the
	// blob to cat-file.
	loose func(j job, limit int64) (data []byte, size int64, ok bool)
}

// run is the pipeline shared by History, Staged and PrePush:
//
//	produce -> (loose objects, or one git cat-file --batch) -> workers -> fn
//
// Every stage runs concurrently, so git's tree walk, git's inflating of
// blobs and our scanning use all the cores there are. One cat-file
// process reads every blob: blobs are deltas of one another, and a
// second process splitting them round-robin rebuilt the same delta
// chains again (its CPU time doubled git's). The size that
// `cat-file --batch` gives before each blob decides whether it is kept,
// so no separate --batch-check pass runs: a blob over the limit is read
// and dropped as it streams, never held in memory. cat-file starts with
// the first blob it has to read: not at all when there is none.
func run(ctx context.Context, dir string, opt Options, pl pipeline, produce func(context.Context, func(job) error) error, fn func(Blob) error, st *Stats) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := &group{cancel: cancel}

	limit := opt.MaxBlobSize
	if limit == 0 {
		limit = DefaultMaxBlobSize
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	skipped := func(j job, reason string) {
		atomic.AddInt64(&st.Skipped, 1)
		if opt.Skipped != nil {
			opt.Skipped(j.blob(nil), reason)
		}
	}
	missing := func(j job) error {
		if !opt.AllowMissing {
			b := j.blob(nil)
			return &MissingObjectError{OID: b.OID, Path: b.Path, Commit: b.Commit}
		}
		atomic.AddInt64(&st.Missing, 1)
		skipped(j, "missing")
		return nil
	}

	// In a partial clone an absent blob must not reach cat-file, which
	// would die trying to fetch it.
	var present map[string]struct{}
	if pl.partial && isPartialClone(ctx, dir) {
		var err error
		if present, err = localBlobs(ctx, dir); err != nil {
			return err
		}
	}

	bufs := newBufferPool(2*workers + 2)
	blobs := make(chan content, 2*workers)
	// deliver hands a blob read whole to the workers, or skips it.
	deliver := func(j job, typ string, buf []byte, size int64) error {
		data := buf[:size]
		if j.message && typ != "blob" {
			data = messageOf(data)
		} else if !opt.IncludeBinary && isBinary(data) {
			bufs.put(buf)
			skipped(j, "binary")
			return nil
		}
		select {
		case blobs <- content{job: j, buf: data}:
			return nil
		case <-ctx.Done():
			bufs.put(buf)
			return ctx.Err()
		}
	}
	var sendersWG sync.WaitGroup
	sendersWG.Add(2)
	go func() {
		sendersWG.Wait()
		close(blobs)
	}()

	toFetch := make(chan job, 1024)
	g.go_(func() error {
		defer sendersWG.Done()
		defer close(toFetch)
		return produce(ctx, func(j job) error {
			// Commits and tags are never left out of a partial clone: only
			// blobs are listed as present.
			if present != nil && !j.message {
				if _, ok := present[oidKey([]byte(j.oid))]; !ok {
					return missing(j)
				}
			}
			if pl.loose != nil && !j.message {
				if data, size, ok := pl.loose(j, limit); ok {
					if data == nil {
						skipped(j, "too large")
						return nil
					}
					return deliver(j, "blob", data, size)
				}
			}
			select {
			case toFetch <- j:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})

	var fetch *catFile
	var fetchMu sync.Mutex
	defer func() {
		fetchMu.Lock()
		defer fetchMu.Unlock()
		if fetch == nil {
			return
		}
		_ = fetch.stdin.Close()
		if fetch.cmd.ProcessState == nil {
			_ = fetch.cmd.Process.Kill()
			_ = fetch.cmd.Wait()
		}
		fetch.closeStdout()
	}()
	g.go_(func() error {
		first, ok := <-toFetch
		if !ok {
			sendersWG.Done()
			return nil
		}
		fetchMu.Lock()
		var err error
		fetch, err = startCatFile(ctx, dir, pl.readBuffer)
		f := fetch
		fetchMu.Unlock()
		if err != nil {
			sendersWG.Done()
			return err
		}
		// The reader is a goroutine of the group like every stage, so
		// that its error cancels the writer at once (and kills git): the
		// writer may be waiting for room in a FIFO nobody reads any more.
		g.go_(func() error {
			defer sendersWG.Done()
			if err := f.contents(ctx, limit, bufs, deliver, skipped, missing); err != nil {
				return err
			}
			return f.wait(ctx)
		})
		return f.feed(ctx, first, toFetch)
	})

	for range workers {
		g.go_(func() error {
			for c := range blobs {
				atomic.AddInt64(&st.Blobs, 1)
				atomic.AddInt64(&st.Bytes, int64(len(c.buf)))
				err := fn(c.blob(c.buf))
				bufs.put(c.buf)
				if err != nil {
					// Drain so the readers are not left blocked.
					go func() {
						for c := range blobs {
							bufs.put(c.buf)
						}
					}()
					return err
				}
			}
			return nil
		})
	}
	return g.wait()
}

// isBinary is git's test: a NUL byte in the first 8000 bytes, except in
// UTF-16 text with its byte order mark (a PowerShell script, a .reg
// export), which the scanner decodes.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 && !hasUTF16BOM(data)
}

func (j job) blob(data []byte) Blob {
	b := Blob{OID: j.oid, Path: j.path, Data: data, Message: j.message}
	if j.commit != nil {
		b.Commit, b.Author, b.Date = j.commit.oid, j.commit.author, j.commit.date
	}
	return b
}

// group runs goroutines and keeps the error that stopped them: the first
// one, except that a cancellation gives way to any real error. Once one
// goroutine fails, cancel makes the others return the context's error,
// which says nothing of the cause and must never be what the user sees
// while the cause is known.
type group struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
}

func (g *group) go_(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.fail(err)
		}
	}()
}

func (g *group) fail(err error) {
	g.mu.Lock()
	if g.err == nil || isCancellation(g.err) && !isCancellation(err) {
		g.err = err
	}
	g.mu.Unlock()
	if g.cancel != nil {
		g.cancel()
	}
}

func isCancellation(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (g *group) wait() error {
	g.wg.Wait()
	return g.err
}
