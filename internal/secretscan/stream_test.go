package secretscan

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/keywarden/keywarden/internal/awskey"
)

// streamCorpus builds about size bytes with a key pair every few hundred
// bytes, each with its own keys: ID then secret, secret then ID, a few
// lines apart or on one line, in short lines or (long) all on one line.
// Planted that densely, some pairs straddle every window boundary.
func streamCorpus(t *testing.T, size int, long bool, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 5))
	cr := rand.NewChaCha8([32]byte{byte(seed), 'w'})
	must := func(s string, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sep := "\n"
	if long {
		sep = " "
	}
	var b bytes.Buffer
	for b.Len() < size {
		for n := r.IntN(6); n > 0; n-- {
			b.WriteString(strings.Repeat("filler text ", 1+r.IntN(12)))
			b.WriteString(sep)
		}
		id := must(awskey.NewID("AKIA", uint64(100000000000+b.Len()), cr))
		sec := must(awskey.NewSecret(cr))
		gap := strings.Repeat("other = 1"+sep, r.IntN(3))
		switch r.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "[p%d]%saws_access_key_id = %s%s%saws_secret_access_key = %s%s", b.Len(), sep, id, sep, gap, sec, sep)
		case 1:
			fmt.Fprintf(&b, "[p%d]%saws_secret_access_key = %s%s%saws_access_key_id = %s%s", b.Len(), sep, sec, sep, gap, id, sep)
		default:
			fmt.Fprintf(&b, `{"AccessKeyId": "%s", "SecretAccessKey": "%s"}%s`, id, sec, sep)
		}
	}
	return b.Bytes()
}

// matchKeys renders matches for comparison: kind, values and every span's
// line and column.
func matchKeys(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s %s %s id@%d:%d sec@%d:%d", m.Kind, m.KeyID, m.Secret,
			m.IDSpan.Line, m.IDSpan.Col, m.SecretSpan.Line, m.SecretSpan.Col))
	}
	slices.Sort(out)
	return out
}

// A stream scanned in small windows finds exactly what one pass over the
// whole data finds: every pair once, paired across window boundaries,
// with its lines and columns in the stream, on short lines and on one
// long line.
func TestScanStreamWindows(t *testing.T) {
	for _, long := range []bool{false, true} {
		t.Run(fmt.Sprintf("long=%v", long), func(t *testing.T) {
			data := streamCorpus(t, 1<<20, long, 3)
			d := New(Options{})
			want := matchKeys(d.Find(data))
			s := &Sources{Detector: d, streamWindow: 128 << 10}
			var got []Match
			err := s.ScanReader(context.Background(), "-", bytes.NewReader(data), func(o Origin, ms []Match) { got = append(got, ms...) })
			if err != nil {
				t.Fatal(err)
			}
			if len(data) < 4*s.window() {
				t.Fatalf("%d bytes: fewer than 4 windows", len(data))
			}
			pairs := 0
			for _, m := range got {
				if m.Kind == KindPair {
					pairs++
				}
			}
			g := matchKeys(got)
			if pairs != len(got) || !slices.Equal(g, want) {
				t.Errorf("%d matches (%d pairs), whole-data scan %d", len(got), pairs, len(want))
				for i := range min(len(g), len(want)) {
					if g[i] != want[i] {
						t.Errorf("first difference:\n got %s\nwant %s", g[i], want[i])
						break
					}
				}
			}
		})
	}
}

// An ID and a secret further apart than the windows overlap, the only
// ones in the data (so they pair, however far apart): wherever the window
// boundary falls between them, each is reported once, never the secret
// both alone and in a pair.
func TestScanStreamClaims(t *testing.T) {
	k := newTestKeys(t, 30)
	s := &Sources{Detector: New(Options{}), streamWindow: 128 << 10}
	capacity := s.window() + streamContextMax
	const apart = 12 << 10 // more than streamContextBytes, less than the window
	secret := k.fill("[aws]\naws_secret_access_key = {SECRET}\n")
	id := k.fill("aws_access_key_id = {ID}\n")
	filler := func(n int) string { return strings.Repeat("x = 1\n", n/6) }
	for _, secretFirst := range []bool{true, false} {
		for at := capacity - 40<<10; at < capacity+8<<10; at += 1 << 10 {
			first, second := secret, id
			if !secretFirst {
				first, second = id, secret
			}
			in := filler(at) + first + filler(apart) + second + filler(64<<10)
			var got []Match
			err := s.ScanReader(context.Background(), "-", strings.NewReader(in), func(o Origin, ms []Match) { got = append(got, ms...) })
			if err != nil {
				t.Fatal(err)
			}
			secrets, ids := 0, 0
			for _, m := range got {
				if m.Secret == k.Secret {
					secrets++
				}
				if m.KeyID == k.ID {
					ids++
				}
			}
			if secrets != 1 || ids != 1 {
				t.Errorf("secret first %v, at %d: %s", secretFirst, at, summary(k, got))
			}
		}
	}
}

// Files over wholeFileMax are streamed: a pair across a window boundary
// is found once, and the memory used is the window, not the file. A file
// met in a walk too (read without asking its size first, it is streamed
// from the bytes read before its size was asked on), whether it is longer
// than a walk's first reads or not.
func TestScanLargeFileStreamed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int
		walked bool
	}{
		{"named", 600 << 10, false},
		{"walked", 600 << 10, true},
		{"walked, just over the first reads", firstRead + 40<<10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := streamCorpus(t, tc.size, false, 4)
			want := matchKeys(New(Options{}).Find(data))
			dir := t.TempDir()
			p := filepath.Join(dir, "big.ini")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			root := p
			if tc.walked {
				root = dir
			}
			s := &Sources{Detector: New(Options{}), streamWindow: 128 << 10, wholeFileMax: 64 << 10}
			var got []Match
			calls := 0
			err := s.ScanPaths(context.Background(), []string{root}, func(o Origin, ms []Match) { got = append(got, ms...); calls++ })
			if err != nil {
				t.Fatal(err)
			}
			if g := matchKeys(got); !slices.Equal(g, want) {
				t.Errorf("streamed file: %d matches, whole %d", len(g), len(want))
			}
			// Read whole, the file's matches would come in one call.
			if calls < len(data)/s.window() {
				t.Errorf("%d windows reported matches: the file was not streamed", calls)
			}
			if s.Stats.Files.Load() != 1 || s.Stats.Bytes.Load() != int64(len(data)) {
				t.Errorf("stats: %d files, %d bytes", s.Stats.Files.Load(), s.Stats.Bytes.Load())
			}
		})
	}
}

// makeFIFO makes a named pipe at p and writes content to it once a reader
// opens it.
func makeFIFO(t *testing.T, p, content string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(content)
	}()
}

// A named pipe named explicitly is read as a stream (its stat size is 0);
// one met in a walk is skipped, counted, and never opened (with no
// writer, opening it would block).
func TestScanNamedPipe(t *testing.T) {
	k := newTestKeys(t, 31)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "creds.fifo")
	makeFIFO(t, fifo, k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"))
	s := &Sources{Detector: New(Options{})}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{fifo}, sink) })
	if len(errs) > 0 || strings.Join(got, " ") != filepath.ToSlash(fifo)+":1 pair" {
		t.Errorf("explicit FIFO: %q %v", got, errs)
	}

	// In a walk: skipped, counted, the rest scanned. The FIFO has no
	// writer now: opening it would hang the test.
	writeFiles(t, dir, map[string]string{"a.txt": k.ID + "\n"})
	s = &Sources{Detector: New(Options{})}
	got, errs = collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
	if len(errs) > 0 || len(got) != 1 || !strings.HasSuffix(got[0], "a.txt:1 key-id") {
		t.Errorf("walk: %q %v", got, errs)
	}
	if n := s.Stats.SkippedBy[SkipSpecial].Load(); n != 1 {
		t.Errorf("special files skipped: %d, want 1", n)
	}
}

// A stream over MaxFileSize is scanned up to the limit and reported as
// truncated.
func TestScanNamedPipeTooLarge(t *testing.T) {
	k := newTestKeys(t, 32)
	fifo := filepath.Join(t.TempDir(), "big.fifo")
	makeFIFO(t, fifo, k.ID+"\n"+strings.Repeat("z", 5000)+"\n"+k.ID2+"\n")
	var skipped []string
	s := &Sources{Detector: New(Options{}), MaxFileSize: 1000,
		Skip: func(p string, r SkipReason) { skipped = append(skipped, filepath.Base(p)+" "+r.String()) }}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{fifo}, sink) })
	if len(errs) > 0 || len(got) != 1 || !strings.HasSuffix(got[0], ":1 key-id") {
		t.Errorf("got %q %v", got, errs)
	}
	if strings.Join(skipped, ",") != "big.fifo truncated" {
		t.Errorf("skipped = %q", skipped)
	}
}

// Inputs named explicitly that are skipped are told to Skip with the
// reason; skips in walks are only counted, by reason.
func TestScanSkipReasons(t *testing.T) {
	k := newTestKeys(t, 33)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"big.txt":       strings.Repeat("x", 3000) + k.ID + "\n",
		"bin.dat":       "\x00\x01" + k.ID,
		"app.zip":       "PK\x03\x04",
		"tree/a.png":    k.ID,
		"tree/b.dat":    "\x00" + k.ID,
		"tree/c.txt":    strings.Repeat("y", 3000),
		"tree/d.tar.gz": "x",
		"tree/skip/e":   k.ID,
		"tree/.git/f":   k.ID,
		"tree/ok.txt":   k.ID + "\n",
	})
	if err := os.Symlink(filepath.Join(dir, "big.txt"), filepath.Join(dir, "tree", "link")); err != nil {
		t.Fatal(err)
	}
	var told []string
	s := &Sources{Detector: New(Options{}), MaxFileSize: 2000, Exclude: []string{"skip"},
		Skip: func(p string, r SkipReason) { told = append(told, filepath.Base(p)+" "+r.String()) }}
	paths := []string{filepath.Join(dir, "big.txt"), filepath.Join(dir, "bin.dat"), filepath.Join(dir, "app.zip"), filepath.Join(dir, "tree")}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), paths, sink) })
	if len(errs) > 0 || len(got) != 1 {
		t.Errorf("got %q %v", got, errs)
	}
	slices.Sort(told)
	if want := "app.zip archive,big.txt too-large,bin.dat binary"; strings.Join(told, ",") != want {
		t.Errorf("told %q, want %q", strings.Join(told, ","), want)
	}
	want := map[SkipReason]int64{SkipTooLarge: 2, SkipBinary: 2, SkipArchive: 2, SkipExtension: 1,
		SkipExcluded: 1, SkipGitDir: 1, SkipSymlink: 1}
	for r := SkipReason(0); r < NumSkipReasons; r++ {
		if n := s.Stats.SkippedBy[r].Load(); n != want[r] {
			t.Errorf("%s: %d skipped, want %d", r, n, want[r])
		}
	}
	if s.Stats.Skipped.Load() != 10 {
		t.Errorf("skipped in all: %d, want 10", s.Stats.Skipped.Load())
	}
}

// FuzzScanStream scans the input repeated over several windows, with the
// pad between copies varied by the input, and checks what the windows
// report: no part (ID, secret, token) reported twice, and every span at
// the place its offsets, line and column say, in the stream.
func FuzzScanStream(f *testing.F) {
	k := newTestKeys(f, 6)
	for _, s := range []string{
		"[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n",
		"[aws]\naws_secret_access_key = {SECRET}\n",
		`{"AccessKeyId":"{ID}","SecretAccessKey":"{SECRET}","SessionToken":"{TOKEN}"} `,
		"{ID} ", "x\n",
	} {
		f.Add([]byte(k.fill(s)), uint16(100))
	}
	d := New(Options{})
	f.Fuzz(func(t *testing.T, in []byte, pad uint16) {
		if len(in) == 0 {
			return
		}
		var b bytes.Buffer
		for i := 0; b.Len() < 3*(256<<10); i++ {
			b.Write(in)
			b.Write(bytes.Repeat([]byte{' '}, (int(pad)*(i+1))%4096))
		}
		data := b.Bytes()
		// The start of each line, to check line and column.
		starts := []int{0}
		for i, c := range data {
			if c == '\n' {
				starts = append(starts, i+1)
			}
		}
		s := &Sources{Detector: d, streamWindow: 128 << 10}
		seen := map[int]bool{}
		err := s.ScanReader(context.Background(), "-", bytes.NewReader(data), func(o Origin, ms []Match) {
			for _, m := range ms {
				for _, st := range partStarts(&m) {
					if seen[st] {
						t.Fatalf("part at %d reported twice", st)
					}
					seen[st] = true
				}
				for _, sp := range []Span{m.IDSpan, m.SecretSpan, m.TokenSpan} {
					if sp.Line == 0 {
						continue
					}
					if sp.Start < 0 || sp.End > len(data) || sp.Start > sp.End || sp.Line > len(starts) {
						t.Fatalf("span %+v out of range (len %d)", sp, len(data))
					}
					if at := starts[sp.Line-1] + sp.Col - 1; at != sp.Start {
						t.Fatalf("span %+v: line and column say offset %d", sp, at)
					}
				}
				if m.KeyID != "" && m.Encoding == "" && string(data[m.IDSpan.Start:m.IDSpan.End]) != m.KeyID {
					t.Fatalf("ID span does not hold the ID")
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
