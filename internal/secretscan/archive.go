package secretscan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keywarden/keywarden/internal/report"
)

// Archives are hostile input: a zip bomb expands a few kilobytes into
// terabytes, and an archive may hold millions of entries or archives nested
// without end. These limits bound the work one archive can cause.
const (
	// MaxArchiveEntries is the most entries read from one archive.
	MaxArchiveEntries = 100000
	// MaxArchiveBytes is the most uncompressed bytes read from one archive,
	// nested archives included.
	MaxArchiveBytes = 1 << 30
	// maxArchiveDepth is how deep archives inside archives are opened.
	maxArchiveDepth = 3
)

// errArchiveBudget stops reading an archive that exceeded a limit.
var errArchiveBudget = errors.New("archive exceeds the scan's limits")

type archiveBudget struct {
	entries, maxEntries int
	bytes, maxBytes     int64
}

func (s *Sources) newBudget() *archiveBudget {
	b := &archiveBudget{maxEntries: MaxArchiveEntries, maxBytes: MaxArchiveBytes}
	if s.MaxArchiveBytes > 0 {
		b.maxBytes = s.MaxArchiveBytes
	}
	return b
}

func (b *archiveBudget) take(n int64) error {
	b.entries++
	b.bytes += n
	if b.entries > b.maxEntries || b.bytes > b.maxBytes {
		return errArchiveBudget
	}
	return nil
}

func (s *Sources) scanArchiveFile(ctx context.Context, p string, sink Sink) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	budget := s.newBudget()
	switch archiveKind(p) {
	case "zip":
		zr, err := zip.NewReader(f, st.Size())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		err = s.scanZip(ctx, p, zr, 1, budget, sink)
		return archiveErr(p, err)
	default:
		return archiveErr(p, s.scanTar(ctx, p, f, archiveKind(p) == "tgz", 1, budget, sink))
	}
}

func archiveErr(p string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errArchiveBudget) {
		return fmt.Errorf("%s: %w (at most %d entries and %d bytes uncompressed): the rest was not scanned", p, err, MaxArchiveEntries, MaxArchiveBytes)
	}
	if strings.HasPrefix(err.Error(), p) {
		return err
	}
	return fmt.Errorf("%s: %w", p, err)
}

func (s *Sources) scanArchiveBytes(ctx context.Context, o Origin, data []byte, depth int, sink Sink) error {
	return archiveErr(o.Path, s.scanArchiveData(ctx, o, data, depth, s.newBudget(), sink))
}

// scanArchiveData opens an archive held in memory (a nested one, or a blob).
func (s *Sources) scanArchiveData(ctx context.Context, o Origin, data []byte, depth int, budget *archiveBudget, sink Sink) error {
	name := o.Path
	switch archiveKind(name) {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return s.scanZipOrigin(ctx, o, zr, depth, budget, sink)
	case "tgz", "tar":
		return s.scanTarOrigin(ctx, o, bytes.NewReader(data), archiveKind(name) == "tgz", depth, budget, sink)
	}
	return nil
}

func (s *Sources) scanZip(ctx context.Context, p string, zr *zip.Reader, depth int, budget *archiveBudget, sink Sink) error {
	return s.scanZipOrigin(ctx, Origin{Path: p}, zr, depth, budget, sink)
}

func (s *Sources) scanZipOrigin(ctx context.Context, o Origin, zr *zip.Reader, depth int, budget *archiveBudget, sink Sink) error {
	for _, zf := range zr.File {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if zf.FileInfo().IsDir() {
			continue
		}
		if zf.UncompressedSize64 > uint64(s.MaxFileSize) {
			s.skip(zf.Name, false, SkipTooLarge)
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			s.skip(zf.Name, false, SkipUnsupported)
			continue
		}
		// The header's size may lie: read at most one byte past the limit.
		data, err := io.ReadAll(io.LimitReader(rc, s.MaxFileSize+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("entry %s: %w", printableName(zf.Name), err)
		}
		if err := budget.take(int64(len(data))); err != nil {
			return err
		}
		if err := s.scanEntry(ctx, o, zf.Name, data, depth, budget, sink); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sources) scanTar(ctx context.Context, p string, r io.Reader, gz bool, depth int, budget *archiveBudget, sink Sink) error {
	return s.scanTarOrigin(ctx, Origin{Path: p}, r, gz, depth, budget, sink)
}

func (s *Sources) scanTarOrigin(ctx context.Context, o Origin, r io.Reader, gz bool, depth int, budget *archiveBudget, sink Sink) error {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > s.MaxFileSize {
			s.skip(h.Name, false, SkipTooLarge)
			if err := budget.take(0); err != nil {
				return err
			}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, s.MaxFileSize+1))
		if err != nil {
			return fmt.Errorf("entry %s: %w", printableName(h.Name), err)
		}
		if err := budget.take(int64(len(data))); err != nil {
			return err
		}
		if err := s.scanEntry(ctx, o, h.Name, data, depth, budget, sink); err != nil {
			return err
		}
	}
}

// scanEntry scans one archive entry, opening it when it is itself an
// archive and the depth allows.
func (s *Sources) scanEntry(ctx context.Context, o Origin, name string, data []byte, depth int, budget *archiveBudget, sink Sink) error {
	eo := o
	eo.Path = o.Path + "!" + printableName(name)
	if int64(len(data)) > s.MaxFileSize {
		s.skip(eo.Path, false, SkipTooLarge)
		return nil
	}
	if k := compressedKind(name); k != "" {
		if depth >= maxArchiveDepth {
			s.skip(eo.Path, false, SkipNested)
			return nil
		}
		err := s.scanCompressed(ctx, eo, k, bytes.NewReader(data), depth+1, budget, sink)
		if errors.Is(err, errArchiveBudget) || errors.Is(err, context.Canceled) {
			return err
		}
		if err != nil {
			s.warn(fmt.Errorf("%s: %w", eo.Path, err))
		}
		return nil
	}
	if archiveKind(name) != "" {
		if depth >= maxArchiveDepth {
			s.skip(eo.Path, false, SkipNested)
			return nil
		}
		err := s.scanArchiveData(ctx, eo, data, depth+1, budget, sink)
		if errors.Is(err, errArchiveBudget) || errors.Is(err, context.Canceled) {
			return err
		}
		if err != nil {
			s.warn(err)
		}
		return nil
	}
	s.scanItem(eo, data, false, sink)
	return nil
}

// printableName keeps an entry name from an archive safe to print.
func printableName(s string) string {
	if len(s) > 512 {
		s = s[:512]
	}
	return report.Printable(s)
}
