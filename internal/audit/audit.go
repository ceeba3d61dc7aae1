package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
)

// Defaults for Options.
const (
	DefaultMaxKeyAge          = 90 * 24 * time.Hour
	DefaultMaxUnused          = 45 * 24 * time.Hour
	DefaultInitialSetupWindow = 10 * time.Minute
)

// Options tune a run. Now is required: the package never reads the clock.
type Options struct {
	Now       time.Time
	MaxKeyAge time.Duration
	MaxUnused time.Duration
	// InitialSetupWindow is how close to the user's creation a key must
	// have been created to count as an initial-setup key.
	InitialSetupWindow time.Duration
	// Actions are the sensitive actions to ask about (DefaultActions when
	// empty).
	Actions []string
	// AllowedCIDRs are the networks keys are meant to be used from.
	AllowedCIDRs []netip.Prefix
	// Exposer evaluates policies; nil skips the exposure checks (and says
	// so in Result.Skipped).
	Exposer Exposer
	// Workers bounds the parallel exposure evaluations (default GOMAXPROCS).
	Workers int
	// RootRecentUse is how recent a use of the root user counts as recent
	// (DefaultRootRecentUse when zero).
	RootRecentUse time.Duration
}

// Result is one audit.
type Result struct {
	AccountID string            `json:"account_id,omitempty"`
	Now       time.Time         `json:"audited_at"`
	Sources   inventory.Sources `json:"sources"`
	// ReportGenerated is when the credential report was generated.
	ReportGenerated *time.Time       `json:"credential_report_generated,omitempty"`
	Settings        Settings         `json:"settings"`
	Users           int              `json:"users"`
	Findings        []report.Finding `json:"-"`
	Keys            []KeyRow         `json:"keys"`
	// Skipped lists the checks that could not run and why.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Warnings are loading oddities and limits of the data.
	Warnings []string `json:"warnings,omitempty"`
	// Exposures are the distinct exposures the keys point at (by
	// KeyRow.ExposureIndex), each with the users that share it.
	Exposures []ExposureSet `json:"exposures,omitempty"`
}

// ExposureSet is one exposure and the users whose keys have it.
type ExposureSet struct {
	Users []string `json:"users"`
	*Exposure
}

// Settings echoes the thresholds used, so a report says what it judged by.
type Settings struct {
	MaxKeyAgeDays int      `json:"max_key_age_days"`
	MaxUnusedDays int      `json:"max_unused_days"`
	Actions       []string `json:"actions"`
	AllowedCIDRs  []string `json:"allowed_cidrs,omitempty"`
}

// Skipped is a check that did not run.
type Skipped struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// KeyRow is one line of the per-key table.
type KeyRow struct {
	User    string `json:"user"`
	UserARN string `json:"user_arn,omitempty"`
	// Key is the key ID redacted to its last four characters, or "key 1" /
	// "key 2" when only the credential report was read, or "" when the
	// user's keys are unknown (authorization details alone).
	Key string `json:"key"`
	// id is the full key ID, when known: it appears only in the respond
	// command of the row's findings, which must be pasteable.
	id     string
	Status string `json:"status"` // active, inactive, unknown
	// Created is the key's creation date (YYYY-MM-DD), "" when unknown.
	Created string `json:"created,omitempty"`
	AgeDays *int   `json:"age_days"`
	// LastUsed is a date, "never" or "unknown".
	LastUsed        string `json:"last_used"`
	LastUsedDays    *int   `json:"last_used_days"`
	LastUsedService string `json:"last_used_service,omitempty"`
	LastUsedRegion  string `json:"last_used_region,omitempty"`
	MFA             string `json:"mfa"`     // yes, no, unknown
	Console         string `json:"console"` // password enabled: yes, no, unknown
	// WithoutMFA and FromAnywhere count the sensitive actions plainly
	// allowed; nil when not evaluated. The *Depends counts are actions
	// whose answer hinges on something the data cannot show.
	WithoutMFA          *int `json:"without_mfa"`
	WithoutMFADepends   int  `json:"without_mfa_depends"`
	FromAnywhere        *int `json:"from_anywhere"`
	FromAnywhereDepends int  `json:"from_anywhere_depends"`
	// Exposure is the owner's exposure (shared by every key of users with
	// the same policies). JSON carries it once, in Result.Exposures, and
	// names it by ExposureIndex.
	Exposure      *Exposure `json:"-"`
	ExposureIndex *int      `json:"exposure_index,omitempty"`
	// Findings are the rule ids found for this key (and its user).
	Findings []string `json:"findings"`
	// Severity is the highest severity among Findings ("" for none).
	Severity string `json:"severity,omitempty"`
	sev      report.Severity
}

// Run audits acct.
func Run(acct *inventory.Account, opt Options) *Result {
	if opt.MaxKeyAge <= 0 {
		opt.MaxKeyAge = DefaultMaxKeyAge
	}
	if opt.MaxUnused <= 0 {
		opt.MaxUnused = DefaultMaxUnused
	}
	if opt.InitialSetupWindow <= 0 {
		opt.InitialSetupWindow = DefaultInitialSetupWindow
	}
	if len(opt.Actions) == 0 {
		opt.Actions = DefaultActions
	}
	opt.Actions = SensitiveActions(opt.Actions)
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.RootRecentUse <= 0 {
		opt.RootRecentUse = DefaultRootRecentUse
	}
	r := &Result{AccountID: acct.ID, Now: opt.Now.UTC(), Sources: acct.Sources, Users: len(acct.Users),
		Warnings: append([]string(nil), acct.Warnings...)}
	if !acct.ReportGenerated.IsZero() {
		t := acct.ReportGenerated
		r.ReportGenerated = &t
	}
	r.Settings = Settings{MaxKeyAgeDays: days(opt.MaxKeyAge), MaxUnusedDays: days(opt.MaxUnused), Actions: opt.Actions}
	for _, p := range opt.AllowedCIDRs {
		r.Settings.AllowedCIDRs = append(r.Settings.AllowedCIDRs, p.String())
	}
	a := &auditor{acct: acct, opt: opt, res: r, haveReport: acct.Sources.CredentialReport, reaches: map[reachKey]graded{},
		policyNets: policyCIDRs(acct)}
	a.skipped()
	exposures := a.exposures()
	if a.haveReport {
		a.root()
	}
	a.passwordPolicy()
	if acct.Sources.AuthorizationDetails {
		a.adminPolicies()
	}
	for _, u := range acct.Users {
		a.user(u, exposures[u])
	}
	a.coverage()
	if a.unknownUse > 0 {
		noun := "active keys have"
		if a.unknownUse == 1 {
			noun = "active key has"
		}
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d %s no record of last use (no_information, or a report without the last-used columns): the unused-key check could not judge them", a.unknownUse, noun))
	}
	if len(a.future) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d access keys have a creation date in the future, so their age and use cannot be judged (the export's dates are wrong): %s",
			len(a.future), strings.Join(limit(a.future, 10), ", ")))
	}
	sortFindings(r.Findings)
	index := map[*Exposure]int{}
	for i := range r.Keys {
		k := &r.Keys[i]
		if k.Exposure == nil {
			continue
		}
		n, ok := index[k.Exposure]
		if !ok {
			n = len(r.Exposures)
			index[k.Exposure] = n
			r.Exposures = append(r.Exposures, ExposureSet{Exposure: k.Exposure})
		}
		if us := r.Exposures[n].Users; len(us) == 0 || us[len(us)-1] != k.User {
			r.Exposures[n].Users = append(us, k.User)
		}
		k.ExposureIndex = &n
	}
	return r
}

type auditor struct {
	acct       *inventory.Account
	opt        Options
	res        *Result
	haveReport bool
	unknownUse int
	// future lists keys created after the audit's time: corrupt dates.
	future []string
	// reaches caches each exposure's reach and grade (without MFA, from
	// anywhere).
	reaches map[reachKey]graded
	// admins are the roles with administrator power (found once).
	admins *[]*inventory.Role
	// policyNets are the networks the account's policies name in
	// aws:SourceIp: the attacker's address is outside them.
	policyNets []netip.Prefix
}

type reachKey struct {
	exp     *Exposure
	trusted bool
}

type graded struct {
	reach [2]Reach
	sev   [2]report.Severity
	why   [2]string
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

func (a *auditor) skipped() {
	s := a.acct.Sources
	for _, c := range Checks {
		var why []string
		if c.Needs&NeedReport != 0 && !s.CredentialReport && c.Needs&NeedDetails == 0 {
			why = append(why, "needs the credential report (--credential-report FILE, or a live audit)")
		}
		if c.Needs&NeedDetails != 0 && !s.AuthorizationDetails {
			why = append(why, "needs the authorization details (--authorization-details FILE, or a live audit)")
		}
		if (c.ID == RuleKeyUnused || c.ID == RuleRoleWouldDo) && s.CredentialReport && a.acct.ReportLacksLastUse && !s.KeyIDs {
			why = append(why, "the credential report is an old one without the keys' last-used columns")
		}
		if c.Needs&NeedPasswordPolicy != 0 && !s.PasswordPolicy {
			why = append(why, "needs the account's password policy (--password-policy FILE, or a live audit)")
		}
		if c.Needs&NeedMFADevices != 0 && !s.MFADevices {
			why = append(why, "needs the MFA devices (a live audit: the exports do not say whether a device is virtual)")
		}
		if c.Needs&NeedEngine != 0 && a.opt.Exposer == nil {
			why = append(why, "the policy evaluation engine is not available in this build")
		}
		if len(why) > 0 {
			a.res.Skipped = append(a.res.Skipped, Skipped{Check: c.ID, Reason: strings.Join(why, "; ")})
		}
	}
	if !s.CredentialReport && s.AuthorizationDetails && a.opt.Exposer != nil {
		a.res.Warnings = append(a.res.Warnings, "no credential report: which users have access keys is unknown, so the exposure checks report per user, not per key")
	}
}

// coverage notes users one export names and the other does not: their
// checks are partial, and the reader should know which.
func (a *auditor) coverage() {
	s := a.acct.Sources
	if !s.CredentialReport || !s.AuthorizationDetails {
		return
	}
	var notInReport, notInDetails []string
	for _, u := range a.acct.Users {
		switch {
		case u.InDetails && !u.InReport:
			notInReport = append(notInReport, u.Name)
		case u.InReport && !u.InDetails && len(u.ActiveKeys()) > 0:
			notInDetails = append(notInDetails, u.Name)
		}
	}
	switch {
	case len(notInReport) > 0 && s.KeyIDs:
		// Live: the keys were listed by ID and checked; only the report's
		// password columns are missing.
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%d users are not in the credential report (created after it was generated?): whether they have a console password is unknown: %s",
			len(notInReport), strings.Join(limit(notInReport, 10), ", ")))
	case len(notInReport) > 0:
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%d users are in the authorization details but not in the credential report (created after it was generated?): their keys were not checked: %s",
			len(notInReport), strings.Join(limit(notInReport, 10), ", ")))
	}
	if len(notInDetails) > 0 {
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%d users with active keys are in the credential report but not in the authorization details: their policies were not evaluated: %s",
			len(notInDetails), strings.Join(limit(notInDetails, 10), ", ")))
	}
}

// keysKnown reports whether u's access keys are known: from a live
// listing, or from a credential report that lists the user. A user the
// authorization details name but the report does not (created after it was
// generated) may have keys: their exposure is reported per user, as it is
// without a report, rather than dropped.
func (a *auditor) keysKnown(u *inventory.User) bool {
	return a.haveReport && (u.InReport || a.acct.Sources.KeyIDs)
}

func (a *auditor) ran(id string) bool {
	for _, s := range a.res.Skipped {
		if s.Check == id {
			return false
		}
	}
	return true
}

// exposures evaluates every user that has (or may have) an active key, in
// parallel: this is the audit's hot path. Users whose policies are the same
// documents (the usual case: the same groups, no inline policy of their
// own) get the same answer, so each distinct set is evaluated once, unless
// a policy depends on who the caller is (policy variables, principal tags,
// aws:username): those are evaluated per user.
func (a *auditor) exposures() map[*inventory.User]*userExposure {
	out := map[*inventory.User]*userExposure{}
	if !a.ran(RuleKeyWithoutMFA) {
		return out
	}
	type job struct {
		subject Subject
		users   []*inventory.User
	}
	var jobs []*job
	bySet := map[string]*job{}
	personal := map[*iampolicy.Policy]bool{}
	isPersonal := func(p *iampolicy.Policy) bool {
		v, ok := personal[p]
		if !ok {
			v = dependsOnCaller(p)
			personal[p] = v
		}
		return v
	}
	var key strings.Builder
	missingOf := map[*inventory.User][]string{}
	cidrs := a.policyNets
	for _, u := range a.acct.Users {
		if !u.InDetails {
			continue
		}
		if a.keysKnown(u) && len(u.ActiveKeys()) == 0 {
			continue
		}
		identity, boundary, missing := a.acct.EffectivePolicies(u)
		acctID := a.acct.ID
		if id := inventory.AccountFromARN(u.ARN); id != "" {
			acctID = id
		}
		s := Subject{Principal: iameval.Principal{ARN: u.ARN, AccountID: acctID, Username: u.Name, Tags: u.Tags,
			Identity: identity, Boundary: boundary, SCPs: a.acct.SCPs}, PolicyCIDRs: cidrs}
		key.Reset()
		shared := acctID != ""
		for _, p := range append(identity, boundary) {
			if p != nil && isPersonal(p) {
				shared = false
				break
			}
			fmt.Fprintf(&key, "%p,", p)
		}
		missingOf[u] = missing
		if shared {
			key.WriteString(acctID)
			if j := bySet[key.String()]; j != nil {
				j.users = append(j.users, u)
				continue
			}
		}
		j := &job{subject: s, users: []*inventory.User{u}}
		jobs = append(jobs, j)
		if shared {
			bySet[key.String()] = j
		}
	}
	results := make([]*userExposure, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < a.opt.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				exp, err := a.opt.Exposer.Exposure(jobs[i].subject, a.opt.Actions, a.opt.AllowedCIDRs)
				results[i] = &userExposure{exp: exp, err: err}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, j := range jobs {
		for _, u := range j.users {
			out[u] = &userExposure{exp: results[i].exp, err: results[i].err, missing: missingOf[u]}
		}
	}
	return out
}

type userExposure struct {
	exp     *Exposure
	err     error
	missing []string
}

// dependsOnCaller reports whether a policy's meaning can change with the
// principal: a policy variable anywhere, or a condition on the caller's
// name, ID, ARN or tags.
func dependsOnCaller(p *iampolicy.Policy) bool {
	has := func(vs []string) bool {
		for _, v := range vs {
			if strings.Contains(v, "${") {
				return true
			}
		}
		return false
	}
	for _, s := range p.Statements {
		if has(s.Action.List) || has(s.NotAction.List) || has(s.Resource.List) || has(s.NotResource.List) {
			return true
		}
		for _, c := range s.Conditions {
			k := strings.ToLower(c.Key)
			if strings.HasPrefix(k, "aws:principal") || k == "aws:username" || k == "aws:userid" || strings.Contains(k, "${") || has(c.Strings()) {
				return true
			}
		}
	}
	return false
}

func (a *auditor) root() {
	root := a.acct.Root
	if root == nil {
		return
	}
	res := root.ARN
	if res == "" {
		res = "root"
	}
	anyKey := false
	for _, k := range root.Keys {
		row := a.keyRow(inventory.RootUserName, root.ARN, k, root.MFAActive, root.Password.Enabled)
		if k.Active {
			anyKey = true
			a.add(&row, RuleRootAccessKey, res+" "+k.Label(), k.Label(), fmt.Sprintf("The root user has an active access key (%s), created %s, last used %s.", k.Label(), dateOr(k.Created, "on an unknown date"), usedText(k)), nil)
		} else {
			a.add(&row, RuleInactiveKey, res+" "+k.Label(), k.Label(), fmt.Sprintf("The root user has an inactive access key (%s), created %s.", k.Label(), dateOr(k.Created, "on an unknown date")), nil)
		}
		a.res.Keys = append(a.res.Keys, row)
	}
	if !anyKey && root.KeysPresent == inventory.Yes {
		a.add(nil, RuleRootAccessKey, res, "", "GetAccountSummary reports that the root user has an access key (AccountAccessKeysPresent = 1).", forUser(inventory.RootUserName, nil))
	}
	if root.MFAActive == inventory.No {
		a.add(nil, RuleRootNoMFA, res, "", "The root user has no MFA device.", forUser(inventory.RootUserName, nil))
	}
	a.rootChecks(root, res)
}

func (a *auditor) keyRow(user, arn string, k *inventory.AccessKey, mfa, console inventory.Tri) KeyRow {
	row := KeyRow{User: user, UserARN: arn, Key: k.Label(), id: k.ID, Status: "inactive", MFA: mfa.String(), Console: console.String(),
		LastUsedService: k.LastUsedService, LastUsedRegion: k.LastUsedRegion, Findings: []string{}}
	if k.Active {
		row.Status = "active"
	}
	if !k.Created.IsZero() {
		row.Created = k.Created.Format("2006-01-02")
		d := max(0, days(a.opt.Now.Sub(k.Created)))
		row.AgeDays = &d
		if k.Created.Sub(a.opt.Now) > 24*time.Hour {
			a.future = append(a.future, fmt.Sprintf("%s %s (%s)", user, k.Label(), row.Created))
		}
	}
	switch k.LastUsedState {
	case inventory.UsageUsed:
		row.LastUsed = k.LastUsed.Format("2006-01-02")
		d := max(0, days(a.opt.Now.Sub(k.LastUsed)))
		row.LastUsedDays = &d
	case inventory.UsageNever:
		row.LastUsed = "never"
	default:
		row.LastUsed = "unknown"
	}
	return row
}

func (a *auditor) user(u *inventory.User, ue *userExposure) {
	name := u.Name
	res := u.ARN
	if res == "" {
		res = "user/" + name
	}
	var rows []KeyRow
	active := u.ActiveKeys()
	var userFindings []*report.Finding
	if a.keysKnown(u) {
		for _, k := range u.Keys {
			row := a.keyRow(name, u.ARN, k, u.MFAActive, u.Password.Enabled)
			kres := res + " " + k.Label()
			if !k.Active {
				a.add(&row, RuleInactiveKey, kres, k.Label(), fmt.Sprintf("%s has an inactive access key (%s), created %s.", name, k.Label(), dateOr(k.Created, "on an unknown date")),
					forUser(name, nil))
				rows = append(rows, row)
				continue
			}
			a.keyChecks(u, k, &row, kres)
			rows = append(rows, row)
		}
		if len(active) == 2 {
			userFindings = append(userFindings, a.add(nil, RuleTwoActiveKeys, res, "",
				fmt.Sprintf("%s has two active access keys (%s, %s).", name, active[0].Label(), active[1].Label()), forUser(name, nil)))
		}
		if u.Password.Enabled == inventory.Yes && u.MFAActive == inventory.No {
			userFindings = append(userFindings, a.add(nil, RuleConsoleNoMFA, res, "",
				fmt.Sprintf("%s has a console password (last used %s) and no MFA device.", name, passwordUsedText(u.Password)), forUser(name, nil)))
		}
		if len(active) > 0 && u.MFAActive == inventory.No {
			userFindings = append(userFindings, a.add(nil, RuleKeyUserNoMFA, res, "",
				fmt.Sprintf("%s has %d active access key(s) and no MFA device.", name, len(active)), forUser(name, nil)))
		}
		if f := a.roleWouldDo(u, active, res); f != nil {
			userFindings = append(userFindings, f)
		}
		if f := a.passwordUnused(u, res); f != nil {
			userFindings = append(userFindings, f)
		}
	} else if ue != nil {
		rows = append(rows, KeyRow{User: name, UserARN: u.ARN, Status: "unknown", LastUsed: "unknown", MFA: u.MFAActive.String(),
			Console: u.Password.Enabled.String(), Findings: []string{}})
	}
	if f := a.directPolicies(u, res); f != nil {
		userFindings = append(userFindings, f)
	}
	if ue != nil {
		if f := a.exposureFindings(u, ue, rows, res); f != nil {
			userFindings = append(userFindings, f)
		}
	}
	// A user's findings belong to each of its keys that may be used (and,
	// without the credential report, to the row standing for its keys).
	for _, f := range userFindings {
		for i := range rows {
			if rows[i].Status != "inactive" {
				rows[i].note(f.RuleID, f.Severity)
			}
		}
	}
	a.res.Keys = append(a.res.Keys, rows...)
}

func (a *auditor) keyChecks(u *inventory.User, k *inventory.AccessKey, row *KeyRow, kres string) {
	label := k.Label()
	if k.Created.Sub(a.opt.Now) > 24*time.Hour {
		// A creation date in the future is a data error: the key's age and
		// idleness cannot be judged, so it is neither old nor unused.
		a.add(row, RuleKeyDateInvalid, kres, label, fmt.Sprintf("%s's %s is dated %s, after the audit (%s): a data error in the export, so its age and use are not judged.",
			u.Name, keyPhrase(label), k.Created.Format("2006-01-02"), a.opt.Now.Format("2006-01-02")), nil)
		return
	}
	if !k.Created.IsZero() {
		age := a.opt.Now.Sub(k.Created)
		if age > a.opt.MaxKeyAge {
			a.add(row, RuleKeyTooOld, kres, label, fmt.Sprintf("%s's %s is %d days old (created %s; the maximum is %d days).",
				u.Name, keyPhrase(label), days(age), k.Created.Format("2006-01-02"), days(a.opt.MaxKeyAge)), map[string]any{"age_days": days(age)})
		}
		switch k.LastUsedState {
		case inventory.UsageUsed:
			if idle := a.opt.Now.Sub(k.LastUsed); idle > a.opt.MaxUnused {
				a.add(row, RuleKeyUnused, kres, label, fmt.Sprintf("%s's %s was last used %d days ago (%s, %s); the maximum is %d days.",
					u.Name, keyPhrase(label), days(idle), k.LastUsed.Format("2006-01-02"), orNA(k.LastUsedService), days(a.opt.MaxUnused)), map[string]any{"unused_days": days(idle)})
			}
		case inventory.UsageNever:
			if age > a.opt.MaxUnused {
				a.add(row, RuleKeyUnused, kres, label, fmt.Sprintf("%s's %s has never been used and is %d days old (created %s); the maximum is %d days.",
					u.Name, keyPhrase(label), days(age), k.Created.Format("2006-01-02"), days(a.opt.MaxUnused)), map[string]any{"unused_days": days(age), "never_used": true})
			}
		default:
			a.unknownUse++
		}
		if u.Password.Enabled == inventory.Yes && !u.Created.IsZero() {
			d := k.Created.Sub(u.Created)
			if d < 0 {
				d = -d
			}
			if d <= a.opt.InitialSetupWindow {
				used := "it has been used since"
				if k.LastUsedState == inventory.UsageNever {
					used = "it has never been used"
				}
				a.add(row, RuleInitialSetupKey, kres, label, fmt.Sprintf("%s is a console user whose %s was created with the user (%s, %s after the user); %s.",
					u.Name, keyPhrase(label), k.Created.Format("2006-01-02 15:04"), d.Round(time.Second), used), nil)
			}
		}
	} else if k.LastUsedState == inventory.UsageUnknown {
		a.unknownUse++
	}
}

// roleWouldDo flags programmatic users whose every active key was last used
// by one service. The credential report keeps only each key's most recent
// service and region and never the caller's address, so this is a lead,
// not proof: the message says so.
func (a *auditor) roleWouldDo(u *inventory.User, active []*inventory.AccessKey, res string) *report.Finding {
	if len(active) == 0 || u.Password.Enabled != inventory.No {
		return nil
	}
	svc := ""
	for _, k := range active {
		if k.LastUsedState != inventory.UsageUsed || k.LastUsedService == "" {
			return nil
		}
		if svc != "" && svc != k.LastUsedService {
			return nil
		}
		svc = k.LastUsedService
	}
	msg := fmt.Sprintf("%s has no console password and its active key(s) were last used by %s only", u.Name, svc)
	props := map[string]any{"service": svc}
	if u.InDetails {
		granted := grantedServices(a.acct, u)
		props["granted_services"] = granted
		switch {
		case len(granted) == 1 && granted[0] == svc:
			msg += fmt.Sprintf("; its policies grant %s actions only", svc)
		case len(granted) > 0:
			msg += fmt.Sprintf("; its policies grant actions in %s", strings.Join(limit(granted, 8), ", "))
		}
	}
	msg += ". The credential report records only each key's most recent service and region, never the caller's address: whether the key is used only from AWS infrastructure needs CloudTrail (`keywarden detect`)."
	return a.add(nil, RuleRoleWouldDo, res, "", msg, forUser(u.Name, props))
}

// grantedServices lists the services the user's Allow statements name
// ("*" for a wildcard action or NotAction).
func grantedServices(acct *inventory.Account, u *inventory.User) []string {
	identity, _, _ := acct.EffectivePolicies(u)
	set := map[string]bool{}
	for _, p := range identity {
		for _, s := range p.Statements {
			if s.Effect != "Allow" {
				continue
			}
			if s.NotAction.Present {
				set["*"] = true
			}
			for _, act := range s.Action.List {
				if act == "*" {
					set["*"] = true
					continue
				}
				if svc := strings.ToLower(strings.SplitN(act, ":", 2)[0]); svc != "" {
					set[svc] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// exposureFindings reports what the user's keys can do, per key row; it
// returns the user-level finding about incomplete policy data, if any.
func (a *auditor) exposureFindings(u *inventory.User, ue *userExposure, rows []KeyRow, res string) (incomplete *report.Finding) {
	if ue.err != nil {
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%s: the policies could not be evaluated: %v", u.Name, ue.err))
		return nil
	}
	if len(ue.missing) > 0 {
		// Inline policies are listed when they did not parse; everything
		// else (managed policies, groups, boundaries) is absent.
		var absent, unreadable []string
		for _, m := range ue.missing {
			if strings.Contains(m, "/inline/") {
				unreadable = append(unreadable, m)
			} else {
				absent = append(absent, m)
			}
		}
		var parts []string
		if len(absent) > 0 {
			parts = append(parts, strings.Join(limit(absent, 6), ", ")+" is missing from the authorization details")
		}
		if len(unreadable) > 0 {
			parts = append(parts, strings.Join(limit(unreadable, 6), ", ")+" could not be read and was left out of the evaluation (the notes say why)")
		}
		incomplete = a.add(nil, RuleIncompletePolicy, res, "", fmt.Sprintf("%s's policy data is incomplete: %s.", u.Name, strings.Join(parts, "; ")),
			forUser(u.Name, map[string]any{"missing": ue.missing}))
	}
	exp := ue.exp
	if exp == nil {
		return incomplete
	}
	sureNoMFA, maybeNoMFA := certain(exp.WithoutMFA)
	sureAny, maybeAny := certain(exp.FromAnywhere)
	keysKnown := a.keysKnown(u)
	if a.admins == nil {
		admins := adminRoles(a.acct)
		a.admins = &admins
	}
	trusted := privilegedRoleTrusts(a.acct, *a.admins, u)
	// Users who share an exposure share its reach: computed once.
	rk := reachKey{exp, trusted != ""}
	cached, ok := a.reaches[rk]
	if !ok {
		asked := len(a.opt.Actions)
		cached.reach = [2]Reach{reachOf(sureNoMFA, maybeNoMFA, asked, rk.trusted), reachOf(sureAny, maybeAny, asked, rk.trusted)}
		cached.sev[0], cached.why[0] = reachSeverity(sureNoMFA, maybeNoMFA, cached.reach[0])
		cached.sev[1], cached.why[1] = reachSeverity(sureAny, maybeAny, cached.reach[1])
		a.reaches[rk] = cached
	}
	reachNoMFA, reachAny := cached.reach[0], cached.reach[1]
	// The grade, one step lower when it is not known that the user has a
	// key.
	grade := func(i int) (report.Severity, string) {
		sev, why := cached.sev[i], cached.why[i]
		if !keysKnown && sev > report.SeverityInfo {
			sev--
			why += " One step lower: whether the user has a key is unknown."
		}
		return sev, why
	}
	// Without an allowlist, the two questions differ only where a policy
	// names the caller's address: when their answers are the same, one
	// finding says both.
	merged := len(a.opt.AllowedCIDRs) == 0 && sameGrants(exp.WithoutMFA, exp.FromAnywhere)
	for i := range rows {
		row := &rows[i]
		if keysKnown && row.Status != "active" {
			continue
		}
		n, m := len(sureNoMFA), len(sureAny)
		row.WithoutMFA, row.WithoutMFADepends = &n, len(maybeNoMFA)
		row.FromAnywhere, row.FromAnywhereDepends = &m, len(maybeAny)
		row.Exposure = exp
		who := fmt.Sprintf("%s's %s", u.Name, keyPhrase(row.Key))
		kres := res + " " + row.Key
		if !keysKnown {
			who = fmt.Sprintf("a long-term key of %s (whether %s has one is unknown without the credential report)", u.Name, u.Name)
			kres = res
		}
		if len(exp.WithoutMFA) > 0 {
			how := "Without MFA"
			if merged {
				how = "Without MFA and from any address"
				if len(a.policyNets) > 0 {
					how += " (outside every network its account's policies name)"
				}
			}
			msg := fmt.Sprintf("%s, %s can call %s.", how, who, grantsText(sureNoMFA, maybeNoMFA))
			sev, why := grade(0)
			msg += " " + why
			if trusted != "" && len(reachNoMFA.pathIDs(false))+len(reachNoMFA.pathIDs(true)) > 0 {
				msg += " (" + trusted + " trusts it and holds administrator power.)"
			}
			if !merged && len(exp.FromAnywhere) == 0 {
				if len(a.opt.AllowedCIDRs) > 0 {
					msg += " From a public address outside " + strings.Join(a.res.Settings.AllowedCIDRs, ", ") + " it can call none of them."
				} else {
					msg += " From an address outside every network its account's policies name, it can call none of them."
				}
			}
			if len(exp.InertMFAGuards) > 0 {
				msg += " An MFA guard exists but does not bind a long-term key: " + strings.Join(exp.InertMFAGuards, "; ") + " (a Deny on Bool aws:MultiFactorAuthPresent false never matches a request without the key: use BoolIfExists)."
			}
			if len(exp.InertMFAAllows) > 0 {
				msg += " An Allow that tests MFA does not bind a long-term key: " + strings.Join(exp.InertMFAAllows, "; ") + " (with IfExists, an MFA condition holds when the key is absent, as it is for a long-term key: add a Deny with BoolIfExists aws:MultiFactorAuthPresent false)."
			}
			inert := append(append([]string(nil), exp.InertMFAGuards...), exp.InertMFAAllows...)
			if merged {
				inert = append(inert, exp.InertNetworkGuards...)
			}
			props := exposureProps(sureNoMFA, maybeNoMFA, inert, reachNoMFA)
			if merged {
				props["from_anywhere"] = true
			}
			a.addSev(row, RuleKeyWithoutMFA, sev, kres, row.Key, msg, props)
		}
		if len(exp.FromAnywhere) > 0 && !merged {
			where := "from any address"
			if len(a.policyNets) > 0 {
				where = "from an address outside every network its account's policies name"
			}
			if len(a.opt.AllowedCIDRs) > 0 {
				where = "from a public address outside " + strings.Join(a.res.Settings.AllowedCIDRs, ", ") + " and every network its account's policies name"
			}
			msg := fmt.Sprintf("Signed with the long-term key %s, %s can call %s.", where, who, grantsText(sureAny, maybeAny))
			sev, why := grade(1)
			msg += " " + why
			if len(exp.InertNetworkGuards) > 0 {
				msg += " A network guard exists but does not bind: " + strings.Join(exp.InertNetworkGuards, "; ") + "."
			}
			a.addSev(row, RuleKeyFromAnywhere, sev, kres, row.Key, msg, exposureProps(sureAny, maybeAny, exp.InertNetworkGuards, reachAny))
		}
	}
	return incomplete
}

// sameGrants reports whether two scenarios allow the same actions with the
// same certainty.
func sameGrants(a, b []Grant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Action != b[i].Action || strings.Join(a[i].Depends, ",") != strings.Join(b[i].Depends, ",") {
			return false
		}
	}
	return true
}

// reachSeverity grades an exposure by what it reaches, and says why:
// critical for administrator power (every sensitive action, or any
// privilege-escalation path); high for an action that changes things
// (access level Write, Tagging or Permissions management in the action
// catalogue); medium for reads; low for listings. An action that only
// perhaps is allowed counts one step lower (and the caller lowers the whole
// finding when it is not known that the user has a key).
func reachSeverity(sure, maybe []Grant, r Reach) (report.Severity, string) {
	sev, why := report.SeverityInfo, ""
	consider := func(s report.Severity, w string) {
		if s > sev {
			sev, why = s, w
		}
	}
	if r.sure() {
		consider(report.SeverityCritical, "Critical: "+r.text()+".")
	} else if len(r.Paths) > 0 {
		consider(report.SeverityHigh, "High: "+r.text()+".")
	}
	for _, g := range sure {
		s, level := actionSeverity(g.Action)
		consider(s, fmt.Sprintf("%s: the strongest action, %s, is of access level %s.", capitalize(s.String()), g.Action, level))
	}
	for _, g := range maybe {
		s, level := actionSeverity(g.Action)
		consider(max(s-1, report.SeverityLow), fmt.Sprintf("%s: the strongest action, %s (access level %s), is allowed only perhaps.", capitalize(max(s-1, report.SeverityLow).String()), g.Action, level))
	}
	return max(sev, report.SeverityInfo), why
}

// actionSeverity grades one action by its access level in the catalogue.
// An action the catalogue does not know (a pattern, a new service) counts
// as a write.
func actionSeverity(action string) (report.Severity, string) {
	a, ok := iamdata.Lookup(action)
	if !ok {
		return report.SeverityHigh, "unknown (not in the action catalogue)"
	}
	switch a.AccessLevel {
	case iamdata.Read:
		return report.SeverityMedium, string(a.AccessLevel)
	case iamdata.List:
		return report.SeverityLow, string(a.AccessLevel)
	}
	return report.SeverityHigh, string(a.AccessLevel)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func exposureProps(sure, maybe []Grant, inert []string, r Reach) map[string]any {
	p := map[string]any{"allowed_actions": grantActions(sure)}
	if r.Admin {
		p["admin_equivalent"] = true
	}
	if ids := r.pathIDs(false); len(ids) > 0 {
		p["escalation_paths"] = ids
	}
	if ids := r.pathIDs(true); len(ids) > 0 {
		p["escalation_paths_perhaps"] = ids
	}
	if len(maybe) > 0 {
		p["depends_actions"] = grantActions(maybe)
	}
	var by []string
	seen := map[string]bool{}
	for _, g := range append(append([]Grant(nil), sure...), maybe...) {
		for _, s := range g.AllowedBy {
			if !seen[s] {
				seen[s] = true
				by = append(by, s)
			}
		}
	}
	p["allowed_by"] = by
	if len(inert) > 0 {
		p["inert_guards"] = inert
	}
	return p
}

func grantActions(gs []Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Action
	}
	return out
}

// grantsText lists the actions with the statements that allow them,
// grouped by statement so the reader sees which policy to fix.
func grantsText(sure, maybe []Grant) string {
	var parts []string
	if len(sure) > 0 {
		parts = append(parts, fmt.Sprintf("%d sensitive action(s): %s", len(sure), groupByStatement(sure)))
	}
	if len(maybe) > 0 {
		deps := map[string]bool{}
		for _, g := range maybe {
			for _, d := range g.Depends {
				deps[d] = true
			}
		}
		keys := make([]string, 0, len(deps))
		for d := range deps {
			keys = append(keys, d)
		}
		sort.Strings(keys)
		more := "more"
		if len(sure) == 0 {
			more = "sensitive action(s)"
		}
		parts = append(parts, fmt.Sprintf("perhaps %d %s, depending on %s: %s", len(maybe), more, strings.Join(limit(keys, 4), ", "), groupByStatement(maybe)))
	}
	return strings.Join(parts, "; and ")
}

func groupByStatement(gs []Grant) string {
	order := []string{}
	by := map[string][]string{}
	for _, g := range gs {
		key := strings.Join(g.AllowedBy, " + ")
		if key == "" {
			key = "no identity statement named"
		}
		if _, ok := by[key]; !ok {
			order = append(order, key)
		}
		by[key] = append(by[key], g.Action)
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, strings.Join(limit(by[k], 12), ", ")+" (allowed by "+k+")")
	}
	return strings.Join(parts, "; ")
}

func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	out := append([]string(nil), s[:n]...)
	return append(out, fmt.Sprintf("and %d more", len(s)-n))
}

// add records a finding with the check's own severity.
func (a *auditor) add(row *KeyRow, rule, resource, evidence, msg string, props map[string]any) *report.Finding {
	return a.addSev(row, rule, CheckByID(rule).Severity, resource, evidence, msg, props)
}

func (a *auditor) addSev(row *KeyRow, rule string, sev report.Severity, resource, evidence, msg string, props map[string]any) *report.Finding {
	c := CheckByID(rule)
	if props == nil {
		props = map[string]any{}
	}
	user := ""
	if row != nil {
		user = row.User
		if row.Key != "" {
			props["key"] = row.Key
		}
	}
	if u, ok := props["remediation_user"].(string); ok {
		user = u
		delete(props, "remediation_user")
	}
	if user != "" {
		props["user"] = user
	}
	if a.acct.ID != "" {
		props["account"] = a.acct.ID
	}
	if c.SecurityHub != "" {
		props["security_hub"] = c.SecurityHub
	}
	if c.CIS != "" {
		props["cis"] = c.CIS
	}
	h := sha256.Sum256([]byte(rule + "\x00" + a.acct.ID + "\x00" + resource))
	// Names come from exports a hostile party may have written: no control
	// characters reach a terminal, a log or a CI annotation.
	f := report.Finding{RuleID: rule, Severity: sev, Title: c.Title, Message: report.Printable(msg),
		Location:    report.Location{Resource: report.Printable(resource)},
		Evidence:    report.Printable(evidence),
		Remediation: remediationFor(c, user),
		References:  c.References, Fingerprint: hex.EncodeToString(h[:12]), Properties: props}
	if row != nil && row.id != "" && row.Status == "active" {
		// An active key's finding ends with the command that contains it
		// should it have leaked: the key ID in full (an identifier, not a
		// secret), so that it can be pasted.
		respond := "keywarden respond " + row.id
		f.Properties["respond"] = respond
		f.Remediation += " If the key may have leaked: `" + respond + " --dry-run`, then without --dry-run, contains it."
	}
	a.res.Findings = append(a.res.Findings, f)
	if row != nil {
		row.note(rule, sev)
	}
	return &f
}

// forUser marks a finding that belongs to a user but to no single key.
func forUser(name string, props map[string]any) map[string]any {
	if props == nil {
		props = map[string]any{}
	}
	props["remediation_user"] = name
	return props
}

// remediationFor fills the user's name into the check's remediation.
func remediationFor(c *Check, user string) string {
	if user == "" || user == inventory.RootUserName {
		return c.Remediation
	}
	return strings.ReplaceAll(strings.ReplaceAll(c.Remediation, "--member USER", "--member "+user), "--user-name USER", "--user-name "+user)
}

func (r *KeyRow) note(rule string, sev report.Severity) {
	for _, f := range r.Findings {
		if f == rule {
			return
		}
	}
	r.Findings = append(r.Findings, rule)
	if sev > r.sev {
		r.sev = sev
		r.Severity = sev.String()
	}
}

// MaxSeverity is the row's highest finding severity (0 for none).
func (r *KeyRow) MaxSeverity() report.Severity { return r.sev }

func sortFindings(fs []report.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		return a.Location.Resource < b.Location.Resource
	})
}

// keyPhrase names a key in prose: "access key ****ABCD", or "key 1" when
// only the report's slot is known.
func keyPhrase(label string) string {
	if strings.HasPrefix(label, "key ") {
		return label
	}
	return "access key " + label
}

func dateOr(t time.Time, s string) string {
	if t.IsZero() {
		return s
	}
	return "on " + t.Format("2006-01-02")
}

func usedText(k *inventory.AccessKey) string {
	switch k.LastUsedState {
	case inventory.UsageUsed:
		s := "on " + k.LastUsed.Format("2006-01-02")
		if k.LastUsedService != "" {
			s += " (" + k.LastUsedService + ")"
		}
		return s
	case inventory.UsageNever:
		return "never"
	}
	return "at an unknown date"
}

func passwordUsedText(p inventory.Password) string {
	switch p.LastUsedState {
	case inventory.UsageUsed:
		return p.LastUsed.Format("2006-01-02")
	case inventory.UsageNever:
		return "never"
	}
	return "unknown"
}

func orNA(s string) string {
	if s == "" {
		return "service unknown"
	}
	return s
}
