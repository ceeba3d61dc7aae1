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
	"runtime/debug"
	"strings"
	"syscall"
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

// Error is a store that cannot be used: damaged, held by another run, or
// not openable. The run's findings stand without it; the message says what
// to do.
type Error struct {
	Path string
	// Damaged: the file is not a sound bbolt store (bbolt refused it, or
	// panicked or faulted reading it).
	Damaged bool
	// InUse: another run held the lock for the whole LockTimeout.
	InUse bool
	Err   error
}

func (e *Error) Error() string {
	switch {
	case e.Damaged:
		return fmt.Sprintf("state store %s is damaged: use --no-state or move it away (%v)", e.Path, e.Err)
	case e.InUse:
		return fmt.Sprintf("state store %s is in use by another keywarden run (%v)", e.Path, e.Err)
	}
	return fmt.Sprintf("state store %s cannot be used: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// damagedErrs are bbolt's answers for a file that is not a sound store.
var damagedErrs = []error{berrors.ErrInvalid, berrors.ErrChecksum, berrors.ErrVersionMismatch,
	berrors.ErrInvalidMapping, berrors.ErrIncompatibleValue, errCorrupt}

var errCorrupt = errors.New("corrupt entry")

// classify turns an error from bbolt into an *Error.
func classify(path string, err error) error {
	e := &Error{Path: path, Err: err}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		e.InUse = true
		e.Err = fmt.Errorf("waited %s for its lock", LockTimeout)
	case errors.Is(err, syscall.EISDIR):
		e.Err = errors.New("it is a directory")
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EROFS):
		e.Err = fmt.Errorf("%w: use --no-state or fix its permissions", unwrapPath(err))
	default:
		e.Err = unwrapPath(err)
		for _, d := range damagedErrs {
			if errors.Is(err, d) {
				e.Damaged = true
			}
		}
		// bbolt's own checks on open ("file size too small", a meta page
		// pointing past the end) come as plain errors from Open.
		if !e.Damaged && strings.Contains(err.Error(), "file size") {
			e.Damaged = true
		}
	}
	return e
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Exchange loads the stored baselines of keys and merges obs into the
// store, atomically: it returns the baselines as they were before this run
// (what first-seen rules judge against). With readOnly nothing is written.
//
// A damaged file must not take the run down with it: bbolt trusts the
// pages it reads and panics (or, through its memory map, faults) on
// garbage, so both are recovered here and reported as an *Error with
// Damaged set; every other failure is an *Error too.
//
// After a panic the database is not closed (bbolt may still hold its own
// mutexes, and Close would wait on them forever); only its descriptor is.
// bbolt's memory map of the file stays until the process exits, and with it
// the file lock: a second Exchange on the same damaged file in the same
// process reports it in use. keywarden exchanges once per run.
//
// Some damage sends bbolt into a runaway instead of a panic (a page whose
// overflow count is garbage makes a write free billions of page ids): the
// work happens on its own goroutine, and once the store is open it has
// HangAfter to finish, else the store is reported damaged and left to the
// process's exit.
func Exchange(path string, keys []string, obs map[string]*detect.Baseline, readOnly bool) (map[string]*detect.Baseline, error) {
	type result struct {
		prior map[string]*detect.Baseline
		err   error
	}
	done := make(chan result, 1)
	opened := make(chan struct{})
	go func() {
		p, err := exchangeRecover(path, keys, obs, readOnly, opened)
		done <- result{p, err}
	}()
	hang := time.NewTimer(LockTimeout + HangAfter)
	defer hang.Stop()
	for {
		select {
		case r := <-done:
			return r.prior, r.err
		case <-opened:
			opened = nil
			hang.Reset(HangAfter)
		case <-hang.C:
			return nil, &Error{Path: path, Damaged: true, Err: fmt.Errorf("reading it did not finish in %s", HangAfter)}
		}
	}
}

// HangAfter is how long the store may take to read and merge once open
// (a sound store takes milliseconds; a runaway allocates all along, so
// the bound is also what it costs in memory before the run ends).
var HangAfter = 10 * time.Second

func exchangeRecover(path string, keys []string, obs map[string]*detect.Baseline, readOnly bool, opened chan<- struct{}) (prior map[string]*detect.Baseline, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				file.Close()
			}
			prior, err = nil, &Error{Path: path, Damaged: true, Err: fmt.Errorf("%v", r)}
		}
	}()
	prior, err = exchange(path, keys, obs, readOnly, &file, opened)
	if err != nil {
		return nil, classify(path, err)
	}
	return prior, nil
}

func exchange(path string, keys []string, obs map[string]*detect.Baseline, readOnly bool, file **os.File, opened chan<- struct{}) (map[string]*detect.Baseline, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, syscall.EISDIR // bbolt would open it read-only and call it invalid
	}
	if readOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return map[string]*detect.Baseline{}, nil
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		*file = f
		return f, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: LockTimeout, ReadOnly: readOnly, OpenFile: openFile})
	close(opened)
	if err != nil {
		return nil, err
	}
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
						return fmt.Errorf("%w for %s %s", errCorrupt, detect.RedactKey(k), name)
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
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
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
