package secretscan

import (
	"bytes"
	"context"
	"io"
)

// streamChunk is how much of a stream is scanned at once; streamContext is
// how many lines of the previous chunk are scanned again with the next, so
// that a pair split across chunks is still seen whole.
const (
	streamChunk       = 4 << 20
	streamContextMax  = 64 << 10
	streamContextLine = 16
)

// ScanReader scans a stream of any length (stdin) in chunks, in bounded
// memory. Matches are reported with their line numbers in the stream.
func (s *Sources) ScanReader(ctx context.Context, name string, r io.Reader, sink Sink) error {
	s.defaults()
	buf := make([]byte, 0, streamChunk+streamContextMax)
	carry := 0     // bytes at the start of buf already scanned as context
	lineBase := 0  // line number (0-based) of buf[0] in the stream
	committed := 0 // offset in buf below which matches were reported
	eof := false
	for !eof {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Fill the buffer up to a chunk.
		for len(buf) < cap(buf) && !eof {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return err
			}
		}
		// Scan up to the last full line (everything at EOF).
		cut := len(buf)
		if !eof {
			if i := bytes.LastIndexByte(buf, '\n'); i >= carry {
				cut = i + 1
			}
		}
		data := buf[:cut]
		// Matches in the last lines are left for the next chunk, which will
		// see them with what follows.
		commitEnd := cut
		if !eof {
			commitEnd = tailStart(data, carry, streamContextLine)
			// Long lines: defer at most streamContextMax bytes, so that every
			// round makes progress and the buffer never fills with context.
			if commitEnd < cut-streamContextMax {
				commitEnd = cut - streamContextMax
			}
			if commitEnd <= committed {
				commitEnd = cut
			}
		}
		s.Stats.Bytes.Add(int64(cut - carry))
		if ms := s.Detector.Find(data); len(ms) > 0 {
			var keep []Match
			for _, m := range ms {
				if st := m.Primary().Start; st >= committed && st < commitEnd {
					shiftLines(&m, lineBase)
					keep = append(keep, m)
				}
			}
			if len(keep) > 0 {
				sink(Origin{Path: name}, keep)
			}
		}
		if eof {
			break
		}
		// Keep context lines before commitEnd and everything after it.
		keepFrom := tailStart(data[:commitEnd], 0, streamContextLine)
		if commitEnd-keepFrom > streamContextMax {
			keepFrom = commitEnd - streamContextMax
		}
		lineBase += bytes.Count(buf[:keepFrom], []byte{'\n'})
		n := copy(buf, buf[keepFrom:])
		buf = buf[:n]
		committed = commitEnd - keepFrom
		carry = cut - keepFrom
	}
	s.Stats.Files.Add(1)
	return nil
}

// tailStart returns the offset where the last n lines of data begin, but
// not before lo.
func tailStart(data []byte, lo, n int) int {
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	for i := 0; i < n; i++ {
		j := bytes.LastIndexByte(data[lo:end], '\n')
		if j < 0 {
			return lo
		}
		end = lo + j
	}
	return end + 1
}

// shiftLines moves a match's line numbers from chunk to stream.
func shiftLines(m *Match, base int) {
	for _, sp := range []*Span{&m.IDSpan, &m.SecretSpan, &m.TokenSpan} {
		if sp.Line > 0 {
			sp.Line += base
		}
	}
}
