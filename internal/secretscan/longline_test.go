package secretscan

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/keywarden/keywarden/internal/awskey"
)

// longLine generates about size bytes of one line (minified JSON, a log
// record, a bundle) packed with what the detector stops at: key IDs alone
// and in objects with their secrets and session tokens, secrets named and
// unnamed, the words "secret", "token" and "aws", and near misses (AIDA
// IDs, hex digests, base64 runs too long or too short, "AKIA" inside a
// word, an empty "value"). Same seed, same line.
func longLine(t testing.TB, size int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	cr := rand.NewChaCha8([32]byte{byte(seed), 9})
	must := func(s string, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ids := make([]string, 64)
	secrets := make([]string, 64)
	for i := range ids {
		ids[i] = must(awskey.NewID([]string{"AKIA", "ASIA", "ABIA", "ACCA"}[i%4], uint64(100000000000+i), cr))
		secrets[i] = must(awskey.NewSecret(cr))
	}
	raw := make([]byte, 240)
	_, _ = cr.Read(raw)
	token := "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(raw)
	digest := make([]byte, 20)
	pieces := []func(i int) string{
		func(i int) string { return ids[i%64] },
		func(i int) string { return "AIDA" + ids[i%64][4:] },
		func(i int) string {
			return fmt.Sprintf(`{"AccessKeyId":"%s","SecretAccessKey":"%s","SessionToken":"%s"}`, ids[i%64], secrets[i%64], token)
		},
		func(i int) string { return "aws_secret_access_key=" + secrets[(i+1)%64] },
		func(i int) string { return `"value":"` + secrets[(i+2)%64] + `"` },
		func(i int) string { return secrets[(i+3)%64] },
		func(i int) string { _, _ = cr.Read(digest); return hex.EncodeToString(digest) },
		func(i int) string { return secrets[i%64] + secrets[(i+5)%64][:7] },
		func(i int) string { return "secret_key: " + secrets[i%64][:30] },
		func(i int) string { return "myAKIA" + ids[i%64][4:] + "x" },
		func(i int) string { return "aws amazon laws }" },
		func(i int) string { return "x-amz-security-token=" + token },
		func(i int) string { return "keywarden " },
	}
	var b bytes.Buffer
	b.Grow(size + 1024)
	for i := 0; b.Len() < size; i++ {
		b.WriteString(pieces[r.IntN(len(pieces))](i))
		b.WriteString([]string{" ", ",", ", ", ";", " | "}[r.IntN(5)])
	}
	return b.Bytes()[:size]
}

// BenchmarkFindLongLine runs the detector over one line of 10 MiB (and
// shorter ones, to compare the cost per byte) full of hits and near
// misses: the worst case for reading the context around each hit.
func BenchmarkFindLongLine(b *testing.B) {
	d := New(Options{})
	for _, size := range []int{256 << 10, 1 << 20, 10 << 20} {
		data := longLine(b, size, 1)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if len(d.Find(data)) == 0 {
					b.Fatal("nothing found")
				}
			}
		})
	}
}

// TestFindLinearOnLongLines checks that the detector's searches around
// hits cost the same per byte on a line of 64 KiB as on one of 4 MiB: it
// counts the bytes they examine (scan.work) rather than timing them. A
// search back to the start of the line for each hit made this grow with
// the line (a 9 MB minified file took over an hour).
func TestFindLinearOnLongLines(t *testing.T) {
	d := New(Options{})
	perByte := map[int]float64{}
	sizes := []int{64 << 10, 512 << 10, 4 << 20}
	for _, size := range sizes {
		data := longLine(t, size, 2)
		ms, work := d.find(data)
		if len(ms) < size/1000 {
			t.Fatalf("%d bytes: only %d matches: the line does not exercise the detector", size, len(ms))
		}
		perByte[size] = float64(work) / float64(size)
		t.Logf("%7d bytes: %d matches, %d bytes examined (%.1f per byte)", size, len(ms), work, perByte[size])
	}
	base := perByte[sizes[0]]
	for _, size := range sizes[1:] {
		// Some passes run once per line (the allow marker, the structure
		// of a line), whose share varies a little with the layout: a
		// margin of half, where a search to the line's start grows 65-fold.
		if perByte[size] > 1.5*base {
			t.Errorf("%d bytes: %.1f bytes examined per byte, %.1f at %d: the cost grows with the line", size, perByte[size], base, sizes[0])
		}
	}
}

// The bounded line searches remember a span with no newline between
// calls: in any order of calls, on lines long and short, they must answer
// what a plain search answers.
func TestLineBoundsMemo(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, nlEvery := range []int{3, 40, 5000, 1 << 30} {
		data := make([]byte, 20000)
		for i := range data {
			data[i] = 'x'
			if r.IntN(nlEvery) == 0 {
				data[i] = '\n'
			}
		}
		s := &scan{data: data}
		off := 0
		for q := 0; q < 20000; q++ {
			// Mostly near the last call, as the searches around successive
			// hits are; now and then anywhere.
			off = min(max(off+r.IntN(200)-50, 0), len(data))
			if r.IntN(10) == 0 {
				off = r.IntN(len(data) + 1)
			}
			lim := r.IntN(3000)
			if r.IntN(2) == 0 {
				lo := off - lim
				want, wantOK := max(lo, 0), lo <= 0
				if j := bytes.LastIndexByte(data[max(lo, 0):off], '\n'); j >= 0 {
					want, wantOK = max(lo, 0)+j+1, true
				}
				if got, ok := s.lineStartAfter(off, lo); got != want || ok != wantOK {
					t.Fatalf("newline every %d: lineStartAfter(%d, %d) = %d %v, want %d %v", nlEvery, off, lo, got, ok, want, wantOK)
				}
			} else {
				hi := off + lim
				want := min(hi, len(data))
				if off < want {
					if j := bytes.IndexByte(data[off:want], '\n'); j >= 0 {
						want = off + j
					}
				}
				if got := s.lineEndBefore(off, hi); got != want {
					t.Fatalf("newline every %d: lineEndBefore(%d, %d) = %d, want %d", nlEvery, off, hi, got, want)
				}
			}
		}
	}
}
