package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"time"
)

// SessionLockTimeout bounds how long a process waits for another one that
// is getting the same session (asking for an MFA code, which mfa_process
// and the prompt give a minute or more).
const SessionLockTimeout = 3 * time.Minute

// SessionLock returns a Sessions.Lock over lock files in dir (created
// 0700): one per cache item, named by a hash of the item so that the
// directory listing shows no profile names.
func SessionLock(dir string) func(ctx context.Context, item string) (func(), error) {
	return func(ctx context.Context, item string) (func(), error) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(item))
		path := filepath.Join(dir, ".session-"+hex.EncodeToString(sum[:8])+".lock")
		ctx, cancel := context.WithTimeout(ctx, SessionLockTimeout)
		defer cancel()
		return lockFileWait(ctx, path)
	}
}
