package gitsource

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// traceGit puts a git on PATH that records the subcommand of every git
// process started, and returns what it recorded so far.
func traceGit(t *testing.T) func() []string {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >>%q\nexec %q \"$@\"\n", log, real)
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() []string {
		b, _ := os.ReadFile(log)
		var subs []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			f := strings.Fields(line)
			for i := 0; i < len(f); i++ {
				switch {
				case f[i] == "--no-pager":
				case f[i] == "-c":
					i++
				default:
					subs = append(subs, f[i])
					i = len(f)
				}
			}
		}
		slices.Sort(subs)
		return subs
	}
}

// The pre-commit hook's time is mostly processes started: one git
// diff-index lists what is staged, and the blobs `git add` wrote are read
// from the object directory; cat-file starts only for a blob that is not
// loose (here: packed by git gc).
func TestStagedGitProcesses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *testRepo)
		want  []string // git subcommands run by Staged
		blobs []string
	}{
		{
			name: "first commit",
			setup: func(r *testRepo) {
				r.write("a.txt", "first\n")
				r.git("add", "a.txt")
			},
			want:  []string{"diff-index", "diff-index", "hash-object", "rev-parse"},
			blobs: []string{"first\n"},
		},
		{
			name:  "one file staged",
			setup: stageOneChange,
			want:  []string{"diff-index"},
			blobs: []string{"two\n"},
		},
		{
			name: "staged blob packed",
			setup: func(r *testRepo) {
				stageOneChange(r)
				r.git("gc", "-q", "--prune=now")
			},
			want:  []string{"cat-file", "diff-index"},
			blobs: []string{"two\n"},
		},
		{
			name: "nothing staged",
			setup: func(r *testRepo) {
				r.commitFile("a.txt", "one\n", "one")
			},
			want: []string{"diff-index"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRepo(t)
			tt.setup(r)
			ran := traceGit(t)
			s := scanStaged(t, r.dir)
			if got := s.contents(); !sameSet(got, tt.blobs) {
				t.Errorf("blobs = %q, want %q", got, tt.blobs)
			}
			if got := ran(); !slices.Equal(got, tt.want) {
				t.Errorf("git ran %q, want %q", got, tt.want)
			}
		})
	}
}

func stageOneChange(r *testRepo) {
	r.commitFile("a.txt", "one\n", "one")
	r.write("a.txt", "two\n")
	r.git("add", "a.txt")
}

// looseFile is a loose object file: zlib("<typ> <size>\0<content>").
func looseFile(typ, content string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	fmt.Fprintf(w, "%s %d\x00%s", typ, len(content), content)
	w.Close()
	return b.Bytes()
}

func looseID(typ, content string) string {
	h := sha1.Sum([]byte(fmt.Sprintf("%s %d\x00%s", typ, len(content), content)))
	return hex.EncodeToString(h[:])
}

func TestReadLooseBlob(t *testing.T) {
	const text = "aws_access_key_id = AKIA...\n"
	id := looseID("blob", text)
	truncated := looseFile("blob", text)
	truncated = truncated[:len(truncated)-6]
	tests := []struct {
		name     string
		file     func(p string) error // writes the object file at p
		limit    int64
		wantOK   bool
		wantData string
		wantSize int64
	}{
		{name: "a loose blob", file: write(looseFile("blob", text)), limit: -1, wantOK: true, wantData: text, wantSize: int64(len(text))},
		{name: "empty blob", file: write(looseFile("blob", "")), limit: -1},
		{name: "over the limit: header only", file: write(looseFile("blob", text)), limit: 5, wantOK: true, wantSize: int64(len(text))},
		{name: "no such file", file: func(string) error { return nil }, limit: -1},
		{name: "content of another object", file: write(looseFile("blob", "other\n")), limit: -1},
		{name: "a tree", file: write(looseFile("tree", text)), limit: -1},
		{name: "shorter than its header", file: write(looseFile("blob", text)[:0]), limit: -1},
		{name: "truncated stream", file: write(truncated), limit: -1},
		{name: "not zlib", file: write([]byte("blob 3\x00abc")), limit: -1},
		{name: "a symbolic link", file: func(p string) error {
			target := p + ".real"
			if err := os.WriteFile(target, looseFile("blob", text), 0o600); err != nil {
				return err
			}
			return os.Symlink(target, p)
		}, limit: -1},
		{name: "a FIFO (would block)", file: func(p string) error { return syscall.Mkfifo(p, 0o600) }, limit: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oid := id
			if tt.name == "empty blob" {
				oid = looseID("blob", "")
				tt.wantOK, tt.wantData = true, ""
			}
			dir := t.TempDir()
			p := filepath.Join(dir, oid[:2], oid[2:])
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := tt.file(p); err != nil {
				t.Fatal(err)
			}
			data, size, ok := looseObjects{dir: dir}.readBlob(oid, tt.limit)
			if ok != tt.wantOK || string(data) != tt.wantData || ok && size != int64(len(text)) && tt.name != "empty blob" {
				t.Errorf("readBlob = %q, %d, %v; want %q, %v", data, size, ok, tt.wantData, tt.wantOK)
			}
		})
	}
}

func write(b []byte) func(string) error {
	return func(p string) error { return os.WriteFile(p, b, 0o600) }
}

func TestParseLooseHeader(t *testing.T) {
	tests := []struct {
		in      string
		typ     string
		size    int64
		n       int
		wantErr bool
	}{
		{in: "blob 12\x00hello", typ: "blob", size: 12, n: 8},
		{in: "commit 0\x00", typ: "commit", size: 0, n: 9},
		{in: "blob 12", wantErr: true},
		{in: "blob\x00", wantErr: true},
		{in: "blob \x00", wantErr: true},
		{in: "blob 012\x00", wantErr: true},
		{in: "blob -1\x00", wantErr: true},
		{in: "blob +1\x00", wantErr: true},
		{in: "blob 99999999999999999999\x00", wantErr: true},
		{in: "blub 1\x00", wantErr: true},
	}
	for _, tt := range tests {
		typ, size, n, err := parseLooseHeader([]byte(tt.in))
		if (err != nil) != tt.wantErr || !tt.wantErr && (typ != tt.typ || size != tt.size || n != tt.n) {
			t.Errorf("parseLooseHeader(%q) = %q, %d, %d, %v", tt.in, typ, size, n, err)
		}
	}
}

func FuzzParseLooseHeader(f *testing.F) {
	for _, s := range []string{"blob 12\x00hello", "tree 0\x00", "blob 012\x00", "x\x00", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, size, n, err := parseLooseHeader(b)
		if err != nil {
			return
		}
		if size < 0 || n <= 0 || n > len(b) || b[n-1] != 0 || typ == "" {
			t.Fatalf("parseLooseHeader(%q) = %q, %d, %d", b, typ, size, n)
		}
	})
}

// The object directory is found for a plain repository from a
// subdirectory, a linked worktree (a .git file and commondir) and a bare
// repository.
func TestFindObjectDir(t *testing.T) {
	r := newTestRepo(t)
	r.commitFile("sub/a.txt", "a\n", "one")
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", wt)
	bare := filepath.Join(t.TempDir(), "bare.git")
	r.git("clone", "-q", "--bare", r.dir, bare)
	canon := func(p string) string {
		if q, err := filepath.EvalSymlinks(p); err == nil {
			return q
		}
		return p
	}
	want := canon(filepath.Join(r.dir, ".git", "objects"))
	tests := []struct {
		name, dir, want string
	}{
		{"work tree", r.dir, want},
		{"subdirectory", filepath.Join(r.dir, "sub"), want},
		{"linked worktree", wt, want},
		{"bare", bare, canon(filepath.Join(bare, "objects"))},
	}
	for _, tt := range tests {
		if got := canon(findObjectDir(tt.dir)); got != tt.want {
			t.Errorf("%s: findObjectDir = %q, want %q", tt.name, got, tt.want)
		}
	}
}
