package secretscan

import "testing"

func TestPathPatterns(t *testing.T) {
	tests := []struct {
		pat, path string
		dir, want bool
	}{
		{"vendor", "a/vendor", true, true},
		{"vendor", "vendor", false, true},
		{"*.log", "x/y/app.log", false, true},
		{"/build/", "build", true, true},
		{"/build/", "build", false, false},
		{"docs/*.md", "docs/a.md", false, true},
		{"docs/*.md", "x/docs/a.md", false, false},
		{"**/testdata/**", "a/b/testdata/c/d.go", false, true},
		{"**/testdata/**", "testdata/d.go", false, true},
		{"a/**/b", "a/b", false, true},
		{"a/**/b", "a/x/y/b", false, true},
		{"a/**/b", "a/x/y/c", false, false},
	}
	for _, tt := range tests {
		pp, ok := parsePattern(tt.pat)
		if !ok {
			t.Fatalf("%q rejected", tt.pat)
		}
		if got := pp.match(tt.path, tt.dir); got != tt.want {
			t.Errorf("%q ~ %q (dir %v) = %v", tt.pat, tt.path, tt.dir, got)
		}
	}
	d := &ignoreDir{rules: parseIgnoreFile([]byte("# comment\n*.log\n!keep.log\n"))}
	if !d.ignored("a.log", false) || d.ignored("keep.log", false) || d.ignored("a.txt", false) {
		t.Error("negation")
	}
}
