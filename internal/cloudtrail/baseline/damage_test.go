package baseline

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

// bigStore writes a store of many keys, so that it spans many pages
// (branch, leaf and freelist pages besides the two meta pages).
func bigStore(t *testing.T, path string) []string {
	t.Helper()
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	all := map[string]*detect.Baseline{}
	var keys []string
	for i := range 300 {
		k := fmt.Sprintf("AKIA%016d", i)
		keys = append(keys, k)
		b := &detect.Baseline{}
		for d := range detect.Dimensions {
			b.Dims[d] = map[string]detect.Seen{}
			for j := range 6 {
				b.Dims[d][fmt.Sprintf("198.51.%d.%d", d, j)] = detect.Seen{First: t0, Last: t0, Count: 1}
			}
		}
		all[k] = b
	}
	if _, err := Exchange(path, keys, all, false); err != nil {
		t.Fatal(err)
	}
	// A second run frees pages, so the freelist is not empty.
	if _, err := Exchange(path, keys, all, false); err != nil {
		t.Fatal(err)
	}
	return keys
}

// A damaged store must come back as an error that says so, never as a
// panic (bbolt panics on garbage pages: "assertion failed: read:
// zero-length inode key", slice bounds) or a fault through its memory map.
func TestExchangeDamagedStore(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	keys := bigStore(t, good)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(orig) < 16*page {
		t.Fatalf("store of %d bytes is too small for the test", len(orig))
	}
	scribble := func(seed uint64, from, to int) func([]byte) []byte {
		return func(b []byte) []byte {
			r := rand.New(rand.NewPCG(seed, 0))
			for i := from; i < to && i < len(b); i++ {
				b[i] = byte(r.Uint32())
			}
			return b
		}
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"truncated to half", func(b []byte) []byte { return b[:len(b)/2] }},
		{"truncated to three pages", func(b []byte) []byte { return b[:3*page] }},
		{"truncated inside the meta pages", func(b []byte) []byte { return b[:page+100] }},
		{"zeroed meta pages", func(b []byte) []byte { clear(b[:2*page]); return b }},
		{"random bytes over the middle pages", scribble(1, 2*page, len(orig)-2*page)},
		{"random bytes over the middle pages, seed 2", scribble(2, 2*page, len(orig)-2*page)},
		{"random bytes over the middle pages, seed 3", scribble(3, 2*page, len(orig)-2*page)},
		{"random bytes over page headers", func(b []byte) []byte {
			for p := 2; p*page+16 <= len(b); p++ {
				b = scribble(uint64(p), p*page, p*page+16)(b)
			}
			return b
		}},
		{"zeroed middle pages", func(b []byte) []byte { clear(b[2*page : len(b)-page]); return b }},
		{"not a database", func([]byte) []byte { return []byte(strings.Repeat("not a bbolt file\n", 1000)) }},
	}
	for _, tt := range tests {
		for _, readOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/readOnly=%v", tt.name, readOnly), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "detect.db")
				if err := os.WriteFile(path, tt.damage(append([]byte(nil), orig...)), 0o600); err != nil {
					t.Fatal(err)
				}
				prior, err := Exchange(path, keys, nil, readOnly)
				var se *Error
				if !errors.As(err, &se) || !se.Damaged {
					t.Fatalf("err = %v (%T), want a damaged-store error", err, err)
				}
				want := "state store " + path + " is damaged: use --no-state or move it away"
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err, want)
				}
				if prior != nil {
					t.Errorf("prior = %d keys from a damaged store", len(prior))
				}
			})
		}
	}
}

func TestExchangeUnusableStore(t *testing.T) {
	dir := t.TempDir()
	asDir := filepath.Join(dir, "is-a-dir.db")
	if err := os.Mkdir(asDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, readOnly := range []bool{false, true} {
		_, err := Exchange(asDir, []string{"AKIARTX3GSDS2RWAIZGX"}, nil, readOnly)
		var se *Error
		if !errors.As(err, &se) || se.Damaged || !strings.Contains(err.Error(), "state store "+asDir+" cannot be used: it is a directory") {
			t.Errorf("readOnly=%v: err = %v", readOnly, err)
		}
	}

	// A read-only store: refused with the reason when the process cannot
	// write it; root can, and then the exchange simply works.
	ro := filepath.Join(dir, "ro.db")
	keys := bigStore(t, ro)
	if err := os.Chmod(ro, 0o400); err != nil {
		t.Fatal(err)
	}
	prior, err := Exchange(ro, keys, obs(keys[0], "203.0.113.9", time.Now(), 1), false)
	if os.Geteuid() == 0 {
		if err != nil || len(prior) != len(keys) {
			t.Errorf("root on a 0400 store: %d keys, %v", len(prior), err)
		}
	} else if err == nil || !strings.Contains(err.Error(), "permission denied: use --no-state or fix its permissions") {
		t.Errorf("0400 store: err = %v", err)
	}
	// Reading it is always fine.
	if prior, err = Exchange(ro, keys, nil, true); err != nil || len(prior) != len(keys) {
		t.Errorf("read-only exchange of a 0400 store: %d keys, %v", len(prior), err)
	}
}

// testdata/overflow-runaway.db is a store with a few bytes changed (found
// by FuzzExchange): a page's overflow count is garbage, and a write makes
// bbolt free billions of page ids instead of panicking. Exchange gives up
// after HangAfter and calls the store damaged.
func TestExchangeRunaway(t *testing.T) {
	old := HangAfter
	HangAfter = 200 * time.Millisecond
	defer func() { HangAfter = old }()
	data, err := os.ReadFile(filepath.Join("testdata", "overflow-runaway.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "detect.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	key := "AKIARTX3GSDS2RWAIZGX"
	_, err = Exchange(path, []string{key}, obs(key, "203.0.113.9", time.Unix(1717200000, 0), 1), false)
	var se *Error
	if !errors.As(err, &se) || !se.Damaged || !strings.Contains(err.Error(), "reading it did not finish in 200ms") {
		t.Errorf("err = %v", err)
	}
}
