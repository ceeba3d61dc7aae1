package gitsource

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// fastImportRepo builds a repository of commits commits over files files of
// about size bytes each, every commit editing two files, with git
// fast-import (seconds, where `git commit` in a loop would take minutes).
func fastImportRepo(tb testing.TB, commits, files, size int) string {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	content := make([]string, files)
	line := func() string {
		return fmt.Sprintf("\tx := compute(%d, %q) // %x\n", r.IntN(1000), "some text", r.Uint64())
	}
	for i := range content {
		var b strings.Builder
		for b.Len() < size {
			b.WriteString(line())
		}
		content[i] = b.String()
	}
	dir := fastImport(tb, func(w *bufio.Writer) {
		for c := range commits {
			fmt.Fprintf(w, "commit refs/heads/main\ncommitter A <a@example.com> %d +0000\ndata 2\nc\n", 1600000000+c*60)
			touch := []int{r.IntN(files), r.IntN(files)}
			if c == 0 {
				touch = touch[:0]
				for i := range files {
					touch = append(touch, i)
				}
			}
			for _, f := range touch {
				at := r.IntN(len(content[f]))
				if i := strings.IndexByte(content[f][at:], '\n'); i >= 0 {
					at += i + 1
				}
				content[f] = content[f][:at] + line() + content[f][at:]
				fmt.Fprintf(w, "M 100644 inline dir%d/file%d.go\ndata %d\n%s\n", f%10, f, len(content[f]), content[f])
			}
		}
	})
	// fast-import deltas each blob against the previous one, whatever its
	// path; a repository that has been gc'd looks like this instead.
	if out, err := exec.Command("git", "-C", dir, "repack", "-adfq").CombinedOutput(); err != nil {
		tb.Fatal(err, string(out))
	}
	return dir
}

// fastImport makes a repository from the git fast-import stream that
// write writes.
func fastImport(tb testing.TB, write func(*bufio.Writer)) string {
	tb.Helper()
	isolateGit(tb)
	dir := tb.TempDir()
	if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		tb.Fatal(err, string(out))
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(stdin)
	write(w)
	ferr := w.Flush()
	stdin.Close()
	if err := cmd.Wait(); err != nil || ferr != nil {
		tb.Fatal(err, ferr, stderr.String())
	}
	return dir
}

// BenchmarkHistory measures the whole pipeline (tree diffs, size checks,
// blob reads) with a callback that only touches the data; b.SetBytes makes
// the result a throughput in blob bytes.
func BenchmarkHistory(b *testing.B) {
	dir := fastImportRepo(b, 2000, 300, 8<<10)
	var bytes int64
	for b.Loop() {
		var n, sum atomic.Int64
		st, err := HistoryStats(context.Background(), dir, Options{}, func(bl Blob) error {
			n.Add(1)
			sum.Add(int64(len(bl.Data)))
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		bytes = st.Bytes
	}
	b.SetBytes(bytes)
}

// BenchmarkStaged measures what the pre-commit hook pays for reading the
// index: one staged file in a repository of 300 files.
func BenchmarkStaged(b *testing.B) {
	dir := fastImportRepo(b, 10, 300, 8<<10)
	for _, args := range [][]string{{"reset", "-q"}, {"checkout", "-q", "-f", "main"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
	}
	if err := exec.Command("sh", "-c", "cd "+dir+" && echo new >> dir0/file0.go && git add dir0/file0.go").Run(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		n := 0
		if err := Staged(context.Background(), dir, func(Blob) error { n++; return nil }); err != nil || n != 1 {
			b.Fatal(n, err)
		}
	}
}
