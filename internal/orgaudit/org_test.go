package orgaudit_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/orgaudit"
)

func readTree(t *testing.T) *orgaudit.Tree {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "organization.json"))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := orgaudit.ParseOrganization("organization.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Warnings) > 0 {
		t.Fatalf("warnings: %v", tree.Warnings)
	}
	return tree
}

func TestLevels(t *testing.T) {
	tree := readTree(t)
	tests := []struct {
		account string
		path    string
		scps    []string // per level: target=policies
		rcps    []string
	}{
		{"222222222222", "Root/Prod/EU", []string{
			"r-ab12=FullAWSAccess (p-FullAWSAccess)",
			"ou-ab12-prod0001=FullAWSAccess (p-FullAWSAccess),DenyWithoutMFA (p-denynomfa1)",
			"ou-ab12-eu000001=FullAWSAccess (p-FullAWSAccess)",
			"222222222222=FullAWSAccess (p-FullAWSAccess)"},
			[]string{"r-ab12=RCPFullAWSAccess (p-RCPFullAWSAccess)"}},
		{"333333333333", "Root/Dev", []string{
			"r-ab12=FullAWSAccess (p-FullAWSAccess)",
			"ou-ab12-dev00001=FullAWSAccess (p-FullAWSAccess)",
			"333333333333=FullAWSAccess (p-FullAWSAccess)"},
			[]string{"r-ab12=RCPFullAWSAccess (p-RCPFullAWSAccess)"}},
	}
	flat := func(ls []orgaudit.Level) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Target+"="+strings.Join(l.Policies, ","))
		}
		return out
	}
	for _, tc := range tests {
		t.Run(tc.account, func(t *testing.T) {
			a, ok := tree.Account(tc.account)
			if !ok {
				t.Fatal("account missing")
			}
			if got := tree.PathNames(a); got != tc.path {
				t.Errorf("path %q, want %q", got, tc.path)
			}
			scps, docs, err := tree.Levels(a, orgaudit.TypeSCP)
			if err != nil {
				t.Fatal(err)
			}
			if got := flat(scps); strings.Join(got, "\n") != strings.Join(tc.scps, "\n") {
				t.Errorf("SCP levels\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.scps, "\n"))
			}
			if len(docs) != len(scps) {
				t.Errorf("%d parsed levels for %d levels", len(docs), len(scps))
			}
			rcps, _, err := tree.Levels(a, orgaudit.TypeRCP)
			if err != nil {
				t.Fatal(err)
			}
			if got := flat(rcps); strings.Join(got, "\n") != strings.Join(tc.rcps, "\n") {
				t.Errorf("RCP levels %v, want %v", got, tc.rcps)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	tree := readTree(t)
	tests := []struct {
		name          string
		only, exclude []string
		want          string
		skipped       int
		err           string
	}{
		{"every active account", nil, nil, "111111111111,222222222222,333333333333", 1, ""},
		{"only", []string{"333333333333"}, nil, "333333333333", 0, ""},
		{"exclude", nil, []string{"111111111111"}, "222222222222,333333333333", 1, ""},
		{"only and exclude", []string{"222222222222", "333333333333"}, []string{"333333333333"}, "222222222222", 0, ""},
		{"unknown account in --accounts", []string{"999999999999"}, nil, "", 0, "--accounts: 999999999999 is not an account of organization o-exampleorgid"},
		{"unknown account in --exclude-accounts", nil, []string{"12"}, "", 0, "--exclude-accounts: 12 is not an account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, skipped, err := tree.Select(tc.only, tc.exclude)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range sel {
				ids = append(ids, a.ID)
			}
			if got := strings.Join(ids, ","); got != tc.want || len(skipped) != tc.skipped {
				t.Errorf("selected %s, %d skipped (%v); want %s, %d", got, len(skipped), skipped, tc.want, tc.skipped)
			}
		})
	}
}

func TestParseOrganizationErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"not JSON", "{\n\"Roots\": [}", "org.json: line 2: invalid character"},
		{"wrong type", `{"Roots": "r-1"}`, "org.json: line 1: json: cannot unmarshal"},
		{"no roots", `{"Accounts": []}`, "org.json: no Roots"},
		{"bad account ID", `{"Roots":[{"Id":"r-1"}],"Accounts":[{"Id":"12","ParentId":"r-1"}]}`, `org.json: Accounts[0]: "12" is not a 12-digit account ID`},
		{"too large", `{"Roots":[` + strings.Repeat(" ", orgaudit.MaxOrganizationSize) + `]}`, "more than the"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := orgaudit.ParseOrganization("org.json", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestTreeOddities(t *testing.T) {
	tests := []struct {
		name, data string
		account    string
		levelErr   string
		warning    string
	}{
		{"unknown parent", `{"Roots":[{"Id":"r-1"}],"Accounts":[{"Id":"123456789012","ParentId":"ou-gone"}]}`, "123456789012", "its place in the OU tree is unknown", ""},
		{"cycle", `{"Roots":[{"Id":"r-1"}],"OrganizationalUnits":[{"Id":"ou-a","ParentId":"ou-b"},{"Id":"ou-b","ParentId":"ou-a"}],"Accounts":[{"Id":"123456789012","ParentId":"ou-a"}]}`, "123456789012", "its place in the OU tree is unknown", ""},
		{"policy that does not parse", `{"Roots":[{"Id":"r-1"}],"Accounts":[{"Id":"123456789012","ParentId":"r-1"}],
			"Policies":[{"PolicySummary":{"Id":"p-bad","Name":"Bad","Type":"SERVICE_CONTROL_POLICY"},"Content":"{not json"}],"Targets":{"r-1":["p-bad"]}}`,
			"123456789012", "", "organizations policy p-bad (Bad) does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := orgaudit.ParseOrganization("org.json", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			a, _ := tree.Account(tc.account)
			_, _, err = tree.Levels(a, orgaudit.TypeSCP)
			if tc.levelErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.levelErr) {
					t.Fatalf("Levels error %v, want %q", err, tc.levelErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(tree.Warnings, "\n"); tc.warning != "" && !strings.Contains(got, tc.warning) || tc.warning == "" && got != "" {
				t.Errorf("warnings %q, want %q", got, tc.warning)
			}
		})
	}
}
