package audit

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
)

// DefaultRootRecentUse is how recent a use of the root user's credentials
// counts as "used recently".
const DefaultRootRecentUse = 30 * 24 * time.Hour

// CIS thresholds for the password policy.
const (
	cisMinPasswordLength = 14
	cisPasswordReuse     = 24
	cisMaxPasswordAge    = 90
)

// passwordPolicy runs the CIS password-policy items, one finding per item
// that fails, each naming its CIS control.
func (a *auditor) passwordPolicy() {
	pp := a.acct.PasswordPolicy
	if pp == nil || !a.acct.Sources.PasswordPolicy {
		return
	}
	res := "password-policy"
	if a.acct.ID != "" {
		res = "arn:aws:iam::" + a.acct.ID + ":password-policy"
	}
	none := "The account has no password policy, so AWS's default applies (at least 8 characters, nothing else)"
	if !pp.Exists || pp.MinimumPasswordLength < cisMinPasswordLength {
		msg := fmt.Sprintf("%s: passwords may be shorter than %d characters (CIS 1.8 in v3.0, 1.9 in v1.2).", none, cisMinPasswordLength)
		if pp.Exists {
			msg = fmt.Sprintf("The password policy requires %d characters, fewer than %d (CIS 1.8 in v3.0, 1.9 in v1.2).", pp.MinimumPasswordLength, cisMinPasswordLength)
		}
		a.add(nil, RulePasswordLength, res+" MinimumPasswordLength", "", msg, map[string]any{"minimum_password_length": pp.MinimumPasswordLength, "policy_exists": pp.Exists})
	}
	if !pp.Exists || pp.PasswordReusePrevention < cisPasswordReuse {
		msg := fmt.Sprintf("%s: any earlier password may be reused (CIS 1.9 in v3.0, 1.10 in v1.2).", none)
		switch {
		case pp.Exists && pp.PasswordReusePrevention == 0:
			msg = "The password policy does not prevent reusing earlier passwords; CIS asks that the last 24 be refused (CIS 1.9 in v3.0, 1.10 in v1.2)."
		case pp.Exists:
			msg = fmt.Sprintf("The password policy refuses only the last %d passwords, not the last %d (CIS 1.9 in v3.0, 1.10 in v1.2).", pp.PasswordReusePrevention, cisPasswordReuse)
		}
		a.add(nil, RulePasswordReuse, res+" PasswordReusePrevention", "", msg, map[string]any{"password_reuse_prevention": pp.PasswordReusePrevention, "policy_exists": pp.Exists})
	}
	if pp.Exists && pp.MaxPasswordAge > cisMaxPasswordAge {
		a.add(nil, RulePasswordExpiry, res+" MaxPasswordAge", "", fmt.Sprintf("Passwords expire after %d days, more than %d (CIS v1.2 1.11).", pp.MaxPasswordAge, cisMaxPasswordAge),
			map[string]any{"max_password_age": pp.MaxPasswordAge})
	}
	for _, c := range []struct {
		field, what, cis, shub string
		set                    bool
	}{
		{"RequireUppercaseCharacters", "an uppercase letter", "1.5", "IAM.11", pp.RequireUppercaseCharacters},
		{"RequireLowercaseCharacters", "a lowercase letter", "1.6", "IAM.12", pp.RequireLowercaseCharacters},
		{"RequireSymbols", "a symbol", "1.7", "IAM.13", pp.RequireSymbols},
		{"RequireNumbers", "a number", "1.8", "IAM.14", pp.RequireNumbers},
	} {
		if c.set {
			continue
		}
		msg := fmt.Sprintf("The password policy does not require %s (%s; CIS v1.2 %s, Security Hub %s).", c.what, c.field, c.cis, c.shub)
		if !pp.Exists {
			msg = fmt.Sprintf("%s: passwords need not contain %s (CIS v1.2 %s, Security Hub %s).", none, c.what, c.cis, c.shub)
		}
		a.add(nil, RulePasswordComplexity, res+" "+c.field, "", msg, map[string]any{"setting": c.field, "cis_v1_2": c.cis, "security_hub_control": c.shub})
	}
}

// rootChecks: the root user used recently (credential report), and a
// virtual rather than hardware MFA device (live: ListVirtualMFADevices).
func (a *auditor) rootChecks(root *inventory.Root, res string) {
	var uses []string
	recent := func(what string, t time.Time) {
		if since := a.opt.Now.Sub(t); since <= a.opt.RootRecentUse && since >= -24*time.Hour {
			uses = append(uses, fmt.Sprintf("%s on %s (%d days ago)", what, t.Format("2006-01-02"), max(0, days(since))))
		}
	}
	if root.Password.LastUsedState == inventory.UsageUsed {
		recent("its password was used", root.Password.LastUsed)
	}
	for _, k := range root.Keys {
		if k.LastUsedState == inventory.UsageUsed {
			recent(fmt.Sprintf("its access key (%s) was used", k.Label()), k.LastUsed)
		}
	}
	if len(uses) > 0 {
		a.add(nil, RuleRootUsed, res, "", fmt.Sprintf("The root user was used within the last %d days: %s (CIS 1.7).", days(a.opt.RootRecentUse), strings.Join(uses, "; ")),
			forUser(inventory.RootUserName, nil))
	}
	if root.MFAVirtual == inventory.Yes {
		a.add(nil, RuleRootVirtualMFA, res, "", "The root user's MFA device is a virtual one (ListVirtualMFADevices lists it for the root user), not a hardware device (CIS 1.6, Security Hub IAM.6).",
			forUser(inventory.RootUserName, nil))
	}
}

// passwordUnused reports a console password not used for MaxUnused, or
// never used and set longer ago than that.
func (a *auditor) passwordUnused(u *inventory.User, res string) *report.Finding {
	p := u.Password
	if p.Enabled != inventory.Yes {
		return nil
	}
	switch p.LastUsedState {
	case inventory.UsageUsed:
		if idle := a.opt.Now.Sub(p.LastUsed); idle > a.opt.MaxUnused {
			return a.add(nil, RulePasswordUnused, res+" password", "", fmt.Sprintf("%s's console password was last used %d days ago (%s); the maximum is %d days (CIS 1.12).",
				u.Name, days(idle), p.LastUsed.Format("2006-01-02"), days(a.opt.MaxUnused)), forUser(u.Name, map[string]any{"unused_days": days(idle)}))
		}
	case inventory.UsageNever:
		set := p.LastChanged
		if set.IsZero() {
			set = u.Created
		}
		if age := a.opt.Now.Sub(set); !set.IsZero() && age > a.opt.MaxUnused {
			return a.add(nil, RulePasswordUnused, res+" password", "", fmt.Sprintf("%s's console password has never been used and was set %d days ago (%s); the maximum is %d days (CIS 1.12).",
				u.Name, days(age), set.Format("2006-01-02"), days(a.opt.MaxUnused)), forUser(u.Name, map[string]any{"unused_days": days(age), "never_used": true}))
		}
	}
	return nil
}

// directPolicies reports managed policies attached to the user and inline
// policies of its own (CIS 1.15: permissions only through groups).
func (a *auditor) directPolicies(u *inventory.User, res string) *report.Finding {
	if !u.InDetails {
		return nil
	}
	names := append([]string(nil), u.Managed...)
	for _, p := range u.Inline {
		names = append(names, "inline "+inlineName(p.File))
	}
	for _, n := range u.UnreadableInline {
		names = append(names, "inline "+inlineName(n))
	}
	if len(names) == 0 {
		return nil
	}
	return a.add(nil, RuleUserDirectPolicy, res+" policies", "", fmt.Sprintf("%s has %d polic(ies) of its own rather than through a group: %s (CIS 1.15).",
		u.Name, len(names), strings.Join(limit(names, 8), ", ")), forUser(u.Name, map[string]any{"policies": names}))
}

// inlineName is the policy name of "user/NAME/inline/POLICY".
func inlineName(file string) string {
	if i := strings.LastIndex(file, "/inline/"); i >= 0 {
		return file[i+len("/inline/"):]
	}
	return file
}

// adminPolicies reports, per policy, every customer-managed and inline
// policy with an unconditional Allow of "*" on "*", and what it is
// attached to. AWS managed policies (AdministratorAccess) are left out:
// attaching them is what the exposure checks judge.
func (a *auditor) adminPolicies() {
	attached := map[string][]string{}
	for _, u := range a.acct.Users {
		for _, arn := range u.Managed {
			attached[arn] = append(attached[arn], "user "+u.Name)
		}
		for _, p := range u.Inline {
			a.adminInline(p, "user "+u.Name)
		}
	}
	for _, name := range a.acct.GroupNames() {
		g := a.acct.Groups[name]
		for _, arn := range g.Managed {
			attached[arn] = append(attached[arn], "group "+g.Name)
		}
		for _, p := range g.Inline {
			a.adminInline(p, "group "+g.Name)
		}
	}
	for _, r := range a.acct.Roles {
		for _, arn := range r.Managed {
			attached[arn] = append(attached[arn], "role "+r.Name)
		}
		for _, p := range r.Inline {
			a.adminInline(p, "role "+r.Name)
		}
	}
	arns := make([]string, 0, len(a.acct.Policies))
	for arn := range a.acct.Policies {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	for _, arn := range arns {
		mp := a.acct.Policies[arn]
		if strings.HasPrefix(arn, "arn:aws:iam::aws:policy/") || mp.Document == nil || !grantsAdmin(mp.Document) {
			continue
		}
		to := "attached to nothing"
		if at := attached[arn]; len(at) > 0 {
			to = "attached to " + strings.Join(limit(at, 8), ", ")
		}
		a.add(nil, RuleAdminPolicy, arn, "", fmt.Sprintf("The customer-managed policy %s (its default version) allows every action on every resource; it is %s (CIS 1.16, Security Hub IAM.1).",
			arn, to), map[string]any{"policy": arn, "attached_to": attached[arn]})
	}
}

func (a *auditor) adminInline(p *iampolicy.Policy, owner string) {
	if !grantsAdmin(p) {
		return
	}
	a.add(nil, RuleAdminPolicy, p.File, "", fmt.Sprintf("The inline policy %s of %s allows every action on every resource (CIS 1.16).", inlineName(p.File), owner),
		map[string]any{"policy": p.File, "attached_to": []string{owner}})
}
