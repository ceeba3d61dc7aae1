// Package laptoptest builds a fake home directory holding plain-text AWS
// keys in every form keywarden doctor looks for, for the tests of
// internal/laptop and of the doctor and import commands. It is imported
// only from _test.go files.
package laptoptest

import (
	"bytes"
	_ "embed"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

//go:embed fakehome.txtar
var archive []byte

// Pair is a key ID with its secret.
type Pair struct{ ID, Secret string }

// The keys in the fake home. They are random strings made for the tests.
var (
	// Work is in ~/.aws/credentials [work] (CRLF), in the bash history and
	// (its secret alone) in the PowerShell history.
	Work = Pair{"AKIA6RWJYAX6R5OAJ4XK", "RAhzjRZlchCl24o2rOugvkZ189XdkyHTUXNoGEQU"}
	// Personal is exported in ~/.bashrc (a link into ~/dotfiles), in the
	// zsh history and in the read-only ~/.s3cfg.
	Personal = Pair{"AKIAXLBY3CBO3CYNGOLE", "Je3J/Sg6VARK689Ev7UxyCaIRwEbfFoUtdPJpD9+"}
	// Project is in ~/src/app/.env and in the fish history.
	Project = Pair{"AKIAWQ4K4SCRV4NSQBAB", "qI1rEz38hHf13lZzSVXuctdej1zWmTyNI+pBYFj0"}
	// Temporary is the [session] profile's temporary key.
	Temporary = Pair{"ASIAWUFVJFTTL3XLBN74", "+whR6EPmCaUUJz3LCsQu7XF66gD0Y4gnNScP/UNv"}
)

// Metafy stores text the way zsh writes its history: NUL and the bytes
// 0x83-0xa2 become 0x83 followed by the byte XOR 0x20.
func Metafy(b []byte) []byte {
	var out bytes.Buffer
	for _, c := range b {
		if c == 0 || (c >= 0x83 && c <= 0xa2) {
			out.WriteByte(0x83)
			out.WriteByte(c ^ 0x20)
			continue
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}

// FakeHome writes the fake home directory (see Write) into a new
// temporary directory and returns its path.
func FakeHome(t testing.TB) string {
	t.Helper()
	home := t.TempDir()
	if err := Write(home); err != nil {
		t.Fatal(err)
	}
	return home
}

// Write writes the fake home directory into home. Besides the archive's
// files it has: ~/.bashrc as a symbolic link to ~/dotfiles/bashrc,
// ~/.s3cfg read-only (0400), ~/.boto a directory where a file is expected
// (unreadable as a file), ~/.aws readable by others (0755) and
// ~/.aws/config 0644.
func Write(home string) error {
	a := txtar.Parse(archive)
	for _, f := range a.Files {
		if f.Name == "readme" {
			continue
		}
		name, data := f.Name, f.Data
		if n, ok := strings.CutSuffix(name, ".crlf"); ok {
			name, data = n, bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		}
		if n, ok := strings.CutSuffix(name, ".meta"); ok {
			name, data = n, Metafy(data)
		}
		p := filepath.Join(home, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	for _, step := range []func() error{
		func() error { return os.Symlink(filepath.Join("dotfiles", "bashrc"), filepath.Join(home, ".bashrc")) },
		func() error { return os.Chmod(filepath.Join(home, ".s3cfg"), 0o400) },
		func() error { return os.Mkdir(filepath.Join(home, ".boto"), 0o700) },
		func() error { return os.Chmod(filepath.Join(home, ".aws"), 0o755) },
		func() error { return os.Chmod(filepath.Join(home, ".aws", "config"), 0o644) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
