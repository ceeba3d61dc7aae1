// Package keycache keeps the encrypted file store's derived key for a
// while, so commands do not ask for the passphrase every time (`keywarden
// unlock`): in the Linux kernel keyring, with a timeout the kernel
// enforces, or else in a small per-user agent process on a Unix socket.
// Neither ever writes the key to disk.
package keycache

import (
	"errors"
	"time"
)

// ErrNotCached is returned by Get when the cache holds no key for the id
// (never put, forgotten, or expired).
var ErrNotCached = errors.New("no key cached")

// Cache holds keys by id for a time.
type Cache interface {
	// Name says where keys are kept, for messages.
	Name() string
	Get(id string) ([]byte, error)
	Put(id string, key []byte, ttl time.Duration) error
	Forget(id string) error
}

// MaxTTL bounds how long a key may be kept.
const MaxTTL = 7 * 24 * time.Hour

// maxKey bounds a key's size.
const maxKey = 64

// maxID bounds an id's length.
const maxID = 64

func checkPut(id string, key []byte, ttl time.Duration) error {
	if err := checkID(id); err != nil {
		return err
	}
	if len(key) == 0 || len(key) > maxKey {
		return errors.New("key of a bad size")
	}
	if ttl < time.Second || ttl > MaxTTL {
		return errors.New("time to keep must be from 1s to 168h")
	}
	return nil
}

func checkID(id string) error {
	if id == "" || len(id) > maxID {
		return errors.New("bad key id")
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return errors.New("bad key id")
		}
	}
	return nil
}

// Chain asks each cache in turn: the first that holds the id answers.
type Chain []Cache

func (c Chain) Name() string { return "chain" }

func (c Chain) Get(id string) ([]byte, error) {
	for _, x := range c {
		if k, err := x.Get(id); err == nil {
			return k, nil
		}
	}
	return nil, ErrNotCached
}

// Put is not meaningful for a chain; use a member.
func (c Chain) Put(string, []byte, time.Duration) error {
	return errors.New("put into one cache, not a chain")
}

// Forget forgets id in every member; it returns the first error other
// than ErrNotCached.
func (c Chain) Forget(id string) error {
	var first error
	for _, x := range c {
		if err := x.Forget(id); err != nil && !errors.Is(err, ErrNotCached) && first == nil {
			first = err
		}
	}
	return first
}
