package secretscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// Sink receives the matches of one scanned item. The sources call it from
// one goroutine at a time, for items with at least one match.
type Sink func(o Origin, ms []Match)

// Stats counts a scan's work, for the progress line and the summary. The
// counters are updated atomically while the scan runs.
type Stats struct {
	Files   atomic.Int64 // files, archive entries, stdin or blobs scanned
	Bytes   atomic.Int64
	Skipped atomic.Int64 // binary, too large, excluded or ignored
}

// DefaultMaxFileSize is the --max-file-size default.
const DefaultMaxFileSize = 10 << 20

// Sources reads the places credentials leak through and runs the detector
// over them.
type Sources struct {
	Detector *Detector
	// MaxFileSize skips files (and archive entries) larger than this.
	MaxFileSize int64
	// Exclude holds globs with .gitignore meaning (see docs/scan.md),
	// matched against paths relative to each root.
	Exclude []string
	// Gitignore follows .gitignore files found under each root.
	Gitignore bool
	// Archives looks inside .zip, .jar, .tar, .tar.gz and .tgz files.
	Archives bool
	// MaxArchiveBytes overrides MaxArchiveBytes (tests use a small one).
	MaxArchiveBytes int64
	// Workers is the number of files read at once (default: one per CPU).
	Workers int
	Stats   *Stats
	// Warn is told about inputs that could not be read; the scan goes on.
	// It is called from one goroutine at a time.
	Warn func(error)

	mu sync.Mutex // serialises Warn and the sink in ScanPaths

	excludeOnce sync.Once
	excludes    []pathPattern
	excludeErr  error

	// defaultsOnce applies the defaults once: ScanBytes is called from
	// several git workers at the same time.
	defaultsOnce sync.Once
}

// warn reports an unreadable input through Warn, one at a time.
func (s *Sources) warn(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Warn(err)
}

func (s *Sources) defaults() { s.defaultsOnce.Do(s.setDefaults) }

func (s *Sources) setDefaults() {
	if s.MaxFileSize <= 0 {
		s.MaxFileSize = DefaultMaxFileSize
	}
	if s.Workers <= 0 {
		s.Workers = runtime.GOMAXPROCS(0)
	}
	if s.Stats == nil {
		s.Stats = &Stats{}
	}
	if s.Warn == nil {
		s.Warn = func(error) {}
	}
}

// skipExt lists extensions of files that cannot hold text worth scanning;
// they are skipped without being opened.
var skipExt = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true, ".webp": true, ".bmp": true,
	".pdf": true, ".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true,
	".mp3": true, ".mp4": true, ".mov": true, ".avi": true, ".wav": true, ".flac": true, ".ogg": true,
	".so": true, ".dylib": true, ".dll": true, ".exe": true, ".o": true, ".a": true, ".obj": true,
	".class": true, ".pyc": true, ".wasm": true, ".bz2": true, ".xz": true, ".zst": true, ".7z": true,
	".rar": true, ".lz4": true, ".syso": true,
}

// archiveKind names the archive format of a file name, or "".
func archiveKind(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".zip"), strings.HasSuffix(l, ".jar"), strings.HasSuffix(l, ".war"), strings.HasSuffix(l, ".ear"):
		return "zip"
	case strings.HasSuffix(l, ".tar.gz"), strings.HasSuffix(l, ".tgz"):
		return "tgz"
	case strings.HasSuffix(l, ".tar"):
		return "tar"
	}
	return ""
}

// isBinary applies git's test: a NUL byte in the first 8000 bytes.
func isBinary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

// ScanPaths scans files and directories. Directories are walked (without
// following symbolic links) skipping .git, and, with Gitignore, what
// .gitignore files exclude. Files are read by Workers goroutines.
func (s *Sources) ScanPaths(ctx context.Context, paths []string, sink Sink) error {
	s.defaults()
	if err := s.compileExcludes(); err != nil {
		return err
	}
	excluded := s.excluded

	emit := func(o Origin, ms []Match) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sink(o, ms)
	}
	warn := s.warn

	jobs := make(chan string, 256)
	var wg sync.WaitGroup
	for w := 0; w < s.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for p := range jobs {
				if ctx.Err() != nil {
					continue
				}
				buf = s.scanFile(ctx, p, buf, emit, warn)
			}
		}()
	}

	var walkErr error
	for _, root := range paths {
		if ctx.Err() != nil {
			break
		}
		st, err := os.Stat(root)
		if err != nil {
			warn(err)
			continue
		}
		if !st.IsDir() {
			jobs <- root
			continue
		}
		dirs := map[string]*ignoreDir{}
		walkRoot := root
		if lst, err := os.Lstat(root); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
			// A symbolic link named on the command line is followed (links
			// met during the walk are not): a trailing separator makes
			// WalkDir read the directory it points to.
			walkRoot = root + string(filepath.Separator)
		}
		err = filepath.WalkDir(walkRoot, func(p string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				warn(err)
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			parent := dirs[filepath.Dir(p)]
			if d.IsDir() {
				if p != walkRoot {
					if d.Name() == ".git" || excluded(rel, true) || parent != nil && parent.ignored(rel, true) {
						s.Stats.Skipped.Add(1)
						return fs.SkipDir
					}
				}
				node := parent
				if s.Gitignore {
					if data, err := os.ReadFile(filepath.Join(p, ".gitignore")); err == nil {
						r := ""
						if p != walkRoot {
							r = rel
						}
						node = &ignoreDir{parent: parent, rel: r, rules: parseIgnoreFile(data)}
					}
				}
				if node == nil {
					node = &ignoreDir{}
				}
				dirs[filepath.Clean(p)] = node
				return nil
			}
			if !d.Type().IsRegular() {
				return nil // symbolic links, devices, sockets
			}
			if excluded(rel, false) || parent != nil && parent.ignored(rel, false) {
				s.Stats.Skipped.Add(1)
				return nil
			}
			if skipExt[strings.ToLower(filepath.Ext(p))] {
				s.Stats.Skipped.Add(1)
				return nil
			}
			select {
			case jobs <- p:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			walkErr = err
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return walkErr
}

// scanFile reads one file into buf (reused between files) and scans it.
func (s *Sources) scanFile(ctx context.Context, p string, buf []byte, emit Sink, warn func(error)) []byte {
	if s.Archives && archiveKind(p) != "" {
		if err := s.scanArchiveFile(ctx, p, emit); err != nil {
			warn(err)
		}
		return buf
	}
	f, err := os.Open(p)
	if err != nil {
		warn(err)
		return buf
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		warn(err)
		return buf
	}
	if st.Size() > s.MaxFileSize {
		s.Stats.Skipped.Add(1)
		return buf
	}
	// Read up to one byte past the stat size to notice a growing file.
	want := int(st.Size()) + 1
	if cap(buf) < want {
		buf = make([]byte, want+want/4)
	}
	n, err := io.ReadFull(f, buf[:want])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		warn(fmt.Errorf("%s: %w", p, err))
		return buf
	}
	data, ok := textOf(buf[:n])
	if int64(n) > s.MaxFileSize || !ok {
		s.Stats.Skipped.Add(1)
		return buf
	}
	s.Stats.Files.Add(1)
	s.Stats.Bytes.Add(int64(n))
	if ms := s.Detector.Find(data); len(ms) > 0 {
		emit(Origin{Path: p}, ms)
	}
	return buf
}

func (s *Sources) compileExcludes() error {
	s.excludeOnce.Do(func() {
		for _, g := range s.Exclude {
			pp, ok := parsePattern(g)
			if !ok {
				s.excludeErr = fmt.Errorf("--exclude %q: not a valid glob", g)
				return
			}
			s.excludes = append(s.excludes, pp)
		}
	})
	return s.excludeErr
}

// excluded applies the --exclude patterns to one path; the last match
// wins, so "!keep" re-includes.
func (s *Sources) excluded(rel string, isDir bool) bool {
	ex := false
	for _, pp := range s.excludes {
		if pp.match(rel, isDir) {
			ex = !pp.negate
		}
	}
	return ex
}

// Excluded reports whether --exclude skips a slash-separated path relative
// to the root (a path in a git tree): the file itself or any directory
// above it.
func (s *Sources) Excluded(rel string) (bool, error) {
	if err := s.compileExcludes(); err != nil {
		return false, err
	}
	if len(s.excludes) == 0 {
		return false, nil
	}
	for i := 0; i < len(rel); i++ {
		if rel[i] == '/' && s.excluded(rel[:i], true) {
			return true, nil
		}
	}
	return s.excluded(rel, false), nil
}

// ScanBytes scans one in-memory item (a git blob), looking inside it when
// it is an archive and Archives is set. It counts it in Stats.
func (s *Sources) ScanBytes(ctx context.Context, o Origin, data []byte, sink Sink) error {
	s.defaults()
	if s.Archives && archiveKind(o.Path) != "" {
		return s.scanArchiveBytes(ctx, o, data, 1, sink)
	}
	s.scanText(o, data, sink)
	return nil
}

// scanText scans one in-memory item that is not an archive: a git blob or
// an archive entry. What is not text is counted as skipped.
func (s *Sources) scanText(o Origin, data []byte, sink Sink) {
	data, ok := textOf(data)
	if !ok {
		s.Stats.Skipped.Add(1)
		return
	}
	s.Stats.Files.Add(1)
	s.Stats.Bytes.Add(int64(len(data)))
	if ms := s.Detector.Find(data); len(ms) > 0 {
		sink(o, ms)
	}
}
