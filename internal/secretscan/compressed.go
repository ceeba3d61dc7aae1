package secretscan

import (
	"compress/bzip2"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compressed single files (.gz, .bz2, .xz, .zst) are archives of one
// entry: with Archives, they are decompressed (at most MaxFileSize bytes,
// counted against the archive budget) and their content scanned as an
// entry named after the file without its extension: creds.gz!creds. A
// compressed tar (.tar.xz, .tar.bz2, .tar.zst) is then opened as a tar.

// compressedKind names the compression of a file name, or "" (a .tar.gz
// or .tgz is an archive: archiveKind).
func compressedKind(name string) string {
	if archiveKind(name) != "" {
		return ""
	}
	l := strings.ToLower(name)
	for _, ext := range []string{"gz", "bz2", "xz", "zst"} {
		if strings.HasSuffix(l, "."+ext) {
			return ext
		}
	}
	return ""
}

// decompress returns a reader of r's decompressed content.
func decompress(kind string, r io.Reader) (io.ReadCloser, error) {
	switch kind {
	case "gz":
		return gzip.NewReader(r)
	case "bz2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case "xz":
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case "zst":
		// One goroutine, and a window no larger than what is read.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("not a compressed file")
}

// scanCompressed decompresses one compressed file (or entry, or blob) and
// scans its content as the entry inner, under o.
func (s *Sources) scanCompressed(ctx context.Context, o Origin, kind string, r io.Reader, depth int, budget *archiveBudget, sink Sink) error {
	dr, err := decompress(kind, r)
	if err != nil {
		return err
	}
	defer dr.Close()
	data, err := io.ReadAll(io.LimitReader(dr, s.MaxFileSize+1))
	if err != nil {
		return err
	}
	if err := budget.take(int64(len(data))); err != nil {
		return err
	}
	inner := o.Path
	if i := strings.LastIndexAny(inner, "/!"); i >= 0 {
		inner = inner[i+1:]
	}
	inner = inner[:len(inner)-len(kind)-1]
	return s.scanEntry(ctx, o, inner, data, depth, budget, sink)
}

// scanCompressedFile is scanCompressed for a file on disk.
func (s *Sources) scanCompressedFile(ctx context.Context, p string, sink Sink) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return archiveErr(p, s.scanCompressed(ctx, Origin{Path: p}, compressedKind(p), f, 1, s.newBudget(), sink))
}

// binaryStrings returns the printable strings of binary data, one a line,
// as strings(1) prints them: every run of bytes that are not printable
// ASCII (or a tab) becomes one line break. A core dump's environment block
// ("AWS_ACCESS_KEY_ID=...\x00AWS_SECRET_ACCESS_KEY=...") becomes one
// variable a line, and a finding's line is the number of its string.
func binaryStrings(data []byte) []byte {
	out := make([]byte, 0, len(data))
	for _, c := range data {
		switch {
		case c >= 0x20 && c < 0x7f || c == '\t':
			out = append(out, c)
		case len(out) > 0 && out[len(out)-1] != '\n':
			out = append(out, '\n')
		}
	}
	return out
}
