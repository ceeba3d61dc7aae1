package laptop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/atomicfile"
)

// This file is the thin I/O layer: reading places, walking roots, and
// applying plans. Everything it decides with is in the pure files.

// File is a place as read from disk.
type File struct {
	Place Place
	// Real is the file the path resolves to (symbolic links followed):
	// rewrites go there, so a dotfile linked from a dotfiles repository
	// stays a link.
	Real     string
	Data     []byte
	Mode     fs.FileMode
	UID, GID int
}

// MaxFileSize bounds every file this package reads: credentials, configs,
// start-up files and histories are small; anything larger is skipped and
// said.
const MaxFileSize = 16 << 20

// ErrTooLarge is returned for a file over MaxFileSize.
var ErrTooLarge = fmt.Errorf("larger than the %d-byte limit", MaxFileSize)

// Read reads a place. A missing file is (nil, nil); any other problem is
// an error naming the file, for the caller to report and skip.
func Read(p Place) (*File, error) {
	real, err := filepath.EvalSymlinks(p.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p.Path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", p.Path, ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", p.Path, ErrTooLarge)
	}
	out := &File{Place: p, Real: real, Data: data, Mode: st.Mode().Perm(), UID: -1, GID: -1}
	out.UID, out.GID = owner(st)
	return out, nil
}

// NewFile stands for a place that does not exist yet and that a plan
// creates, private to the user.
func NewFile(p Place) *File {
	return &File{Place: p, Real: p.Path, Mode: 0o600, UID: -1, GID: -1}
}

// Expand lists a directory place (fish's conf.d) as its *.fish files;
// other places are returned as they are.
func Expand(ps []Place) []Place {
	var out []Place
	for _, p := range ps {
		if !p.Dir {
			out = append(out, p)
			continue
		}
		es, err := os.ReadDir(p.Path)
		if err != nil {
			continue
		}
		for _, e := range es {
			if strings.HasSuffix(e.Name(), ".fish") {
				out = append(out, Place{Path: filepath.Join(p.Path, e.Name()), Form: p.Form, Shell: p.Shell})
			}
		}
	}
	return out
}

// WalkResult is what the walk of the roots found.
type WalkResult struct {
	Projects []Place  // project files
	Repos    []string // git work trees (directories holding .git)
	Dirs     int      // directories visited
	Files    int      // files seen
	// SkippedDirs counts the package stores and caches not walked, and
	// DeepDirs the directories below the depth limit.
	SkippedDirs, DeepDirs int
	Skipped               []string // unreadable directories, said to the user
}

// Walk looks under each root, at most depth directories down, for project
// files and git repositories, skipping package stores and caches
// (SkipDir). Symbolic links are not followed. Only names are looked at:
// the few files that match are read later.
func Walk(ctx context.Context, roots []string, depth int) (*WalkResult, error) {
	res := &WalkResult{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if err != nil {
				res.Skipped = append(res.Skipped, err.Error())
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				res.Dirs++
				if path != root && (SkipDir(d.Name()) || GoModCache(filepath.ToSlash(rel))) {
					if d.Name() == ".git" {
						res.Repos = append(res.Repos, filepath.Dir(path))
					} else {
						res.SkippedDirs++
					}
					return fs.SkipDir
				}
				if rel != "." && strings.Count(filepath.ToSlash(rel), "/")+1 > depth {
					res.DeepDirs++
					return fs.SkipDir
				}
				return nil
			}
			res.Files++
			if d.Name() == ".git" { // a worktree or submodule: .git is a file
				res.Repos = append(res.Repos, filepath.Dir(path))
				return nil
			}
			if d.Type().IsRegular() && IsProjectFile(d.Name()) {
				res.Projects = append(res.Projects, Place{Path: path, Form: FormProject})
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, err
		}
	}
	sort.Strings(res.Repos)
	return res, nil
}

// Writer applies plans to the file system. Its functions are fields so
// that tests inject failures.
type Writer struct {
	// WriteFile replaces a file atomically (default atomicfile.Write).
	WriteFile func(path string, data []byte, perm fs.FileMode) error
}

// ErrChanged is returned for a file that changed since it was read.
var ErrChanged = errors.New("changed since it was read: left as it is; run the command again")

// Apply rewrites (or deletes) the file of plan f, which was read as file.
// It refuses a file whose content is no longer what the plan was made
// from, keeps the mode and owner, and re-reads the result to check no
// secret of the plan is left. On error the file is as it was.
func (w *Writer) Apply(file *File, plan *FilePlan) error {
	if plan.Empty() {
		return nil
	}
	cur, err := os.ReadFile(file.Real)
	switch {
	case errors.Is(err, fs.ErrNotExist) && file.Data == nil:
		// A file the plan creates (the AWS config, when there was none).
		if err := os.MkdirAll(filepath.Dir(file.Real), 0o700); err != nil {
			return fmt.Errorf("%s: %w", plan.Path, err)
		}
	case err != nil:
		return fmt.Errorf("%s: %w", plan.Path, err)
	}
	if !bytes.Equal(cur, file.Data) {
		return fmt.Errorf("%s: %w", plan.Path, ErrChanged)
	}
	if plan.Delete {
		if err := os.Remove(file.Real); err != nil {
			return fmt.Errorf("%s: %w", plan.Path, err)
		}
		return nil
	}
	write := w.WriteFile
	if write == nil {
		write = atomicfile.Write
	}
	if err := write(file.Real, plan.New(), file.Mode); err != nil {
		return fmt.Errorf("%s: writing failed, the file is unchanged: %w", plan.Path, err)
	}
	if file.UID >= 0 && (file.UID != os.Getuid() || file.GID != os.Getgid()) {
		if err := os.Lchown(file.Real, file.UID, file.GID); err != nil {
			return fmt.Errorf("%s: rewritten, but its owner could not be kept: %w", plan.Path, err)
		}
	}
	return Verify(file.Real, plan.Secrets)
}

// Verify re-reads path and fails if any of secrets is in it: the
// grep-style proof that a rewrite removed what it had to.
func Verify(path string, secrets []string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: re-reading: %w", path, err)
	}
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			return fmt.Errorf("%s: a secret is still in the file after the rewrite", path)
		}
	}
	return nil
}
