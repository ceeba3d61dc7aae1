//go:build !unix

package vault

import (
	"context"
	"io/fs"
	"os"
)

// lockFile creates the lock file; without flock, the atomic rename still
// keeps the file whole, and concurrent writers are rare on one desktop.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}

func inode(fs.FileInfo) uint64 { return 0 }

// lockFileWait is lockFile: without flock there is nothing to wait for.
func lockFileWait(_ context.Context, path string) (func(), error) { return lockFile(path) }
