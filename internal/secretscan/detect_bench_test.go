package secretscan

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchWords approximates source code: keywords, identifiers, operators.
// benchRare are the words the scanner anchors on ("secret", "token", the
// 'A' of key IDs) and near-misses (an AIDA ID, base64, "AKIA" alone); they
// are drawn once in benchRareEvery words, more often than in the Go
// toolchain's source, so the figures err on the slow side.
var benchWords = []string{
	"func", "return", "if", "err", "!=", "nil", "{", "}", "(", ")", ":=", "=", "for", "range",
	"package", "import", "type", "struct", "string", "int", "[]byte", "ctx", "context.Context",
	"\"fmt\"", "// comment about the API", "config", "Options", "value", "name", "data", "buf",
	"len(data)", "key", "x", "i++", "ARN", "Account", "AWS", "Access", "HTTP", "URL",
}

var benchRare = []string{
	"Secret", "token.Pos", "sessionToken", "AIDAJQABLZS4A3QDU576", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=",
	"\"AKIA\"", "AKIAbogus", "secret_key = os.Getenv(\"X\")",
}

const benchRareEvery = 200

// benchCorpus generates about size bytes of code-like text with a key pair
// planted every plantEvery bytes (0: none). Same seed, same corpus.
func benchCorpus(b testing.TB, size, plantEvery int, seed uint64) []byte {
	b.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	var buf bytes.Buffer
	buf.Grow(size + 256)
	for buf.Len() < size {
		n := 3 + r.IntN(9)
		buf.WriteString("\t")
		for i := 0; i < n; i++ {
			if r.IntN(benchRareEvery) == 0 {
				buf.WriteString(benchRare[r.IntN(len(benchRare))])
			} else {
				buf.WriteString(benchWords[r.IntN(len(benchWords))])
			}
			buf.WriteByte(' ')
		}
		buf.WriteByte('\n')
	}
	out := buf.Bytes()[:size]
	if plantEvery > 0 {
		k := newTestKeys(b, seed)
		pair := []byte(k.fill("\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"))
		for off := plantEvery / 2; off+len(pair) < len(out); off += plantEvery {
			copy(out[off:], pair)
		}
	}
	return out
}

// BenchmarkFind measures the detector alone over 8 MiB in memory.
func BenchmarkFind(b *testing.B) {
	for _, bc := range []struct {
		name       string
		plantEvery int
	}{{"clean", 0}, {"keys-every-64KiB", 64 << 10}} {
		data := benchCorpus(b, 8<<20, bc.plantEvery, 1)
		d := New(Options{})
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				d.Find(data)
			}
		})
	}
}

// BenchmarkFindHostile feeds the worst input for pairing: nothing but
// IDs and secrets on alternate lines. Its cost must stay linear.
func BenchmarkFindHostile(b *testing.B) {
	k := newTestKeys(b, 3)
	var buf bytes.Buffer
	for buf.Len() < 4<<20 {
		buf.WriteString(k.fill("{ID}\naws_secret_access_key={SECRET}\n{SECRET2}\n"))
	}
	data := buf.Bytes()
	d := New(Options{})
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if len(d.Find(data)) == 0 {
			b.Fatal("nothing found")
		}
	}
}

// BenchmarkScan measures a directory scan end to end (walk, read, detect)
// over a generated tree of 2,000 files, 64 MiB in all, with a key pair in
// one file of 100. It reads from the page cache after the first run.
func BenchmarkScan(b *testing.B) {
	dir := b.TempDir()
	const files, size = 2000, 32 << 10
	want := 0
	for i := 0; i < files; i++ {
		plant := 0
		if i%100 == 0 {
			plant = size
			want++
		}
		p := filepath.Join(dir, fmt.Sprintf("pkg%02d", i%40), fmt.Sprintf("file%04d.go", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, benchCorpus(b, size, plant, uint64(i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(files * size)
	for b.Loop() {
		s := &Sources{Detector: New(Options{})}
		got := 0
		err := s.ScanPaths(context.Background(), []string{dir}, func(o Origin, ms []Match) { got += len(ms) })
		if err != nil || got != want {
			b.Fatalf("found %d of %d, %v", got, want, err)
		}
	}
}

// BenchmarkScanBenchTree scans bench/scan.sh's planted tree (or the tree
// named by $KEYWARDEN_BENCH_TREE) as `keywarden scan DIR` does; it is
// skipped when the tree is absent. Profile it with -cpuprofile.
func BenchmarkScanBenchTree(b *testing.B) {
	dir := benchTree(b)
	cpu0 := processCPU(b)
	for b.Loop() {
		s := &Sources{Detector: New(Options{})}
		if err := s.ScanPaths(context.Background(), []string{dir}, func(Origin, []Match) {}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(s.Stats.Bytes.Load())
	}
	// CPU time (user and system) says more than wall time on a shared
	// machine.
	b.ReportMetric(float64((processCPU(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkFindBenchTree runs the detector alone over the text files of
// bench/scan.sh's tree, held in memory (skipped when the tree is absent).
func BenchmarkFindBenchTree(b *testing.B) {
	dir := benchTree(b)
	var files [][]byte
	total := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || len(data) > DefaultMaxFileSize || isBinary(data) {
			return err
		}
		files = append(files, data)
		total += len(data)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	d := New(Options{})
	b.SetBytes(int64(total))
	cpu0 := processCPU(b)
	for b.Loop() {
		for _, f := range files {
			d.Find(f)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// benchTree is bench/scan.sh's planted tree, or the tree named by
// $KEYWARDEN_BENCH_TREE; the benchmark is skipped when it is absent.
func benchTree(b *testing.B) string {
	dir := os.Getenv("KEYWARDEN_BENCH_TREE")
	if dir == "" {
		dir = "/tmp/keywarden-bench/tree"
	}
	if _, err := os.Stat(dir); err != nil {
		b.Skipf("no benchmark tree at %s (run bench/scan.sh)", dir)
	}
	return dir
}
