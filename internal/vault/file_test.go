package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func fixedPass(p string) PassphraseFunc {
	return func(bool) (string, error) { return p, nil }
}

// fastStore is a FileStore with a low work factor, for tests about
// everything but the work factor.
func fastStore(dir string, pass PassphraseFunc) *FileStore {
	s := NewFileStore(dir, pass)
	s.WorkFactor = 10
	return s
}

func TestFileStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s := NewFileStore(dir, fixedPass("correct horse"))
	if keys, err := s.Keys(); err != nil || len(keys) != 0 {
		t.Fatalf("empty store: %v %v", keys, err)
	}
	if _, err := s.Get("key:x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty store: %v", err)
	}
	secret := "s3cr3tValueThatMustNeverAppearInPlainText"
	if err := s.Set("key:work", []byte(secret)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("session:work", []byte("sess")); err != nil {
		t.Fatal(err)
	}
	// Directory 0700, file 0600, and nothing readable in the file.
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Version 2: the key-derivation header (work factor 16), then an age
	// scrypt file.
	head, body, ok := bytes.Cut(raw, []byte("\n"))
	if !ok || !bytes.HasPrefix(head, []byte("keywarden-vault/v2 scrypt 16 ")) {
		t.Errorf("no version 2 header with work factor 16: %q", raw[:40])
	}
	if !bytes.HasPrefix(body, []byte("age-encryption.org/v1\n-> scrypt ")) {
		t.Errorf("not an age scrypt file after the header: %q", body[:40])
	}
	for _, leak := range []string{secret, "work", "key:"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("the encrypted file contains %q in plain text", leak)
		}
	}

	// A second process (a new FileStore) reads it back.
	s2 := NewFileStore(dir, fixedPass("correct horse"))
	got, err := s2.Get("key:work")
	if err != nil || string(got) != secret {
		t.Fatalf("reopened Get = %q, %v", got, err)
	}
	keys, err := s2.Keys()
	if err != nil || strings.Join(keys, ",") != "key:work,session:work" {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	// A change by one process is seen by the other.
	if err := s2.Remove("session:work"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("session:work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed item still visible to the first store: %v", err)
	}
	if err := s.Remove("session:work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of a missing item = %v", err)
	}
	// No temporary files left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != FileName && e.Name() != ".vault.lock" {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func TestFileStoreWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	if err := fastStore(dir, fixedPass("right")).Set("key:a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err := fastStore(dir, fixedPass("wrong")).Get("key:a")
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// A write with the wrong passphrase must not clobber the file.
	if err := fastStore(dir, fixedPass("wrong")).Set("key:b", []byte("y")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("write with wrong passphrase: %v", err)
	}
	if got, err := fastStore(dir, fixedPass("right")).Get("key:a"); err != nil || string(got) != "x" {
		t.Fatalf("file damaged: %q %v", got, err)
	}
}

func TestFileStoreDamaged(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("not age at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := fastStore(dir, fixedPass("p")).Get("key:a")
	if err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("damaged file: %v", err)
	}
}

func TestFileStorePassphraseAskedOnceAndCreate(t *testing.T) {
	dir := t.TempDir()
	var calls []bool
	s := fastStore(dir, func(create bool) (string, error) { calls = append(calls, create); return "pw", nil })
	for i := 0; i < 3; i++ {
		if err := s.Set("key:a", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(calls) != 1 || !calls[0] {
		t.Fatalf("passphrase calls = %v, want one with create=true", calls)
	}
	calls = nil
	s2 := fastStore(dir, func(create bool) (string, error) { calls = append(calls, create); return "pw", nil })
	if _, err := s2.Get("key:a"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] {
		t.Fatalf("passphrase calls = %v, want one with create=false", calls)
	}
}

func TestFileStoreConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := fastStore(dir, fixedPass("pw")) // each its own "process"
			if err := s.Set("key:p"+string(rune('a'+i)), []byte("v")); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	keys, err := fastStore(dir, fixedPass("pw")).Keys()
	if err != nil || len(keys) != 4 {
		t.Fatalf("after concurrent writers: %v %v (an item was lost)", keys, err)
	}
}

// BenchmarkFileUnlock measures what every command using the file backend
// pays once: reading and decrypting the store (one scrypt derivation).
func BenchmarkFileUnlock(b *testing.B) {
	dir := b.TempDir()
	if err := NewFileStore(dir, fixedPass("pw")).Set("key:a", []byte("x")); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := NewFileStore(dir, fixedPass("pw")).Get("key:a"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileWrite measures a write to an unlocked store (one scrypt
// derivation for the new file's key, plus the atomic replace).
func BenchmarkFileWrite(b *testing.B) {
	s := NewFileStore(b.TempDir(), fixedPass("pw"))
	for b.Loop() {
		if err := s.Set("session:a", []byte(time.Now().String())); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecryptItems feeds hostile store files to the decoder: it must
// refuse them with an error, never panic.
func FuzzDecryptItems(f *testing.F) {
	good, err := encryptItems(map[string][]byte{"key:a": []byte("x")}, "pw", 10)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("age-encryption.org/v1\n-> scrypt AAAA 99\n\n--- x\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decryptItems(data, "pw")
	})
}
