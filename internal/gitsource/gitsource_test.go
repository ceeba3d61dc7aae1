package gitsource

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHistory(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "deleted later\n")
	r.write("b.txt", "shared\n")
	r.write("dir/copy.txt", "shared\n") // the same blob at two paths
	r.write("bin.dat", "binary\x00data\n")
	r.write("big.txt", strings.Repeat("x", 2000))
	c1 := r.commit("first")

	r.remove("a.txt")
	r.git("mv", "b.txt", "renamed.txt") // a rename: no new blob
	r.write("m.txt", "main v1\n")
	c2 := r.commit("delete and rename")

	// A side branch never merged.
	r.git("checkout", "-q", "-b", "side")
	r.write("side.txt", "only on side\n")
	c3 := r.commit("side")
	r.git("checkout", "-q", "main")

	// A feature branch merged with a conflict: the resolution is a blob in
	// neither parent, introduced by the merge itself.
	r.git("checkout", "-q", "-b", "feature")
	r.write("m.txt", "feature version\n")
	r.write("f.txt", "feature file\n")
	c4 := r.commit("feature")
	r.git("checkout", "-q", "main")
	r.write("m.txt", "main v2\n")
	c5 := r.commit("main change")
	cmd := r.gitCmd("merge", "-q", "feature")
	_ = cmd.Run() // conflicts
	r.write("m.txt", "resolved in merge\n")
	merge := r.commit("merge feature")

	// A path no shell would like.
	weird := "we ird\n\"quoted\"\t\\path.txt"
	r.write(weird, "weird path\n")
	r.write("m.txt", "main v1\n") // back to an old blob: not scanned twice
	c6 := r.commit("weird")

	s := scanHistory(t, r.dir, Options{MaxBlobSize: 1000})
	want := map[string]struct{ commit, path string }{
		"deleted later\n":     {c1, "a.txt"},
		"shared\n":            {c1, "b.txt"},
		"main v1\n":           {c2, "m.txt"},
		"only on side\n":      {c3, "side.txt"},
		"feature version\n":   {c4, "m.txt"},
		"feature file\n":      {c4, "f.txt"},
		"main v2\n":           {c5, "m.txt"},
		"resolved in merge\n": {merge, "m.txt"},
		"weird path\n":        {c6, weird},
	}
	var wantContents []string
	for c := range want {
		wantContents = append(wantContents, c)
	}
	if got := s.contents(); !sameSet(got, wantContents) {
		t.Fatalf("blobs = %q\nwant %q", got, wantContents)
	}
	for c, w := range want {
		b := s.blobs[c]
		if b.Commit != w.commit || b.Path != w.path {
			t.Errorf("%q: commit %s path %q, want %s %q", c, b.Commit, b.Path, w.commit, w.path)
		}
		if s.count[c] != 1 {
			t.Errorf("%q scanned %d times", c, s.count[c])
		}
		if b.Author != "Ann Author <ann@example.com>" || b.Date.IsZero() || b.Date.Location() != time.UTC {
			t.Errorf("%q: author %q date %v", c, b.Author, b.Date)
		}
		if len(b.OID) != 40 {
			t.Errorf("%q: OID %q", c, b.OID)
		}
	}
	if d := s.blobs["deleted later\n"].Date; d.Unix() >= s.blobs["main v1\n"].Date.Unix() {
		t.Errorf("dates out of order: %v", d)
	}
}

func TestHistoryLimitsAndSkips(t *testing.T) {
	r := newTestRepo(t)
	r.write("small.txt", "small\n")
	r.write("big.txt", strings.Repeat("y", 5000))
	// Larger than cat-file's read buffer: read past as it streams, and
	// the answers after it stay in step.
	r.write("bigger.txt", strings.Repeat("z", 3*historyReadBuffer))
	r.write("bin.dat", "bin\x00ary")
	r.write("utf16.ps1", "\xff\xfeh\x00i\x00") // text despite its NULs
	r.commit("one")

	type skip struct{ path, reason string }
	var skips []skip
	var mu = make(chan struct{}, 1)
	opt := Options{MaxBlobSize: 4096, Skipped: func(b Blob, reason string) {
		mu <- struct{}{}
		skips = append(skips, skip{b.Path, reason})
		<-mu
	}}
	s := scanHistory(t, r.dir, opt)
	if got := s.contents(); !sameSet(got, []string{"small\n", "\xff\xfeh\x00i\x00"}) {
		t.Errorf("blobs = %q", got)
	}
	wantSkips := map[skip]bool{{"big.txt", "too large"}: true, {"bigger.txt", "too large"}: true, {"bin.dat", "binary"}: true}
	if len(skips) != 3 || !wantSkips[skips[0]] || !wantSkips[skips[1]] || !wantSkips[skips[2]] {
		t.Errorf("skipped = %v", skips)
	}

	// No limit, binaries included.
	s = scanHistory(t, r.dir, Options{MaxBlobSize: -1, IncludeBinary: true})
	if len(s.blobs) != 5 {
		t.Errorf("with no limits: %q", s.contents())
	}
}

// A replace ref can make a commit look like another one; the scan must see
// the original.
func TestHistoryIgnoresReplaceRefs(t *testing.T) {
	r := newTestRepo(t)
	r.write("f.txt", "clean\n")
	r.commit("clean")
	r.write("f.txt", "has the secret\n")
	bad := r.commit("secret")
	r.write("f.txt", "clean again\n")
	r.commit("clean again")
	// Replace the bad commit with a harmless one that has the same parent.
	r.git("checkout", "-q", "--detach", bad+"^")
	r.write("f.txt", "innocent\n")
	fake := r.commit("innocent")
	r.git("checkout", "-q", "main")
	r.git("replace", bad, fake)
	if !strings.Contains(r.git("log", "--format=%s", "main"), "innocent") {
		t.Fatal("the replace ref did not take effect for plain git log")
	}
	s := scanHistory(t, r.dir, Options{})
	if b, ok := s.blobs["has the secret\n"]; !ok || b.Commit != bad {
		t.Errorf("blob hidden by a replace ref not found: %q", s.contents())
	}
}

// A tag may point straight at a blob or a tree: git log --all skips them,
// but they are pushed and cloned like any ref.
func TestHistoryTagsOfBlobsAndTrees(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "in a commit\n")
	r.commit("one")
	r.git("tag", "-a", "-m", "a tag of a blob", "blobtag", r.hashObject("tagged blob\n"))
	r.git("tag", "-a", "-m", "a tag of a tag", "tagtag", "blobtag")
	r.write("dir/t.txt", "in a tagged tree\n")
	r.git("add", "dir/t.txt")
	tree := r.git("write-tree")
	r.git("tag", "treetag", tree)
	r.git("rm", "-q", "--cached", "dir/t.txt")

	s := scanHistory(t, r.dir, Options{})
	if got := s.contents(); !sameSet(got, []string{"in a commit\n", "tagged blob\n", "in a tagged tree\n"}) {
		t.Fatalf("blobs = %q", got)
	}
	if b := s.blobs["tagged blob\n"]; b.Path != "refs/tags/blobtag" && b.Path != "refs/tags/tagtag" || b.Commit != "" || s.count["tagged blob\n"] != 1 {
		t.Errorf("tagged blob = %+v (scanned %d times)", b, s.count["tagged blob\n"])
	}
	if b := s.blobs["in a tagged tree\n"]; b.Path != "refs/tags/treetag:dir/t.txt" {
		t.Errorf("tree blob path = %q", b.Path)
	}
	// A range names commits: no tag walk.
	s = scanHistory(t, r.dir, Options{RevRange: "main"})
	if got := s.contents(); !sameSet(got, []string{"in a commit\n"}) {
		t.Errorf("RevRange main = %q", got)
	}
}

func TestHistoryRevRange(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "base\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "topic")
	r.write("t.txt", "topic\n")
	r.commit("topic")
	s := scanHistory(t, r.dir, Options{RevRange: "main..topic"})
	if got := s.contents(); !sameSet(got, []string{"topic\n"}) {
		t.Errorf("main..topic = %q", got)
	}
	s = scanHistory(t, r.dir, Options{RevRange: "--branches --not main"})
	if got := s.contents(); !sameSet(got, []string{"topic\n"}) {
		t.Errorf("--branches --not main = %q", got)
	}
	for _, bad := range []string{"--output=/tmp/x", "main -p", "--exec=sh"} {
		err := History(context.Background(), r.dir, Options{RevRange: bad}, func(Blob) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("RevRange %q: err = %v", bad, err)
		}
	}
	err := History(context.Background(), r.dir, Options{RevRange: "nosuchref"}, func(Blob) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "nosuchref") {
		t.Errorf("bad revision: err = %v", err)
	}
	err = History(context.Background(), t.TempDir(), Options{}, func(Blob) error { return nil })
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "not a git repository") {
		t.Errorf("not a repository: err = %v", err)
	}
}

func TestHistoryEmptyRepo(t *testing.T) {
	r := newTestRepo(t)
	s := scanHistory(t, r.dir, Options{})
	if len(s.blobs) != 0 {
		t.Errorf("empty repo gave %q", s.contents())
	}
}

func TestHistoryStopsOnError(t *testing.T) {
	r := newTestRepo(t)
	for i := range 50 {
		r.write(filepath.Join("d", string(rune('a'+i%26))+strings.Repeat("x", i)), strings.Repeat("line\n", i+1))
	}
	r.commit("many")
	boom := errors.New("boom")
	err := History(context.Background(), r.dir, Options{Workers: 1}, func(Blob) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := History(ctx, r.dir, Options{}, func(Blob) error { return nil }); err == nil {
		t.Error("a cancelled scan returned nil")
	}
}

// The repository's own configuration must not make the scan run programs.
// Each trap is first shown to fire for plain git, so the test can fail.
func TestHostileConfigRunsNothing(t *testing.T) {
	r := newTestRepo(t)
	marker := filepath.Join(t.TempDir(), "ran")
	prog := filepath.Join(t.TempDir(), "evil.sh")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho \"$@\" >> '"+marker+"'\ncat >/dev/null\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.write(".gitattributes", "*.txt diff=evil\n")
	r.write("a.txt", "text\n")
	r.commit("one")
	r.write("a.txt", "text 2\n")
	r.commit("two")
	// Sign the last commit (with a dummy signature) so that
	// log.showSignature has something to verify with gpg.program.
	raw := r.git("cat-file", "commit", "HEAD")
	raw = strings.Replace(raw, "\n\n", "\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n -----END PGP SIGNATURE-----\n\n", 1)
	cmd := r.gitCmd("hash-object", "-t", "commit", "-w", "--stdin")
	cmd.Stdin = strings.NewReader(raw + "\n")
	signed, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r.git("update-ref", "refs/heads/main", strings.TrimSpace(string(signed)))
	r.write("a.txt", "text 3\n")
	r.git("add", "a.txt")
	for k, v := range map[string]string{
		"core.pager": prog, "pager.log": prog, "core.fsmonitor": prog, "log.showSignature": "true",
		"gpg.program": prog, "diff.external": prog, "diff.evil.textconv": prog,
	} {
		r.git("config", k, v)
	}
	fired := func() bool {
		_, err := os.Stat(marker)
		os.Remove(marker)
		return err == nil
	}
	for _, args := range [][]string{{"log", "--raw", "--all"}, {"diff-index", "--cached", "HEAD"}} {
		_ = r.gitCmd(args...).Run()
		if !fired() {
			t.Fatalf("trap not armed: plain git %v ran nothing", args)
		}
	}
	scanHistory(t, r.dir, Options{})
	if fired() {
		t.Error("History ran a program named in the repository's configuration")
	}
	if got := scanStaged(t, r.dir).contents(); !sameSet(got, []string{"text 3\n"}) {
		t.Errorf("staged = %q", got)
	}
	if fired() {
		t.Error("Staged ran a program named in the repository's configuration")
	}
}

func TestStaged(t *testing.T) {
	r := newTestRepo(t)
	// Before the first commit every staged file is new.
	r.write("first.txt", "first\n")
	r.git("add", "first.txt")
	if got := scanStaged(t, r.dir).contents(); !sameSet(got, []string{"first\n"}) {
		t.Errorf("initial staged = %q", got)
	}
	r.commit("first")

	r.write("first.txt", "modified and staged\n")
	r.write("new.txt", "new and staged\n")
	r.git("add", "first.txt", "new.txt")
	r.write("first.txt", "modified again, not staged\n")
	r.write("untracked.txt", "untracked\n")
	r.write("bin.dat", "\x00")
	r.git("add", "bin.dat")
	r.git("rm", "-q", "--cached", "--", "bin.dat")
	s := scanStaged(t, r.dir)
	if got := s.contents(); !sameSet(got, []string{"modified and staged\n", "new and staged\n"}) {
		t.Errorf("staged = %q", got)
	}
	if b := s.blobs["new and staged\n"]; b.Path != "new.txt" || b.Commit != "" {
		t.Errorf("staged blob = %+v", b)
	}

	// A staged deletion brings nothing to scan.
	r.commit("second")
	r.git("rm", "-q", "new.txt")
	if got := scanStaged(t, r.dir).contents(); len(got) != 0 {
		t.Errorf("after a staged deletion: %q", got)
	}
}

// GIT_INDEX_FILE is how git hands a hook the index of `git commit -a` or
// `git commit PATH`: Staged must read that index, not .git/index.
func TestStagedHonoursIndexFile(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "one\n")
	r.commit("one")
	alt := filepath.Join(t.TempDir(), "index")
	cmd := r.gitCmd("read-tree", "HEAD")
	cmd.Env = append(cmd.Env, "GIT_INDEX_FILE="+alt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	r.write("a.txt", "in the other index\n")
	cmd = r.gitCmd("add", "a.txt")
	cmd.Env = append(cmd.Env, "GIT_INDEX_FILE="+alt)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	if got := scanStaged(t, r.dir).contents(); len(got) != 0 {
		t.Errorf("default index: %q", got)
	}
	t.Setenv("GIT_INDEX_FILE", alt)
	if got := scanStaged(t, r.dir).contents(); !sameSet(got, []string{"in the other index\n"}) {
		t.Errorf("GIT_INDEX_FILE index: %q", got)
	}
}

func TestPrePush(t *testing.T) {
	r := newTestRepo(t)
	remote := t.TempDir()
	r.gitIn(remote, "init", "-q", "--bare")
	r.git("remote", "add", "origin", remote)
	r.write("a.txt", "pushed before\n")
	r.commit("one")
	r.git("push", "-q", "origin", "main")
	old := r.git("rev-parse", "HEAD")
	r.write("a.txt", "new on main\n")
	head := r.commit("two")
	r.git("checkout", "-q", "-b", "topic")
	r.write("t.txt", "new branch\n")
	topic := r.commit("three")
	zero := strings.Repeat("0", 40)

	in := "refs/heads/main " + head + " refs/heads/main " + old + "\n" +
		"refs/heads/topic " + topic + " refs/heads/topic " + zero + "\n"
	s := &seen{}
	if err := PrePush(context.Background(), r.dir, strings.NewReader(in), Options{}, s.fn); err != nil {
		t.Fatal(err)
	}
	if got := s.contents(); !sameSet(got, []string{"new on main\n", "new branch\n"}) {
		t.Errorf("pushed blobs = %q", got)
	}

	// Only a deletion: nothing to scan (and certainly not every ref).
	s = &seen{}
	in = "(delete) " + zero + " refs/heads/old " + old + "\n"
	if err := PrePush(context.Background(), r.dir, strings.NewReader(in), Options{}, s.fn); err != nil || len(s.blobs) != 0 {
		t.Errorf("deletion: %v %q", err, s.contents())
	}

	// The remote has a commit we do not: exclude what remote-tracking refs have.
	r.git("fetch", "-q", "origin")
	s = &seen{}
	in = "refs/heads/main " + head + " refs/heads/main " + strings.Repeat("ab", 20) + "\n"
	if err := PrePush(context.Background(), r.dir, strings.NewReader(in), Options{}, s.fn); err != nil {
		t.Fatal(err)
	}
	if got := s.contents(); !sameSet(got, []string{"new on main\n"}) {
		t.Errorf("unknown remote oid: %q", got)
	}
}

func TestParsePushUpdates(t *testing.T) {
	a, b := strings.Repeat("a", 40), strings.Repeat("0", 40)
	tests := []struct {
		in      string
		want    []PushUpdate
		wantErr bool
	}{
		{"", nil, false},
		{"refs/heads/x " + a + " refs/heads/y " + b + "\n\n", []PushUpdate{{"refs/heads/x", a, "refs/heads/y", b}}, false},
		{"refs/heads/x " + a + " refs/heads/y\n", nil, true},
		{"refs/heads/x --output=f refs/heads/y " + b + "\n", nil, true},
		{"refs/heads/x " + strings.Repeat("g", 40) + " refs/heads/y " + b + "\n", nil, true},
	}
	for _, tt := range tests {
		got, err := ParsePushUpdates(strings.NewReader(tt.in))
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePushUpdates(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestParseLog(t *testing.T) {
	z := strings.Repeat("0", 40)
	o := strings.Repeat("1", 40)
	in := "\x01c1\x00A <a@x>\x001700000000\x00\n" +
		":000000 100644 " + z + " " + o + " A\x00p\nath\x00" +
		":100644 000000 " + o + " " + z + " D\x00gone\x00" +
		":000000 160000 " + z + " " + o + " A\x00submodule\x00" +
		"\x01c2\x00B\x00bad\x00\x00" +
		"::100644 100644 100644 " + o + " " + o + " " + o + " MM\x00m\x00"
	var got []string
	err := parseLog(strings.NewReader(in), func(c change) error {
		got = append(got, c.commit.oid+" "+string(c.oid[:1])+" "+string(c.path)+" "+c.commit.author)
		return nil
	})
	want := []string{"c1 1 p\nath A <a@x>", "c2 1 m B"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseLog = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{":100644\x00p\x00", "\x01c1\x00A", "garbage\x00", ":000000 100644 " + z + " " + o + " A\x00"} {
		if err := parseLog(strings.NewReader(bad), func(change) error { return nil }); err == nil {
			t.Errorf("parseLog(%q) accepted it", bad)
		}
	}
}

func FuzzParsePushUpdates(f *testing.F) {
	f.Add("refs/heads/x " + strings.Repeat("a", 40) + " refs/heads/y " + strings.Repeat("0", 40) + "\n")
	f.Fuzz(func(t *testing.T, in string) {
		ups, err := ParsePushUpdates(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range ups {
			if !isHexOID(u.LocalOID) || !isHexOID(u.RemoteOID) {
				t.Fatalf("accepted %+v", u)
			}
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestIsRevisionAndIsRepository(t *testing.T) {
	r := newTestRepo(t)
	r.write("sub/a.txt", "a\n")
	r.commit("one")
	r.git("tag", "v1")
	r.commit("two")
	bare := t.TempDir()
	r.gitIn(bare, "init", "-q", "--bare")
	ctx := context.Background()
	for _, tt := range []struct {
		rng  string
		want bool
	}{
		{"HEAD", true}, {"v1..", true}, {"v1..main", true}, {"HEAD~1 --not v1", true}, {"--branches", true},
		{"nosuchref", false}, {"sub", false}, {"HEAD~5", false}, {r.dir, false},
	} {
		got, err := IsRevision(ctx, r.dir, tt.rng)
		if err != nil || got != tt.want {
			t.Errorf("IsRevision(%q) = %v, %v; want %v", tt.rng, got, err, tt.want)
		}
	}
	if _, err := IsRevision(ctx, r.dir, "--output=x"); err == nil {
		t.Error("IsRevision accepted --output")
	}
	file := filepath.Join(r.dir, "sub", "a.txt")
	for _, tt := range []struct {
		dir  string
		want bool
	}{
		{r.dir, true}, {filepath.Join(r.dir, "sub"), true}, {filepath.Join(r.dir, ".git"), true}, {bare, true},
		{t.TempDir(), false}, {filepath.Join(r.dir, "nope"), false}, {file, false},
	} {
		if got := IsRepository(ctx, tt.dir); got != tt.want {
			t.Errorf("IsRepository(%q) = %v, want %v", tt.dir, got, tt.want)
		}
	}
}

// A blob that comes back is attributed to the earliest commit that names
// it and, in that commit, to its first path; whatever later commits,
// other branches and merges bring it back, at other paths and by other
// authors.
func TestHistoryAttribution(t *testing.T) {
	r := newTestRepo(t)
	const key = "the blob that keeps coming back\n"
	r.commitFile("README", "root\n", "root")
	r.write("x/b.txt", key)
	r.write("x/a.txt", key) // the same commit, two paths: a.txt comes first
	first := r.commit("introduce")

	r.git("config", "user.name", "Bob Later")
	r.git("checkout", "-q", "-b", "side")
	r.write("x/a.txt", "side change\n")
	side := r.commit("side change")
	r.write("side/again.txt", key)
	r.commit("side brings it back")

	r.git("checkout", "-q", "main")
	r.remove("x/a.txt")
	r.remove("x/b.txt")
	r.commit("remove")
	r.write("z.txt", key)
	r.write("later.txt", "on main and on an unmerged branch\n")
	later := r.commit("main brings it back")
	_ = r.gitCmd("merge", "-q", "--no-edit", "side").Run()
	r.write("x/a.txt", key)
	r.commit("merge side")

	// A branch from before, never merged, with the blobs at other paths.
	r.git("checkout", "-q", "-b", "unmerged", "HEAD~4")
	r.write("o.txt", key)
	r.write("l.txt", "on main and on an unmerged branch\n")
	r.commit("unmerged branch")

	s := scanHistory(t, r.dir, Options{})
	want := map[string]struct{ commit, path, author string }{
		key:                                   {first, "x/a.txt", "Ann Author <ann@example.com>"},
		"side change\n":                       {side, "x/a.txt", "Bob Later <ann@example.com>"},
		"on main and on an unmerged branch\n": {later, "later.txt", "Bob Later <ann@example.com>"},
	}
	for c, w := range want {
		b := s.blobs[c]
		if b.Commit != w.commit || b.Path != w.path || b.Author != w.author {
			t.Errorf("%q: %s %q by %q, want %s %q by %q", c, b.Commit, b.Path, b.Author, w.commit, w.path, w.author)
		}
		if s.count[c] != 1 {
			t.Errorf("%q scanned %d times", c, s.count[c])
		}
	}
}
