package secretscan

import (
	"bytes"
	"io"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
)

// The other parsers of outside input: baselines, .gitignore files and
// --exclude globs, AWS credentials files. None may panic or hang.

func FuzzParseBaseline(f *testing.F) {
	data, _ := WriteBaseline([]report.Finding{{RuleID: RuleKeyID, Fingerprint: Fingerprint(RuleKeyID, "x", "p"), Location: report.Location{Path: "p"}}}, nil)
	f.Add(data)
	f.Add([]byte(`{"version":1,"entries":[{"fingerprint":"00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBaseline("fuzz", data)
		if err != nil {
			return
		}
		fs := []report.Finding{{RuleID: RuleKeyID, Fingerprint: Fingerprint(RuleKeyID, "x", "p")}}
		b.Apply(fs)
		if _, err := WriteBaseline(fs, b); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzIgnorePatterns(f *testing.F) {
	f.Add("*.log\n!keep.log\n/build/\n**/testdata/**\n", "a/b/testdata/x.go")
	f.Add("a/**/b/**/c/**/d", "a/x/b/y/c/z/d")
	f.Fuzz(func(t *testing.T, ignore, path string) {
		d := &ignoreDir{rules: parseIgnoreFile([]byte(ignore))}
		d.ignored(path, false)
		d.ignored(path, true)
	})
}

func FuzzKeyIDsFromCredentials(f *testing.F) {
	f.Add([]byte("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, id := range KeyIDsFromCredentials(data) {
			if len(id) != 20 {
				t.Fatalf("ID %q", id)
			}
		}
	})
}

// FuzzTextOf: the UTF-16 tests (with and without a byte order mark) on any
// bytes, whole and as a stream.
func FuzzTextOf(f *testing.F) {
	f.Add(encodeUTF16("[default]\naws_region = x\n", true)[2:])
	f.Add([]byte("\x7fELF\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		textOf(data)
		if r, _, err := textReader(bytes.NewReader(data)); err == nil {
			_, _ = io.Copy(io.Discard, r)
		}
	})
}
