package vault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

const inDBusEnv = "KEYWARDEN_TEST_IN_DBUS"

// TestSecretServiceBackend exercises the Secret Service backend against a
// real gnome-keyring-daemon in a private D-Bus session: the test binary
// re-runs itself under dbus-run-session after unlocking a fresh login
// keyring. It skips where dbus-run-session or gnome-keyring-daemon is
// missing (apt-get install dbus gnome-keyring), unless
// KEYWARDEN_REQUIRE_SECRET_SERVICE is set (CI's deps script sets it).
func TestSecretServiceBackend(t *testing.T) {
	if os.Getenv(inDBusEnv) != "" {
		secretServiceRoundTrip(t)
		return
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KEYWARDEN_REQUIRE_SECRET_SERVICE") != "" {
				t.Fatalf("%s is not on PATH but KEYWARDEN_REQUIRE_SECRET_SERVICE is set", tool)
			}
			t.Skipf("%s not found: skipping the Secret Service test (apt-get install dbus gnome-keyring to run it)", tool)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	// A fresh HOME gives a fresh login keyring, created and unlocked with
	// the password on stdin; then the test runs inside the session.
	script := `printf 'keywarden-test' | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0" -test.run '^TestSecretServiceBackend$' -test.v -test.count=1`
	cmd := exec.CommandContext(ctx, "dbus-run-session", "--", "sh", "-c", script, exe)
	cmd.Env = append(os.Environ(), inDBusEnv+"=1", "HOME="+home, "XDG_DATA_HOME="+home+"/.local/share", "XDG_RUNTIME_DIR="+home)
	// The daemons D-Bus activates (gnome-keyring-daemon --start
	// --foreground) can outlive dbus-run-session. Had they our output pipe,
	// Wait would block until they died: so the output goes to a file, the
	// whole tree runs in its own process group that is killed on the way
	// out, and WaitDelay bounds whatever is left.
	outPath := filepath.Join(t.TempDir(), "dbus-session.log")
	outFile, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	startInOwnProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Start()
	if err != nil {
		t.Fatalf("starting dbus-run-session: %v", err)
	}
	t.Cleanup(func() { killProcessGroup(cmd) })
	err = cmd.Wait()
	killProcessGroup(cmd)
	out, readErr := os.ReadFile(outPath)
	if readErr != nil {
		t.Fatal(readErr)
	}
	if err != nil {
		t.Fatalf("under dbus-run-session: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestSecretServiceBackend") {
		t.Fatalf("the test inside the D-Bus session did not pass:\n%s", out)
	}
	t.Logf("Secret Service backend passed under dbus-run-session with gnome-keyring-daemon")
}

func secretServiceRoundTrip(t *testing.T) {
	if got := AutoBackend(); got != "secret-service" {
		t.Fatalf("auto picked %q inside a D-Bus session with a Secret Service", got)
	}
	st, err := Open(OpenOptions{Backend: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Backend() != "secret-service" {
		t.Fatalf("backend %s", st.Backend())
	}
	v := &Vault{Store: st}
	k := &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret, Added: time.Now().UTC().Truncate(time.Second)}
	if err := v.SetKey("ss-profile", k); err != nil {
		t.Fatal(err)
	}
	got, err := v.GetKey("ss-profile")
	if err != nil || got.SecretAccessKey != testSecret {
		t.Fatalf("GetKey: %+v %v", got, err)
	}
	if err := v.SetSession(&Session{Kind: "session", Profile: "ss-profile", Credentials: Credentials{AccessKeyID: "ASIAX", Expiration: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	names, err := st.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"key:ss-profile", "session:ss-profile"}) {
		t.Fatalf("Keys = %v", names)
	}
	// The names a keychain browser shows carry the profile and no more.
	for _, n := range names {
		if strings.Contains(n, testKeyID) || strings.Contains(n, "111122223333") {
			t.Errorf("item name %q reveals more than the profile", n)
		}
	}
	found, err := v.RemoveProfile("ss-profile")
	if err != nil || !found {
		t.Fatalf("RemoveProfile: %v %v", found, err)
	}
	if _, err := v.GetKey("ss-profile"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	if names, _ := st.Keys(); len(names) != 0 {
		t.Fatalf("left behind: %v", names)
	}
}

func TestOpenBackends(t *testing.T) {
	if _, err := Open(OpenOptions{Backend: "nonsense"}); err == nil || !strings.Contains(err.Error(), "unknown backend") {
		t.Fatalf("unknown backend: %v", err)
	}
	st, err := Open(OpenOptions{Backend: "file", FileDir: t.TempDir(), Passphrase: fixedPass("x")})
	if err != nil || st.Backend() != "file" {
		t.Fatalf("file: %v", err)
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" && os.Getenv(inDBusEnv) == "" {
		// Headless: auto falls back to the encrypted file.
		st, err := Open(OpenOptions{Backend: "auto", FileDir: t.TempDir(), Passphrase: fixedPass("x")})
		if err != nil || st.Backend() != "file" {
			t.Fatalf("auto without a keychain: %v %v", st, err)
		}
	}
}

// TestKeyctlBackend runs the store through the Linux kernel keyring where
// the kernel lets us (containers may forbid keyctl: then it skips).
func TestKeyctlBackend(t *testing.T) {
	st, err := Open(OpenOptions{Backend: "keyctl"})
	if err != nil {
		t.Skipf("keyctl backend unavailable here: %v", err)
	}
	profile := fmt.Sprintf("kw-test-%d", time.Now().UnixNano())
	v := &Vault{Store: st}
	t.Cleanup(func() { _, _ = v.RemoveProfile(profile) })
	if err := v.SetKey(profile, &Key{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatal(err)
	}
	k, err := v.GetKey(profile)
	if err != nil || k.SecretAccessKey != testSecret {
		t.Fatalf("GetKey: %v %v", k, err)
	}
	names, err := v.KeyNames()
	if err != nil || !slices.Contains(names, profile) {
		t.Fatalf("KeyNames: %v %v", names, err)
	}
	if found, err := v.RemoveProfile(profile); !found || err != nil {
		t.Fatalf("RemoveProfile: %v %v", found, err)
	}
	if _, err := v.GetKey(profile); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
}

// brokenRing is a keychain that refuses every operation, like a Secret
// Service whose collection cannot be unlocked without a display.
type brokenRing struct{}

var errBrokenRing = errors.New("object does not exist at path \u201c/\u201d")

func (brokenRing) Get(string) (keyring.Item, error) { return keyring.Item{}, errBrokenRing }
func (brokenRing) GetMetadata(string) (keyring.Metadata, error) {
	return keyring.Metadata{}, errBrokenRing
}
func (brokenRing) Set(keyring.Item) error  { return errBrokenRing }
func (brokenRing) Remove(string) error     { return errBrokenRing }
func (brokenRing) Keys() ([]string, error) { return nil, errBrokenRing }

// A keychain that fails says which backend failed and how to use the
// encrypted file instead.
func TestKeyringErrorsSayHowToUseTheFile(t *testing.T) {
	st := &KeyringStore{ring: brokenRing{}, backend: "secret-service"}
	_, gerr := st.Get("key:work")
	_, kerr := st.Keys()
	for what, err := range map[string]error{"Set": st.Set("key:work", []byte("x")), "Get": gerr, "Keys": kerr} {
		if !errors.Is(err, errBrokenRing) || !strings.Contains(err.Error(), "secret-service") || !strings.Contains(err.Error(), "--backend file") {
			t.Errorf("%s: %v", what, err)
		}
	}
}
