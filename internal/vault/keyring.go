package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/99designs/keyring"
)

// ServiceName is the keychain service (and keyctl keyring, pass folder)
// keywarden's items live under.
const ServiceName = "keywarden"

// itemPrefix marks keywarden's items in shared collections (the Secret
// Service "login" collection holds other programs' items too).
const itemPrefix = "keywarden:"

// Backends are the names --backend and KEYWARDEN_BACKEND accept.
var Backends = []string{"auto", "file", "secret-service", "keychain", "wincred", "pass", "keyctl"}

// KeyringStore is a Store over an OS keychain.
type KeyringStore struct {
	ring    keyring.Keyring
	backend string
}

func (k *KeyringStore) Backend() string { return k.backend }

// wrap names the backend in err and says how to do without it: the
// commonest failure is a keychain nobody can unlock (a headless machine
// or WSL with a D-Bus session but no desktop to show the unlock prompt),
// and the way out is the encrypted file.
func (k *KeyringStore) wrap(err error) error {
	return fmt.Errorf("%s: %w (if this keychain cannot work here, use --backend file or KEYWARDEN_BACKEND=file for the encrypted file)", k.backend, err)
}

func (k *KeyringStore) Get(name string) ([]byte, error) {
	it, err := k.ring.Get(itemPrefix + name)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, k.wrap(err)
	}
	return it.Data, nil
}

func (k *KeyringStore) Set(name string, data []byte) error {
	err := k.ring.Set(keyring.Item{
		Key:  itemPrefix + name,
		Data: data,
		// The label is what keychain browsers show: the item name, which
		// carries the profile name and nothing more.
		Label:       itemPrefix + name,
		Description: "keywarden",
		// Keep the item on this machine, out of iCloud Keychain.
		KeychainNotSynchronizable: true,
	})
	if err != nil {
		return k.wrap(err)
	}
	return nil
}

func (k *KeyringStore) Remove(name string) error {
	err := k.ring.Remove(itemPrefix + name)
	if errors.Is(err, keyring.ErrKeyNotFound) {
		return ErrNotFound
	}
	if err != nil {
		// Some backends report a missing item in their own words.
		if _, gerr := k.ring.Get(itemPrefix + name); errors.Is(gerr, keyring.ErrKeyNotFound) {
			return ErrNotFound
		}
		return k.wrap(err)
	}
	return nil
}

func (k *KeyringStore) Keys() ([]string, error) {
	all, err := k.ring.Keys()
	if err != nil {
		return nil, k.wrap(err)
	}
	var out []string
	for _, n := range all {
		if rest, ok := strings.CutPrefix(n, itemPrefix); ok {
			out = append(out, rest)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// OpenOptions choose and configure a backend.
type OpenOptions struct {
	// Backend is one of Backends; "" means auto.
	Backend string
	// FileDir is the encrypted file's directory.
	FileDir string
	// Passphrase unlocks the encrypted file.
	Passphrase PassphraseFunc
	// SecretServiceCollection is the Secret Service collection; default
	// "login", which a desktop session unlocks at log-in (creating a new
	// collection would pop up a dialogue, or hang without a display).
	SecretServiceCollection string
	// PassDir is pass's store directory ("" for pass's own default).
	PassDir string
	// KeyCache, for the encrypted file, is asked for the derived key
	// before the passphrase is (see `keywarden unlock`).
	KeyCache KeyCache
}

// DefaultFileDir is where the encrypted file lives unless
// KEYWARDEN_FILE_DIR says otherwise: ~/.keywarden.
func DefaultFileDir(getenv func(string) string) string {
	if d := getenv("KEYWARDEN_FILE_DIR"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".keywarden")
}

// AutoBackend is the backend "auto" picks here: the platform's keychain
// where one is reachable, else the encrypted file.
func AutoBackend() string {
	switch runtime.GOOS {
	case "darwin":
		return "keychain"
	case "windows":
		return "wincred"
	}
	// The Secret Service backend registers itself only when a D-Bus
	// session bus answered at start-up.
	if slices.Contains(keyring.AvailableBackends(), keyring.SecretServiceBackend) {
		return "secret-service"
	}
	return "file"
}

// Open returns the store opts name. "auto" falls back to the encrypted
// file when the keychain it picked does not open, and says nothing:
// headless Linux, WSL and CI simply have none.
func Open(opts OpenOptions) (Store, error) {
	name := opts.Backend
	if name == "" {
		name = "auto"
	}
	if !slices.Contains(Backends, name) {
		return nil, fmt.Errorf("unknown backend %q (want one of %s)", name, strings.Join(Backends, ", "))
	}
	auto := name == "auto"
	if auto {
		name = AutoBackend()
	}
	if name == "file" {
		if opts.FileDir == "" {
			return nil, errors.New("no directory for the encrypted file")
		}
		return opts.fileStore(), nil
	}
	coll := opts.SecretServiceCollection
	if coll == "" {
		coll = "login"
	}
	ring, err := keyring.Open(keyring.Config{
		AllowedBackends:          []keyring.BackendType{keyring.BackendType(name)},
		ServiceName:              ServiceName,
		LibSecretCollectionName:  coll,
		KeychainTrustApplication: true,
		KeyCtlScope:              "user",
		PassDir:                  opts.PassDir,
		PassPrefix:               ServiceName,
		WinCredPrefix:            ServiceName,
	})
	if err != nil {
		if auto && opts.FileDir != "" {
			return opts.fileStore(), nil
		}
		return nil, fmt.Errorf("the %s backend is not available here (%v); use --backend file for the encrypted file", name, err)
	}
	return &KeyringStore{ring: ring, backend: name}, nil
}

func (opts OpenOptions) fileStore() *FileStore {
	f := NewFileStore(opts.FileDir, opts.Passphrase)
	f.Cache = opts.KeyCache
	return f
}
