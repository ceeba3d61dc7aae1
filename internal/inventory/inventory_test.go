package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func loadFixture(t testing.TB, report bool, details bool) *Account {
	t.Helper()
	a := New()
	if details {
		if err := a.ParseAuthorizationDetails("authorization-details.json", readFile(t, "../audit/testdata/authorization-details.json")); err != nil {
			t.Fatal(err)
		}
	}
	if report {
		rep, err := ParseCredentialReport("credential-report.csv", readFile(t, "../audit/testdata/credential-report.csv"))
		if err != nil {
			t.Fatal(err)
		}
		a.ApplyCredentialReport("credential-report.csv", rep)
	}
	return a
}

func TestCredentialReportQuirks(t *testing.T) {
	a := loadFixture(t, true, false)
	if a.ID != "111122223333" {
		t.Errorf("account = %q", a.ID)
	}
	// <root_account> becomes Root, not a user.
	if a.Root == nil || a.User(RootUserName) != nil {
		t.Fatalf("root row: Root=%v user=%v", a.Root, a.User(RootUserName))
	}
	if a.Root.MFAActive != No || len(a.Root.Keys) != 1 || !a.Root.Keys[0].Active || a.Root.KeysPresent != Yes {
		t.Errorf("root = %+v keys %+v", a.Root, a.Root.Keys)
	}
	// not_supported password columns are unknown, not an error.
	if a.Root.Password.Enabled != Unknown {
		t.Errorf("root password enabled = %v, want unknown (not_supported)", a.Root.Password.Enabled)
	}
	if got := len(a.Users); got != 6 {
		t.Errorf("%d users, want 6 (dave listed twice counts once)", got)
	}
	// +00:00 timestamps.
	alice := a.User("alice")
	if !alice.Keys[0].Created.Equal(mustTime(t, "2026-01-10T12:00:00Z")) || alice.Keys[0].LastUsedService != "s3" || alice.Keys[0].LastUsedRegion != "eu-west-1" {
		t.Errorf("alice key = %+v", alice.Keys[0])
	}
	// Z timestamps; N/A last used is "never"; no_information password is unknown.
	bob := a.User("bob")
	if bob.Keys[0].LastUsedState != UsageNever || !bob.Keys[0].Created.Equal(mustTime(t, "2026-09-01T10:00:00Z")) {
		t.Errorf("bob key = %+v", bob.Keys[0])
	}
	if bob.Password.Enabled != Yes || bob.Password.LastUsedState != UsageUnknown || bob.MFAActive != No {
		t.Errorf("bob password = %+v mfa %v", bob.Password, bob.MFAActive)
	}
	// Upper-case TRUE/FALSE.
	carol := a.User("carol")
	if carol.Password.Enabled != No || len(carol.ActiveKeys()) != 2 || carol.MFAActive != No {
		t.Errorf("carol = %+v keys %d", carol, len(carol.ActiveKeys()))
	}
	// A user listed twice keeps the newer row, with a warning.
	dave := a.User("dave")
	if len(dave.Keys) != 2 || dave.Keys[1].Active || dave.Password.LastUsedState != UsageUsed {
		t.Errorf("dave keys = %d, password %+v: the newer row was not kept", len(dave.Keys), dave.Password)
	}
	if !hasWarning(a, `user "dave" is listed twice (lines 6 and 7): using line 7`) {
		t.Errorf("no duplicate warning: %q", a.Warnings)
	}
	// no_information key last use is unknown.
	erin := a.User("erin")
	if erin.Keys[1].LastUsedState != UsageUnknown || erin.Keys[0].LastUsedState != UsageUsed {
		t.Errorf("erin keys = %+v %+v", erin.Keys[0], erin.Keys[1])
	}
	// No key in either slot: no keys at all.
	if frank := a.User("frank"); len(frank.Keys) != 0 {
		t.Errorf("frank keys = %d", len(frank.Keys))
	}
	if !a.Sources.CredentialReport || a.Sources.AuthorizationDetails {
		t.Errorf("sources = %+v", a.Sources)
	}
}

func hasWarning(a *Account, sub string) bool {
	for _, w := range a.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestCredentialReportJSONEqualsCSV(t *testing.T) {
	csvRep, err := ParseCredentialReport("r.csv", readFile(t, "../audit/testdata/credential-report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	jsonRep, err := ParseCredentialReport("r.json", readFile(t, "../audit/testdata/credential-report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(csvRep.Rows) != len(jsonRep.Rows) || len(jsonRep.Rows) != 8 {
		t.Fatalf("rows: csv %d json %d", len(csvRep.Rows), len(jsonRep.Rows))
	}
	if !jsonRep.Generated.Equal(mustTime(t, "2026-10-31T23:30:00Z")) {
		t.Errorf("generated = %v", jsonRep.Generated)
	}
	for i := range csvRep.Rows {
		if csvRep.Rows[i].User != jsonRep.Rows[i].User || len(csvRep.Rows[i].Keys) != len(jsonRep.Rows[i].Keys) {
			t.Errorf("row %d differs", i)
		}
	}
}

func TestOldSixteenColumnReport(t *testing.T) {
	rep, err := ParseCredentialReport("old.csv", readFile(t, "testdata/old-16-columns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Columns != 16 || rep.HasLastUsed {
		t.Errorf("columns %d hasLastUsed %v", rep.Columns, rep.HasLastUsed)
	}
	a := New()
	a.ApplyCredentialReport("old.csv", rep)
	u := a.User("legacy")
	if u == nil || len(u.Keys) != 2 {
		t.Fatalf("legacy = %+v", u)
	}
	if !u.Keys[0].Active || u.Keys[0].LastUsedState != UsageUnknown || u.Keys[1].Active {
		t.Errorf("keys = %+v %+v", u.Keys[0], u.Keys[1])
	}
	if u.CertActive != Yes {
		t.Errorf("cert = %v", u.CertActive)
	}
	if !hasWarning(a, "16-column") {
		t.Errorf("no warning about the old format: %q", a.Warnings)
	}
	if a.Root == nil || a.Root.MFAActive != Yes || len(a.Root.Keys) != 0 {
		t.Errorf("root = %+v", a.Root)
	}
}

func TestCredentialReportErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"no header", "a,b,c\n1,2,3\n", "not a credential report"},
		{"short row", "user,arn,mfa_active\nx,arn:aws:iam::1:user/x\n", "r.csv:2: 2 fields, the header has 3"},
		{"bad time", "user,arn,user_creation_time\nx,y,yesterday\n", `r.csv:2: user_creation_time: "yesterday" is not a timestamp`},
		{"bad quote", "user,arn\n\"x,y\n", "r.csv: 2:"},
		{"json without content", `{"ReportFormat":"text/csv"}`, "needs a Content field"},
		{"json bad base64", `{"Content":"!!!"}`, "not base64"},
		{"json syntax", "{\n  \"Content\": ,\n}", "r.csv: 2:14"},
		{"empty user", "user,arn\n,arn:x\n", "the user column is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCredentialReport("r.csv", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAuthorizationDetails(t *testing.T) {
	a := loadFixture(t, false, true)
	if len(a.Warnings) != 0 {
		t.Errorf("warnings: %q", a.Warnings)
	}
	if a.ID != "111122223333" || len(a.Users) != 6 || len(a.Groups) != 2 || len(a.Roles) != 1 || len(a.Policies) != 3 {
		t.Fatalf("account %s users %d groups %d roles %d policies %d", a.ID, len(a.Users), len(a.Groups), len(a.Roles), len(a.Policies))
	}
	// The default version is the one parsed.
	dev := a.Policies["arn:aws:iam::111122223333:policy/DevAccess"]
	if dev.Document == nil || dev.Document.Statements[0].Sid != "Dev" || dev.Document.File != dev.ARN {
		t.Errorf("DevAccess document = %+v", dev.Document)
	}
	// A URL-encoded inline document.
	carol := a.User("carol")
	if len(carol.Inline) != 1 || carol.Inline[0].File != "user/carol/inline/S3App" || !carol.Inline[0].Statements[0].Action.Has("s3:PutObject") {
		t.Errorf("carol inline = %+v", carol.Inline)
	}
	// "2026-08-15 10:00:00+00:00" (a space, not T) is read.
	if bob := a.User("bob"); !bob.Created.Equal(mustTime(t, "2026-08-15T10:00:00Z")) {
		t.Errorf("bob created = %v", bob.Created)
	}
	// Effective policies: group inline + group managed; boundary; missing.
	ident, boundary, missing := a.EffectivePolicies(a.User("dave"))
	names := []string{}
	for _, p := range ident {
		names = append(names, p.File)
	}
	if strings.Join(names, ",") != "group/admins-mfa/inline/RequireMFA,arn:aws:iam::aws:policy/AdministratorAccess" || boundary != nil {
		t.Errorf("dave identity = %v boundary %v", names, boundary)
	}
	if len(missing) != 1 || missing[0] != "arn:aws:iam::111122223333:policy/ReportingAccess" {
		t.Errorf("dave missing = %v", missing)
	}
	_, boundary, _ = a.EffectivePolicies(a.User("erin"))
	if boundary == nil || boundary.File != "arn:aws:iam::111122223333:policy/DevBoundary" {
		t.Errorf("erin boundary = %v", boundary)
	}
	if a.User("alice").Tags["team"] != "platform" {
		t.Errorf("alice tags = %v", a.User("alice").Tags)
	}
	if a.Roles[0].Trust == nil {
		t.Error("role trust policy not parsed")
	}
}

func TestAuthorizationDetailsPagesAndDuplicates(t *testing.T) {
	a := New()
	if err := a.ParseAuthorizationDetails("paged.json", readFile(t, "testdata/details-two-pages.json")); err != nil {
		t.Fatal(err)
	}
	u := a.User("paged")
	if len(a.Users) != 1 || u == nil {
		t.Fatalf("users = %d", len(a.Users))
	}
	if len(u.Inline) != 2 || u.Inline[1].File != "user/paged/inline/two" || !u.Inline[1].Statements[0].Action.Has("ec2:DescribeInstances") {
		t.Errorf("inline = %d policies", len(u.Inline))
	}
	if strings.Join(u.Groups, ",") != "g1,g2" {
		t.Errorf("groups = %v", u.Groups)
	}
	if !hasWarning(a, `user "paged" is listed twice`) {
		t.Errorf("no duplicate warning: %q", a.Warnings)
	}
	if !hasWarning(a, "policy user/paged/inline/broken is left out") {
		t.Errorf("no warning for the broken policy: %q", a.Warnings)
	}
	_, _, missing := a.EffectivePolicies(u)
	// The broken inline policy is left out of the evaluation, so the
	// user's data is incomplete: it is listed with the absent ones.
	if strings.Join(missing, ",") != "user/paged/inline/broken,arn:aws:iam::444455556666:policy/Gone,group/g2" {
		t.Errorf("missing = %v", missing)
	}
}

func TestAuthorizationDetailsErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"not details", `{"Users":[]}`, "not authorization details"},
		{"syntax", "{\n \"UserDetailList\": [\n  {,\n", "d.json: 3:4"},
		{"type", `{"UserDetailList": {"a":1}}`, "d.json: 1:20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().ParseAuthorizationDetails("d.json", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodePolicyDocument(t *testing.T) {
	want := `{"Version":"2012-10-17","Statement":[]}`
	for _, in := range []string{
		want,
		`"{\"Version\":\"2012-10-17\",\"Statement\":[]}"`,
		`"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"`,
	} {
		got, err := DecodePolicyDocument([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("DecodePolicyDocument(%s) = %s, %v", in, got, err)
		}
	}
	// Form encoding: '+' for spaces between tokens.
	got, err := DecodePolicyDocument([]byte(`"%7B+%22Version%22%3A+%222012-10-17%22%7D"`))
	if err != nil || string(got) != `{ "Version": "2012-10-17"}` {
		t.Errorf("form-encoded = %s, %v", got, err)
	}
	if _, err := DecodePolicyDocument([]byte(`null`)); err == nil {
		t.Error("null accepted")
	}
}

func TestMergeLiveKeysWithReport(t *testing.T) {
	a := New()
	u, _ := a.userFor("x")
	created := mustTime(t, "2026-01-01T00:00:00Z")
	u.Keys = []*AccessKey{{ID: "AKIAEXAMPLEEXAMPLE12", Active: true, Created: created, Slot: 1}}
	a.ApplyCredentialReport("", &CredentialReport{HasLastUsed: true, Rows: []ReportRow{{User: "x", ARN: "arn:aws:iam::111122223333:user/x",
		Keys: []*AccessKey{{Slot: 1, Active: true, Created: created.Add(500 * time.Millisecond), LastUsed: created.AddDate(0, 1, 0), LastUsedState: UsageUsed, LastUsedService: "s3"}}}}})
	k := a.User("x").Keys[0]
	if k.ID != "AKIAEXAMPLEEXAMPLE12" || k.LastUsedService != "s3" || k.LastUsedState != UsageUsed {
		t.Errorf("merged key = %+v", k)
	}
	if k.Label() != "****************LE12" {
		t.Errorf("label = %q", k.Label())
	}
}

func TestParseSCP(t *testing.T) {
	p, err := ParseSCP("scp.json", readFile(t, "../audit/testdata/scp.json"))
	if err != nil || len(p.Statements) != 2 {
		t.Fatalf("scp = %v, %v", p, err)
	}
	wrapped := `{"Policy":{"PolicySummary":{"Name":"x"},"Content":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"iam:*\",\"Resource\":\"*\"}]}"}}`
	p, err = ParseSCP("describe-policy.json", []byte(wrapped))
	if err != nil || len(p.Statements) != 1 || p.Statements[0].Effect != "Deny" {
		t.Fatalf("describe-policy output = %v, %v", p, err)
	}
}

// The public samples under ../shared/data/iam: real exports from other
// projects' test suites.
func sharedData(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "shared", "data", "iam")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("../shared/data/iam is absent: skipping the tests over real samples")
	}
	return dir
}

func TestSharedCredentialReports(t *testing.T) {
	dir := sharedData(t)
	files, _ := filepath.Glob(filepath.Join(dir, "credential-reports", "*.csv"))
	if len(files) == 0 {
		t.Skip("no credential reports in the shared data")
	}
	for _, f := range files {
		rep, err := ParseCredentialReport(f, readFile(t, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(rep.Rows) == 0 || !rep.HasLastUsed {
			t.Errorf("%s: %d rows, last used %v", f, len(rep.Rows), rep.HasLastUsed)
		}
	}
	// Specific facts of cloud-custodian's account report.
	f := filepath.Join(dir, "credential-reports", "cloud-custodian__test_account_credential_report__iam.GetCredentialReport_1.csv")
	if _, err := os.Stat(f); err != nil {
		t.Skip("custodian account report absent")
	}
	rep, err := ParseCredentialReport(f, readFile(t, f))
	if err != nil {
		t.Fatal(err)
	}
	a := New()
	a.ApplyCredentialReport(f, rep)
	if a.ID != "644160558196" || a.Root == nil || a.Root.MFAActive != Yes || len(a.Root.Keys) != 0 {
		t.Errorf("account %s root %+v", a.ID, a.Root)
	}
	// christopher is listed twice; the later row (an active key last used
	// by redshift) wins.
	c := a.User("christopher")
	if c == nil || len(c.Keys) != 1 || !c.Keys[0].Active || c.Keys[0].LastUsedService != "redshift" {
		t.Fatalf("christopher = %+v", c)
	}
	if !hasWarning(a, `"christopher" is listed twice`) {
		t.Errorf("no duplicate warning: %q", a.Warnings)
	}
	andrew := a.User("andrew")
	if len(andrew.Keys) != 2 || andrew.Keys[0].LastUsedState != UsageNever || andrew.Keys[1].LastUsedService != "ec2" {
		t.Errorf("andrew keys = %+v %+v", andrew.Keys[0], andrew.Keys[1])
	}
	// A region of N/A with a service (calvin: s3) stays without region.
	if calvin := a.User("calvin"); calvin.Keys[0].LastUsedRegion != "" || calvin.Keys[0].LastUsedService != "s3" {
		t.Errorf("calvin key = %+v", calvin.Keys[0])
	}
}

func TestSharedAuthorizationDetails(t *testing.T) {
	dir := sharedData(t)
	f := filepath.Join(dir, "authorization-details", "salesforce__cloudsplaining__test__files__example-authz-details.json")
	if _, err := os.Stat(f); err != nil {
		t.Skip("cloudsplaining sample absent")
	}
	a := New()
	if err := a.ParseAuthorizationDetails(f, readFile(t, f)); err != nil {
		t.Fatal(err)
	}
	if a.ID != "012345678901" || len(a.Users) != 3 || len(a.Groups) != 2 || len(a.Policies) != 32 {
		t.Errorf("account %s users %d groups %d policies %d", a.ID, len(a.Users), len(a.Groups), len(a.Policies))
	}
	// AWSCodeCommitPowerUser has two versions; v11 is the default.
	if p := a.Policies["arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"]; p == nil || p.Document == nil || p.DefaultVersionID != "v11" {
		t.Errorf("AWSCodeCommitPowerUser = %+v", p)
	}
	biden := a.User("biden")
	ident, _, missing := a.EffectivePolicies(biden)
	if len(ident) != 4 || len(missing) != 0 {
		t.Errorf("biden: %d identity policies, missing %v", len(ident), missing)
	}
	// "2019-12-18 19:10:08+00:00" is read.
	if !biden.Created.Equal(mustTime(t, "2019-12-18T19:10:08Z")) {
		t.Errorf("biden created %v", biden.Created)
	}

	f = filepath.Join(dir, "authorization-details", "duo-labs__cloudmapper__demo__iam-get-account-authorization-details.json")
	if _, err := os.Stat(f); err != nil {
		return
	}
	b := New()
	if err := b.ParseAuthorizationDetails(f, readFile(t, f)); err != nil {
		t.Fatal(err)
	}
	mfa := b.Policies["arn:aws:iam::123456789012:policy/BAD_MFA_POLICY"]
	if mfa == nil || mfa.Document == nil || len(mfa.Document.Statements) != 5 || mfa.Document.Statements[4].Conditions[0].Operator != "BoolIfExists" {
		t.Errorf("BAD_MFA_POLICY = %+v", mfa)
	}
	if u := b.User("USER"); u == nil || len(u.Groups) != 1 {
		t.Errorf("USER = %+v", u)
	}
}

func FuzzParseCredentialReport(f *testing.F) {
	f.Add(readFile(f, "../audit/testdata/credential-report.csv"))
	f.Add(readFile(f, "../audit/testdata/credential-report.json"))
	f.Add(readFile(f, "testdata/old-16-columns.csv"))
	f.Add([]byte("user,arn\n<root_account>,x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ParseCredentialReport("fuzz", data)
		if err != nil {
			return
		}
		a := New()
		a.ApplyCredentialReport("fuzz", rep)
		for _, u := range a.Users {
			if len(u.Keys) > 2 {
				t.Fatalf("%d keys for one user", len(u.Keys))
			}
		}
	})
}

func FuzzParseAuthorizationDetails(f *testing.F) {
	f.Add(readFile(f, "../audit/testdata/authorization-details.json"))
	f.Add(readFile(f, "testdata/details-two-pages.json"))
	f.Add([]byte(`{"UserDetailList":[{"UserName":"x","UserPolicyList":[{"PolicyName":"p","PolicyDocument":"%7B"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := New()
		if err := a.ParseAuthorizationDetails("fuzz", data); err != nil {
			return
		}
		for _, u := range a.Users {
			a.EffectivePolicies(u)
		}
	})
}

func FuzzDecodePolicyDocument(f *testing.F) {
	f.Add([]byte(`"%7B%22Version%22%3A%222012-10-17%22%7D"`))
	f.Add([]byte(`{"Version":"2012-10-17"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = DecodePolicyDocument(data)
	})
}

func FuzzParseSCP(f *testing.F) {
	f.Add(readFile(f, "../audit/testdata/scp.json"))
	f.Add([]byte(`{"Policy":{"Content":"{\"Statement\":[]}"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSCP("fuzz", data)
	})
}

// Live, ListMFADevices is current while the credential report may be up to
// four hours old (AWS reuses a recent one): a user whose device the listing
// no longer shows has no MFA, whatever the report says.
func TestLiveMFAListingWinsOverReport(t *testing.T) {
	a := New()
	a.Sources.Live, a.Sources.MFADevices = true, true
	u, _ := a.userFor("x")
	u.MFAActive = No
	w, _ := a.userFor("w")
	w.MFADevices, w.MFAActive = []MFADevice{{Serial: "arn:aws:iam::111122223333:mfa/w"}}, Yes
	a.ApplyCredentialReport("", &CredentialReport{HasLastUsed: true, Rows: []ReportRow{
		{User: "x", ARN: "arn:aws:iam::111122223333:user/x", MFAActive: Yes},
		{User: "w", ARN: "arn:aws:iam::111122223333:user/w", MFAActive: No},
		// Only in the report (deleted since the listing): the report is all there is.
		{User: "y", ARN: "arn:aws:iam::111122223333:user/y", MFAActive: Yes},
	}})
	if got := a.User("x").MFAActive; got != No {
		t.Errorf("x: MFA = %v, want no (the live listing shows no device)", got)
	}
	if got := a.User("w").MFAActive; got != Yes {
		t.Errorf("w: MFA = %v, want yes (the live listing shows a device)", got)
	}
	if got := a.User("y").MFAActive; got != Yes {
		t.Errorf("y: MFA = %v, want the report's yes", got)
	}
}

// A truncated export names the file and the position where it ends.
func TestAuthorizationDetailsTruncated(t *testing.T) {
	err := New().ParseAuthorizationDetails("d.json", []byte("{\"UserDetailList\": [\n {\"UserName\": \"a\","))
	if err == nil || !strings.Contains(err.Error(), "d.json: 2:19") || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("err = %v, want d.json: 2:19 ... truncated", err)
	}
}

// A field of the wrong type is named in the export's terms, with its
// position, not by Go's struct and package names.
func TestAuthorizationDetailsTypeErrorInExportTerms(t *testing.T) {
	err := New().ParseAuthorizationDetails("d.json", []byte("{\"UserDetailList\": [ {\"UserName\": \"a\",\n \"UserPolicyList\": 5}]}"))
	if err == nil || !strings.Contains(err.Error(), "d.json: 2:20: UserDetailList.UserPolicyList: a JSON number where a list was expected") || strings.Contains(err.Error(), "inventory.") {
		t.Errorf("err = %v", err)
	}
}
