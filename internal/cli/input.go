package cli

import (
	"fmt"
	"io"
	"os"
)

// readInput reads a whole file, or stdin for "-", refusing more than limit
// bytes. The error names the file so a user with many inputs knows which
// one failed.
func readInput(io_ *IOStreams, path string, limit int64) ([]byte, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r = io_.In
		name = "<stdin>"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return nil, fmt.Errorf("%s: is a directory", path)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than the %d-byte limit", name, limit)
	}
	return data, nil
}

// writeFileSecure writes data to path with mode 0600, replacing it
// atomically so a crash never leaves a half-written file.
func writeFileSecure(path string, data []byte) error {
	tmp, err := os.CreateTemp(dirOf(path), ".keywarden-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			if i == 0 {
				return string(path[0])
			}
			return path[:i]
		}
	}
	return "."
}
