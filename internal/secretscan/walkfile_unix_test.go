//go:build unix

package secretscan

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A walk reads a directory, then opens its files: an entry that changed in
// between is treated as the walk would have treated it. A FIFO is skipped
// without blocking on the open (no writer ever comes), a symbolic link is
// not followed, and a regular file is read whole.
func TestScanWalkedFileChanged(t *testing.T) {
	k := newTestKeys(t, 41)
	creds := k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	for _, tc := range []struct {
		name     string
		make     func(t *testing.T, p, target string)
		found    int
		skipped  SkipReason
		nSkipped int64
	}{
		{"regular file", func(t *testing.T, p, _ string) {
			if err := os.WriteFile(p, []byte(creds), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 1, 0, 0},
		{"now a FIFO without a writer", func(t *testing.T, p, _ string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip("mkfifo:", err)
			}
		}, 0, SkipSpecial, 1},
		{"now a symbolic link", func(t *testing.T, p, target string) {
			if err := os.Symlink(target, p); err != nil {
				t.Skip("symlink:", err)
			}
		}, 0, SkipSymlink, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "target.ini")
			if err := os.WriteFile(target, []byte(creds), 0o600); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "entry")
			tc.make(t, p, target)
			s := &Sources{Detector: New(Options{})}
			s.defaults()
			found := 0
			var warned []error
			s.scanFile(context.Background(), fileJob{path: p}, nil,
				func(_ Origin, ms []Match) { found += len(ms) },
				func(err error) { warned = append(warned, err) })
			if found != tc.found || len(warned) != 0 {
				t.Errorf("found %d (want %d), warnings %v", found, tc.found, warned)
			}
			if tc.nSkipped > 0 && s.Stats.SkippedBy[tc.skipped].Load() != tc.nSkipped {
				t.Errorf("skipped as %s: %d, want %d", tc.skipped, s.Stats.SkippedBy[tc.skipped].Load(), tc.nSkipped)
			}
			if s.Stats.Skipped.Load() != tc.nSkipped {
				t.Errorf("skipped %d, want %d", s.Stats.Skipped.Load(), tc.nSkipped)
			}
		})
	}
}

// A walked file that cannot be opened is a warning naming the file, as
// os.Open's error would.
func TestScanWalkedFileMissing(t *testing.T) {
	s := &Sources{Detector: New(Options{})}
	s.defaults()
	p := filepath.Join(t.TempDir(), "gone.ini")
	var warned []error
	s.scanFile(context.Background(), fileJob{path: p}, nil, func(Origin, []Match) {}, func(err error) { warned = append(warned, err) })
	if len(warned) != 1 || warned[0].Error() != "open "+p+": no such file or directory" {
		t.Errorf("warnings %v", warned)
	}
}
