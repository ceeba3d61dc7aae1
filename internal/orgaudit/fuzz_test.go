package orgaudit_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keywarden/keywarden/internal/orgaudit"
)

// FuzzParseOrganization drives a hostile organization.json through the
// parser and every lookup the audit makes: nothing may panic or loop (an
// OU that is its own ancestor, a parent that does not exist, policies of
// unknown types, IDs that are not IDs).
func FuzzParseOrganization(f *testing.F) {
	for _, p := range []string{"organization.json", filepath.Join("exports", "organization.json")} {
		data, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"Roots":[{"Id":"r-1"}],"OrganizationalUnits":[{"Id":"a","ParentId":"b"},{"Id":"b","ParentId":"a"}],"Accounts":[{"Id":"123456789012","ParentId":"a"}]}`))
	f.Add([]byte(`{"Roots":[{"Id":"r-1"}],"Accounts":[{"Id":"123456789012","ParentId":"123456789012"}],"Targets":{"123456789012":["p-1","p-1"]},"Policies":[{"PolicySummary":{"Id":"p-1","Type":"SERVICE_CONTROL_POLICY"},"Content":"{}"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tree, err := orgaudit.ParseOrganization("fuzz", data)
		if err != nil {
			return
		}
		tree.Enabled(orgaudit.TypeSCP)
		for _, a := range tree.Accounts {
			tree.PathNames(a)
			tree.Management(a.ID)
			for _, typ := range []string{orgaudit.TypeSCP, orgaudit.TypeRCP} {
				levels, docs, err := tree.Levels(a, typ)
				if err == nil && len(levels) != len(docs) {
					t.Fatalf("%d levels, %d parsed", len(levels), len(docs))
				}
			}
		}
		if _, _, err := tree.Select(nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}
