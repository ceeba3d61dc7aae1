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
