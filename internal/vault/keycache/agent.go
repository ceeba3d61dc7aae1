package keycache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// The agent: a `keywarden unlock-agent` process that holds keys in memory
// for the uid that started it, on a Unix socket in a 0700 directory of
// that uid ($XDG_RUNTIME_DIR/keywarden, else /tmp/keywarden-UID), the
// socket itself 0600. Each connection carries one JSON request and one
// JSON answer. The agent answers only peers of its own uid (SO_PEERCRED),
// forgets each key when its time is up, and exits when it holds none (on
// `keywarden lock`, or when the last key expires).

// maxMessage bounds a request or an answer.
const maxMessage = 4096

// ioTimeout bounds one exchange on the socket.
const ioTimeout = 5 * time.Second

// IdleExit is how long an agent waits for its first key before it exits.
const IdleExit = 30 * time.Second

type request struct {
	Op  string `json:"op"` // put, get, forget, stop
	ID  string `json:"id,omitempty"`
	Key []byte `json:"key,omitempty"`
	// TTLMillis is how long to keep the key (put).
	TTLMillis int64 `json:"ttl_ms,omitempty"`
}

type answer struct {
	OK    bool   `json:"ok"`
	Key   []byte `json:"key,omitempty"`
	Error string `json:"error,omitempty"`
	// NotCached says the id is not held.
	NotCached bool `json:"not_cached,omitempty"`
}

// Agent is the agent's state: keys by id with their expiry.
type Agent struct {
	// Now is the clock (time.Now when nil); tests inject one.
	Now func() time.Time

	mu   sync.Mutex
	uid  *int // the only uid answered; nil: the agent's own
	keys map[string]agentEntry
	// held: a key was ever put. Set by Put itself, so that Serve knows
	// the agent has held keys even when they were all forgotten before
	// its loop looked.
	held    bool
	changed chan struct{}
}

type agentEntry struct {
	key     []byte
	expires time.Time
}

// NewAgent returns an empty agent on the clock now (nil: time.Now).
func NewAgent(now func() time.Time) *Agent {
	if now == nil {
		now = time.Now
	}
	return &Agent{Now: now, keys: map[string]agentEntry{}, changed: make(chan struct{}, 1)}
}

func (a *Agent) notify() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// Name says where keys are kept.
func (a *Agent) Name() string { return "the keywarden agent" }

// Put keeps key under id for ttl.
func (a *Agent) Put(id string, key []byte, ttl time.Duration) error {
	if err := checkPut(id, key, ttl); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.keys[id]; ok {
		wipe(old.key)
	}
	a.keys[id] = agentEntry{key: bytes.Clone(key), expires: a.Now().Add(ttl)}
	a.held = true
	a.notify()
	return nil
}

// Get returns the key under id while its time lasts.
func (a *Agent) Get(id string) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expireLocked()
	e, ok := a.keys[id]
	if !ok {
		return nil, ErrNotCached
	}
	return bytes.Clone(e.key), nil
}

// Forget drops the key under id.
func (a *Agent) Forget(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.keys[id]
	if !ok {
		return ErrNotCached
	}
	wipe(e.key)
	delete(a.keys, id)
	a.notify()
	return nil
}

// ForgetAll drops every key.
func (a *Agent) ForgetAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, e := range a.keys {
		wipe(e.key)
		delete(a.keys, id)
	}
	a.notify()
}

// Expire drops the keys whose time is up. It returns how many are left
// and the earliest expiry among them.
func (a *Agent) Expire() (left int, next time.Time) {
	left, next, _ = a.expire()
	return left, next
}

// expire is Expire, also saying whether a key was ever put.
func (a *Agent) expire() (left int, next time.Time, held bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expireLocked()
	for _, e := range a.keys {
		if next.IsZero() || e.expires.Before(next) {
			next = e.expires
		}
	}
	return len(a.keys), next, a.held
}

func (a *Agent) expireLocked() {
	now := a.Now()
	for id, e := range a.keys {
		if !now.Before(e.expires) {
			wipe(e.key)
			delete(a.keys, id)
		}
	}
}

// Serve answers connections on l until the agent, having held keys, holds
// none (forgotten or expired), or held none for IdleExit from the start,
// or ctx ends. Expiry is also checked on every request, on a.Now.
func (a *Agent) Serve(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Closed before Serve returns, so the socket is gone when the agent
	// process exits.
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				cancel()
				return
			}
			go a.handle(c)
		}
	}()
	idle := time.NewTimer(IdleExit)
	defer idle.Stop()
	idleOver := false
	for {
		left, next, held := a.expire()
		if left == 0 && (held || idleOver) {
			return nil
		}
		var wake <-chan time.Time
		var t *time.Timer
		if left > 0 {
			t = time.NewTimer(max(next.Sub(a.Now()), 10*time.Millisecond))
			wake = t.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-idle.C:
			idleOver = true
		case <-a.changed:
		case <-wake:
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (a *Agent) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	uid, err := peerUID(c)
	ans := a.respond(uid, err, c)
	_ = json.NewEncoder(c).Encode(ans)
	wipe(ans.Key)
}

// respond answers one request read from r, sent by uid.
func (a *Agent) respond(uid int, uidErr error, r io.Reader) answer {
	// Read the request before judging the caller: answering and closing
	// while the client still writes would give it a broken pipe instead
	// of the refusal. The read is bounded and under the connection's
	// deadline; a refused caller's key is wiped unread.
	var req request
	decErr := json.NewDecoder(io.LimitReader(r, maxMessage)).Decode(&req)
	defer wipe(req.Key)
	if uidErr != nil {
		return answer{Error: "cannot check the caller's uid: " + uidErr.Error()}
	}
	if uid != a.owner() {
		return answer{Error: "refused: the caller is uid " + strconv.Itoa(uid) + ", not this agent's"}
	}
	if decErr != nil {
		return answer{Error: "bad request: " + decErr.Error()}
	}
	switch req.Op {
	case "put":
		if err := a.Put(req.ID, req.Key, time.Duration(req.TTLMillis)*time.Millisecond); err != nil {
			return answer{Error: err.Error()}
		}
		return answer{OK: true}
	case "get":
		k, err := a.Get(req.ID)
		if err != nil {
			return answer{NotCached: true, Error: err.Error()}
		}
		return answer{OK: true, Key: k}
	case "forget":
		if err := a.Forget(req.ID); err != nil {
			return answer{NotCached: true, Error: err.Error()}
		}
		return answer{OK: true}
	case "stop":
		a.ForgetAll()
		return answer{OK: true}
	}
	return answer{Error: fmt.Sprintf("unknown request %q", req.Op)}
}

func (a *Agent) owner() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.uid != nil {
		return *a.uid
	}
	return os.Getuid()
}

// SetOwner makes the agent answer uid only (tests play a stranger with
// it); a negative uid means the agent's own.
func (a *Agent) SetOwner(uid int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if uid < 0 {
		a.uid = nil
		return
	}
	a.uid = &uid
}

// SocketDir is the agent's directory: $XDG_RUNTIME_DIR/keywarden when
// XDG_RUNTIME_DIR is set, else /tmp/keywarden-UID.
func SocketDir(getenv func(string) string) string {
	if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "keywarden")
	}
	return filepath.Join(os.TempDir(), "keywarden-"+strconv.Itoa(os.Getuid()))
}

// SocketPath is the agent's socket in SocketDir.
func SocketPath(getenv func(string) string) string {
	return filepath.Join(SocketDir(getenv), "agent.sock")
}

// checkDir makes dir if needed and refuses it unless it is a real
// directory (not a symlink) owned by this uid that nobody else can enter:
// another user who made /tmp/keywarden-UID first must not get our key.
func checkDir(dir string, create bool) error {
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: mode %o lets other users in (want 0700)", dir, fi.Mode().Perm())
	}
	return checkOwner(dir, fi)
}

// Listen makes the agent's socket at path (0600, in a checked 0700
// directory). A socket left by a dead agent is replaced; one a live agent
// answers on is not (ErrAgentRunning).
func Listen(path string) (net.Listener, error) {
	if err := checkDir(filepath.Dir(path), true); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, ErrAgentRunning
	}
	// A stale socket of an agent that died is replaced; anything else at
	// the path is not ours to remove.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket: not replacing it", path)
		}
		_ = os.Remove(path)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	return l, nil
}

// ErrAgentRunning is returned by Listen when an agent already answers.
var ErrAgentRunning = errors.New("an unlock agent is already running")

// ErrNoAgent is returned when no agent answers on the socket.
var ErrNoAgent = errors.New("no unlock agent is running")

// AgentClient talks to the agent on Socket.
type AgentClient struct {
	Socket string
}

func (AgentClient) Name() string { return "the keywarden agent" }

func (c AgentClient) call(req request) (answer, error) {
	defer wipe(req.Key)
	if err := checkDir(filepath.Dir(c.Socket), false); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return answer{}, ErrNoAgent
		}
		return answer{}, err
	}
	conn, err := net.DialTimeout("unix", c.Socket, 2*time.Second)
	if err != nil {
		return answer{}, fmt.Errorf("%w (%v)", ErrNoAgent, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	// The agent must be ours too.
	uid, err := peerUID(conn)
	if err != nil {
		return answer{}, err
	}
	if uid != os.Getuid() {
		return answer{}, fmt.Errorf("%s: the agent runs as uid %d, not ours", c.Socket, uid)
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return answer{}, err
	}
	var ans answer
	if err := json.NewDecoder(io.LimitReader(conn, maxMessage)).Decode(&ans); err != nil {
		return answer{}, fmt.Errorf("%s: bad answer from the agent: %w", c.Socket, err)
	}
	return ans, nil
}

func (c AgentClient) Get(id string) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	ans, err := c.call(request{Op: "get", ID: id})
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotCached, err)
	}
	if !ans.OK {
		return nil, ErrNotCached
	}
	return ans.Key, nil
}

func (c AgentClient) Put(id string, key []byte, ttl time.Duration) error {
	if err := checkPut(id, key, ttl); err != nil {
		return err
	}
	ans, err := c.call(request{Op: "put", ID: id, Key: bytes.Clone(key), TTLMillis: ttl.Milliseconds()})
	if err != nil {
		return err
	}
	if !ans.OK {
		return fmt.Errorf("the agent refused: %s", ans.Error)
	}
	return nil
}

func (c AgentClient) Forget(id string) error {
	ans, err := c.call(request{Op: "forget", ID: id})
	if err != nil {
		if errors.Is(err, ErrNoAgent) {
			return ErrNotCached
		}
		return err
	}
	if !ans.OK {
		return ErrNotCached
	}
	return nil
}

// Stop makes the agent forget every key and exit. No agent is no error.
func (c AgentClient) Stop() (stopped bool, err error) {
	ans, err := c.call(request{Op: "stop"})
	if errors.Is(err, ErrNoAgent) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !ans.OK {
		return false, errors.New(ans.Error)
	}
	return true, nil
}
