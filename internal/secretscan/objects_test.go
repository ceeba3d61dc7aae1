package secretscan

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeStore is an ObjectStore in memory that records what was opened.
type fakeStore struct {
	mu       sync.Mutex
	keys     []string
	data     map[string][]byte
	modified map[string]time.Time
	opened   []string
	fail     map[string]bool
	listErr  error
}

func (f *fakeStore) List(_ context.Context, prefix string, fn func(StoredObject) error) error {
	for _, k := range f.keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if err := fn(StoredObject{Key: k, Size: int64(len(f.data[k])), Modified: f.modified[k]}); err != nil {
			return err
		}
	}
	return f.listErr
}

func (f *fakeStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, key)
	if f.fail[key] {
		return nil, errors.New("AccessDenied")
	}
	return io.NopCloser(bytes.NewReader(f.data[key])), nil
}

func (f *fakeStore) URL(key string) string { return "s3://bk/" + key }

// What ScanObjects skips (older, excluded, by extension, too large, an
// archive without --archives) is counted and never opened; an object that
// cannot be opened is warned about and the scan goes on.
func TestScanObjects(t *testing.T) {
	k := newTestKeys(t, 41)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeStore{data: map[string][]byte{}, modified: map[string]time.Time{}, fail: map[string]bool{"p/denied.env": true}}
	add := func(key, body string, mod time.Time) {
		f.keys = append(f.keys, key)
		f.data[key] = []byte(body)
		f.modified[key] = mod
	}
	add("p/a/creds", k.fill("[default]\naws_access_key_id = {ID}\naws_secret_access_key = {SECRET}\n"), recent)
	add("p/b/old.env", k.fill("AWS_ACCESS_KEY_ID={ID2}\nAWS_SECRET_ACCESS_KEY={SECRET2}\n"), old)
	add("p/c/logo.png", "\x89PNG", recent)
	add("p/d/vendor/x.env", k.fill("AWS_ACCESS_KEY_ID={ID2}\n"), recent)
	add("p/denied.env", "", recent)
	add("p/e/big.txt", strings.Repeat("x", 2000), recent)
	add("p/f/app.zip", "PK", recent)
	add("p/h/ps.txt", "\xff\xfe"+utf16le(k.fill("$Env:AWS_ACCESS_KEY_ID=\"{ASIA}\"\n")), recent)
	add("q/outside", k.fill("{ID}\n"), recent)

	var errs []string
	st := &Stats{}
	src := &Sources{Detector: New(Options{}), MaxFileSize: 1000, Exclude: []string{"vendor"}, Stats: st, Workers: 3,
		Warn: func(err error) { errs = append(errs, err.Error()) }}
	var got []string
	err := src.ScanObjects(context.Background(), ObjectTarget{Store: f, Prefix: "p/", Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}, func(o Origin, ms []Match) {
		got = append(got, o.Path+" "+summary(k, ms))
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"s3://bk/p/a/creds pair:ID+SECRET", "s3://bk/p/h/ps.txt key-id:ASIA"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "s3://bk/p/denied.env: AccessDenied") {
		t.Errorf("errors %q", errs)
	}
	for r, n := range map[SkipReason]int64{SkipOlder: 1, SkipExtension: 1, SkipExcluded: 1, SkipTooLarge: 1, SkipArchive: 1} {
		if got := st.SkippedBy[r].Load(); got != n {
			t.Errorf("skipped %s: %d, want %d", r, got, n)
		}
	}
	if st.Skipped.Load() != 5 || st.Files.Load() != 2 {
		t.Errorf("skipped %d, scanned %d; want 5, 2", st.Skipped.Load(), st.Files.Load())
	}
	slices.Sort(f.opened)
	if want := []string{"p/a/creds", "p/denied.env", "p/h/ps.txt"}; !slices.Equal(f.opened, want) {
		t.Errorf("opened %q, want %q (skipped objects are never opened)", f.opened, want)
	}
}

func utf16le(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteByte(c)
		b.WriteByte(0)
	}
	return b.String()
}

// A listing that fails ends the scan with its error, naming the prefix.
func TestScanObjectsListError(t *testing.T) {
	f := &fakeStore{data: map[string][]byte{}, listErr: errors.New("AccessDenied")}
	src := &Sources{Detector: New(Options{}), Stats: &Stats{}, Workers: 1}
	err := src.ScanObjects(context.Background(), ObjectTarget{Store: f, Prefix: "p/"}, func(Origin, []Match) {})
	if err == nil || !strings.Contains(err.Error(), "listing s3://bk/p/: AccessDenied") {
		t.Fatalf("error %v, want the listing's, naming the prefix", err)
	}
}
