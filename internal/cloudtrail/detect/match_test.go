package detect

import (
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
