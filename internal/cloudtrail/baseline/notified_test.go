package baseline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

func TestNotified(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "detect.db")
	got, err := Notified(path, []string{"a"})
	if err != nil || len(got) != 0 {
		t.Fatalf("no store yet: %v, %v; want nothing delivered", got, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("reading created the store: %v", err)
	}
	at := time.Date(2024, 6, 3, 12, 0, 0, 0, time.UTC)
	if err := MarkNotified(path, []string{"t1/a", "t1/b"}, at); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("store %v, %v: want mode 0600", st, err)
	}
	got, err = Notified(path, []string{"t1/a", "t1/b", "t2/a", "t1/c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["t1/a"] || !got["t1/b"] {
		t.Errorf("notified %v, want t1/a and t1/b only", got)
	}
	// The baselines live beside the notified findings, untouched.
	obs := map[string]*detect.Baseline{"AKIAEXAMPLE": {}}
	obs["AKIAEXAMPLE"].Dims[0] = map[string]detect.Seen{"192.0.2.1": {First: at, Last: at, Count: 1}}
	if _, err := Exchange(path, nil, obs, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := Notified(path, []string{"t1/a"}); !got["t1/a"] {
		t.Errorf("an exchange lost the notified findings")
	}
}

func TestNotifiedDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.db")
	if err := os.WriteFile(path, []byte("not a bbolt file, just text long enough to be looked at"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { _, err := Notified(path, []string{"a"}); return err },
		func() error { return MarkNotified(path, []string{"a"}, time.Now()) },
	} {
		var se *Error
		if err := call(); !errors.As(err, &se) || !se.Damaged {
			t.Errorf("err %v, want a damaged-store *Error", err)
		}
	}
}
