package secretscan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// collect runs fn and returns "path:line kind" for each match, sorted.
func collect(t *testing.T, fn func(Sink) error) ([]string, []error) {
	t.Helper()
	var got []string
	err := fn(func(o Origin, ms []Match) {
		for _, m := range ms {
			got = append(got, filepath.ToSlash(o.Path)+":"+itoa(m.Primary().Line)+" "+m.Kind.String())
		}
	})
	sort.Strings(got)
	if err != nil {
		return got, []error{err}
	}
	return got, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestScanPaths(t *testing.T) {
	k := newTestKeys(t, 20)
	dir := t.TempDir()
	pair := k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	writeFiles(t, dir, map[string]string{
		"a/creds.ini":          pair,
		"a/lone.txt":           "x\n" + k.ASIA + "\n",
		".git/config":          pair,
		"vendor/lib/x.go":      pair,
		"ignored/y.env":        pair,
		"sub/.gitignore":       "*.log\n!keep.log\n",
		"sub/app.log":          pair,
		"sub/keep.log":         pair,
		"bin.dat":              "\x00\x01" + pair,
		"big.txt":              strings.Repeat("x", 2000) + pair,
		".gitignore":           "ignored/\n",
		"image.png":            pair,
		"nested/deep/file.yml": "key: " + k.ID + "\n",
	})
	run := func(s *Sources) []string {
		s.Detector = New(Options{})
		var errs []error
		s.Warn = func(err error) { errs = append(errs, err) }
		got, e := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
		if len(e)+len(errs) > 0 {
			t.Fatalf("errors: %v %v", e, errs)
		}
		for i := range got {
			got[i] = strings.TrimPrefix(got[i], filepath.ToSlash(dir)+"/")
		}
		return got
	}
	got := run(&Sources{MaxFileSize: 1000, Exclude: []string{"vendor"}})
	want := []string{"a/creds.ini:1 pair", "a/lone.txt:2 key-id", "ignored/y.env:1 pair", "nested/deep/file.yml:1 key-id", "sub/app.log:1 pair", "sub/keep.log:1 pair"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plain walk:\n got %q\nwant %q", got, want)
	}
	got = run(&Sources{Gitignore: true, Exclude: []string{"**/deep/*.yml"}})
	want = []string{"a/creds.ini:1 pair", "a/lone.txt:2 key-id", "big.txt:1 pair", "sub/keep.log:1 pair", "vendor/lib/x.go:1 pair"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with .gitignore:\n got %q\nwant %q", got, want)
	}
}

func TestScanSymlinkedRoot(t *testing.T) {
	k := newTestKeys(t, 25)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"real/a.txt": k.ID + "\n", "real/.git/x": k.ID + "\n"})
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "real"), link); err != nil {
		t.Skip(err)
	}
	// A link inside the tree is not followed (no loops, no escapes).
	if err := os.Symlink(dir, filepath.Join(dir, "real", "loop")); err != nil {
		t.Fatal(err)
	}
	s := &Sources{Detector: New(Options{})}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{link}, sink) })
	if len(errs) > 0 || len(got) != 1 || !strings.HasSuffix(got[0], "link/a.txt:1 key-id") {
		t.Errorf("got %q %v", got, errs)
	}
}

func TestScanArchives(t *testing.T) {
	k := newTestKeys(t, 21)
	pair := k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")
	dir := t.TempDir()

	var inner bytes.Buffer
	zw := zip.NewWriter(&inner)
	w, _ := zw.Create("conf/app.properties")
	w.Write([]byte("aws.accessKeyId=" + k.ID2 + "\n"))
	zw.Close()

	var outer bytes.Buffer
	zw = zip.NewWriter(&outer)
	w, _ = zw.Create("creds")
	w.Write([]byte(pair))
	w, _ = zw.Create("lib/inner.jar")
	w.Write(inner.Bytes())
	w, _ = zw.Create("big")
	w.Write(bytes.Repeat([]byte("a"), 5000)) // over the size limit: skipped
	zw.Close()
	os.WriteFile(filepath.Join(dir, "app.zip"), outer.Bytes(), 0o644)

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "etc/env", Mode: 0o644, Size: int64(len(pair)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pair))
	tw.Close()
	gz.Close()
	os.WriteFile(filepath.Join(dir, "rootfs.tar.gz"), tgz.Bytes(), 0o644)

	s := &Sources{Detector: New(Options{}), Archives: true, MaxFileSize: 4096}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], filepath.ToSlash(dir)+"/")
	}
	want := []string{"app.zip!creds:1 pair", "app.zip!lib/inner.jar!conf/app.properties:1 key-id", "rootfs.tar.gz!etc/env:1 pair"}
	if len(errs) > 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q %v\nwant %q", got, errs, want)
	}
	// Without --archives, the archives are skipped.
	s = &Sources{Detector: New(Options{})}
	got, _ = collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
	if len(got) != 0 {
		t.Errorf("without archives: %q", got)
	}
}

// A zip bomb: many entries of highly compressible data must stop at the
// budget with an error, not exhaust memory or time.
func TestScanArchiveBomb(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	chunk := bytes.Repeat([]byte("A"), 1<<20)
	for i := 0; i < 40; i++ {
		w, _ := zw.Create("f" + itoa(i))
		w.Write(chunk)
	}
	zw.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "bomb.zip")
	os.WriteFile(p, b.Bytes(), 0o644)
	s := &Sources{Detector: New(Options{}), Archives: true, MaxFileSize: 2 << 20, MaxArchiveBytes: 16 << 20}
	var warned []error
	s.Warn = func(err error) { warned = append(warned, err) }
	if err := s.ScanPaths(context.Background(), []string{p}, func(Origin, []Match) {}); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0].Error(), "exceeds the scan's limits") {
		t.Errorf("warnings = %v", warned)
	}
}

// Streams are scanned in chunks: every planted pair is found once, with
// its line number in the stream, even across chunk boundaries.
func TestScanReaderChunks(t *testing.T) {
	k := newTestKeys(t, 22)
	var b strings.Builder
	var want []string
	line := 1
	for b.Len() < 3*streamWindow {
		if line%9973 == 0 {
			b.WriteString(k.fill("aws_access_key_id = {ID}\n"))
			want = append(want, "-:"+itoa(line)+" pair")
			b.WriteString("padding line\n")
			b.WriteString(k.fill("aws_secret_access_key = {SECRET}\n"))
			line += 3
			continue
		}
		b.WriteString("some ordinary text that pads the stream out to several chunks\n")
		line++
	}
	s := &Sources{Detector: New(Options{})}
	got, errs := collect(t, func(sink Sink) error {
		return s.ScanReader(context.Background(), "-", strings.NewReader(b.String()), sink)
	})
	sort.Strings(want)
	if len(errs) > 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %d matches %v, want %d", len(got), errs, len(want))
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("first difference: got %q want %q", got[i], want[i])
				break
			}
		}
	}
	if s.Stats.Bytes.Load() != int64(b.Len()) {
		t.Errorf("bytes = %d, want %d", s.Stats.Bytes.Load(), b.Len())
	}
}

// A single line longer than a chunk must not stall the reader.
func TestScanReaderLongLine(t *testing.T) {
	k := newTestKeys(t, 23)
	in := strings.Repeat("x", 2*streamWindow+100) + " " + k.ID + " " + strings.Repeat("y", streamWindow)
	s := &Sources{Detector: New(Options{})}
	got, errs := collect(t, func(sink Sink) error {
		return s.ScanReader(context.Background(), "-", strings.NewReader(in), sink)
	})
	if len(errs) > 0 || len(got) != 1 || got[0] != "-:1 key-id" {
		t.Errorf("got %q %v", got, errs)
	}
}

func TestKeyIDsFromCredentials(t *testing.T) {
	k := newTestKeys(t, 24)
	in := k.fill("[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n\n[other]\nAWS_ACCESS_KEY_ID={ASIA}\n[dup]\naws_access_key_id={ID}\n[bad]\naws_access_key_id = AKIA123\n")
	got := KeyIDsFromCredentials([]byte(in))
	if strings.Join(got, ",") != k.ID+","+k.ASIA {
		t.Errorf("got %q", got)
	}
}

// UTF-16 text (PowerShell, .reg exports) has a NUL after every ASCII
// character: with a byte order mark, or without one when its NUL bytes say
// so, it is decoded, not skipped as binary. Binary data with NULs is not.
func TestScanUTF16(t *testing.T) {
	k := newTestKeys(t, 21)
	text := k.fill("# profile\r\n$Env:AWS_ACCESS_KEY_ID=\"{ID}\"\r\n$Env:AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\r\n")
	enc := func(bom []byte, le bool) string {
		b := append([]byte{}, bom...)
		for _, c := range []byte(text) {
			if le {
				b = append(b, c, 0)
			} else {
				b = append(b, 0, c)
			}
		}
		return string(b)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"le.ps1":     enc([]byte{0xff, 0xfe}, true),
		"be.txt":     enc([]byte{0xfe, 0xff}, false),
		"nobom.txt":  enc(nil, true), // no mark: its NULs say UTF-16
		"nobom-be":   enc(nil, false),
		"core":       "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00\x10\x00\x00\x00\x00\x00\x00", 8) + enc(nil, true)[:40],
		"sub/x.json": "{}",
	})
	s := &Sources{Detector: New(Options{})}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], filepath.ToSlash(dir)+"/")
	}
	want := []string{"be.txt:2 pair", "le.ps1:2 pair", "nobom-be:2 pair", "nobom.txt:2 pair"}
	if len(errs) > 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q %v, want %q", got, errs, want)
	}
	got, _ = collect(t, func(sink Sink) error {
		return s.ScanBytes(context.Background(), Origin{Path: "blob"}, []byte(enc([]byte{0xff, 0xfe}, true)), sink)
	})
	if strings.Join(got, " ") != "blob:2 pair" {
		t.Errorf("ScanBytes: %q", got)
	}
}

// Through stdin ("scan -") UTF-16 is decoded as in files, also when the
// stream is scanned in several windows.
func TestScanReaderUTF16(t *testing.T) {
	k := newTestKeys(t, 22)
	pair := k.fill("$Env:AWS_ACCESS_KEY_ID=\"{ID}\"\r\n$Env:AWS_SECRET_ACCESS_KEY=\"{SECRET}\"\r\n")
	enc := func(text string, le bool) []byte {
		b := []byte{0xfe, 0xff}
		if le {
			b = []byte{0xff, 0xfe}
		}
		return append(b, encodeUTF16(text, le)[2:]...)
	}
	noBOM := func(text string, le bool) []byte { return encodeUTF16(text, le)[2:] }
	long := strings.Repeat("Write-Host 'hello, world'\r\n", 20000) + pair
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"little-endian", enc(pair, true), "-:1 pair"},
		{"big-endian", enc(pair, false), "-:1 pair"},
		{"after several windows", enc(long, true), "-:20001 pair"},
		{"little-endian without BOM", noBOM(pair, true), "-:1 pair"},
		{"big-endian without BOM", noBOM(pair, false), "-:1 pair"},
		{"without BOM, after several windows", noBOM(long, true), "-:20001 pair"},
		{"UTF-8 with NULs is scanned as is", append([]byte("\x00\x00"), pair...), "-:1 pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Sources{Detector: New(Options{}), streamWindow: 1 << 17}
			got, errs := collect(t, func(sink Sink) error {
				return s.ScanReader(context.Background(), "-", bytes.NewReader(tt.in), sink)
			})
			if len(errs) > 0 || strings.Join(got, " ") != tt.want {
				t.Errorf("got %q %v, want %q", got, errs, tt.want)
			}
		})
	}
}

// encodeUTF16 encodes ASCII text as UTF-16 with a byte order mark.
func encodeUTF16(text string, le bool) []byte {
	b := []byte{0xfe, 0xff}
	if le {
		b = []byte{0xff, 0xfe}
	}
	for _, c := range []byte(text) {
		if le {
			b = append(b, c, 0)
		} else {
			b = append(b, 0, c)
		}
	}
	return b
}

func TestUTF16NoBOM(t *testing.T) {
	text := "[default]\r\naws_region = eu-west-1\r\n"
	tests := []struct {
		name   string
		in     []byte
		le, ok bool
	}{
		{"little-endian", encodeUTF16(text, true)[2:], true, true},
		{"big-endian", encodeUTF16(text, false)[2:], false, true},
		{"too short", encodeUTF16("ab", true)[2:], false, false},
		{"ELF header", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x3e\x00\x01\x00\x00\x00"), false, false},
		{"uint16 table", bytes.Repeat([]byte{0x01, 0x00, 0x02, 0x00, 0x9f, 0x00}, 10), false, false},
		{"NUL-separated strings", []byte("HOME=/root\x00PATH=/bin\x00AWS_REGION=us-east-1\x00"), false, false},
		{"all NULs", make([]byte, 64), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le, ok := utf16NoBOM(tt.in)
			if ok != tt.ok || ok && le != tt.le {
				t.Errorf("utf16NoBOM = %v, %v; want %v, %v", le, ok, tt.le, tt.ok)
			}
		})
	}
}
