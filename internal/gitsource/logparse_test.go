package gitsource

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// rawLog builds `git log --raw -z -c` output of n commits, each adding
// three blobs (one through a merge's combined diff), deleting one and
// adding a submodule, with paths of every length up to a few hundred
// bytes; it returns the log and the "oid path" entries parseLog must emit.
func rawLog(n int) (string, []string) {
	var b strings.Builder
	var want []string
	z := strings.Repeat("0", 40)
	oid := func(c, i int) string { return fmt.Sprintf("%08x%032x", c+1, i) }
	for c := range n {
		fmt.Fprintf(&b, "\x01%040x\x00A <a@example.com>\x00%d\x00\n", c, 1700000000+c)
		for i := range 3 {
			path := fmt.Sprintf("d%d/%s%d.txt", c, strings.Repeat("p", (c*7+i*13)%300), i)
			o := oid(c, i)
			if i == 2 {
				fmt.Fprintf(&b, "::100644 100644 100644 %s %s %s MM\x00%s\x00", oid(c, 9), oid(c, 8), o, path)
			} else {
				fmt.Fprintf(&b, ":000000 100644 %s %s A\x00%s\x00", z, o, path)
			}
			want = append(want, o+" "+path)
		}
		fmt.Fprintf(&b, ":100644 000000 %s %s D\x00gone%d\x00", oid(c, 5), z, c)
		fmt.Fprintf(&b, ":000000 160000 %s %s A\x00sub%d\x00", z, oid(c, 6), c)
	}
	return b.String(), want
}

// diffIndex builds `git diff-index -z --raw` output of n added files.
func diffIndex(n int) (string, []string) {
	var b strings.Builder
	var want []string
	for i := range n {
		o := fmt.Sprintf("%040x", i+1)
		path := fmt.Sprintf("dir/%s%d", strings.Repeat("q", i%250), i)
		fmt.Fprintf(&b, ":000000 100644 %s %s A\x00%s\x00", strings.Repeat("0", 40), o, path)
		want = append(want, o+" "+path)
	}
	return b.String(), want
}

func collectLog(r io.Reader) ([]string, error) {
	var got []string
	err := parseLog(r, func(c change) error {
		got = append(got, string(c.oid)+" "+string(c.path))
		return nil
	})
	return got, err
}

func collectDiffIndex(r io.Reader) ([]string, error) {
	var got []string
	err := parseDiffIndex(r, func(oid, path []byte) error {
		got = append(got, string(oid)+" "+string(path))
		return nil
	})
	return got, err
}

// The parsers read tokens that point into a bufio buffer. However git's
// output arrives (in pipe-sized chunks, a byte at a time), each entry's
// object ID and mode must survive the read of its path: a refill of the
// buffer between them once turned object IDs into garbage, so that blobs
// were skipped (a corrupted mode) or looked up under a wrong ID.
func TestParsersSurviveBufferRefills(t *testing.T) {
	logIn, logWant := rawLog(400) // about 1 MB: many refills of the 64 KB buffer
	idxIn, idxWant := diffIndex(300)
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte at a time", iotest.OneByteReader},
		{"half reads", iotest.HalfReader},
		{"7-byte chunks", func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 7} }},
		{"pipe-sized chunks", func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 4093} }},
	}
	parsers := []struct {
		name  string
		in    string
		want  []string
		parse func(io.Reader) ([]string, error)
	}{
		{"parseLog", logIn, logWant, collectLog},
		{"parseDiffIndex", idxIn, idxWant, collectDiffIndex},
	}
	for _, p := range parsers {
		for _, rd := range readers {
			t.Run(p.name+"/"+rd.name, func(t *testing.T) {
				got, err := p.parse(rd.wrap(strings.NewReader(p.in)))
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(p.want) {
					t.Fatalf("%d entries, want %d", len(got), len(p.want))
				}
				for i := range got {
					if got[i] != p.want[i] {
						t.Fatalf("entry %d = %q, want %q", i, got[i], p.want[i])
					}
				}
			})
		}
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

func TestParseRawRejectsBadObjectIDs(t *testing.T) {
	o := strings.Repeat("1", 40)
	tests := []struct {
		line string
		ok   bool
	}{
		{":000000 100644 " + o + " " + o + " A", true},
		{":000000 100644 " + o + " " + strings.Repeat("a", 64) + " A", true}, // SHA-256
		{":000000 100644 " + o + " " + o[:39] + " A", false},
		{":000000 100644 " + o + " " + o[:39] + "g A", false},
		{":000000 100644 " + o + " " + strings.ToUpper(strings.Repeat("a", 40)) + " A", false},
		{":000000 100644 " + o + " A", false},
		{"100644 100644 " + o + " " + o + " A", false},
	}
	for _, tt := range tests {
		if _, _, ok := parseRaw([]byte(tt.line)); ok != tt.ok {
			t.Errorf("parseRaw(%q) ok = %v, want %v", tt.line, ok, tt.ok)
		}
	}
}

// FuzzParseLog feeds the raw log and diff-index parsers arbitrary bytes,
// whole and a byte at a time: neither may panic, every entry emitted must
// carry a well-formed object ID, and the way the input is split into reads
// must not change the result (it did, when tokens outlived their buffer).
//
//	go test ./internal/gitsource -run '^$' -fuzz FuzzParseLog -fuzztime 1m
func FuzzParseLog(f *testing.F) {
	logIn, _ := rawLog(3)
	idxIn, _ := diffIndex(3)
	f.Add([]byte(logIn))
	f.Add([]byte(idxIn))
	f.Add([]byte("\x01c1\x00A <a@x>\x001700000000\x00\n:000000 100644 0000 1111 A\x00p\x00"))
	f.Add([]byte("::100644 100644 100644 a b c MM\x00m\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func(io.Reader) ([]string, error){collectLog, collectDiffIndex} {
			whole, err1 := parse(bytes.NewReader(data))
			bytewise, err2 := parse(iotest.OneByteReader(bytes.NewReader(data)))
			if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(whole, bytewise) {
				t.Fatalf("read whole: %q, %v\nbyte by byte: %q, %v", whole, err1, bytewise, err2)
			}
			for _, e := range whole {
				oid, _, _ := strings.Cut(e, " ")
				if !isHexOID(oid) {
					t.Fatalf("emitted object ID %q", oid)
				}
			}
		}
	})
}
