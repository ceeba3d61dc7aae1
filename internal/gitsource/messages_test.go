package gitsource

import (
	"strings"
	"testing"
)

// Commit and tag messages (Options.Messages): each message is passed once,
// attributed to its commit (a tag's, to the tag); without Messages, none
// is. A signed commit's gpgsig header is not part of its message.
func TestHistoryMessages(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "file content\n")
	c1 := r.commit("add a\n\nAWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE01 pasted here")
	r.git("commit", "-q", "--allow-empty", "-m", "an empty commit\n\nstill scanned")
	c2 := r.git("rev-parse", "HEAD")
	r.git("tag", "-a", "-m", "release notes", "v1")
	r.git("tag", "light") // a lightweight tag has no message
	// A commit object with a signature header, written by hand.
	tree := r.git("write-tree")
	obj := "tree " + tree + "\nparent " + c2 + "\nauthor A <a@x> 1700000000 +0000\ncommitter A <a@x> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned message\n"
	cmd := r.gitCmd("hash-object", "-t", "commit", "-w", "--stdin")
	cmd.Stdin = strings.NewReader(obj)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	r.git("update-ref", "refs/heads/signed", strings.TrimSpace(string(out)))

	tests := []struct {
		name string
		opt  Options
		want []string
	}{
		{"with messages", Options{Messages: true}, []string{
			"file content\n",
			"add a\n\nAWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE01 pasted here\n",
			"an empty commit\n\nstill scanned\n",
			"release notes\n",
			"signed message\n",
		}},
		{"without", Options{}, []string{"file content\n"}},
		{"range: commit messages, no tags", Options{Messages: true, RevRange: "main"}, []string{
			"file content\n",
			"add a\n\nAWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE01 pasted here\n",
			"an empty commit\n\nstill scanned\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scanHistory(t, r.dir, tt.opt)
			if got := s.contents(); !sameSet(got, tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
			for c, b := range s.blobs {
				if s.count[c] != 1 {
					t.Errorf("%q passed %d times", c, s.count[c])
				}
				if c == "file content\n" {
					if b.Message {
						t.Errorf("a blob marked as a message")
					}
					continue
				}
				if !b.Message {
					t.Errorf("%q not marked as a message", c)
				}
			}
			if b, ok := s.blobs["add a\n\nAWS_ACCESS_KEY_ID=AKIAEXAMPLEEXAMPLE01 pasted here\n"]; ok &&
				(b.Commit != c1 || b.Path != CommitMessagePath || b.Author != "Ann Author <ann@example.com>") {
				t.Errorf("message of c1: %+v", b)
			}
			if b, ok := s.blobs["release notes\n"]; ok && (b.Path != "refs/tags/v1 (tag message)" || b.Commit != "") {
				t.Errorf("tag message: %+v", b)
			}
		})
	}
}
