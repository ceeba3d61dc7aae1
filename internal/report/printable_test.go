package report

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"alice":          "alice",
		"bob\x1b[31mred": "bob?[31mred",
		"line\nbreak\r":  "line?break?",
		"c1\u009bcsi":    "c1?csi",
		"ünïcödé stays":  "ünïcödé stays",
		"":               "",
		"del\x7f":        "del?",
		"8-bit \x9b[2J":  "8-bit \ufffd[2J",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintableText(t *testing.T) {
	for in, want := range map[string]string{
		"line\nbreak\tand tab": "line\nbreak\tand tab",
		"esc\x1b[2J\r\n":       "esc?[2J?\n",
		"c1\u009bcsi":          "c1?csi",
	} {
		if got := PrintableText(in); got != want {
			t.Errorf("PrintableText(%q) = %q, want %q", in, got, want)
		}
	}
}
