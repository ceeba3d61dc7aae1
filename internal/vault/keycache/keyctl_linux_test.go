package keycache

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func randomID(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestKeyctl uses the real kernel keyring: put, get, forget, and the
// kernel's own timeout (a 1-second key, read again 1.5 s later).
func TestKeyctl(t *testing.T) {
	var k Keyctl
	id := randomID(t)
	if err := k.Put(id, testKey, time.Minute); err != nil {
		t.Skipf("the kernel keyring is not usable here: %v (the agent covers this case)", err)
	}
	t.Cleanup(func() { _ = k.Forget(id) })
	if got, err := k.Get(id); err != nil || !bytes.Equal(got, testKey) {
		t.Fatalf("get: %x %v", got, err)
	}
	if err := k.Forget(id); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(id); !errors.Is(err, ErrNotCached) {
		t.Fatalf("get after forget: %v", err)
	}
	if err := k.Forget(id); !errors.Is(err, ErrNotCached) {
		t.Fatalf("forget twice: %v", err)
	}

	short := randomID(t)
	if err := k.Put(short, testKey, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(short); err != nil {
		t.Fatalf("get before expiry: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := k.Get(short); !errors.Is(err, ErrNotCached) {
		t.Fatalf("get after the kernel's timeout: %v", err)
	}
	if err := k.Put("bad/id", testKey, time.Minute); err == nil {
		t.Fatal("a bad id was accepted")
	}
}

func TestChain(t *testing.T) {
	a, b := NewAgent(nil), NewAgent(nil)
	if err := b.Put("abc", testKey, time.Hour); err != nil {
		t.Fatal(err)
	}
	c := Chain{a, b}
	if got, err := c.Get("abc"); err != nil || !bytes.Equal(got, testKey) {
		t.Fatalf("chain get: %x %v", got, err)
	}
	if err := c.Forget("abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("abc"); !errors.Is(err, ErrNotCached) {
		t.Fatalf("after forget: %v", err)
	}
}
