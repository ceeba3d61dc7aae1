package orgaudit_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/goldentest"
	"github.com/keywarden/keywarden/internal/orgaudit"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

// fixtureResult audits testdata/exports: a management account, prod in an
// OU whose SCP denies requests without MFA, dev (whose name is hostile:
// markup and a terminal escape) and an account without exports.
func fixtureResult(t *testing.T) *orgaudit.Result {
	t.Helper()
	dir := filepath.Join("testdata", "exports")
	fsys := os.DirFS(dir)
	tree, err := orgaudit.ReadOrganization(fsys, "exports")
	if err != nil {
		t.Fatal(err)
	}
	accounts, _, err := tree.Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return orgaudit.Run(context.Background(), tree, accounts, orgaudit.ExportsLoader(fsys, "exports"),
		orgaudit.Options{Audit: audit.Options{Now: now, Exposer: audit.NewEngineExposer()}, Parallel: 2})
}

func TestRenderGolden(t *testing.T) {
	res := fixtureResult(t)
	if res.Failed != 1 || len(res.Accounts) != 4 {
		t.Fatalf("failed %d of %d", res.Failed, len(res.Accounts))
	}
	tests := []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"org.txt", func(b *bytes.Buffer) error { return orgaudit.WriteText(b, res, audit.TextOptions{}) }},
		{"org.json", func(b *bytes.Buffer) error { return orgaudit.WriteJSON(b, "test", res) }},
		{"org.csv", func(b *bytes.Buffer) error { return orgaudit.WriteCSV(b, res) }},
		{"org.sarif", func(b *bytes.Buffer) error { return orgaudit.WriteSARIF(b, "test", res) }},
		{"org.html", func(b *bytes.Buffer) error { return orgaudit.WriteHTML(b, "test", res) }},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			// The hostile account name never reaches the output raw.
			if strings.Contains(b.String(), "\x1b") {
				t.Errorf("%s carries a terminal escape from the account name", tc.file)
			}
			if tc.file == "org.html" && strings.Contains(b.String(), "<script>alert") {
				t.Error("the HTML report carries markup from the account name")
			}
			goldentest.Check(t, tc.file, b.Bytes())
			// Last: Validate skips the rest of the test where the schema
			// is not installed, and the golden must be compared anyway.
			if tc.file == "org.sarif" {
				sariftest.Validate(t, b.Bytes())
			}
		})
	}
}

// TestHTMLAccountFilter: every filterable row names its account, and the
// selector lists each account once.
func TestHTMLAccountFilter(t *testing.T) {
	res := fixtureResult(t)
	var b bytes.Buffer
	if err := orgaudit.WriteHTML(&b, "test", res); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, id := range []string{"111111111111", "222222222222", "333333333333", "444444444444"} {
		if n := strings.Count(html, `<option value="`+id+`">`); n != 1 {
			t.Errorf("account %s in the selector %d times", id, n)
		}
	}
	rows := strings.Count(html, `<tr class="f" data-account="`)
	keys := 0
	for _, ar := range res.Accounts {
		if ar.Result != nil {
			keys += len(ar.Result.Keys)
		}
	}
	if want := len(res.Accounts) + keys + len(res.Findings); rows != want {
		t.Errorf("%d filterable rows, want %d (accounts, keys, findings)", rows, want)
	}
	// The severity filter compares with the rows' data-sev, report.Severity
	// values: its options must carry the same numbers.
	for _, sev := range []report.Severity{report.SeverityLow, report.SeverityMedium, report.SeverityHigh, report.SeverityCritical} {
		if opt := fmt.Sprintf(`<option value="%d">%s</option>`, int(sev), sev); !strings.Contains(html, opt) {
			t.Errorf("no %s in the severity filter", opt)
		}
	}
	if strings.Contains(html, "<script src") || strings.Contains(html, "<link") {
		t.Error("the report loads something external")
	}
}

func TestExportsLoader(t *testing.T) {
	const rep = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
	fsys := fstest.MapFS{
		"organization.json":                         {Data: []byte(`{"Roots":[{"Id":"r-1"}],"Accounts":[{"Id":"111111111111","ParentId":"r-1"}]}`)},
		"111111111111/credential-report.csv":        {Data: []byte(rep)},
		"222222222222/credential-report.csv":        {Data: []byte(rep)},
		"222222222222/credential-report.json":       {Data: []byte(`{}`)},
		"333333333333/other.txt":                    {Data: []byte("x")},
		"444444444444/authorization-details.json":   {Data: []byte("{\n\"UserDetailList\": [}")},
		"555555555555/authorization-details.json":   {Data: []byte(`{"UserDetailList":[]}`)},
		"555555555555/README":                       {Data: []byte("exported by hand")},
		"666666666666":                              {Mode: 0o755 | os.ModeDir},
		"777777777777/authorization-details.json/x": {Data: []byte("x")},
		"888888888888/credential-report.csv":        {Data: bytes.Repeat([]byte("x"), 64<<20+1)},
		"999999999999":                              {Data: []byte("a file, not a directory")},
		"121212121212/credential-report.csv":        {Data: []byte(rep)},
		"121212121212/password-policy.json":         {Data: []byte(`{"PasswordPolicy":{"MinimumPasswordLength":14}}`)},
		"131313131313/credential-report.csv":        {Data: []byte(rep)},
		"131313131313/password-policy.json":         {Data: []byte(`{"PasswordPolicy": [`)},
	}
	tests := []struct {
		id, err string
	}{
		{"111111111111", ""},
		{"555555555555", ""},
		{"222222222222", "dir/222222222222 holds both credential-report.csv and credential-report.json"},
		{"333333333333", "no exports: dir/333333333333 has neither authorization-details.json nor credential-report.csv"},
		{"444444444444", "dir/444444444444/authorization-details.json"},
		{"666666666666", "no exports"},
		{"777777777777", "dir/777777777777/authorization-details.json"},
		{"888888888888", "dir/888888888888/credential-report.csv: larger than the"},
		{"999999999999", "no exports: dir/999999999999 is not a directory"},
		{"000000000000", "no exports: dir/000000000000 is not a directory"},
		{"121212121212", ""},
		{"131313131313", "dir/131313131313/password-policy.json"},
	}
	load := orgaudit.ExportsLoader(fsys, "dir")
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			acct, err := load(context.Background(), orgaudit.Account{ID: tc.id})
			if tc.err == "" {
				if err != nil || acct == nil {
					t.Fatalf("error %v", err)
				}
				if got, want := strings.Join(acct.Warnings, "\n"), map[string]string{"555555555555": "dir/555555555555/README is not an export keywarden reads: not read"}[tc.id]; got != want {
					t.Errorf("warnings %q, want %q", got, want)
				}
				// Only the account with password-policy.json has its policy read.
				hasPolicy := acct.PasswordPolicy != nil && acct.PasswordPolicy.MinimumPasswordLength == 14
				if want := tc.id == "121212121212"; hasPolicy != want || acct.Sources.PasswordPolicy != want {
					t.Errorf("password policy read %v (sources %v), want %v", hasPolicy, acct.Sources.PasswordPolicy, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if !orgaudit.IsPermanent(err) {
				t.Error("an export error must not be retried")
			}
		})
	}
}
