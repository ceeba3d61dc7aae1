package awsconfig

import (
	"slices"
	"strings"
	"testing"
)

func TestSSOProfiles(t *testing.T) {
	existing := `[profile mine]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
[profile Prod-ReadOnly]
region = x
`
	c, err := Parse("config", []byte(existing+"[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"))
	if err != nil {
		t.Fatal(err)
	}
	as := []SSOAssignment{
		{AccountID: "111122223333", AccountName: "Dev", RoleName: "Admin"},                                      // covered by mine
		{AccountID: "111122223333", AccountName: "Dev", RoleName: "ReadOnly"},                                   // new
		{AccountID: "444455556666", AccountName: "Prod", RoleName: "ReadOnly"},                                  // name taken: gets the ID
		{AccountID: "777788889999", AccountName: "x\n[profile evil]\ncredential_process = sh", RoleName: "Ops"}, // sanitised
		{AccountID: "12", AccountName: "bad", RoleName: "Admin"},                                                // skipped
		{AccountID: "777788889999", AccountName: "y", RoleName: "a b"},                                          // skipped
	}
	p, err := SSOProfiles(c, "corp", "https://corp.awsapps.com/start", "eu-west-1", as)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Dev-ReadOnly", "Prod-444455556666-ReadOnly", "x-profile-evil-credential_process-sh-Ops"}
	if !slices.Equal(p.Added, want) || p.Kept != 1 || p.Skipped != 2 {
		t.Fatalf("added %v kept %d skipped %d", p.Added, p.Kept, p.Skipped)
	}
	if strings.Contains(p.Text, "[sso-session") || strings.Contains(p.Text, "\ncredential_process") {
		t.Errorf("text:\n%s", p.Text)
	}
	// The result reads back: every new profile resolves to its role.
	c2, err := Parse("config", []byte(existing+"[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"+p.Text))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range want {
		if r, err := c2.Resolve(n); err != nil || r.SSOStartURL != "https://corp.awsapps.com/start" {
			t.Errorf("%s: %+v %v", n, r, err)
		}
	}
	// A new session section is written when missing; a clash is refused.
	c3, _ := Parse("config", []byte(existing))
	if p, err := SSOProfiles(c3, "corp", "https://corp.awsapps.com/start", "eu-west-1", as[1:2]); err != nil || !strings.HasPrefix(p.Text, "\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n") {
		t.Errorf("new session: %q %v", p.Text, err)
	}
	if _, err := SSOProfiles(c, "corp", "https://other.awsapps.com/start", "eu-west-1", as); err == nil || !strings.Contains(err.Error(), "choose another --sso-session") {
		t.Errorf("clash: %v", err)
	}
}
