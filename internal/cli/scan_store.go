package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/keywarden/keywarden/internal/secretscan"
	"github.com/keywarden/keywarden/internal/vault"
)

// scanOwnKeys gathers the user's own access key IDs for --aws-credentials:
// those of the shared credentials file and those of keywarden's own store.
// Only IDs are kept; the secrets read from the store are dropped at once.
// A source that is absent is skipped; one that cannot be read is an error.
func scanOwnKeys(opts *scanOptions) ([]string, error) {
	ids, path, err := scanOwnKeyIDs(opts.Getenv)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	stored, err := scanStoreKeyIDs(opts)
	if err != nil {
		return nil, fmt.Errorf("keywarden's store: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range append(ids, stored...) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: warning: --aws-credentials found no access key IDs (in %s or keywarden's store)\n", path)
	}
	return out, nil
}

// scanStoreKeyIDs lists the key IDs kept in keywarden's store (the backend
// of KEYWARDEN_BACKEND, else the automatic one). An encrypted file store
// that does not exist holds nothing and needs no passphrase; one that does
// is unlocked with KEYWARDEN_FILE_PASSPHRASE or a prompt on the terminal.
func scanStoreKeyIDs(opts *scanOptions) ([]string, error) {
	st, err := vault.Open(vault.OpenOptions{
		Backend:                 opts.Getenv("KEYWARDEN_BACKEND"),
		FileDir:                 vault.DefaultFileDir(opts.Getenv),
		Passphrase:              scanStorePassphrase(opts.Getenv),
		SecretServiceCollection: opts.Getenv("KEYWARDEN_SECRET_SERVICE_COLLECTION"),
	})
	if err != nil {
		return nil, err
	}
	v := &vault.Vault{Store: st}
	names, err := v.KeyNames()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range names {
		k, err := v.GetKey(n)
		if err != nil {
			return nil, err
		}
		ids = append(ids, k.AccessKeyID)
	}
	return ids, nil
}

func scanStorePassphrase(getenv func(string) string) vault.PassphraseFunc {
	return func(bool) (string, error) {
		if p := getenv("KEYWARDEN_FILE_PASSPHRASE"); p != "" {
			return p, nil
		}
		tty, err := vault.OpenTerminal()
		if err != nil {
			return "", errors.New("the encrypted file store needs its passphrase and there is no terminal to ask on: set KEYWARDEN_FILE_PASSPHRASE")
		}
		defer tty.Close()
		return tty.ReadSecret("Passphrase for the keywarden store (to scan for your keys): ")
	}
}

// scanOwnKeyIDs reads the key IDs of the user's shared credentials file.
func scanOwnKeyIDs(getenv func(string) string) ([]string, string, error) {
	path := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if path == "" {
		home := getenv("HOME")
		if home == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return nil, "~/.aws/credentials", err
			}
			home = h
		}
		path = home + string(os.PathSeparator) + ".aws" + string(os.PathSeparator) + "credentials"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, path, err
	}
	if len(data) > 1<<20 {
		return nil, path, fmt.Errorf("%s: larger than 1 MB", path)
	}
	return secretscan.KeyIDsFromCredentials(data), path, nil
}
