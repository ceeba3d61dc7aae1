//go:build !unix

package secretscan

import (
	"os"
)

// walkedFile is a file met in a directory walk: an os.File where there are
// no bare unix system calls.
type walkedFile struct{ *os.File }

func openWalked(path string) (*walkedFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &walkedFile{f}, nil
}

func isSymlinkErr(error) bool { return false }

func (f *walkedFile) stat() (size int64, regular bool, err error) {
	st, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	return st.Size(), st.Mode().IsRegular(), nil
}
