package report

import "testing"

func TestCSVCell(t *testing.T) {
	tests := map[string]string{
		"":                        "",
		"alice":                   "alice",
		"=HYPERLINK(\"x\",\"y\")": "'=HYPERLINK(\"x\",\"y\")",
		"+1":                      "'+1",
		"-2+3":                    "'-2+3",
		"@SUM(A1)":                "'@SUM(A1)",
		"\t=cmd":                  "'?=cmd", // a leading tab or CR hides the formula from a naive check
		"\r=cmd":                  "'?=cmd",
		"a\x1b[31mred":            "a?[31mred",
		"line one\nline two":      "line one\nline two",
		"ok=1":                    "ok=1",
	}
	for in, want := range tests {
		if got := CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}
