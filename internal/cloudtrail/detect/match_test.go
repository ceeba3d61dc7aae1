package detect

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// The operators added for ACLs and tool lists, on hand-made records: each
// case says whether the block matches.
func TestMatchOperators(t *testing.T) {
	acl := func(owner string, grantees ...string) []byte {
		s := `{"AccessControlPolicy":{"AccessControlList":{"Grant":[`
		for i, g := range grantees {
			if i > 0 {
				s += ","
			}
			s += `{"Grantee":{"ID":"` + g + `"},"Permission":"READ"}`
		}
		s += `]}`
		if owner != "" {
			s += `,"Owner":{"ID":"` + owner + `"}`
		}
		return []byte(s + `}}`)
	}
	differs := map[string]any{"requestParameters.AccessControlPolicy.AccessControlList.Grant.Grantee.ID": map[string]any{
		"differs_from": "requestParameters.AccessControlPolicy.Owner.ID"}}
	role := map[string]any{"requestParameters.role": "ops"}
	for _, tc := range []struct {
		name  string
		block map[string]any
		rec   cloudtrail.Record
		want  bool
	}{
		{"grantee other than the owner", differs, cloudtrail.Record{RequestParameters: acl("own", "own", "stranger")}, true},
		{"only the owner", differs, cloudtrail.Record{RequestParameters: acl("own", "own")}, false},
		{"owner twice", differs, cloudtrail.Record{RequestParameters: acl("own", "own", "own")}, false},
		{"no owner to compare with", differs, cloudtrail.Record{RequestParameters: acl("", "stranger")}, false},
		{"no grantee", differs, cloudtrail.Record{RequestParameters: acl("own")}, false},
		// The byte search that skips JSON without the key must not skip a
		// key spelt with escapes.
		{"key present", role, cloudtrail.Record{RequestParameters: []byte(`{"role":"ops"}`)}, true},
		{"key spelt with escapes", role, cloudtrail.Record{RequestParameters: []byte(`{"\u0072ole":"ops"}`)}, true},
		{"key absent", role, cloudtrail.Record{RequestParameters: []byte(`{"roleName":"ops"}`)}, false},
	} {
		m, _, err := compileMatch(tc.block)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := m(&tc.rec); got != tc.want {
			t.Errorf("%s: match %v, want %v", tc.name, got, tc.want)
		}
	}
}

// in_list reads tools.yaml: a user agent naming a tool of the list
// matches, in any case; one of the other list does not; an unknown list is
// refused when the rule compiles.
func TestInListOperator(t *testing.T) {
	for _, tc := range []struct {
		list, ua string
		want     bool
	}{
		{"offensive-tools", "TruffleHog", true},
		{"offensive-tools", "aws-cli/2.13.5 Python/3.11.4 Linux/6.3.0-kali1-amd64 exe/x86_64.kali.2023", true},
		{"offensive-tools", "S3 Browser/11.7.5 https://s3browser.com", true},
		{"offensive-tools", "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22", false},
		{"offensive-tools", "Scout Suite/5.14.0", false},
		{"scanner-tools", "Scout Suite/5.14.0", true},
		{"scanner-tools", "Botocore/1.34.0 APN_1826889", true},
		{"scanner-tools", "TruffleHog", false},
	} {
		m, _, err := compileMatch(map[string]any{"userAgent": map[string]any{"in_list": tc.list}})
		if err != nil {
			t.Fatal(err)
		}
		if got := m(&cloudtrail.Record{UserAgent: tc.ua}); got != tc.want {
			t.Errorf("%s %q: %v, want %v", tc.list, tc.ua, got, tc.want)
		}
	}
	if _, _, err := compileMatch(map[string]any{"userAgent": map[string]any{"in_list": "nope"}}); err == nil || !strings.Contains(err.Error(), "offensive-tools") {
		t.Errorf("unknown list: %v, want an error naming the lists there are", err)
	}
}

// Every tool of the embedded lists has a reference, and its own strings
// find it: the finding names the tool it saw.
func TestToolLists(t *testing.T) {
	ls := ToolLists()
	for _, want := range []string{"offensive-tools", "scanner-tools"} {
		if ls[want] == nil {
			t.Fatalf("no list %s", want)
		}
	}
	for name, l := range ls {
		for _, tool := range l.Tools {
			for _, m := range tool.Match {
				ua := "Boto3/1.34 " + strings.ToUpper(m) + "/1.0"
				if !l.contains(ua) {
					t.Errorf("%s: %s: %q does not find %q", name, tool.Name, ua, m)
				}
				if got := toolNamed(ua); got != tool.Name {
					t.Errorf("%s: %q names %q, want %q", name, ua, got, tool.Name)
				}
			}
		}
	}
	for _, bad := range []string{
		"lists: {}\n",
		"lists:\n  x:\n    tools: []\n",
		"lists:\n  x:\n    tools:\n      - {name: A, match: [abcd]}\n",
		"lists:\n  x:\n    tools:\n      - {name: A, match: [], reference: 'https://a'}\n",
		"lists:\n  x:\n    tools:\n      - {name: A, match: [ab], reference: 'https://a'}\n",
		"lists:\n  x:\n    tools:\n      - {name: A, match: [abcd], reference: 'https://a', colour: red}\n",
	} {
		if _, err := parseTools([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
