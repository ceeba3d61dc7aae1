package baseline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketNotified holds the findings `detect --notify` delivered: key a
// finding's ID for one target (target hash and fingerprint, never a key
// or a URL), value the Unix time of delivery.
var bucketNotified = []byte("notified")

// Notified says which of ids the store records as delivered. A store that
// does not exist yet has delivered nothing.
func Notified(path string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := withStore(path, true, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNotified)
		if b == nil {
			return nil
		}
		for _, id := range ids {
			if b.Get([]byte(id)) != nil {
				out[id] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarkNotified records ids as delivered at t, in one transaction.
func MarkNotified(path string, ids []string, t time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(t.Unix()))
	return withStore(path, false, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketNotified)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// withStore runs fn in one transaction on the store, recovering a panic
// or fault of bbolt on a damaged file as an *Error (see Exchange; the
// runs that call this exchanged with the same file a moment before, so a
// runaway is not guarded against again here).
func withStore(path string, readOnly bool, fn func(*bolt.Tx) error) (err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				file.Close()
			}
			err = &Error{Path: path, Damaged: true, Err: fmt.Errorf("%v", r)}
		}
	}()
	if readOnly {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
	} else if merr := os.MkdirAll(filepath.Dir(path), 0o700); merr != nil {
		return classify(path, merr)
	}
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: LockTimeout, ReadOnly: readOnly, OpenFile: openFile})
	if err != nil {
		return classify(path, err)
	}
	if readOnly {
		err = db.View(fn)
	} else {
		err = db.Update(fn)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return classify(path, err)
	}
	return nil
}
