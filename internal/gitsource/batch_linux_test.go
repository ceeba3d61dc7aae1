package gitsource

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// newBatchedPipe returns the reader batchedAnswers gives and the write
// end a child would get.
func newBatchedPipe(t *testing.T, size int) (io.Reader, *os.File, answerPipe) {
	t.Helper()
	cmd := exec.Command("true")
	ap, err := batchedAnswers(cmd, size)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := cmd.Stdout.(*os.File)
	if !ok {
		t.Fatalf("batchedAnswers left cmd.Stdout a %T, want the pipe's write end", cmd.Stdout)
	}
	if _, ok := ap.r.(*batchReader); !ok {
		t.Fatalf("batchedAnswers read with a %T, want a batchReader", ap.r)
	}
	t.Cleanup(ap.close)
	return ap.r, w, ap
}

// The reader returns every byte in order, however the writer splits them
// and pauses: small pieces, pieces larger than the pipe, a tail smaller
// than a batch, then EOF.
func TestBatchReaderKeepsEveryByte(t *testing.T) {
	for _, tc := range []struct {
		name   string
		total  int
		pieces int // largest piece
		pause  time.Duration
	}{
		{"empty", 0, 1, 0},
		{"one byte", 1, 1, 0},
		{"small pieces", 3 << 20, 4096, 0},
		{"pauses", 256 << 10, 1000, 200 * time.Microsecond},
		{"larger than the pipe", 5 << 20, 3 << 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, w, _ := newBatchedPipe(t, 1<<20)
			want := make([]byte, tc.total)
			rng := rand.New(rand.NewPCG(1, uint64(tc.total)))
			for i := range want {
				want[i] = byte(rng.Uint32())
			}
			go func() {
				defer w.Close()
				for rest := want; len(rest) > 0; {
					n := min(len(rest), 1+rng.IntN(tc.pieces))
					if _, err := w.Write(rest[:n]); err != nil {
						return
					}
					rest = rest[n:]
					if tc.pause > 0 {
						time.Sleep(tc.pause)
					}
				}
			}()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, want %d (equal: %v)", len(got), len(want), bytes.Equal(got, want))
			}
		})
	}
}

// A reader waiting on a pipe nobody writes to returns once its end is
// closed (a cancelled scan), instead of waiting for ever.
func TestBatchReaderStopsWhenClosed(t *testing.T) {
	r, w, ap := newBatchedPipe(t, 1<<20)
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 4096))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	ap.close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read after close: %v, want %v", err, os.ErrClosed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader did not return after its pipe was closed")
	}
}

// A writer that stops with less than a batch written is not kept
// waiting: the reader returns what there is after a bounded wait.
func TestBatchReaderReturnsAPartialBatch(t *testing.T) {
	r, w, _ := newBatchedPipe(t, 1<<20)
	defer w.Close()
	if _, err := w.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "0123456789" {
		t.Fatalf("Read = %d, %v (%q), want the 10 bytes written", n, err, buf[:n])
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a partial batch took %v to come back", d)
	}
}

// batchedAnswers' pipe carries a real git's answers: started closes our
// copy of the write end, so the reader sees EOF when git exits.
func TestBatchedAnswersFromGit(t *testing.T) {
	r := newTestRepo(t)
	r.write("a.txt", "alpha\n")
	r.commit("one")
	blob := strings.TrimSpace(r.git("rev-parse", "HEAD:a.txt"))
	cmd := command(t.Context(), r.dir, "cat-file", "--batch")
	cmd.Stdin = bytes.NewBufferString(blob + "\n")
	ap, err := batchedAnswers(cmd, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer ap.close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ap.started()
	got, err := io.ReadAll(ap.r)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if want := blob + " blob 6\nalpha\n\n"; string(got) != want {
		t.Fatalf("answers %q, want %q", got, want)
	}
}
