package baseline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
)

func obs(key, addr string, first time.Time, n int64) map[string]*detect.Baseline {
	b := &detect.Baseline{}
	b.Dims[0] = map[string]detect.Seen{addr: {First: first, Last: first.Add(time.Hour), Count: n}}
	return map[string]*detect.Baseline{key: b}
}

func TestExchange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "detect.db")
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	key := "AKIARTX3GSDS2RWAIZGX"
	// A read-only exchange on a missing store creates nothing.
	prior, err := Exchange(path, []string{key}, nil, true)
	if err != nil || len(prior) != 0 {
		t.Fatalf("read-only on missing store: %v %v", prior, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("read-only exchange created the store")
	}
	if prior, err = Exchange(path, []string{key}, obs(key, "198.51.100.7", t0, 3), false); err != nil || len(prior) != 0 {
		t.Fatalf("first exchange: %v %v", prior, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("store mode: %v %v", st, err)
	}
	prior, err = Exchange(path, []string{key, "AKIAOTHERKEY00000000"}, obs(key, "198.51.100.7", t0.Add(-time.Hour), 2), false)
	if err != nil {
		t.Fatal(err)
	}
	s := prior[key].Dims[0]["198.51.100.7"]
	if !s.First.Equal(t0) || s.Count != 3 || len(prior) != 1 {
		t.Errorf("prior after one run: %+v (%d keys)", s, len(prior))
	}
	prior, _ = Exchange(path, []string{key}, nil, true)
	s = prior[key].Dims[0]["198.51.100.7"]
	if !s.First.Equal(t0.Add(-time.Hour)) || !s.Last.Equal(t0.Add(time.Hour)) || s.Count != 5 {
		t.Errorf("merged: %+v", s)
	}
}

func TestDefaultPath(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	p, _ := DefaultPath(func(k string) string { return env[k] })
	if p != "/home/u/.local/state/keywarden/detect.db" {
		t.Error(p)
	}
	env["XDG_STATE_HOME"] = "/xdg"
	if p, _ = DefaultPath(func(k string) string { return env[k] }); p != "/xdg/keywarden/detect.db" {
		t.Error(p)
	}
}

// Concurrent runs, in goroutines and in separate processes, serialise on
// bbolt's file lock: every run's observations land, none is lost and the
// file stays readable.
func TestConcurrentRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.db")
	key := "AKIARTX3GSDS2RWAIZGX"
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	const goroutines, procs = 8, 4
	var wg sync.WaitGroup
	errs := make(chan error, goroutines+procs)
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := Exchange(path, []string{key}, obs(key, fmt.Sprintf("198.51.100.%d", i), t0, 1), false)
			errs <- err
		}(i)
	}
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperExchange$")
			cmd.Env = append(os.Environ(), "KW_BASELINE_HELPER="+path, "KW_BASELINE_ADDR=203.0.113."+strconv.Itoa(i))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("helper %d: %v: %s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	prior, err := Exchange(path, []string{key}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(prior[key].Dims[0]); n != goroutines+procs {
		t.Errorf("%d addresses stored, want %d", n, goroutines+procs)
	}
}

// TestHelperExchange is run as a subprocess by TestConcurrentRuns.
func TestHelperExchange(t *testing.T) {
	path := os.Getenv("KW_BASELINE_HELPER")
	if path == "" {
		t.Skip("helper process only")
	}
	key := "AKIARTX3GSDS2RWAIZGX"
	if _, err := Exchange(path, []string{key}, obs(key, os.Getenv("KW_BASELINE_ADDR"), time.Now(), 1), false); err != nil {
		t.Fatal(err)
	}
}

func TestLockTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.db")
	old := LockTimeout
	LockTimeout = 100 * time.Millisecond
	defer func() { LockTimeout = old }()
	if _, err := Exchange(path, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	// Hold the lock from a helper process, then try.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHold$")
	cmd.Env = append(os.Environ(), "KW_BASELINE_HOLD="+path)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	buf := make([]byte, 4)
	stdout.Read(buf) // "held"
	_, err := Exchange(path, nil, nil, false)
	if err == nil || !strings.Contains(err.Error(), "is in use by another keywarden run") {
		t.Errorf("err = %v", err)
	}
}

// TestHelperHold opens the store and holds its lock for a few seconds.
func TestHelperHold(t *testing.T) {
	path := os.Getenv("KW_BASELINE_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	holdForTest(path, 3*time.Second)
}

// An account's baseline is stored beside its keys', under its own name,
// with every dimension (launch regions included), and read back only when
// asked for.
func TestExchangeAccount(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.db")
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	acct := detect.AccountKey("111122223333")
	b := &detect.Baseline{}
	for d := range detect.Dimensions {
		b.Dims[d] = map[string]detect.Seen{fmt.Sprintf("v%d", d): {First: t0, Last: t0, Count: 1}}
	}
	if _, err := Exchange(path, []string{acct}, map[string]*detect.Baseline{acct: b}, false); err != nil {
		t.Fatal(err)
	}
	prior, err := Exchange(path, []string{"AKIARTX3GSDS2RWAIZGX"}, nil, true)
	if err != nil || len(prior) != 0 {
		t.Fatalf("keys only: %v %v", prior, err)
	}
	prior, err = Exchange(path, []string{acct}, nil, true)
	if err != nil || prior[acct] == nil {
		t.Fatalf("account: %v %v", prior, err)
	}
	for d, name := range detect.Dimensions {
		if s := prior[acct].Dims[d][fmt.Sprintf("v%d", d)]; s.Count != 1 || !s.First.Equal(t0) {
			t.Errorf("%s: %+v", name, s)
		}
	}
}
