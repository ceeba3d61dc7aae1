package awsconfig

import (
	"fmt"
	"strings"
)

// SSOAssignment is one account and role an IAM Identity Center user can
// use, as the portal lists it.
type SSOAssignment struct {
	AccountID, AccountName, RoleName string
}

// Populated is what SSOProfiles decided.
type Populated struct {
	// Text is what to append to the file (empty when nothing is new).
	Text string
	// Added names the new profiles; Kept counts assignments that already
	// had a profile; Skipped those the portal gave malformed.
	Added         []string
	Kept, Skipped int
}

// SSOProfiles returns the sections to append to config c so that every
// assignment has a profile on sso-session session: the [sso-session]
// section when c lacks it, and one [profile ACCOUNT-ROLE] per assignment
// that no profile covers yet. Existing content is never changed. Names
// and values from the portal are reduced to [A-Za-z0-9._-], so they cannot
// break the file.
func SSOProfiles(c *Config, session, startURL, region string, as []SSOAssignment) (*Populated, error) {
	var b strings.Builder
	if s, ok := c.SSOSessions[session]; ok {
		if s.StartURL != startURL {
			return nil, fmt.Errorf("%s: [sso-session %s] has sso_start_url %s, not %s: choose another --sso-session name", c.Path, session, s.StartURL, startURL)
		}
	} else {
		fmt.Fprintf(&b, "\n[sso-session %s]\nsso_start_url = %s\nsso_region = %s\nsso_registration_scopes = sso:account:access\n", session, startURL, region)
	}
	covered := map[string]bool{}
	for _, p := range c.Profiles {
		if p.IsSSO() {
			covered[p.SSOAccountID+"/"+p.SSORoleName] = true
		}
	}
	out := &Populated{}
	taken := map[string]bool{}
	for n := range c.Profiles {
		taken[n] = true
	}
	for _, a := range as {
		if len(a.AccountID) != 12 || strings.Trim(a.AccountID, "0123456789") != "" || safeName(a.RoleName) != a.RoleName || a.RoleName == "" {
			out.Skipped++
			continue
		}
		if covered[a.AccountID+"/"+a.RoleName] {
			out.Kept++
			continue
		}
		covered[a.AccountID+"/"+a.RoleName] = true
		acct := safeName(a.AccountName)
		if acct == "" {
			acct = a.AccountID
		}
		name := acct + "-" + a.RoleName
		if taken[name] {
			name = acct + "-" + a.AccountID + "-" + a.RoleName
		}
		taken[name] = true
		fmt.Fprintf(&b, "\n[profile %s]\nsso_session = %s\nsso_account_id = %s\nsso_role_name = %s\nregion = %s\n", name, session, a.AccountID, a.RoleName, region)
		out.Added = append(out.Added, name)
	}
	if len(out.Added) > 0 {
		out.Text = b.String()
	}
	return out, nil
}

// safeName keeps [A-Za-z0-9._-] of s and turns runs of anything else into
// one '-'.
func safeName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	n := strings.Trim(b.String(), "-")
	if len(n) > 64 {
		n = strings.Trim(n[:64], "-")
	}
	return n
}
