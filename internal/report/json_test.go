package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/report"
)

// hostile holds every rune the JSON writers must escape, between ordinary
// text, as a name read from a hostile export or log would.
const hostile = "a\u0080b\u0085c\u009b31md\u009fe\u200ef\u200fg\u2028h\u2029i\u202aj\u202ek\u2066l\u2069m\x1b[2Jn\x07o"

// dangerous reports the first rune of s that no JSON output may carry raw.
func dangerous(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r < 0x20 && r != '\n' && r != '\t' && r != '\r', r == 0x7f,
			r >= 0x80 && r <= 0x9f, r == 0x200e, r == 0x200f,
			r >= 0x2028 && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return r, true
		}
	}
	return 0, false
}

func TestEscapeJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"clean", `{"a":"plain ünïcödé"}`, `{"a":"plain ünïcödé"}`},
		{"C1 CSI", "{\"a\":\"x\u009b31m\"}", `{"a":"x\u009b31m"}`},
		{"first and last C1", "\"\u0080\u009f\"", `"\u0080\u009f"`},
		{"NEL", "\"\u0085\"", `"\u0085"`},
		{"line and paragraph separators", "\"\u2028\u2029\"", `"\u2028\u2029"`},
		{"bidi embeddings and overrides", "\"\u202a\u202b\u202c\u202d\u202e\"", `"\u202a\u202b\u202c\u202d\u202e"`},
		{"bidi isolates", "\"\u2066\u2067\u2068\u2069\"", `"\u2066\u2067\u2068\u2069"`},
		{"LRM RLM", "\"\u200e\u200f\"", `"\u200e\u200f"`},
		{"DEL", "\"\x7f\"", `"\u007f"`},
		{"neighbours stay", "\"\u00a0\u2027\u202f\u2065\u206a\u200d\"", "\"\u00a0\u2027\u202f\u2065\u206a\u200d\""},
		{"truncated sequences are copied", "\"\xc2", "\"\xc2"},
		{"truncated three-byte", "\"\xe2\x80", "\"\xe2\x80"},
		{"invalid bytes are copied", "\"\xff\xc2\x41\"", "\"\xff\xc2\x41\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(report.EscapeJSON([]byte(tt.in))); got != tt.want {
				t.Errorf("EscapeJSON(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// encoding/json alone leaves C1 and bidi runes raw: the reason for the
// escaper. If this ever fails, Go started escaping them itself.
func TestEncodingJSONLeavesC1Raw(t *testing.T) {
	b, _ := json.Marshal("\u009b\u202e")
	if _, bad := dangerous(string(b)); !bad {
		t.Skipf("encoding/json now escapes them: %s", b)
	}
}

func TestJSONWritersEscapeDangerousRunes(t *testing.T) {
	fs := []report.Finding{{RuleID: "kw-" + hostile, Severity: report.SeverityHigh, Title: hostile, Message: hostile,
		Location: report.Location{Path: "dir/" + hostile + ".json", Line: 1, Resource: hostile}, Evidence: hostile,
		Properties: map[string]any{"user": hostile}}}
	rules := []report.Rule{{ID: "kw-" + hostile, Title: hostile, Severity: report.SeverityHigh, Description: hostile}}
	writers := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"WriteJSON", func(b *bytes.Buffer) error {
			return report.WriteJSON(b, report.Tool{Name: hostile, Version: hostile}, fs, []string{hostile})
		}},
		{"WriteSARIF", func(b *bytes.Buffer) error { return report.WriteSARIF(b, report.Tool{Name: hostile}, rules, fs) }},
		{"NewJSONEncoder", func(b *bytes.Buffer) error {
			enc := report.NewJSONEncoder(b)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{hostile: []string{hostile, "<&>"}})
		}},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := w.write(&b); err != nil {
				t.Fatal(err)
			}
			if r, bad := dangerous(b.String()); bad {
				t.Errorf("raw %U in output:\n%s", r, b.String())
			}
			// The escapes mean the same text: the value reads back whole.
			var v any
			if err := json.Unmarshal(b.Bytes(), &v); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if !strings.Contains(b.String(), `\u009b31md`) || !strings.Contains(b.String(), `\u202e`) {
				t.Errorf("escapes missing:\n%s", b.String())
			}
			if w.name == "NewJSONEncoder" && !strings.Contains(b.String(), "<&>") {
				t.Errorf("HTML characters were escaped:\n%s", b.String())
			}
		})
	}
}

// FuzzEscapeJSON: for any string, the escaped encoding is valid JSON that
// decodes to the same value as the plain encoding, and carries no
// dangerous rune raw.
func FuzzEscapeJSON(f *testing.F) {
	for _, s := range []string{hostile, "", "plain", "\xc2", "\xe2\x80\xae", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		esc := report.EscapeJSON(plain)
		var a, b string
		if err := json.Unmarshal(plain, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(esc, &b); err != nil {
			t.Fatalf("escaped %q is not JSON: %v", esc, err)
		}
		if a != b {
			t.Fatalf("escaping changed the value: %q -> %q", a, b)
		}
		if r, bad := dangerous(string(esc)); bad && utf8.Valid(esc) {
			t.Fatalf("raw %U in %q", r, esc)
		}
		// Raw bytes too: EscapeJSON must copy what it does not escape.
		if got := report.EscapeJSON([]byte(s)); len(got) < len(s) {
			t.Fatalf("EscapeJSON dropped bytes: %q -> %q", s, got)
		}
	})
}

// The text renderer prints every finding field through Printable.
func TestWriteTextReplacesControls(t *testing.T) {
	f := report.Finding{RuleID: "kw-" + hostile, Severity: report.SeverityHigh, Title: hostile, Message: hostile + "\nsecond",
		Location: report.Location{Path: "dir/" + hostile, Line: 1, Column: 2, Resource: hostile}, Evidence: hostile,
		Remediation: hostile, Suppressed: hostile}
	var b bytes.Buffer
	if err := report.WriteText(&b, []report.Finding{f}, report.TextOptions{ShowSuppressed: true}); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.String() {
		if r == 0x1b || r == 0x07 || (r >= 0x80 && r <= 0x9f) {
			t.Fatalf("raw %U in text output:\n%q", r, b.String())
		}
	}
	if !strings.Contains(b.String(), "\n      second") {
		t.Errorf("line breaks of the message were lost:\n%s", b.String())
	}
}
