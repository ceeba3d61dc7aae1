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

// FileWorkFactor is the scrypt work factor (log2 of N) of the encrypted
// file. age's default, 18, takes about a second to unlock, which every
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

	mu     sync.Mutex
	pass   string
	items  map[string][]byte
	loaded fileStamp
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
	if f.pass == "" {
		p, err := f.Passphrase(false)
		if err != nil {
			return err
		}
		f.pass = p
	}
	items, err := decryptItems(data, f.pass)
	if err != nil {
		f.pass = ""
		return fmt.Errorf("%s: %w", f.Path(), err)
	}
	f.items, f.loaded = items, st
	return nil
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
	if f.pass == "" { // a new file
		p, err := f.Passphrase(true)
		if err != nil {
			return err
		}
		if p == "" {
			return errors.New("refusing an empty passphrase for the encrypted file")
		}
		f.pass = p
	}
	items := make(map[string][]byte, len(f.items)+1)
	for k, v := range f.items {
		items[k] = v
	}
	changed, err := change(items)
	if err != nil || !changed {
		return err
	}
	wf := f.WorkFactor
	if wf == 0 {
		wf = FileWorkFactor
	}
	data, err := encryptItems(items, f.pass, wf)
	if err != nil {
		return err
	}
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
