// Package baseline keeps what `keywarden detect` has learned of each access
// key between runs: the addresses, networks, regions and user agents it was
// used from, each with when it was first and last seen.
//
// The store is a bbolt file. bbolt takes an exclusive file lock while the
// database is open, and every change happens inside one transaction, so two
// runs at the same time (cron overlapping a manual sweep) serialise instead
// of corrupting the file. Runs hold the lock only for the short exchange at
// the end, not while reading logs.
package baseline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var bucketKeys = []byte("keys")

// DefaultPath is the store under the user's state directory:
// $XDG_STATE_HOME/keywarden/detect.db, else ~/.local/state/keywarden/detect.db.
func DefaultPath(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "keywarden", "detect.db"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no state directory: set --state or HOME: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "keywarden", "detect.db"), nil
}

// LockTimeout is how long a run waits for another run to release the store.
var LockTimeout = 2 * time.Minute

// Exchange loads the stored baselines of keys and merges obs into the
// store, atomically: it returns the baselines as they were before this run
// (what first-seen rules judge against). With readOnly nothing is written.
func Exchange(path string, keys []string, obs map[string]*detect.Baseline, readOnly bool) (map[string]*detect.Baseline, error) {
	if readOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return map[string]*detect.Baseline{}, nil
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: LockTimeout, ReadOnly: readOnly})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%s: another keywarden run holds the state file (waited %s)", path, LockTimeout)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer db.Close()
	prior := map[string]*detect.Baseline{}
	load := func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketKeys)
		if root == nil {
			return nil
		}
		for _, k := range keys {
			kb := root.Bucket([]byte(k))
			if kb == nil {
				continue
			}
			b := &detect.Baseline{}
			for d, name := range detect.Dimensions {
				db := kb.Bucket([]byte(name))
				if db == nil {
					continue
				}
				m := map[string]detect.Seen{}
				err := db.ForEach(func(v, raw []byte) error {
					s, ok := decodeSeen(raw)
					if !ok {
						return fmt.Errorf("corrupt entry for %s %s", detect.RedactKey(k), name)
					}
					m[string(v)] = s
					return nil
				})
				if err != nil {
					return err
				}
				b.Dims[d] = m
			}
			prior[k] = b
		}
		return nil
	}
	if readOnly {
		err = db.View(load)
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			if err := load(tx); err != nil {
				return err
			}
			return merge(tx, obs)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return prior, nil
}

func merge(tx *bolt.Tx, obs map[string]*detect.Baseline) error {
	root, err := tx.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return err
	}
	for k, b := range obs {
		kb, err := root.CreateBucketIfNotExists([]byte(k))
		if err != nil {
			return err
		}
		for d, name := range detect.Dimensions {
			if len(b.Dims[d]) == 0 {
				continue
			}
			db, err := kb.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			for v, s := range b.Dims[d] {
				key := []byte(v)
				if raw := db.Get(key); raw != nil {
					if cur, ok := decodeSeen(raw); ok {
						if cur.First.Before(s.First) {
							s.First = cur.First
						}
						if cur.Last.After(s.Last) {
							s.Last = cur.Last
						}
						s.Count += cur.Count
					}
				}
				if err := db.Put(key, encodeSeen(s)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func encodeSeen(s detect.Seen) []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b[0:], uint64(s.First.Unix()))
	binary.BigEndian.PutUint64(b[8:], uint64(s.Last.Unix()))
	binary.BigEndian.PutUint64(b[16:], uint64(s.Count))
	return b
}

func decodeSeen(b []byte) (detect.Seen, bool) {
	if len(b) != 24 {
		return detect.Seen{}, false
	}
	return detect.Seen{
		First: time.Unix(int64(binary.BigEndian.Uint64(b[0:])), 0).UTC(),
		Last:  time.Unix(int64(binary.BigEndian.Uint64(b[8:])), 0).UTC(),
		Count: int64(binary.BigEndian.Uint64(b[16:])),
	}, true
}
