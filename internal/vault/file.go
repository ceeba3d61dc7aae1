package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"filippo.io/age"
	"github.com/keywarden/keywarden/internal/atomicfile"
)

// FileWorkFactor is the scrypt work factor (log2 of N) that stretches the
// passphrase of the encrypted file (the header's, see filekey.go). age's
// default, 18, takes about a second to unlock, which every
// `aws` call through credential_process would pay. 16 costs a quarter of
// that (about 0.15 s on a shared 2-core CI machine: see BenchmarkFileUnlock
// and docs/vault.md) while each passphrase guess still costs an attacker
// 64 MiB of memory and a sizeable fraction of a CPU-second. Unlocking
// accepts factors up to maxFileWorkFactor, so files written later with a
// higher factor stay readable.
const FileWorkFactor = 16

// maxFileWorkFactor bounds the work factor we accept when unlocking, so a
// planted file cannot make us spin for minutes.
const maxFileWorkFactor = 20

// FileName is the store's file inside its directory.
const FileName = "vault.age"

// maxFileSize bounds the encrypted file we read.
const maxFileSize = 16 << 20

// PassphraseFunc returns the file's passphrase. create is true when the
// file does not exist yet, so a prompt can ask twice.
type PassphraseFunc func(create bool) (string, error)

// FileStore keeps every item in one age-encrypted file (scrypt passphrase
// recipient). One file rather than one per item: the names of the items
// are encrypted too, and a command pays for one unlock however many items
// it reads. Writes take an exclusive lock, re-read the file if another
// process changed it, and replace it atomically (write a temporary file,
// fsync, rename), so a crash or a concurrent command never loses an item.
type FileStore struct {
	Dir        string
	Passphrase PassphraseFunc
	// WorkFactor is the scrypt work factor for writes; 0 means
	// FileWorkFactor. (Tests lower it to stay fast.)
	WorkFactor int

	// Cache, when set, is asked for the derived key before the
	// passphrase is (see `keywarden unlock`).
	Cache KeyCache

	mu     sync.Mutex
	pass   string
	kdf    *fileKDF // the header the file had when last read or written
	key    []byte   // the key derived from pass (or got from Cache) for kdf
	cached bool     // key came from Cache
	// noCache makes the next read ask for the passphrase (UnlockKey).
	noCache bool
	items   map[string][]byte
	loaded  fileStamp
}

// KeyCache holds derived keys for a while: the kernel keyring or the
// unlock agent. Get returns an error when it holds nothing for id.
type KeyCache interface {
	Get(id string) ([]byte, error)
	Forget(id string) error
}

type fileStamp struct {
	ok          bool
	size, mtime int64
	ino         uint64
}

// NewFileStore returns a store over dir/vault.age. Nothing is read until
// the first call.
func NewFileStore(dir string, pass PassphraseFunc) *FileStore {
	return &FileStore{Dir: dir, Passphrase: pass}
}

// Path is the encrypted file.
func (f *FileStore) Path() string { return filepath.Join(f.Dir, FileName) }

func (f *FileStore) Backend() string { return "file" }

func stampOf(fi fs.FileInfo) fileStamp {
	return fileStamp{ok: true, size: fi.Size(), mtime: fi.ModTime().UnixNano(), ino: inode(fi)}
}

// load brings the in-memory items up to date with the file.
func (f *FileStore) load() error {
	fi, err := os.Stat(f.Path())
	if errors.Is(err, fs.ErrNotExist) {
		if f.items == nil {
			f.items = map[string][]byte{}
		}
		f.loaded = fileStamp{}
		return nil
	}
	if err != nil {
		return err
	}
	st := stampOf(fi)
	if f.items != nil && f.loaded == st {
		return nil
	}
	if fi.Size() > maxFileSize {
		return fmt.Errorf("%s: larger than the %d-byte limit", f.Path(), maxFileSize)
	}
	data, err := os.ReadFile(f.Path())
	if err != nil {
		return err
	}
	kdf, body, err := splitFileHeader(data)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path(), err)
	}
	if kdf == nil || f.kdf == nil || f.kdf.LogN != kdf.LogN || !bytes.Equal(f.kdf.Salt, kdf.Salt) {
		f.key, f.cached = nil, false // derived for another header
	}
	f.kdf = kdf
	for {
		if err := f.ensureSecret(); err != nil {
			return err
		}
		secret := f.pass
		if kdf != nil {
			secret = keyPassphrase(f.key)
		}
		items, err := decryptItems(body, secret)
		if err == nil {
			f.items, f.loaded = items, st
			return nil
		}
		if f.cached && f.pass == "" && errors.Is(err, ErrWrongPassphrase) {
			// A stale key in the cache: forget it and ask.
			if id, ierr := f.cacheID(); ierr == nil {
				_ = f.Cache.Forget(id)
			}
			f.key, f.cached = nil, false
			continue
		}
		f.pass, f.key, f.cached = "", nil, false
		return fmt.Errorf("%s: %w", f.Path(), err)
	}
}

// ensureSecret gets what opens the file f.kdf describes: the derived key
// from the cache, else the passphrase (and the key derived from it).
func (f *FileStore) ensureSecret() error {
	if f.kdf != nil && f.key == nil && f.pass == "" && f.Cache != nil && !f.noCache {
		if id, err := f.cacheID(); err == nil {
			if k, err := f.Cache.Get(id); err == nil && len(k) == derivedKeyLen {
				f.key, f.cached = k, true
				return nil
			}
		}
	}
	if f.pass == "" && (f.kdf == nil || f.key == nil) {
		p, err := f.Passphrase(false)
		if err != nil {
			return err
		}
		f.pass = p
	}
	if f.kdf != nil && f.key == nil {
		k, err := f.kdf.derive(f.pass)
		if err != nil {
			return err
		}
		f.key = k
	}
	return nil
}

// cacheID names the store's derived key in an unlock cache.
func (f *FileStore) cacheID() (string, error) {
	abs, err := filepath.Abs(f.Path())
	if err != nil {
		return "", err
	}
	return f.kdf.cacheID(abs), nil
}

// CacheID reads the file's header (no passphrase needed) and names its
// derived key in an unlock cache. ok is false when the file does not
// exist or is a version 1 file, which no cache can hold a key for.
func (f *FileStore) CacheID() (id string, ok bool, err error) {
	fh, err := os.Open(f.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer fh.Close()
	head := make([]byte, maxFileHeader)
	n, _ := io.ReadFull(fh, head)
	kdf, _, err := splitFileHeader(head[:n])
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", f.Path(), err)
	}
	if kdf == nil {
		return "", false, nil
	}
	abs, err := filepath.Abs(f.Path())
	if err != nil {
		return "", false, err
	}
	return kdf.cacheID(abs), true, nil
}

// UnlockKey asks for the passphrase (never the cache), checks it against
// the file, and returns the derived key with its cache id, for `keywarden
// unlock`. A version 1 file is rewritten as version 2 first.
func (f *FileStore) UnlockKey() (id string, key []byte, err error) {
	if _, err := os.Stat(f.Path()); errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("%s: no encrypted store here yet (keywarden add creates it)", f.Path())
	}
	f.mu.Lock()
	f.pass, f.key, f.cached, f.items, f.noCache = "", nil, false, nil, true
	f.mu.Unlock()
	err = f.update(func(map[string][]byte) (bool, error) { return false, nil })
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noCache = false
	if err != nil {
		return "", nil, err
	}
	if id, err = f.cacheID(); err != nil {
		return "", nil, err
	}
	return id, bytes.Clone(f.key), nil
}

// ErrWrongPassphrase is returned when the file does not open with the
// passphrase given.
var ErrWrongPassphrase = errors.New("wrong passphrase, or the file is damaged")

func decryptItems(data []byte, pass string) (map[string][]byte, error) {
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, err
	}
	id.SetMaxWorkFactor(maxFileWorkFactor)
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("cannot decrypt: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxFileSize))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	var doc struct {
		Version int               `json:"version"`
		Items   map[string][]byte `json:"items"`
	}
	if err := json.Unmarshal(plain, &doc); err != nil || doc.Version != 1 {
		return nil, errors.New("decrypted, but the content is not a keywarden store")
	}
	if doc.Items == nil {
		doc.Items = map[string][]byte{}
	}
	return doc.Items, nil
}

func encryptItems(items map[string][]byte, pass string, workFactor int) ([]byte, error) {
	rcpt, err := age.NewScryptRecipient(pass)
	if err != nil {
		return nil, err
	}
	rcpt.SetWorkFactor(workFactor)
	plain, err := json.Marshal(struct {
		Version int               `json:"version"`
		Items   map[string][]byte `json:"items"`
	}{1, items})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcpt)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (f *FileStore) Get(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return nil, err
	}
	d, ok := f.items[name]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), d...), nil
}

func (f *FileStore) Keys() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := os.Stat(f.Path()); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no file: nothing stored, and no passphrase needed to say so
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(f.items))
	for k := range f.items {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (f *FileStore) Set(name string, data []byte) error {
	return f.update(func(items map[string][]byte) (bool, error) {
		items[name] = append([]byte(nil), data...)
		return true, nil
	})
}

func (f *FileStore) Remove(name string) error {
	return f.update(func(items map[string][]byte) (bool, error) {
		if _, ok := items[name]; !ok {
			return false, ErrNotFound
		}
		delete(items, name)
		return true, nil
	})
}

// update applies change under the file lock and writes the result.
func (f *FileStore) update(change func(map[string][]byte) (bool, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(f.Dir, 0o700); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(f.Dir, ".vault.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if err := f.load(); err != nil {
		return err
	}
	upgrade := false
	if f.kdf == nil || f.key == nil { // a new file, or a version 1 file: a new header
		if f.pass == "" {
			p, err := f.Passphrase(true)
			if err != nil {
				return err
			}
			if p == "" {
				return errors.New("refusing an empty passphrase for the encrypted file")
			}
			f.pass = p
		}
		wf := f.WorkFactor
		if wf == 0 {
			wf = FileWorkFactor
		}
		kdf, err := newFileKDF(wf)
		if err != nil {
			return err
		}
		key, err := kdf.derive(f.pass)
		if err != nil {
			return err
		}
		upgrade = f.loaded.ok
		f.kdf, f.key, f.cached = kdf, key, false
	}
	items := make(map[string][]byte, len(f.items)+1)
	for k, v := range f.items {
		items[k] = v
	}
	changed, err := change(items)
	if err != nil || (!changed && !upgrade) {
		return err
	}
	body, err := encryptItems(items, keyPassphrase(f.key), innerWorkFactor)
	if err != nil {
		return err
	}
	data := append(f.kdf.line(), body...)
	if err := atomicfile.Write(f.Path(), data, 0o600); err != nil {
		return err
	}
	fi, err := os.Stat(f.Path())
	if err != nil {
		return err
	}
	f.items, f.loaded = items, stampOf(fi)
	return nil
}
