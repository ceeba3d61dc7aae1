package secretscan

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func compress(t testing.TB, kind string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch kind {
	case "gz":
		w = gzip.NewWriter(&b)
	case "xz":
		w, err = xz.NewWriter(&b)
	case "zst":
		w, err = zstd.NewWriter(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarOf(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write(data)
	_ = tw.Close()
	return b.Bytes()
}

// Compressed single files and the printable strings of binary files, with
// --archives: each must pair the ID with its secret; a near-miss of each
// stays quiet; without --archives they are counted as skipped.
func TestScanCompressedAndBinary(t *testing.T) {
	k := newTestKeys(t, 51)
	creds := []byte(k.fill("[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"))
	clean := []byte("AWS_REGION=us-east-1\nname=" + k.AIDAish() + "\n")
	// A core dump's environment block: NUL-separated, among binary bytes.
	core := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 300)...)
	core = append(core, k.fill("HOME=/root\x00AWS_ACCESS_KEY_ID={ID}\x00AWS_SECRET_ACCESS_KEY={SECRET}\x00PATH=/bin\x00")...)
	core = append(core, bytes.Repeat([]byte{0, 3, 0xfe}, 100)...)
	bz2, err := os.ReadFile(filepath.Join("testdata", "compressed", "credentials.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	bz2Clean, err := os.ReadFile(filepath.Join("testdata", "compressed", "clean.env.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"credentials.gz":  string(compress(t, "gz", creds)),
		"credentials.xz":  string(compress(t, "xz", creds)),
		"credentials.zst": string(compress(t, "zst", creds)),
		"credentials.bz2": string(bz2), // the same credentials, written by bzip2(1)
		"backup.tar.xz":   string(compress(t, "xz", tarOf(t, "home/.aws/credentials", creds))),
		"core":            string(core),
		"clean.env.gz":    string(compress(t, "gz", clean)),
		"clean.env.zst":   string(compress(t, "zst", clean)),
		"clean.env.bz2":   string(bz2Clean),
		"noise.bin":       string(bytes.Repeat([]byte{0, 'A', 'K', 'I', 'A', 0xff}, 500)),
		"not-really.gz":   "plain text, not gzip\n",
		"stream.json.zst": string(compress(t, "zst", []byte(`{"kind":"note"}`))),
	}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	scan := func(archives bool) ([]string, []error, *Stats) {
		st := &Stats{}
		var warns []error
		s := &Sources{Detector: New(Options{}), Archives: archives, Stats: st, Warn: func(err error) { warns = append(warns, err) }}
		got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
		for i := range got {
			got[i] = strings.TrimPrefix(got[i], filepath.ToSlash(dir)+"/")
		}
		return got, append(errs, warns...), st
	}
	got, errs, _ := scan(true)
	want := []string{
		"backup.tar.xz!backup.tar!home/.aws/credentials:2 pair",
		"core:3 pair",
		"credentials.bz2!credentials:2 pair",
		"credentials.gz!credentials:2 pair",
		"credentials.xz!credentials:2 pair",
		"credentials.zst!credentials:2 pair",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with archives:\n got %q\nwant %q", got, want)
	}
	// The file that only claims to be gzip is an error that names it.
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not-really.gz") {
		t.Errorf("errors: %v", errs)
	}
	got, _, st := scan(false)
	if len(got) != 0 {
		t.Errorf("without archives: %q", got)
	}
	if n := st.SkippedBy[SkipArchive].Load(); n != 10 {
		t.Errorf("skipped as archives: %d, want 10", n)
	}
	if n := st.SkippedBy[SkipBinary].Load(); n != 2 {
		t.Errorf("skipped as binary: %d, want 2", n)
	}
}

// A compressed file is bounded like an archive entry: what decompresses
// past --max-file-size is not scanned, and said.
func TestScanCompressedBomb(t *testing.T) {
	k := newTestKeys(t, 52)
	big := append(bytes.Repeat([]byte("x"), 1<<20), k.fill("\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n")...)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"big.log.gz": string(compress(t, "gz", big))})
	st := &Stats{}
	s := &Sources{Detector: New(Options{}), Archives: true, MaxFileSize: 64 << 10, Stats: st}
	got, errs := collect(t, func(sink Sink) error { return s.ScanPaths(context.Background(), []string{dir}, sink) })
	if len(got) != 0 || len(errs) != 0 || st.SkippedBy[SkipTooLarge].Load() != 1 {
		t.Errorf("got %q %v, too-large %d", got, errs, st.SkippedBy[SkipTooLarge].Load())
	}
}

// Blobs (git) go the same way: a compressed blob is opened with Archives.
func TestScanBytesCompressed(t *testing.T) {
	k := newTestKeys(t, 53)
	creds := []byte(k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"))
	s := &Sources{Detector: New(Options{}), Archives: true}
	got, errs := collect(t, func(sink Sink) error {
		return s.ScanBytes(context.Background(), Origin{Path: "backup/creds.zst"}, compress(t, "zst", creds), sink)
	})
	if len(errs) != 0 || strings.Join(got, " ") != "backup/creds.zst!creds:1 pair" {
		t.Errorf("got %q %v", got, errs)
	}
}

// FuzzScanCompressed feeds hostile bytes to the decompressors and the
// binary-strings reader: errors are fine, panics and runaway memory are not.
func FuzzScanCompressed(f *testing.F) {
	k := newTestKeys(f, 54)
	creds := []byte(k.fill("aws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"))
	for i, kind := range []string{"gz", "xz", "zst"} {
		f.Add(uint8(i), compress(f, kind, creds))
	}
	if bz2, err := os.ReadFile(filepath.Join("testdata", "compressed", "credentials.bz2")); err == nil {
		f.Add(uint8(3), bz2)
	}
	f.Add(uint8(4), append([]byte{0, 1, 2}, creds...))
	names := []string{"x.gz", "x.xz", "x.zst", "x.bz2", "core", "x.tar.xz"}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		s := &Sources{Detector: New(Options{}), Archives: true, MaxFileSize: 1 << 16, MaxArchiveBytes: 1 << 18}
		_ = s.ScanBytes(context.Background(), Origin{Path: names[int(which)%len(names)]}, data, func(Origin, []Match) {})
	})
}
