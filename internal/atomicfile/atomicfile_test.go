package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		perm fs.FileMode
	}{{"secret", 0o600}, {"hook", 0o755}} {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte("old content, longer than the new"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, []byte("new"), tt.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != "new" {
			t.Fatalf("%s: content %q, %v", tt.name, got, err)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != tt.perm {
			t.Errorf("%s: mode %v, want %v", tt.name, st.Mode().Perm(), tt.perm)
		}
	}
	// Only the two files: no temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("directory holds %d entries, want 2", len(ents))
	}
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// The target is a directory: the rename fails, the temporary file goes.
	target := filepath.Join(dir, "sub")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("data"), 0o600); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("a temporary file was left behind: %d entries", len(ents))
	}
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}
