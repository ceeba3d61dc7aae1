package keycache

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Keyctl keeps keys in the Linux kernel's per-user keyring
// (KEY_SPEC_USER_KEYRING), each as a "user" key with a timeout
// (KEYCTL_SET_TIMEOUT): the kernel itself forgets it on time, and it is
// gone at reboot. Every process of the same uid can read it, as it can
// talk to an ssh-agent; no other uid can.
type Keyctl struct{}

func (Keyctl) Name() string { return "the kernel keyring" }

func keyDesc(id string) string { return "keywarden:unlock:" + id }

// keyPerm lets the possessor and the owning uid view, read, write, search,
// link and set attributes (so a later process of the uid, which does not
// possess the key, can read and revoke it); nobody else anything.
const keyPerm = 0x3f3f0000

func (Keyctl) Put(id string, key []byte, ttl time.Duration) error {
	if err := checkPut(id, key, ttl); err != nil {
		return err
	}
	user, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, true)
	if err != nil {
		return fmt.Errorf("keyctl get_keyring_id(user): %w", err)
	}
	// Made in the process keyring, where it is possessed, so the
	// permissions and the timeout can be set before it is linked where
	// other processes find it.
	k, err := unix.AddKey("user", keyDesc(id), key, unix.KEY_SPEC_PROCESS_KEYRING)
	if err != nil {
		return fmt.Errorf("add_key: %w", err)
	}
	defer func() { _, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, k, unix.KEY_SPEC_PROCESS_KEYRING, 0, 0) }()
	if _, err := unix.KeyctlInt(unix.KEYCTL_SETPERM, k, keyPerm, 0, 0); err != nil {
		_, _ = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, k, 0, 0, 0)
		return fmt.Errorf("keyctl setperm: %w", err)
	}
	secs := int(ttl.Round(time.Second) / time.Second)
	if _, err := unix.KeyctlInt(unix.KEYCTL_SET_TIMEOUT, k, secs, 0, 0); err != nil {
		_, _ = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, k, 0, 0, 0)
		return fmt.Errorf("keyctl set_timeout: %w", err)
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_LINK, k, user, 0, 0); err != nil {
		_, _ = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, k, 0, 0, 0)
		return fmt.Errorf("keyctl link to the user keyring: %w", err)
	}
	return nil
}

func (Keyctl) find(id string) (int, error) {
	if err := checkID(id); err != nil {
		return 0, err
	}
	user, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_USER_KEYRING, false)
	if err != nil {
		return 0, ErrNotCached
	}
	k, err := unix.KeyctlSearch(user, "user", keyDesc(id), 0)
	if err != nil {
		// ENOKEY, EKEYEXPIRED, EKEYREVOKED: not there (any more).
		return 0, fmt.Errorf("%w (%v)", ErrNotCached, err)
	}
	return k, nil
}

func (c Keyctl) Get(id string) ([]byte, error) {
	k, err := c.find(id)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, maxKey+1)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, k, buf, 0)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotCached, err)
	}
	if n <= 0 || n > maxKey {
		return nil, errors.New("a key of a bad size in the kernel keyring")
	}
	return buf[:n], nil
}

func (c Keyctl) Forget(id string) error {
	k, err := c.find(id)
	if err != nil {
		return err
	}
	if _, err := unix.KeyctlInt(unix.KEYCTL_INVALIDATE, k, 0, 0, 0); err != nil {
		return fmt.Errorf("keyctl invalidate: %w", err)
	}
	return nil
}
