package secretscan

import (
	"strings"
	"testing"
)

// YAML block scalars (| and >): a value on the lines below its key pairs
// as a value on the key's line does.
func TestDetectYAMLBlockScalars(t *testing.T) {
	k := newTestKeys(t, 41)
	filler := strings.Repeat("  note: lorem ipsum\n", 10)
	tests := []struct{ name, in, want string }{
		{"both in folded scalars", "aws:\n  access_key_id: >-\n    {ID}\n  secret_access_key: >-\n    {SECRET}\n", "pair:ID+SECRET"},
		{"both in literal scalars, far apart", "aws:\n  access_key_id: |\n    {ID}\n" + filler + "  secret_access_key: |\n    {SECRET}\n", "pair:ID+SECRET"},
		{"two sibling objects", "staging:\n  access_key_id: |-\n    {ID}\n  secret_access_key: |-\n    {SECRET}\nprod:\n  access_key_id: |-\n    {ID2}\n  secret_access_key: |-\n    {SECRET2}\n", "pair:ID+SECRET pair:ID2+SECRET2"},
		{"indentation indicator and keep chomping", "aws:\n  access_key_id: |2+\n    {ID}\n  secret_access_key: >+\n    {SECRET}\n", "pair:ID+SECRET"},
		{"secret in a scalar, ID in clear", "aws:\n  access_key_id: {ID}\n  secret_access_key: |\n    {SECRET}\n", "pair:ID+SECRET"},
		{"credentials file in a scalar", "files:\n  credentials: |\n    [default]\n    aws_access_key_id = {ID}\n    aws_secret_access_key = {SECRET}\n", "pair:ID+SECRET"},
		// Near-miss: an ID and a secret of sibling objects stay apart.
		{"sibling objects, one part each", "a:\n  access_key_id: |\n    {ID}\nb:\n  secret_access_key: |\n    {SECRET}\n", "key-id:ID secret+SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkFind(t, k, tt.in, tt.want) })
	}
}

// checkFind runs the detector over a template filled with k's keys and
// compares the summary of what it found.
func checkFind(t *testing.T, k testKeys, tmpl, want string) {
	t.Helper()
	in := k.fill(tmpl)
	if got := summary(k, New(Options{}).Find([]byte(in))); got != want {
		t.Errorf("Find(%q)\n got: %s\nwant: %s", in, got, want)
	}
}

func TestIsBlockScalarHeader(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"key: |", true}, {"key: >", true}, {"  key: |-", true}, {"key: >+ ", true}, {"key: |2", true},
		{"- |", true}, {"  - >-", true},
		{"key: value", false}, {"a | b", false}, {"echo x >", false}, {"|", false}, {"x: '|'", false},
	}
	for _, tt := range tests {
		if got := isBlockScalarHeader([]byte(tt.line)); got != tt.want {
			t.Errorf("isBlockScalarHeader(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
