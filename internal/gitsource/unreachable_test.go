package gitsource

import "testing"

// --unreachable: a commit dropped by reset --hard (only the reflog holds
// it), a deleted branch, a blob staged and never committed; each is found
// with Unreachable, none without it.
func TestHistoryUnreachable(t *testing.T) {
	r := newTestRepo(t)
	r.commitFile("a.txt", "kept\n", "base")
	r.commitFile("lost.env", "reset away\n", "oops")
	r.git("reset", "-q", "--hard", "HEAD~1")
	r.git("checkout", "-q", "-b", "side")
	r.commitFile("side.env", "branch deleted\n", "side")
	r.git("checkout", "-q", "main")
	r.git("branch", "-q", "-D", "side")
	r.hashObject("staged, never committed\n")

	tests := []struct {
		name string
		opt  Options
		want []string
	}{
		{"reachable only", Options{}, []string{"kept\n"}},
		{"unreachable too", Options{Unreachable: true}, []string{"kept\n", "reset away\n", "branch deleted\n", "staged, never committed\n"}},
		{"a range ignores it", Options{Unreachable: true, RevRange: "main"}, []string{"kept\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scanHistory(t, r.dir, tt.opt)
			if got := s.contents(); !sameSet(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if b, ok := s.blobs["reset away\n"]; ok && (b.Path != "lost.env" || b.Commit == "") {
				t.Errorf("lost commit's blob: %+v", b)
			}
			if b, ok := s.blobs["staged, never committed\n"]; ok && b.Path != UnreachableBlobPath {
				t.Errorf("dangling blob: %+v", b)
			}
		})
	}
}

func TestParseUnreachable(t *testing.T) {
	out := "dangling commit 1111111111111111111111111111111111111111\n" +
		"dangling blob 2222222222222222222222222222222222222222\n" +
		"dangling tree 3333333333333333333333333333333333333333\n" +
		"missing blob 4444444444444444444444444444444444444444\n" +
		"dangling blob not-an-oid\n" +
		"broken link from tree 5555555555555555555555555555555555555555\n"
	u := parseUnreachable([]byte(out))
	if len(u.commits) != 1 || len(u.blobs) != 1 || len(u.trees) != 1 {
		t.Errorf("got %+v", u)
	}
}

func FuzzParseUnreachable(f *testing.F) {
	f.Add([]byte("dangling commit 1111111111111111111111111111111111111111\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, oid := range append(append(parseUnreachable(b).commits, parseUnreachable(b).blobs...), parseUnreachable(b).trees...) {
			if !isHexOID(oid) {
				t.Fatalf("%q is not an object ID", oid)
			}
		}
	})
}
