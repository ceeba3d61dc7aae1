package detect

import (
	"testing"
	"time"
)

// FuzzParseIgnore: a suppression file is user input; it must never panic,
// and what it accepts must apply without panicking.
func FuzzParseIgnore(f *testing.F) {
	f.Add([]byte("ignore:\n  - rule: ct-x\n    key: AKIARTX3GSDS2RWAIZGX\n    address: 203.0.113.0/24\n    expires: 2026-12-31\n"))
	f.Add([]byte("ignore:\n  - address: 2001:db8::1\n    expires: 2026-12-31T10:00:00Z\n"))
	f.Add([]byte("ignore: [{rule: '*'}]"))
	rules := Builtin()
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseIgnore(data)
		if err != nil {
			return
		}
		fs := []*Finding{{Rule: rules[0], Actor: "AKIARTX3GSDS2RWAIZGX", KeyID: "AKIARTX3GSDS2RWAIZGX", Sources: []string{"203.0.113.9", "AWS Internal"}},
			{Rule: rules[1], Actor: "arn:aws:iam::1:user/a", Value: "198.51.100.7"}}
		ApplyIgnore(fs, entries, time.Now())
	})
}
