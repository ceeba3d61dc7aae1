package laptop

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/report"
)

// SurveyOptions say where to look.
type SurveyOptions struct {
	Home   string
	Getenv func(string) string
	// Env is the environment to check (os.Environ()); nil skips it.
	Env []string
	// Roots are walked for project files and repositories (default Home).
	Roots []string
	// Depth limits the walk (directories below a root).
	Depth  int
	Finder *Finder
}

// Survey is everything found on the machine.
type Survey struct {
	Files []*File // the files read, in the order of the places
	Hits  []Hit
	// Problems are files that were unreadable, too large or malformed:
	// reported and skipped, never fatal.
	Problems []error
	// Malformed names files whose syntax could not be read: their keys
	// are reported but the file is never rewritten.
	Malformed map[string]bool
	Walk      *WalkResult
}

// Run reads every place (the fixed ones under the home directory, the
// environment, project files under the roots) and finds the credentials
// in them. A file reached twice (a symbolic link) is read once.
func Run(ctx context.Context, opt SurveyOptions) (*Survey, error) {
	if opt.Finder == nil {
		opt.Finder = NewFinder()
	}
	if len(opt.Roots) == 0 {
		opt.Roots = []string{opt.Home}
	}
	if opt.Depth <= 0 {
		opt.Depth = 6
	}
	s := &Survey{Malformed: map[string]bool{}}
	w, err := Walk(ctx, opt.Roots, opt.Depth)
	if err != nil {
		return nil, err
	}
	s.Walk = w
	places := append(Expand(HomePlaces(opt.Home, opt.Getenv)), w.Projects...)
	seen := map[string]bool{}
	for _, p := range places {
		f, err := Read(p)
		if err != nil {
			s.Problems = append(s.Problems, err)
			continue
		}
		if f == nil || seen[f.Real] {
			continue
		}
		seen[f.Real] = true
		s.Files = append(s.Files, f)
		hits, err := opt.Finder.File(p, f.Data)
		if err != nil {
			s.Problems = append(s.Problems, err)
			s.Malformed[p.Path] = true
		}
		s.Hits = append(s.Hits, hits...)
	}
	if opt.Env != nil {
		s.Hits = append(s.Hits, FromEnv(opt.Env)...)
	}
	return s, nil
}

// File returns the file read for path, or nil.
func (s *Survey) File(path string) *File {
	for _, f := range s.Files {
		if f.Place.Path == path {
			return f
		}
	}
	return nil
}

// RepoHasHook reports whether a repository runs a secret scanner before
// commits: its pre-commit hook (in .git/hooks, or in core.hooksPath from
// the repository's config or the user's, globalConfig), a husky or
// .githooks one, or the pre-commit framework's configuration.
func RepoHasHook(home, repo string, globalConfig []byte) bool {
	read := func(p string) []byte {
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
		return data
	}
	hooks := filepath.Join(repo, ".git", "hooks")
	if p := HooksPath(globalConfig); p != "" {
		hooks = p
	}
	if p := HooksPath(read(filepath.Join(repo, ".git", "config"))); p != "" {
		hooks = p
	}
	if rest, ok := strings.CutPrefix(hooks, "~/"); ok {
		hooks = filepath.Join(home, rest)
	} else if !filepath.IsAbs(hooks) {
		hooks = filepath.Join(repo, hooks)
	}
	var texts [][]byte
	for _, p := range []string{filepath.Join(hooks, "pre-commit"), filepath.Join(repo, ".pre-commit-config.yaml"),
		filepath.Join(repo, ".husky", "pre-commit"), filepath.Join(repo, ".githooks", "pre-commit")} {
		texts = append(texts, read(p))
	}
	return HasSecretHook(texts...)
}

// GlobalGitConfig reads the user's git configuration (~/.gitconfig and
// ~/.config/git/config), for core.hooksPath.
func GlobalGitConfig(home string) []byte {
	var out []byte
	for _, p := range []string{filepath.Join(home, ".config", "git", "config"), filepath.Join(home, ".gitconfig")} {
		if f, err := Read(Place{Path: p}); err == nil && f != nil {
			out = append(append(out, f.Data...), '\n')
		}
	}
	return out
}

// PermissionFindings checks the modes of the AWS CLI's directory and of
// the files given (those that exist).
func PermissionFindings(home, dir string, files ...string) []report.Finding {
	var out []report.Finding
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		if f, bad := CheckPermissions(home, dir, st.Mode(), true); bad {
			out = append(out, f)
		}
	}
	sort.Strings(files)
	for _, p := range files {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			if f, bad := CheckPermissions(home, p, st.Mode(), false); bad {
				out = append(out, f)
			}
		}
	}
	return out
}
