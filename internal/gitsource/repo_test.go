package gitsource

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// testRepo is a real git repository in a temporary directory, with
// commit dates one minute apart so that "earliest" is well defined.
type testRepo struct {
	t    *testing.T
	dir  string
	tick int64
}

// gitEnvForTests isolates git from the machine's configuration.
func isolateGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, v := range []string{"GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Setenv(v, "")
			os.Unsetenv(v)
		}
	}
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	isolateGit(t)
	r := &testRepo{t: t, dir: t.TempDir(), tick: 1700000000}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.name", "Ann Author")
	r.git("config", "user.email", "ann@example.com")
	r.git("config", "commit.gpgsign", "false")
	return r
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return r.gitIn(r.dir, args...)
}

// gitCmd is a git command in the repository, its dates one tick later.
func (r *testRepo) gitCmd(args ...string) *exec.Cmd {
	return r.gitCmdIn(r.dir, args...)
}

func (r *testRepo) gitCmdIn(dir string, args ...string) *exec.Cmd {
	r.tick += 60
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	date := fmt.Sprintf("%d +0000", r.tick)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	return cmd
}

func (r *testRepo) gitIn(dir string, args ...string) string {
	r.t.Helper()
	out, err := r.gitCmdIn(dir, args...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	full := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) remove(path string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.dir, path)); err != nil {
		r.t.Fatal(err)
	}
}

// hashObject writes a blob that no commit holds and returns its ID.
func (r *testRepo) hashObject(content string) string {
	r.t.Helper()
	cmd := r.gitCmd("hash-object", "-w", "--stdin")
	cmd.Stdin = strings.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// commit stages everything and commits; it returns the commit ID.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// seen is what a scan reported: blobs by content (each content is unique
// in these tests), Data copied out of the callback.
type seen struct {
	mu    sync.Mutex
	blobs map[string]Blob
	count map[string]int
}

func (s *seen) fn(b Blob) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs == nil {
		s.blobs, s.count = map[string]Blob{}, map[string]int{}
	}
	c := string(b.Data)
	b.Data = nil
	s.blobs[c] = b
	s.count[c]++
	return nil
}

func (s *seen) contents() []string {
	var out []string
	for c := range s.blobs {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func scanHistory(t *testing.T, dir string, opt Options) *seen {
	t.Helper()
	s := &seen{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := History(ctx, dir, opt, s.fn); err != nil {
		t.Fatalf("History: %v", err)
	}
	return s
}

func scanStaged(t *testing.T, dir string) *seen {
	t.Helper()
	s := &seen{}
	if err := Staged(context.Background(), dir, s.fn); err != nil {
		t.Fatalf("Staged: %v", err)
	}
	return s
}

// commitFile writes one file and commits everything.
func (r *testRepo) commitFile(path, content, msg string) string {
	r.t.Helper()
	r.write(path, content)
	return r.commit(msg)
}
