package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitFileHeader(t *testing.T) {
	salt := "AAECAwQFBgcICQoLDA0ODw" // 16 bytes
	for _, tc := range []struct {
		name, data, err string
		v2              bool
	}{
		{name: "version 1", data: "age-encryption.org/v1\n-> scrypt x 16\n"},
		{name: "version 2", data: "keywarden-vault/v2 scrypt 16 " + salt + "\nage-encryption.org/v1\n", v2: true},
		{name: "no end", data: "keywarden-vault/v2 scrypt 16 " + salt + strings.Repeat("A", 300), err: "line 1: the header has no end"},
		{name: "fields", data: "keywarden-vault/v2 scrypt 16\n", err: "line 1: the header has 3 fields"},
		{name: "kdf", data: "keywarden-vault/v2 argon2 16 " + salt + "\n", err: `line 1, field 2: unknown key derivation "argon2"`},
		{name: "cheap", data: "keywarden-vault/v2 scrypt 4 " + salt + "\n", err: "line 1, field 3: work factor \"4\""},
		{name: "costly", data: "keywarden-vault/v2 scrypt 30 " + salt + "\n", err: "line 1, field 3"},
		{name: "short salt", data: "keywarden-vault/v2 scrypt 16 AAEC\n", err: "line 1, field 4"},
		{name: "padded salt", data: "keywarden-vault/v2 scrypt 16 " + salt + "==\n", err: "line 1, field 4"},
	} {
		kdf, body, err := splitFileHeader([]byte(tc.data))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || (kdf != nil) != tc.v2 {
			t.Errorf("%s: %v %v", tc.name, kdf, err)
			continue
		}
		if tc.v2 && (kdf.LogN != 16 || len(kdf.Salt) != 16 || string(body) != "age-encryption.org/v1\n") {
			t.Errorf("%s: %+v %q", tc.name, kdf, body)
		}
		if tc.v2 && !bytes.Equal(kdf.line(), []byte(tc.data)[:len(kdf.line())]) {
			t.Errorf("%s: line() = %q", tc.name, kdf.line())
		}
	}
}

// FuzzSplitFileHeader feeds hostile headers: an error or a sane header,
// never a panic.
func FuzzSplitFileHeader(f *testing.F) {
	f.Add([]byte("keywarden-vault/v2 scrypt 16 AAECAwQFBgcICQoLDA0ODw\nage"))
	f.Add([]byte("keywarden-vault/v2 scrypt 99 x\n"))
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kdf, body, err := splitFileHeader(data)
		if err == nil && kdf != nil && (kdf.LogN < minFileWorkFactor || kdf.LogN > maxFileWorkFactor || len(kdf.Salt) < 16 || len(body) >= len(data)) {
			t.Fatalf("accepted %+v", kdf)
		}
	})
}

// writeVersion1 writes a version 1 store (a bare age file to passphrase
// "pw") holding key:a = x.
func writeVersion1(t *testing.T, dir string) {
	t.Helper()
	v1, err := encryptItems(map[string][]byte{"key:a": []byte("x")}, "pw", 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), v1, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFileStoreReadsAndUpgradesVersion1: a store written before the
// header existed opens with its passphrase and is written as version 2.
func TestFileStoreReadsAndUpgradesVersion1(t *testing.T) {
	dir := t.TempDir()
	writeVersion1(t, dir)
	s := fastStore(dir, fixedPass("pw"))
	if got, err := s.Get("key:a"); err != nil || string(got) != "x" {
		t.Fatalf("version 1 read: %q %v", got, err)
	}
	if id, ok, err := s.CacheID(); ok || err != nil || id != "" {
		t.Fatalf("CacheID of a version 1 file: %q %v %v", id, ok, err)
	}
	if err := s.Set("key:b", []byte("y")); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(s.Path())
	if !bytes.HasPrefix(raw, []byte("keywarden-vault/v2 scrypt 10 ")) {
		t.Fatalf("not upgraded: %q", raw[:30])
	}
	for name, want := range map[string]string{"key:a": "x", "key:b": "y"} {
		if got, err := fastStore(dir, fixedPass("pw")).Get(name); err != nil || string(got) != want {
			t.Fatalf("after upgrade %s: %q %v", name, got, err)
		}
	}
	if _, err := fastStore(dir, fixedPass("wrong")).Get("key:a"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase after upgrade: %v", err)
	}
}

// memCache is a KeyCache in memory that counts its use.
type memCache struct {
	keys    map[string][]byte
	gets    int
	forgets []string
}

func (m *memCache) Get(id string) ([]byte, error) {
	m.gets++
	k, ok := m.keys[id]
	if !ok {
		return nil, errors.New("not cached")
	}
	return bytes.Clone(k), nil
}

func (m *memCache) Forget(id string) error {
	m.forgets = append(m.forgets, id)
	delete(m.keys, id)
	return nil
}

func noPassphrase(t *testing.T) PassphraseFunc {
	return func(bool) (string, error) {
		t.Helper()
		t.Error("the passphrase was asked for")
		return "", errors.New("no passphrase")
	}
}

// TestFileStoreUnlockCache: UnlockKey checks the passphrase (never the
// cache) and upgrades a version 1 file; a store with the key in its cache
// reads and writes without asking; a stale key in the cache is forgotten
// and the passphrase asked for.
func TestFileStoreUnlockCache(t *testing.T) {
	dir := t.TempDir()
	writeVersion1(t, dir)
	cache := &memCache{keys: map[string][]byte{}}
	if _, _, err := fastStore(dir, fixedPass("wrong")).UnlockKey(); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("UnlockKey with a wrong passphrase: %v", err)
	}
	u := fastStore(dir, fixedPass("pw"))
	u.Cache = cache
	id, key, err := u.UnlockKey()
	if err != nil || len(key) != derivedKeyLen || cache.gets != 0 {
		t.Fatalf("UnlockKey: %q %d %v (cache asked %d times)", id, len(key), err, cache.gets)
	}
	if got, ok, err := u.CacheID(); got != id || !ok || err != nil {
		t.Fatalf("CacheID = %q %v %v, want %q", got, ok, err, id)
	}
	raw, _ := os.ReadFile(u.Path())
	if !bytes.HasPrefix(raw, []byte(fileHeaderMagic)) || bytes.Contains(raw, key) || bytes.Contains(raw, []byte(keyPassphrase(key))) {
		t.Fatal("the file is not version 2, or holds the key")
	}
	cache.keys[id] = key

	s := fastStore(dir, noPassphrase(t))
	s.Cache = cache
	if got, err := s.Get("key:a"); err != nil || string(got) != "x" {
		t.Fatalf("Get through the cache: %q %v", got, err)
	}
	if err := s.Set("key:c", []byte("z")); err != nil {
		t.Fatal(err)
	}
	if got, err := fastStore(dir, fixedPass("pw")).Get("key:c"); err != nil || string(got) != "z" {
		t.Fatalf("written through the cache, read with the passphrase: %q %v", got, err)
	}

	// A stale key: forgotten, and the passphrase asked for.
	cache.keys[id] = bytes.Repeat([]byte{1}, derivedKeyLen)
	asked := 0
	s2 := fastStore(dir, func(bool) (string, error) { asked++; return "pw", nil })
	s2.Cache = cache
	if got, err := s2.Get("key:a"); err != nil || string(got) != "x" || asked != 1 {
		t.Fatalf("stale cache: %q %v, asked %d", got, err, asked)
	}
	if len(cache.forgets) != 1 || cache.forgets[0] != id {
		t.Fatalf("stale key not forgotten: %v", cache.forgets)
	}
	if _, _, err := fastStore(t.TempDir(), fixedPass("pw")).UnlockKey(); err == nil || !strings.Contains(err.Error(), "no encrypted store here yet") {
		t.Fatalf("UnlockKey without a store: %v", err)
	}
}

// BenchmarkFileUnlockCached measures opening the store with the derived
// key from an unlock cache: no passphrase stretching.
func BenchmarkFileUnlockCached(b *testing.B) {
	dir := b.TempDir()
	s := NewFileStore(dir, fixedPass("pw"))
	if err := s.Set("key:a", []byte("x")); err != nil {
		b.Fatal(err)
	}
	id, key, err := s.UnlockKey()
	if err != nil {
		b.Fatal(err)
	}
	cache := &memCache{keys: map[string][]byte{id: key}}
	b.ResetTimer()
	for b.Loop() {
		c := NewFileStore(dir, func(bool) (string, error) { return "", errors.New("asked") })
		c.Cache = cache
		if _, err := c.Get("key:a"); err != nil {
			b.Fatal(err)
		}
	}
}
