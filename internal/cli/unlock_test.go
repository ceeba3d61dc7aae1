package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/vault/keycache"
)

// unlockRun runs the keywarden binary in its own session (no controlling
// terminal, so nothing can be asked) with env, and returns its output and
// exit code.
func unlockRun(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	c := exec.Command(bin, args...)
	c.Env = env
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := c.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestUnlockKeyctlAndAgent drives the binary through both places the key
// is kept: the kernel keyring and the agent. While unlocked, list works
// with no passphrase and no terminal; after the time (2 s) or lock, it asks
// again. The passphrase and the key never reach a file.
func TestUnlockKeyctlAndAgent(t *testing.T) {
	bin := vaultBuildBinary(t)
	dir := t.TempDir()
	runtime := filepath.Join(dir, "run")
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "KEYWARDEN_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+dir, "KEYWARDEN_BACKEND=file", "KEYWARDEN_FILE_DIR="+filepath.Join(dir, "store"), "XDG_RUNTIME_DIR="+runtime)
	const pass = "unlock-test-passphrase"
	withPass := append(env[:len(env):len(env)], "KEYWARDEN_FILE_PASSPHRASE="+pass)
	out, code := unlockRun(t, bin, append(withPass, "AWS_ACCESS_KEY_ID="+vaultTestKeyID, "AWS_SECRET_ACCESS_KEY="+vaultTestSecret), "add", "work", "--env", "--no-verify")
	if code != 0 {
		t.Fatalf("add: %d %s", code, out)
	}
	locked := func(when string) {
		t.Helper()
		out, code := unlockRun(t, bin, env, "list")
		if code != 2 || !strings.Contains(out, "needs its passphrase") {
			t.Fatalf("%s: list = %d %s, want the passphrase asked for", when, code, out)
		}
	}
	unlocked := func(when string) {
		t.Helper()
		out, code := unlockRun(t, bin, env, "list")
		if code != 0 || !strings.Contains(out, "AKIA************VV7A") {
			t.Fatalf("%s: list = %d %s, want the store open", when, code, out)
		}
	}
	locked("before unlock")

	// The kernel keyring, which forgets on its own after --for.
	out, code = unlockRun(t, bin, withPass, "unlock", "--for", "2s", "--cache", "keyctl")
	switch {
	case code != 0 && strings.Contains(out, "the kernel keyring refused"):
		t.Logf("kernel keyring not usable here, its path not tested: %s", out)
	case code != 0 || !strings.Contains(out, "the key is kept in the kernel keyring"):
		t.Fatalf("unlock --cache keyctl: %d %s", code, out)
	default:
		start := time.Now()
		unlocked("kernel keyring")
		time.Sleep(time.Until(start.Add(2200 * time.Millisecond)))
		locked("2 s after unlock --for 2s (kernel keyring)")
		// lock forgets before the time is up.
		if out, code := unlockRun(t, bin, withPass, "unlock", "--for", "1h", "--cache", "keyctl"); code != 0 {
			t.Fatalf("unlock: %s", out)
		}
		unlocked("kernel keyring, 1h")
		if out, code := unlockRun(t, bin, env, "lock"); code != 0 || !strings.Contains(out, "Locked: Forgot the key in the kernel keyring.") {
			t.Fatalf("lock: %d %s", code, out)
		}
		locked("after lock (kernel keyring)")
	}

	// The agent: forgets on lock, and on time (then exits).
	socket := filepath.Join(runtime, "keywarden", "agent.sock")
	out, code = unlockRun(t, bin, withPass, "unlock", "--for", "1h", "--cache", "agent")
	if code != 0 || !strings.Contains(out, "the key is kept in the keywarden agent ("+socket+")") {
		t.Fatalf("unlock --cache agent: %d %s", code, out)
	}
	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	unlocked("agent")
	if out, code := unlockRun(t, bin, env, "lock"); code != 0 || !strings.Contains(out, "Locked: Stopped the keywarden agent.") {
		t.Fatalf("lock: %d %s", code, out)
	}
	locked("after lock (agent)")
	if out, code := unlockRun(t, bin, env, "lock"); code != 0 || !strings.Contains(out, "Nothing was unlocked.") {
		t.Fatalf("lock again: %d %s", code, out)
	}

	out, code = unlockRun(t, bin, withPass, "unlock", "--for", "2s", "--cache", "agent")
	if code != 0 {
		t.Fatalf("unlock --for 2s: %d %s", code, out)
	}
	start := time.Now()
	unlocked("agent, 2s")
	time.Sleep(time.Until(start.Add(2200 * time.Millisecond)))
	locked("2 s after unlock --for 2s (agent)")
	for i := 0; ; i++ {
		if _, err := os.Stat(socket); os.IsNotExist(err) {
			break
		}
		if i == 40 {
			t.Fatal("the agent did not exit after its key expired")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Nothing on disk holds the passphrase or the key.
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), pass) {
				t.Errorf("%s holds the passphrase", path)
			}
		}
		return nil
	})
}

func TestUnlockUsageErrors(t *testing.T) {
	dir := t.TempDir()
	h := &vaultHarness{t: t, env: map[string]string{"HOME": dir, "KEYWARDEN_FILE_DIR": filepath.Join(dir, "store"),
		"KEYWARDEN_FILE_PASSPHRASE": "pw", "KEYWARDEN_BACKEND": "file", "XDG_RUNTIME_DIR": dir}}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"unlock", "--for", "0s"}, "--for 0s: want 1s to 168h0m0s"},
		{[]string{"unlock", "--for", "200h"}, "want 1s to 168h0m0s"},
		{[]string{"unlock", "--cache", "disk"}, `--cache "disk": want one of auto, keyctl, agent`},
		{[]string{"unlock"}, "no encrypted store here yet"},
		{[]string{"unlock", "--backend", "keyctl"}, "unlock is for the encrypted file store; the keyctl backend"},
		// The hidden agent listens only where unlock looks, never on a
		// path it is given (which Listen would otherwise replace).
		{[]string{"unlock-agent", "--socket", filepath.Join(dir, "elsewhere.sock")}, "--socket: the agent listens only on " + filepath.Join(dir, "keywarden", "agent.sock")},
	} {
		_, errOut, code := h.run("", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s, want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// refusingKeyctl is a kernel keyring that refuses every key, as a
// container's seccomp profile or a kernel without keys does.
type refusingKeyctl struct{}

func (refusingKeyctl) Name() string { return "the kernel keyring" }
func (refusingKeyctl) Put(string, []byte, time.Duration) error {
	return errors.New("add_key: operation not permitted")
}
func (refusingKeyctl) Get(string) ([]byte, error) { return nil, keycache.ErrNotCached }
func (refusingKeyctl) Forget(string) error        { return keycache.ErrNotCached }

// TestUnlockFallsBackToAgent: where the kernel refuses the key, unlock
// (auto) says what the kernel answered and keeps the key in the agent;
// --cache keyctl fails instead.
func TestUnlockFallsBackToAgent(t *testing.T) {
	bin := vaultBuildBinary(t)
	oldK, oldExe := unlockKeyctl, unlockAgentExe
	unlockKeyctl, unlockAgentExe = refusingKeyctl{}, func() (string, error) { return bin, nil }
	t.Cleanup(func() { unlockKeyctl, unlockAgentExe = oldK, oldExe })
	vaultNoTerminal(t)
	dir := t.TempDir()
	h := &vaultHarness{t: t, now: time.Now(), env: map[string]string{"HOME": dir, "KEYWARDEN_FILE_DIR": filepath.Join(dir, "store"),
		"KEYWARDEN_FILE_PASSPHRASE": "pw", "KEYWARDEN_BACKEND": "file", "XDG_RUNTIME_DIR": dir}}
	if _, errOut, code := h.run(vaultTestKeyID+"\n"+vaultTestSecret+"\n", "add", "work", "--stdin", "--no-verify"); code != 0 {
		t.Fatalf("add: %s", errOut)
	}
	if _, errOut, code := h.run("", "unlock", "--cache", "keyctl"); code != 2 || !strings.Contains(errOut, "the kernel keyring refused the key: add_key: operation not permitted") {
		t.Fatalf("unlock --cache keyctl: %d %s", code, errOut)
	}
	out, errOut, code := h.run("", "unlock", "--for", "1h")
	if code != 0 || !strings.Contains(errOut, "the kernel keyring refused the key (add_key: operation not permitted); using the agent") ||
		!strings.Contains(out, "the key is kept in the keywarden agent") {
		t.Fatalf("unlock: %d %s%s", code, out, errOut)
	}
	delete(h.env, "KEYWARDEN_FILE_PASSPHRASE")
	if out, errOut, code := h.run("", "list"); code != 0 || !strings.Contains(out, "work") {
		t.Fatalf("list through the agent: %d %s%s", code, out, errOut)
	}
	if out, _, code := h.run("", "lock"); code != 0 || !strings.Contains(out, "Stopped the keywarden agent") {
		t.Fatalf("lock: %d %s", code, out)
	}
	if _, errOut, code := h.run("", "list"); code != 2 || !strings.Contains(errOut, "needs its passphrase") {
		t.Fatalf("list after lock: %d %s", code, errOut)
	}
}
