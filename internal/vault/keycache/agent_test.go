package keycache

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var testKey = bytes.Repeat([]byte{7}, 32)

func TestAgentForgetsOnTime(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	a := NewAgent(clk.now)
	if err := a.Put("abc", testKey, 8*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after time.Duration
		held  bool
	}{
		{0, true},
		{8*time.Hour - time.Second, true},
		{8 * time.Hour, false}, // expired exactly at its time
		{9 * time.Hour, false},
	} {
		clk.t = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC).Add(tc.after)
		k, err := a.Get("abc")
		if tc.held && (err != nil || !bytes.Equal(k, testKey)) {
			t.Errorf("after %s: %v %x, want the key", tc.after, err, k)
		}
		if !tc.held && !errors.Is(err, ErrNotCached) {
			t.Errorf("after %s: %v, want ErrNotCached", tc.after, err)
		}
	}
	if left, _ := a.Expire(); left != 0 {
		t.Fatalf("%d keys left after expiry", left)
	}
}

func TestAgentPutRefuses(t *testing.T) {
	a := NewAgent(nil)
	for _, tc := range []struct {
		name string
		id   string
		key  []byte
		ttl  time.Duration
	}{
		{"empty id", "", testKey, time.Hour},
		{"id with a slash", "a/b", testKey, time.Hour},
		{"id too long", strings.Repeat("a", 65), testKey, time.Hour},
		{"no key", "abc", nil, time.Hour},
		{"key too long", "abc", make([]byte, 65), time.Hour},
		{"ttl too short", "abc", testKey, time.Millisecond},
		{"ttl too long", "abc", testKey, MaxTTL + time.Second},
	} {
		if err := a.Put(tc.id, tc.key, tc.ttl); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

// TestAgentOverSocket runs the agent on a real socket: put, get, forget,
// the uid check (SO_PEERCRED), and the exit when it holds no key.
func TestAgentOverSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kw")
	sock := filepath.Join(dir, "agent.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, sock: 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: %v %v, want mode %o", path, fi.Mode(), err, want)
		}
	}
	if _, err := Listen(sock); !errors.Is(err, ErrAgentRunning) {
		t.Fatalf("second Listen: %v", err)
	}
	a := NewAgent(nil)
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), l) }()
	c := AgentClient{Socket: sock}
	if _, err := c.Get("abc"); !errors.Is(err, ErrNotCached) {
		t.Fatalf("get before put: %v", err)
	}
	if err := c.Put("abc", testKey, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Put("def", testKey, time.Hour); err != nil {
		t.Fatal(err)
	}
	if k, err := c.Get("abc"); err != nil || !bytes.Equal(k, testKey) {
		t.Fatalf("get: %x %v", k, err)
	}
	if err := c.Forget("abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("abc"); !errors.Is(err, ErrNotCached) {
		t.Fatalf("get after forget: %v", err)
	}
	// Another uid is refused (the agent is told to answer uid 4242 only,
	// so this test, not uid 4242, is the stranger).
	a.SetOwner(4242)
	if _, err := c.Get("def"); !errors.Is(err, ErrNotCached) {
		t.Fatalf("a stranger got the key: %v", err)
	}
	if err := c.Put("ghi", testKey, time.Hour); err == nil || !strings.Contains(err.Error(), "refused: the caller is uid") {
		t.Fatalf("a stranger put a key: %v", err)
	}
	a.SetOwner(-1)
	if stopped, err := c.Stop(); err != nil || !stopped {
		t.Fatalf("stop: %v %v", stopped, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not exit once it held no key")
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if stopped, err := c.Stop(); err != nil || stopped {
		t.Fatalf("stop with no agent: %v %v", stopped, err)
	}
}

// TestAgentExitsWhenLastKeyExpires: the agent's own timer forgets the key
// and the agent exits (a 1-second key: the shortest allowed).
func TestAgentExitsWhenLastKeyExpires(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "kw", "agent.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAgent(nil)
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), l) }()
	if err := (AgentClient{Socket: sock}).Put("abc", testKey, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the agent still runs after its only key expired")
	}
	if _, err := a.Get("abc"); !errors.Is(err, ErrNotCached) {
		t.Fatalf("key still held: %v", err)
	}
}

func TestSocketDirRefused(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{open, "lets other users in"},
		{link, "not a directory"},
	} {
		_, err := Listen(filepath.Join(tc.dir, "agent.sock"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.dir) {
			t.Errorf("%s: %v, want %q", tc.dir, err, tc.want)
		}
		if _, err := (AgentClient{Socket: filepath.Join(tc.dir, "agent.sock")}).Get("abc"); !errors.Is(err, ErrNotCached) {
			t.Errorf("client in %s: %v", tc.dir, err)
		}
	}
}

func TestSocketPath(t *testing.T) {
	env := map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}
	if got := SocketPath(func(k string) string { return env[k] }); got != "/run/user/1000/keywarden/agent.sock" {
		t.Errorf("with XDG_RUNTIME_DIR: %s", got)
	}
	env["XDG_RUNTIME_DIR"] = "relative"
	want := filepath.Join(os.TempDir(), "keywarden-"+strconv.Itoa(os.Getuid()), "agent.sock")
	if got := SocketPath(func(k string) string { return env[k] }); got != want {
		t.Errorf("without: %s, want %s", got, want)
	}
}

// FuzzAgentRequest feeds hostile requests to the agent: an answer, never
// a panic, and never a key for a request that did not name one held.
func FuzzAgentRequest(f *testing.F) {
	f.Add([]byte(`{"op":"get","id":"abc"}`))
	f.Add([]byte(`{"op":"put","id":"x","key":"AAAA","ttl_ms":5000}`))
	f.Add([]byte(`{"op":"stop"}`))
	f.Add([]byte(`{"op":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := NewAgent(nil)
		_ = a.Put("held", testKey, time.Hour)
		ans := a.respond(os.Getuid(), nil, bytes.NewReader(data))
		if ans.OK && ans.Key != nil && !bytes.Equal(ans.Key, testKey) {
			t.Fatalf("odd key %x", ans.Key)
		}
	})
}

// TestListenKeepsOtherFiles: a stale socket is replaced, a file that is
// not a socket is left alone and refused.
func TestListenKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "agent.sock")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := Listen(path); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("the file was touched: %q %v", b, err)
	}
	os.Remove(path)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	// A socket left behind by an agent that died is replaced.
	l.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	l.Close()
	l, err = Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
}

// An agent whose keys were all put and forgotten before its loop first
// looked still exits at once: that it held keys is recorded by Put, not
// sampled by Serve (a loop scheduled late used to wait for IdleExit).
func TestAgentExitsAfterKeysGoneBeforeServe(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	a := NewAgent(nil)
	if err := a.Put("abc", testKey, time.Hour); err != nil {
		t.Fatal(err)
	}
	a.ForgetAll()
	done := make(chan error, 1)
	go func() { done <- a.Serve(context.Background(), l) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not exit although it had held keys and holds none")
	}
}
