package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// A dormant key is judged against the stored baseline's last use when the
// run holds only the wake-up; without a baseline it cannot be.
func TestDormantAgainstBaseline(t *testing.T) {
	dir := t.TempDir()
	wake := filepath.Join(dir, "wake.json")
	data, err := os.ReadFile(filepath.Join("testdata", "rules", "ct-dormant-key-used", "fire.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Keep only the last record (the wake-up on 2024-06-03).
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	last := strings.TrimSuffix(lines[len(lines)-2], ",")
	if err := os.WriteFile(wake, []byte("{\"Records\":[\n"+last+"\n]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stored := func(lastUse time.Time) map[string]*Baseline {
		return map[string]*Baseline{"AKIARTX3GSDS2RWAIZGX": {Dims: [NumDims]map[string]Seen{
			{"198.51.100.7": {First: lastUse.Add(-24 * time.Hour), Last: lastUse, Count: 9}}}}}
	}
	for _, tc := range []struct {
		name  string
		prior map[string]*Baseline
		want  int
	}{
		{"last used 55 days before", stored(time.Date(2024, 4, 8, 17, 0, 0, 0, time.UTC)), 1},
		{"last used a week before", stored(time.Date(2024, 5, 27, 9, 0, 0, 0, time.UTC)), 0},
		{"no baseline", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fired(run(t, tc.prior, wake))["ct-dormant-key-used"]; got != tc.want {
				t.Errorf("%d findings, want %d", got, tc.want)
			}
		})
	}
}

// Tools the stored baseline knows for a key do not add up to a switch.
func TestAgentSwitchAgainstBaseline(t *testing.T) {
	fire := filepath.Join("testdata", "rules", "ct-user-agent-switch", "fire.json")
	seen := Seen{First: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC), Last: time.Date(2024, 6, 2, 9, 0, 0, 0, time.UTC), Count: 40}
	for _, tc := range []struct {
		name  string
		known []string
		want  int
	}{
		{"no baseline", nil, 1},
		{"the CLI is the key's usual tool", []string{"aws-cli"}, 0},
		{"an unrelated tool is known", []string{"terraform"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prior map[string]*Baseline
			if tc.known != nil {
				b := &Baseline{}
				b.Dims[dimIndex(DimUserAgent)] = map[string]Seen{}
				b.Dims[dimIndex(DimAddress)] = map[string]Seen{"203.0.113.50": seen}
				for _, k := range tc.known {
					b.Dims[dimIndex(DimUserAgent)][k] = seen
				}
				prior = map[string]*Baseline{"AKIARTX3GSDS2RWAIZGX": b}
			}
			if got := fired(run(t, prior, fire))["ct-user-agent-switch"]; got != tc.want {
				t.Errorf("%d findings, want %d", got, tc.want)
			}
		})
	}
}
