package baseline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzExchange: the state file is outside input (a disk, a sync tool, an
// editor may have damaged it). Whatever its bytes, Exchange answers with
// baselines or an *Error, never a panic or a fault.
func FuzzExchange(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.db")
	key := "AKIARTX3GSDS2RWAIZGX"
	if _, err := Exchange(seed, []string{key}, obs(key, "198.51.100.7", time.Unix(1717200000, 0), 1), false); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("not a database"))
	// After a panic bbolt's memory map keeps the file locked until the
	// process exits: do not wait two minutes for it.
	// A runaway (see TestExchangeRunaway) is cut short too.
	oldLock, oldHang := LockTimeout, HangAfter
	LockTimeout, HangAfter = 10*time.Millisecond, time.Second
	f.Cleanup(func() { LockTimeout, HangAfter = oldLock, oldHang })
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "detect.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, readOnly := range []bool{true, false} {
			_, err := Exchange(path, []string{key}, obs(key, "203.0.113.9", time.Unix(1717200000, 0), 1), readOnly)
			var se *Error
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if se != nil && se.InUse {
				return // an earlier panic's memory map still holds the lock
			}
		}
	})
}
