package secretscan

import (
	"bytes"
	"context"
	"io"

	"github.com/keywarden/keywarden/internal/awskey"
)

// Streams (stdin, named pipes, files larger than wholeFileMax) are scanned
// in windows of streamWindow bytes, in bounded memory. Each window is
// scanned again with the end of the one before it, and a match near the
// end of a window is left for the next one, which sees what follows it:
// that overlap is at least streamContextLines lines and streamContextBytes
// bytes (the longest context the detector reads: the structure above a
// hit, the pair window, "aws" a kilobyte around), and at most
// streamContextMax bytes.
const (
	streamWindow       = 4 << 20
	streamContextMax   = 64 << 10
	streamContextBytes = placeWindow
	streamContextLines = 16
)

// ScanReader scans a stream of any length (stdin) in windows, in bounded
// memory. Matches are reported with their line numbers in the stream.
// UTF-16 text with a byte order mark (PowerShell's Out-File, a .reg
// export piped in) is decoded, as in files; other data is scanned as it
// is (what a pipe carries is asked for).
func (s *Sources) ScanReader(ctx context.Context, name string, r io.Reader, sink Sink) error {
	s.defaults()
	text, _, err := textReader(r)
	if err != nil {
		return err
	}
	if err := s.scanStream(ctx, Origin{Path: name}, text, sink); err != nil {
		return err
	}
	s.Stats.Files.Add(1)
	return nil
}

// window returns the window size: streamWindow, or a smaller one set by
// the tests.
func (s *Sources) window() int {
	if s.streamWindow > 0 {
		return max(s.streamWindow, 2*streamContextMax)
	}
	return streamWindow
}

// scanStream scans r window by window. Each part of a match (key ID,
// secret, token) belongs to the window whose commit range holds its start;
// a match is reported by the first window that owns one of its parts, with
// its partners even when they lie beyond that window's commit range (the
// next window may not see back to that window's part). What a window
// reports is claimed: the next window, which may see it again, does not
// report it a second time.
func (s *Sources) scanStream(ctx context.Context, o Origin, r io.Reader, sink Sink) error {
	buf := make([]byte, 0, s.window()+streamContextMax)
	carry := 0     // bytes at the start of buf already scanned as context
	base := 0      // offset in the stream of buf[0]
	lineBase := 0  // line number (0-based) of buf[0] in the stream
	colBase := 0   // column (0-based) of buf[0] in its line
	committed := 0 // offset in buf below which matches were reported
	var claimed map[int]bool
	eof := false
	for !eof {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Fill the buffer.
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
		// Matches near the end are left for the next window.
		commitEnd := cut
		if !eof {
			commitEnd = contextStart(data, carry, cut)
			if commitEnd <= committed {
				commitEnd = cut
			}
		}
		s.Stats.Bytes.Add(int64(cut - carry))
		next := map[int]bool{}
		owned := func(st int) bool { return st >= committed && st < commitEnd }
		if ms := s.Detector.Find(data); len(ms) > 0 {
			var keep []Match
			for _, m := range ms {
				if !settle(&m, base, owned, claimed) {
					continue
				}
				for _, st := range partStarts(&m) {
					next[base+st] = true
				}
				shiftSpans(&m, base, lineBase, colBase)
				keep = append(keep, m)
			}
			if len(keep) > 0 {
				sink(o, keep)
			}
		}
		if eof {
			break
		}
		// Keep the context before commitEnd and everything after it.
		keepFrom := contextStart(data[:commitEnd], 0, commitEnd)
		kept := buf[:keepFrom]
		if nl := bytes.Count(kept, []byte{'\n'}); nl > 0 {
			lineBase += nl
			colBase = keepFrom - (bytes.LastIndexByte(kept, '\n') + 1)
		} else {
			colBase += keepFrom
		}
		base += keepFrom
		for off := range next {
			if off < base {
				delete(next, off)
			}
		}
		claimed = next
		n := copy(buf, buf[keepFrom:])
		buf = buf[:n]
		committed = commitEnd - keepFrom
		carry = cut - keepFrom
	}
	return nil
}

// contextStart returns where the context of the end of data[:end] begins:
// streamContextLines lines and streamContextBytes bytes before end,
// whichever is further, but not more than streamContextMax bytes nor
// before lo.
func contextStart(data []byte, lo, end int) int {
	at := tailStart(data[:end], lo, streamContextLines)
	at = min(at, end-streamContextBytes)
	return max(at, end-streamContextMax, lo)
}

// partStarts returns the starts of the parts m has: ID, secret, token.
func partStarts(m *Match) []int {
	var out []int
	if m.KeyID != "" {
		out = append(out, m.IDSpan.Start)
	}
	if m.Secret != "" {
		out = append(out, m.SecretSpan.Start)
	}
	if m.Token != "" {
		out = append(out, m.TokenSpan.Start)
	}
	return out
}

// settle decides what of m a window reports: the parts an earlier window
// reported (claimed, by offset in the stream) are dropped from it, and
// what is left is reported when one of its parts is this window's
// (owned) and it still makes a finding: a pair whose secret was reported
// becomes its key ID alone; a pair whose ID was reported, its secret alone
// when its name says AWS.
func settle(m *Match, base int, owned func(int) bool, claimed map[int]bool) bool {
	mine := false
	for _, st := range partStarts(m) {
		mine = mine || owned(st)
	}
	if !mine {
		return false
	}
	if m.Token != "" && claimed[base+m.TokenSpan.Start] {
		if m.Kind == KindSessionToken {
			return false
		}
		m.Token, m.TokenSpan = "", Span{}
	}
	if m.Secret != "" && claimed[base+m.SecretSpan.Start] {
		if m.Kind == KindSecret || !credentialKind(m.KeyID) {
			return false
		}
		m.Kind, m.Secret, m.SecretSpan, m.Context = KindKeyID, "", Span{}, ""
		m.Token, m.TokenSpan = "", Span{}
		m.Example = awskey.IsExampleID(m.KeyID) || isPlaceholderID(m.KeyID)
	}
	if m.KeyID != "" && claimed[base+m.IDSpan.Start] {
		if m.Kind != KindPair || !m.secretAWS {
			return false
		}
		m.Kind, m.KeyID, m.IDSpan, m.Account, m.Encoding, m.OwnKey = KindSecret, "", Span{}, "", "", false
		m.Token, m.TokenSpan = "", Span{}
		m.Example = awskey.IsExampleSecret(m.Secret) || isPlaceholderSecret(m.Secret)
	}
	for _, st := range partStarts(m) {
		if owned(st) {
			return true
		}
	}
	return false
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

// shiftSpans moves a match's positions from the window to the stream:
// offsets, line numbers, and the columns of the window's first line when
// the window starts inside a line.
func shiftSpans(m *Match, base, lineBase, colBase int) {
	for _, sp := range []*Span{&m.IDSpan, &m.SecretSpan, &m.TokenSpan} {
		if sp.Line == 0 {
			continue
		}
		if sp.Line == 1 {
			sp.Col += colBase
		}
		sp.Line += lineBase
		sp.Start += base
		sp.End += base
	}
}
