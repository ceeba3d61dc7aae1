package secretscan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A walked file is read without asking its size first, into a buffer
// kept from file to file; only one that fills the first reads is stat'ed.
// Around every boundary of that (the buffer's first size, the first reads,
// --max-file-size, the size above which files are streamed) the file is
// read whole, once, or skipped as too large, or streamed.
func TestScanWalkedSizes(t *testing.T) {
	k := newTestKeys(t, 43)
	pair := k.fill("\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	// file is size bytes of filler with the pair at its end.
	file := func(size int) []byte {
		b := bytes.Repeat([]byte("lorem ipsum dolor sit amet\n"), size/27+1)[:size-len(pair)]
		return append(b, pair...)
	}
	for _, tc := range []struct {
		name      string
		size      int   // 0: an empty file
		max       int64 // --max-file-size (0: the default)
		whole     int64 // wholeFileMax (0: the default)
		found     int
		tooLarge  int64
		wantCalls int // sink calls; -1: more than one (streamed)
	}{
		{"empty", 0, 0, 0, 0, 0, 0},
		{"small", 1000, 0, 0, 1, 0, 1},
		{"first buffer less one", minWalkBuf - 1, 0, 0, 1, 0, 1},
		{"first buffer", minWalkBuf, 0, 0, 1, 0, 1},
		{"first buffer and one", minWalkBuf + 1, 0, 0, 1, 0, 1},
		{"first reads", firstRead, 0, 0, 1, 0, 1},
		{"first reads and one", firstRead + 1, 0, 0, 1, 0, 1},
		{"three times the first reads", 3 * firstRead, 0, 0, 1, 0, 1},
		{"at --max-file-size", 1000, 1000, 0, 1, 0, 1},
		{"over --max-file-size, small", 1001, 1000, 0, 0, 1, 0},
		{"over --max-file-size, large", 2 * firstRead, firstRead, 0, 0, 1, 0},
		{"over --max-file-size, in the first buffer", minWalkBuf / 2, minWalkBuf / 4, 0, 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var data []byte
			if tc.size > 0 {
				data = file(tc.size)
			}
			if err := os.WriteFile(filepath.Join(dir, "f.ini"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			s := &Sources{Detector: New(Options{}), MaxFileSize: tc.max, wholeFileMax: tc.whole}
			found, calls := 0, 0
			err := s.ScanPaths(context.Background(), []string{dir}, func(_ Origin, ms []Match) { found += len(ms); calls++ })
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found || calls != tc.wantCalls {
				t.Errorf("found %d in %d calls, want %d in %d", found, calls, tc.found, tc.wantCalls)
			}
			if got := s.Stats.SkippedBy[SkipTooLarge].Load(); got != tc.tooLarge {
				t.Errorf("%d too large, want %d", got, tc.tooLarge)
			}
			scanned := int64(1) - tc.tooLarge
			if s.Stats.Files.Load() != scanned || s.Stats.Bytes.Load() != scanned*int64(len(data)) {
				t.Errorf("stats: %d files, %d bytes", s.Stats.Files.Load(), s.Stats.Bytes.Load())
			}
		})
	}
}

// One worker reads files of every size one after the other into the same
// buffer: nothing of a longer file read before shows through a shorter one.
func TestScanWalkedBufferReuse(t *testing.T) {
	k := newTestKeys(t, 44)
	pair := k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	big := strings.Repeat("x = 1\n", 3*firstRead/6) + pair
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a-big.ini":   big,
		"b-short.txt": "short\n",
		"c-empty.txt": "",
		"d-mid.ini":   strings.Repeat("y = 2\n", minWalkBuf/6) + pair,
		"e-tail.txt":  strings.Repeat("z", 10),
	})
	s := &Sources{Detector: New(Options{}), Workers: 1}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
	want := []string{
		filepath.ToSlash(filepath.Join(dir, "a-big.ini")) + ":" + itoa(3*firstRead/6+1) + " pair",
		filepath.ToSlash(filepath.Join(dir, "d-mid.ini")) + ":" + itoa(minWalkBuf/6+1) + " pair",
	}
	if !slices.Equal(got, want) || errs != nil {
		t.Errorf("got %q %v, want %q", got, errs, want)
	}
	if s.Stats.Files.Load() != 5 {
		t.Errorf("%d files scanned, want 5", s.Stats.Files.Load())
	}
}
