package secretscan

import (
	"bufio"
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

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
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
	// SkippedBy counts the skips of Sources by reason; Skipped also counts
	// those of the git sources, which give none.
	SkippedBy [NumSkipReasons]atomic.Int64
}

// SkipReason says why an input was not scanned.
type SkipReason int

// The reasons an input is skipped.
const (
	SkipBinary        SkipReason = iota // a NUL byte in the first 8000 bytes
	SkipTooLarge                        // over MaxFileSize
	SkipArchive                         // an archive, without Archives
	SkipExtension                       // a binary file type, by its extension
	SkipExcluded                        // matched by Exclude
	SkipIgnored                         // ignored by a .gitignore
	SkipGitDir                          // a .git directory
	SkipSpecial                         // a FIFO, socket or device met in a walk
	SkipSymlink                         // a symbolic link met in a walk
	SkipNested                          // an archive nested too deep
	SkipUnsupported                     // an archive entry that cannot be opened
	SkipTruncated                       // the rest of a stream over MaxFileSize
	SkipMissingObject                   // a git blob the repository lacks (--allow-missing-objects)
	SkipOlder                           // an S3 object last modified before --since
	NumSkipReasons
)

var skipReasonNames = [NumSkipReasons]string{"binary", "too-large", "archive", "extension", "excluded",
	"gitignored", "git-dir", "special", "symlink", "nested-archive", "unsupported-entry", "truncated", "missing-object", "older"}

// String is the reason's name in the JSON summary.
func (r SkipReason) String() string {
	if r < 0 || r >= NumSkipReasons {
		return "unknown"
	}
	return skipReasonNames[r]
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
	// Skip is told about each input named explicitly (a path argument
	// that is not a directory) that is skipped, or scanned only in part
	// (a stream over MaxFileSize). Skips met in walks and archives are
	// only counted, in Stats. It is called from one goroutine at a time.
	Skip func(path string, reason SkipReason)

	// streamWindow and wholeFileMax replace streamWindow and wholeFileMax
	// in tests.
	streamWindow int
	wholeFileMax int64

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
	if s.Skip == nil {
		s.Skip = func(string, SkipReason) {}
	}
	if s.wholeFileMax <= 0 {
		s.wholeFileMax = wholeFileMax
	}
}

// wholeFileMax is the largest file read whole; larger ones (with a raised
// MaxFileSize) are scanned as streams, in bounded memory.
const wholeFileMax = DefaultMaxFileSize

// skip counts a skipped input, and says so when it was named explicitly.
func (s *Sources) skip(path string, explicit bool, r SkipReason) {
	s.Stats.Skipped.Add(1)
	s.Stats.SkippedBy[r].Add(1)
	if explicit {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.Skip(path, r)
	}
}

// skipExt lists extensions of files that cannot hold text worth scanning;
// they are skipped without being opened.
var skipExt = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".ico": true, ".webp": true, ".bmp": true,
	".pdf": true, ".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true,
	".mp3": true, ".mp4": true, ".mov": true, ".avi": true, ".wav": true, ".flac": true, ".ogg": true,
	".so": true, ".dylib": true, ".dll": true, ".exe": true, ".o": true, ".a": true, ".obj": true,
	".class": true, ".pyc": true, ".wasm": true, ".7z": true,
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
	emit, err := s.start(sink)
	if err != nil {
		return err
	}
	warn := s.warn

	// The walk hands files to the workers in batches: one channel send per
	// file woke the walk (and a thread for it) once per file read.
	jobs := make(chan []fileJob, 16)
	var wg sync.WaitGroup
	for w := 0; w < s.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for batch := range jobs {
				for _, j := range batch {
					if ctx.Err() != nil {
						break
					}
					buf = s.scanFile(ctx, j, buf, emit, warn)
				}
			}
		}()
	}
	var batch []fileJob
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case jobs <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = make([]fileJob, 0, walkBatch)
		return nil
	}
	queue := func(j fileJob) error {
		batch = append(batch, j)
		if len(batch) < walkBatch {
			return nil
		}
		return flush()
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
			// Named explicitly: read whatever it is (a named pipe, a
			// device, /dev/stdin), and say so if it is skipped.
			if queue(fileJob{path: root, explicit: true}) != nil {
				break
			}
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
					if r, skip := s.skipInWalk(rel, d.Name(), true, parent); skip {
						s.skip(p, false, r)
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
			// Symbolic links are not followed; FIFOs, sockets and devices
			// are not opened (a FIFO with no writer would block).
			if d.Type()&fs.ModeSymlink != 0 {
				s.skip(p, false, SkipSymlink)
				return nil
			}
			if !d.Type().IsRegular() {
				s.skip(p, false, SkipSpecial)
				return nil
			}
			if r, skip := s.skipInWalk(rel, d.Name(), false, parent); skip {
				s.skip(p, false, r)
				return nil
			}
			return queue(fileJob{path: p})
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			walkErr = err
		}
	}
	_ = flush() // cancelled: ctx.Err() is returned below
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return walkErr
}

// start prepares a scan of many items by workers: the defaults, the
// --exclude patterns, and the sink they call one at a time.
func (s *Sources) start(sink Sink) (Sink, error) {
	s.defaults()
	if err := s.compileExcludes(); err != nil {
		return nil, err
	}
	return func(o Origin, ms []Match) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sink(o, ms)
	}, nil
}

// skipInWalk says whether a walk skips a path, and why: .git, --exclude,
// .gitignore, binary extensions (files only).
func (s *Sources) skipInWalk(rel, name string, isDir bool, parent *ignoreDir) (SkipReason, bool) {
	switch {
	case isDir && name == ".git":
		return SkipGitDir, true
	case s.excluded(rel, isDir):
		return SkipExcluded, true
	case parent != nil && parent.ignored(rel, isDir):
		return SkipIgnored, true
	case !isDir && skipExt[strings.ToLower(filepath.Ext(name))]:
		return SkipExtension, true
	}
	return 0, false
}

// walkBatch is how many files the walk queues for a worker at once.
const walkBatch = 32

// fileJob is a file to scan; explicit when named on the command line.
type fileJob struct {
	path     string
	explicit bool
}

// scanFile reads one file into buf (reused between files) and scans it.
// Files up to wholeFileMax are read whole; larger ones, and what is not a
// regular file (a named pipe, a device), are scanned as streams.
func (s *Sources) scanFile(ctx context.Context, j fileJob, buf []byte, emit Sink, warn func(error)) []byte {
	p := j.path
	if archiveKind(p) != "" || compressedKind(p) != "" {
		if !s.Archives {
			s.skip(p, j.explicit, SkipArchive)
			return buf
		}
		scan := s.scanArchiveFile
		if compressedKind(p) != "" {
			scan = s.scanCompressedFile
		}
		if err := scan(ctx, p, emit); err != nil {
			warn(err)
		}
		return buf
	}
	if !j.explicit {
		return s.scanWalked(ctx, j, buf, emit, warn)
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
		s.skip(p, j.explicit, SkipTooLarge)
		return buf
	}
	if !st.Mode().IsRegular() || st.Size() > s.wholeFileMax {
		if err := s.scanFileStream(ctx, j, f, emit); err != nil {
			warn(fmt.Errorf("%s: %w", p, err))
		}
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
	if int64(n) > s.MaxFileSize {
		s.skip(p, j.explicit, SkipTooLarge)
		return buf
	}
	s.scanItem(Origin{Path: p}, buf[:n], j.explicit, emit)
	return buf
}

// minWalkBuf is the smallest buffer a worker reads walked files into; it
// grows to the largest file read whole. firstRead is how much of a file
// is read before its size is asked.
const (
	minWalkBuf = 64 << 10
	firstRead  = 256 << 10
)

// scanWalked reads a file met in a walk (opened with bare system calls,
// openWalked) and scans it. It does not ask the file's size first: most
// files fit in the buffer kept from the files before, and reading to the
// end says how long they are. Only a file that fills the buffer is stat'ed
// (is it too large, to be streamed, or to be read into a larger buffer?),
// and one that reads as empty or fails (is it still a regular file, or has
// a FIFO or a device replaced it since its directory was read?).
func (s *Sources) scanWalked(ctx context.Context, j fileJob, buf []byte, emit Sink, warn func(error)) []byte {
	p := j.path
	f, err := openWalked(p)
	if err != nil {
		if isSymlinkErr(err) {
			// Replaced by a symbolic link since the walk read its directory.
			s.skip(p, false, SkipSymlink)
			return buf
		}
		warn(err)
		return buf
	}
	defer f.Close()
	if cap(buf) < minWalkBuf {
		buf = make([]byte, minWalkBuf)
	}
	// The first reads stop at firstRead bytes, and at the limits, to stat
	// a large file before reading much of it: it may be too large, or
	// long enough to be streamed.
	limit := s.MaxFileSize + 1
	buf = buf[:min(int64(cap(buf)), firstRead, s.wholeFileMax+1, limit)]
	statted := false
	// special stats f, once, and says whether it is no longer a regular
	// file (counted as such) or cannot be stat'ed (said).
	special := func() (size int64, done bool) {
		statted = true
		size, regular, err := f.stat()
		if err != nil {
			warn(err)
			return 0, true
		}
		if !regular {
			s.skip(p, false, SkipSpecial)
			return 0, true
		}
		return size, false
	}
	n := 0
	for {
		if n == len(buf) {
			if int64(n) > s.MaxFileSize {
				s.skip(p, false, SkipTooLarge)
				return buf
			}
			want := n + 1
			if !statted {
				size, done := special()
				if done {
					return buf
				}
				if size > s.MaxFileSize {
					s.skip(p, false, SkipTooLarge)
					return buf
				}
				if size > s.wholeFileMax {
					// Stream it, from the bytes read already on.
					if err := s.scanFileStream(ctx, j, io.MultiReader(bytes.NewReader(buf[:n]), f), emit); err != nil {
						warn(fmt.Errorf("%s: %w", p, err))
					}
					return buf
				}
				// Up to one byte past the stat size, to notice a growing
				// file.
				want = max(want, int(size)+1)
			}
			if cap(buf) < want {
				grown := make([]byte, want+want/4)
				copy(grown, buf[:n])
				buf = grown
			}
			buf = buf[:min(int64(cap(buf)), limit)]
		}
		r, err := f.Read(buf[n:])
		n += r
		if err == io.EOF {
			break
		}
		if err != nil {
			if !statted {
				if _, done := special(); done {
					return buf
				}
			}
			warn(fmt.Errorf("%s: %w", p, err))
			return buf
		}
	}
	if n == 0 && !statted {
		if _, done := special(); done {
			return buf
		}
	}
	if int64(n) > s.MaxFileSize {
		s.skip(p, false, SkipTooLarge)
		return buf
	}
	s.scanItem(Origin{Path: p}, buf[:n], false, emit)
	return buf
}

// scanItem scans one item held in memory that is not an archive: a file,
// a git blob, an archive entry. UTF-16 is decoded; binary data is skipped,
// or, with Archives, its printable strings are scanned.
func (s *Sources) scanItem(o Origin, data []byte, explicit bool, sink Sink) {
	text, ok := textOf(data)
	binary := !ok && s.Archives
	if binary {
		text, ok = binaryStrings(data), true
	}
	if !ok {
		s.skip(o.Path, explicit, SkipBinary)
		return
	}
	s.Stats.Files.Add(1)
	s.Stats.Bytes.Add(int64(len(data)))
	ms := s.Detector.Find(text)
	if len(ms) == 0 {
		return
	}
	if binary {
		for i := range ms {
			if ms[i].Encoding == "" {
				ms[i].Encoding = "binary"
			}
		}
	}
	sink(o, ms)
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
	if k := compressedKind(o.Path); s.Archives && k != "" {
		return archiveErr(o.Path, s.scanCompressed(ctx, o, k, bytes.NewReader(data), 1, s.newBudget(), sink))
	}
	s.scanItem(o, data, false, sink)
	return nil
}

// scanFileStream scans a file as a stream, in windows: a named pipe or a
// device (whose size is not known: at most MaxFileSize bytes of it are
// read), or a regular file too large to read whole. Binary data is
// skipped; UTF-16 text is decoded.
func (s *Sources) scanFileStream(ctx context.Context, j fileJob, f io.Reader, emit Sink) error {
	r, binary, err := textReader(io.LimitReader(f, s.MaxFileSize))
	if err != nil {
		return err
	}
	if binary {
		s.skip(j.path, j.explicit, SkipBinary)
		return nil
	}
	if err := s.scanStream(ctx, Origin{Path: j.path}, r, emit); err != nil {
		return err
	}
	s.Stats.Files.Add(1)
	// A stream longer than MaxFileSize was scanned in part: say so.
	var one [1]byte
	if n, _ := f.Read(one[:]); n > 0 {
		s.skip(j.path, j.explicit, SkipTruncated)
	}
	return nil
}

// textReader is textOf for a stream: it returns r decoded to UTF-8 when it
// starts with a UTF-16 byte order mark or its first 8000 bytes look like
// UTF-16 without one, and says whether it is binary otherwise (git's test,
// on its first 8000 bytes).
func textReader(r io.Reader) (text io.Reader, binary bool, err error) {
	br := bufio.NewReaderSize(r, 8192)
	head, err := br.Peek(8000)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, false, err
	}
	if isUTF16(head) {
		// The decoder drops the byte order mark, as textOf does.
		return transform.NewReader(br, unicode.BOMOverride(unicode.UTF8.NewDecoder())), false, nil
	}
	if !isBinary(head) {
		return br, false, nil
	}
	if le, ok := utf16NoBOM(head); ok {
		order := unicode.BigEndian
		if le {
			order = unicode.LittleEndian
		}
		return transform.NewReader(br, unicode.UTF16(order, unicode.IgnoreBOM).NewDecoder()), false, nil
	}
	return br, true, nil
}
