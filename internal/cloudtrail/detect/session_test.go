package detect

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// One human's console session is one group, however many temporary keys
// the console rotates through, and a record delivered twice counts once.
func TestConsoleSessionIsOneGroup(t *testing.T) {
	fs := run(t, nil, filepath.Join("testdata", "session", "root-console.json"))
	var root []*Finding
	for _, f := range fs {
		if f.Rule.ID == "ct-root-usage" {
			root = append(root, f)
		}
	}
	if len(root) != 1 {
		for _, f := range root {
			t.Logf("%s %d", f.Actor, f.Count)
		}
		t.Fatalf("%d ct-root-usage findings, want 1 for one console session", len(root))
	}
	f := root[0]
	if want := cloudtrail.ConsoleActor("arn:aws:iam::111122223333:root", "198.51.100.7"); f.Actor != want {
		t.Errorf("actor %q, want %q", f.Actor, want)
	}
	// The sign-in and 12 calls; the 14th record repeats an eventID.
	if f.Count != 13 {
		t.Errorf("%d events, want 13 (the duplicate counted once)", f.Count)
	}
	if f.ContainKey() != "" || !strings.HasPrefix(f.Next()[0], "revoke the sessions of arn:aws:iam::111122223333:root") {
		t.Errorf("next for a console session: %q", f.Next())
	}
}

// Reading the same files twice finds exactly what reading them once does.
func TestDuplicatesCountedOnce(t *testing.T) {
	summary := func(paths ...string) string {
		var b strings.Builder
		for _, f := range run(t, nil, paths...) {
			fmt.Fprintf(&b, "%s %s %s %d\n", f.Rule.ID, f.Key(), f.Value, f.Count)
		}
		return b.String()
	}
	dir := filepath.Join("testdata", "rules")
	once, twice := summary(dir), summary(dir, dir)
	if once != twice {
		t.Errorf("the same records read twice change the findings:\n%s", diffLines(once, twice))
	}
	res := observe(t, dir, dir)
	if res.Duplicates == 0 || res.Duplicates != res.Seen {
		t.Errorf("%d duplicates of %d records", res.Duplicates, res.Seen)
	}
}

// --key follows a key to the keys it created and the sessions it obtained.
func TestLineage(t *testing.T) {
	res := observeWith(t, Options{Lineage: true}, filepath.Join("testdata", "rules", "ct-iam-access-key-other-user", "fire.json"))
	got := res.Lineage("AKIARTX3GSDS2RWAIZGX")
	if !got["AKIARTX3GSDS2RWAIZGX"] || !got["AKIAWO645SY5PUC3QERU"] || len(got) != 2 {
		t.Errorf("lineage: %v", got)
	}
	if l := res.Lineage("AKIAWO645SY5PUC3QERU"); len(l) != 1 {
		t.Errorf("a child's lineage holds its parent: %v", l)
	}
	fs := FilterActors(res.Findings(nil), map[string]bool{"AKIAWO645SY5PUC3QERU": true})
	if len(fs) != 0 {
		t.Errorf("findings of the parent kept for the child: %d", len(fs))
	}
}
