package audit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"github.com/keywarden/keywarden/internal/goldentest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/report/sariftest"
)

// now is the audit's pinned clock: every age in the goldens is relative
// to it.
var now = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture loads testdata's account from the exports chosen.
func fixture(t testing.TB, withReport, withDetails bool) *inventory.Account {
	t.Helper()
	return exports(t, "testdata", withReport, withDetails)
}

// exports loads the account whose exports are in dir.
func exports(t testing.TB, dir string, withReport, withDetails bool) *inventory.Account {
	t.Helper()
	a := inventory.New()
	if withDetails {
		if err := a.ParseAuthorizationDetails("authorization-details.json", read(t, filepath.Join(dir, "authorization-details.json"))); err != nil {
			t.Fatal(err)
		}
	}
	if withReport {
		rep, err := inventory.ParseCredentialReport("credential-report.csv", read(t, filepath.Join(dir, "credential-report.csv")))
		if err != nil {
			t.Fatal(err)
		}
		a.ApplyCredentialReport("credential-report.csv", rep)
	}
	// The full set of exports includes the password policy.
	if pp := filepath.Join(dir, "password-policy.json"); withReport && withDetails && exists(pp) {
		p, err := inventory.ParsePasswordPolicy("password-policy.json", read(t, pp))
		if err != nil {
			t.Fatal(err)
		}
		a.SetPasswordPolicy(p)
	}
	return a
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// liveOnly reports whether a check needs data only a live audit reads.
func liveOnly(id string) bool { return audit.CheckByID(id).Needs&audit.NeedMFADevices != 0 }

func run(t testing.TB, a *inventory.Account, mod func(*audit.Options)) *audit.Result {
	t.Helper()
	opt := audit.Options{Now: now, Exposer: audit.NewEngineExposer()}
	if mod != nil {
		mod(&opt)
	}
	return audit.Run(a, opt)
}

// findings indexes a result's findings by rule and resource.
func findings(r *audit.Result) map[string]report.Finding {
	m := map[string]report.Finding{}
	for _, f := range r.Findings {
		m[f.RuleID+" "+f.Location.Resource] = f
	}
	return m
}

func row(t *testing.T, r *audit.Result, user, key string) audit.KeyRow {
	t.Helper()
	for _, k := range r.Keys {
		if k.User == user && k.Key == key {
			return k
		}
	}
	t.Fatalf("no row for %s %s", user, key)
	return audit.KeyRow{}
}

const acct = "arn:aws:iam::111122223333:"

func TestEveryCheckFires(t *testing.T) {
	r := run(t, fixture(t, true, true), nil)
	// Without an allowlist, "from anywhere" merges into "without MFA"
	// where the answers agree: the allowlisted run shows it on its own.
	cidr := run(t, fixture(t, true, true), func(o *audit.Options) {
		o.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	})
	seen := map[string]bool{}
	for _, f := range cidr.Findings {
		seen[f.RuleID] = true
	}
	for _, f := range r.Findings {
		seen[f.RuleID] = true
		if f.Severity < report.SeverityInfo || f.Title == "" || f.Message == "" || f.Remediation == "" || f.Fingerprint == "" {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	// The account checks' cases trigger what the fixture cannot (a live
	// root MFA device, a future key date).
	for _, tt := range accountCases {
		for _, f := range run(t, tt.account(t), nil).Findings {
			seen[f.RuleID] = true
		}
	}
	for _, c := range audit.Checks {
		if !seen[c.ID] {
			t.Errorf("neither the fixture nor the account cases trigger %s", c.ID)
		}
		if !strings.HasPrefix(c.ID, "kw-audit-") || !strings.Contains(c.Remediation, "keywarden ") && c.ID != audit.RuleRootNoMFA {
			t.Errorf("%s: id or remediation lacks keywarden: %q", c.ID, c.Remediation)
		}
	}
	for _, s := range r.Skipped {
		if !liveOnly(s.Check) {
			t.Errorf("skipped with both exports: %+v", s)
		}
	}
}

func TestVerdicts(t *testing.T) {
	r := run(t, fixture(t, true, true), nil)
	fs := findings(r)
	want := []string{
		audit.RuleRootAccessKey + " " + acct + "root key 1",
		audit.RuleRootNoMFA + " " + acct + "root",
		audit.RuleKeyTooOld + " " + acct + "user/alice key 1",
		audit.RuleKeyTooOld + " " + acct + "user/erin key 1",
		audit.RuleKeyUnused + " " + acct + "user/bob key 1",  // never used, 60 days old
		audit.RuleKeyUnused + " " + acct + "user/erin key 1", // last used 92 days ago
		audit.RuleConsoleNoMFA + " " + acct + "user/bob",
		audit.RuleKeyUserNoMFA + " " + acct + "user/bob",
		audit.RuleKeyUserNoMFA + " " + acct + "user/apps/carol",
		audit.RuleTwoActiveKeys + " " + acct + "user/apps/carol",
		audit.RuleTwoActiveKeys + " " + acct + "user/erin",
		audit.RuleInitialSetupKey + " " + acct + "user/dave key 1",
		audit.RuleInactiveKey + " " + acct + "user/dave key 2",
		audit.RuleRoleWouldDo + " " + acct + "user/apps/carol",
		audit.RuleIncompletePolicy + " " + acct + "user/dave",
		audit.RuleKeyWithoutMFA + " " + acct + "user/bob key 1",
		audit.RuleKeyWithoutMFA + " " + acct + "user/apps/carol key 1",
	}
	for _, w := range want {
		if _, ok := fs[w]; !ok {
			t.Errorf("missing finding %s", w)
		}
	}
	// Near misses that must not fire.
	for _, nw := range []string{
		audit.RuleKeyUnused + " " + acct + "user/alice key 1",      // used 2 days ago
		audit.RuleKeyUnused + " " + acct + "user/dave key 1",       // never used, but 31 days old
		audit.RuleKeyUnused + " " + acct + "user/erin key 2",       // last use unknown: not judged
		audit.RuleKeyTooOld + " " + acct + "user/apps/carol key 1", // 42 days
		audit.RuleKeyWithoutMFA + " " + acct + "user/alice key 1",  // BoolIfExists guard
		audit.RuleKeyWithoutMFA + " " + acct + "user/dave key 1",   // same group
		audit.RuleConsoleNoMFA + " " + acct + "user/alice",
		audit.RuleKeyUserNoMFA + " " + acct + "user/erin", // has MFA
		audit.RuleRoleWouldDo + " " + acct + "user/erin",  // key 2's use unknown
		audit.RuleInitialSetupKey + " " + acct + "user/alice key 1",
		// Without an allowlist the same answers make one finding.
		audit.RuleKeyFromAnywhere + " " + acct + "user/bob key 1",
		audit.RuleKeyFromAnywhere + " " + acct + "user/apps/carol key 1",
		// erin's network guard binds an attacker's address.
		audit.RuleKeyFromAnywhere + " " + acct + "user/erin key 1",
	} {
		if _, ok := fs[nw]; ok {
			t.Errorf("unexpected finding %s", nw)
		}
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Location.Resource, "user/frank") {
			t.Errorf("frank has no keys and no password, yet %s", f.RuleID)
		}
	}

	// The correct guard (BoolIfExists) binds: nothing without MFA.
	alice := row(t, r, "alice", "key 1")
	if alice.WithoutMFA == nil || *alice.WithoutMFA != 0 || *alice.FromAnywhere != 0 {
		t.Errorf("alice = %+v", alice)
	}
	// The Bool mistake: the admin group's deny does not bind; DevAccess's
	// grants go through, and the inert guard is named.
	bob := row(t, r, "bob", "key 1")
	if bob.WithoutMFA == nil || *bob.WithoutMFA != 18 || bob.WithoutMFADepends != 0 {
		t.Errorf("bob without MFA = %v (+%d)", bob.WithoutMFA, bob.WithoutMFADepends)
	}
	if bob.Exposure == nil || len(bob.Exposure.InertMFAGuards) != 1 || !strings.HasPrefix(bob.Exposure.InertMFAGuards[0], "group/devs-bool/inline/RequireMFA Statement[0]") {
		t.Errorf("bob inert guards = %+v", bob.Exposure)
	}
	f := fs[audit.RuleKeyWithoutMFA+" "+acct+"user/bob key 1"]
	// DevAccess passes roles and creates functions and instances:
	// privilege escalation, so critical, and the finding says which paths.
	if f.Severity != report.SeverityCritical || !strings.Contains(f.Message, "allowed by arn:aws:iam::111122223333:policy/DevAccess Statement[0] (Sid Dev)") ||
		!strings.Contains(f.Message, "does not bind") || !strings.Contains(f.Remediation, "--member bob") ||
		!strings.Contains(f.Message, "Critical: it reaches 6 privilege-escalation path(s): ec2-run-instances-pass-role (iam:PassRole + ec2:RunInstances") ||
		!strings.HasPrefix(f.Message, "Without MFA and from any address") || f.Properties["from_anywhere"] != true {
		t.Errorf("bob finding = %+v", f)
	}
	if paths, _ := f.Properties["escalation_paths"].([]string); strings.Join(paths, ",") != "ec2-run-instances-pass-role,lambda-create-invoke-pass-role,lambda-create-event-source-pass-role,lambda-update-function-code,ssm-send-command,ssm-start-session" {
		t.Errorf("bob escalation paths = %v", paths)
	}
	actions, _ := f.Properties["allowed_actions"].([]string)
	if len(actions) != 18 || actions[0] != "iam:PassRole" {
		t.Errorf("bob allowed actions = %v", actions)
	}
	for _, a := range actions {
		if strings.HasPrefix(a, "iam:Create") || a == "sts:AssumeRole" {
			t.Errorf("bob: %s is not in DevAccess, yet allowed", a)
		}
	}
	// carol: an inline policy stored URL-encoded, three s3 actions.
	carol := row(t, r, "carol", "key 2")
	if *carol.WithoutMFA != 3 || *carol.FromAnywhere != 3 {
		t.Errorf("carol = %d / %d", *carol.WithoutMFA, *carol.FromAnywhere)
	}
	// erin's network deny leaves the answer depending on the address when
	// no allowlist is given: the legitimate caller's address is unknown.
	// An attacker's address is outside every network the account's
	// policies name, so from there the deny binds: nothing, not "perhaps".
	erin := row(t, r, "erin", "key 1")
	if *erin.WithoutMFA != 0 || erin.WithoutMFADepends != 6 || *erin.FromAnywhere != 0 || erin.FromAnywhereDepends != 0 {
		t.Errorf("erin without MFA = %d (+%d), from anywhere %d (+%d)", *erin.WithoutMFA, erin.WithoutMFADepends, *erin.FromAnywhere, erin.FromAnywhereDepends)
	}
	if f := fs[audit.RuleKeyWithoutMFA+" "+acct+"user/erin key 1"]; f.Severity != report.SeverityHigh || !strings.Contains(f.Message, "depending on aws:sourceip") ||
		!strings.Contains(f.Message, "perhaps reaches 1 privilege-escalation path(s): ssm-send-command") ||
		!strings.Contains(f.Message, "From an address outside every network its account's policies name, it can call none of them.") {
		t.Errorf("erin finding = %+v", f)
	}
	// Inactive keys are not evaluated.
	if d := row(t, r, "dave", "key 2"); d.WithoutMFA != nil || d.Status != "inactive" {
		t.Errorf("dave key 2 = %+v", d)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "1 active key has no record of last use") {
		t.Errorf("warnings = %q", r.Warnings)
	}
}

func TestAllowedCIDRs(t *testing.T) {
	r := run(t, fixture(t, true, true), func(o *audit.Options) {
		o.AllowedCIDRs = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	})
	erin := row(t, r, "erin", "key 1")
	if *erin.WithoutMFA != 6 || *erin.FromAnywhere != 0 || erin.FromAnywhereDepends != 0 {
		t.Errorf("erin with an allowlist = %d / %d (+%d)", *erin.WithoutMFA, *erin.FromAnywhere, erin.FromAnywhereDepends)
	}
	fs := findings(r)
	if _, ok := fs[audit.RuleKeyFromAnywhere+" "+acct+"user/erin key 1"]; ok {
		t.Error("erin's network guard binds, yet a from-anywhere finding")
	}
	if f, ok := fs[audit.RuleKeyFromAnywhere+" "+acct+"user/bob key 1"]; !ok || !strings.Contains(f.Message, "outside 203.0.113.0/24") {
		t.Errorf("bob from anywhere = %+v", f)
	}
}

func TestSCPsApply(t *testing.T) {
	a := fixture(t, true, true)
	p, err := inventory.ParseSCP("scp.json", read(t, "testdata/scp.json"))
	if err != nil {
		t.Fatal(err)
	}
	a.AddSCPs(p)
	opt := func(o *audit.Options) { o.Actions = []string{"cloudtrail:StopLogging", "s3:GetObject"} }
	// A user with AdministratorAccess and a binding guard: nothing. So
	// compare bob (DevAccess has no cloudtrail) with a wildcard grant: use
	// carol's s3 and check the SCP's deny removes cloudtrail for everyone.
	without := run(t, fixture(t, true, true), opt)
	with := run(t, a, opt)
	if got := *row(t, without, "carol", "key 1").WithoutMFA; got != 1 {
		t.Errorf("carol without SCP: %d", got)
	}
	for _, k := range with.Keys {
		if k.Exposure == nil {
			continue
		}
		for _, g := range k.Exposure.WithoutMFA {
			if g.Action == "cloudtrail:StopLogging" {
				t.Errorf("%s: cloudtrail:StopLogging allowed despite the SCP's deny", k.User)
			}
		}
	}
	if !with.Sources.SCPs {
		t.Error("sources do not record the SCPs")
	}
}

func TestReportOnly(t *testing.T) {
	r := run(t, fixture(t, true, false), nil)
	skipped := map[string]string{}
	for _, s := range r.Skipped {
		skipped[s.Check] = s.Reason
	}
	for _, id := range []string{audit.RuleKeyWithoutMFA, audit.RuleKeyFromAnywhere, audit.RuleIncompletePolicy} {
		if !strings.Contains(skipped[id], "needs the authorization details") {
			t.Errorf("%s not skipped for lack of details: %q", id, skipped[id])
		}
	}
	fs := findings(r)
	if _, ok := fs[audit.RuleKeyTooOld+" "+acct+"user/alice key 1"]; !ok {
		t.Error("report-only audit lost the age check")
	}
	// Without details the role check still runs, without the policy hint.
	if f, ok := fs[audit.RuleRoleWouldDo+" "+acct+"user/apps/carol"]; !ok || strings.Contains(f.Message, "policies grant") {
		t.Errorf("role-would-do = %+v", f)
	}
	for _, k := range r.Keys {
		if k.WithoutMFA != nil {
			t.Errorf("%s evaluated without policies", k.User)
		}
	}
}

func TestDetailsOnly(t *testing.T) {
	r := run(t, fixture(t, false, true), nil)
	skipped := map[string]bool{}
	for _, s := range r.Skipped {
		skipped[s.Check] = true
	}
	for _, id := range []string{audit.RuleKeyTooOld, audit.RuleKeyUnused, audit.RuleRootNoMFA, audit.RuleConsoleNoMFA, audit.RuleTwoActiveKeys} {
		if !skipped[id] {
			t.Errorf("%s not skipped without the credential report", id)
		}
	}
	if skipped[audit.RuleKeyWithoutMFA] {
		t.Error("exposure skipped although the policies are known")
	}
	fs := findings(r)
	f, ok := fs[audit.RuleKeyWithoutMFA+" "+acct+"user/bob"]
	if !ok || f.Severity != report.SeverityHigh || !strings.Contains(f.Message, "unknown without the credential report") || !strings.Contains(f.Message, "One step lower") {
		t.Errorf("bob per-user exposure = %+v", f)
	}
	if _, ok := fs[audit.RuleKeyWithoutMFA+" "+acct+"user/alice"]; ok {
		t.Error("alice's guard binds, yet a finding")
	}
	if bob := row(t, r, "bob", ""); bob.Status != "unknown" || *bob.WithoutMFA != 18 {
		t.Errorf("bob row = %+v", bob)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "per user, not per key") {
		t.Errorf("warnings = %q", r.Warnings)
	}
}

func TestNoEngine(t *testing.T) {
	r := audit.Run(fixture(t, true, true), audit.Options{Now: now})
	found := false
	for _, s := range r.Skipped {
		if s.Check == audit.RuleKeyWithoutMFA && strings.Contains(s.Reason, "engine") {
			found = true
		}
	}
	if !found {
		t.Errorf("skipped = %+v", r.Skipped)
	}
}

func TestThresholds(t *testing.T) {
	r := run(t, fixture(t, true, false), func(o *audit.Options) {
		o.MaxKeyAge = 30 * 24 * time.Hour
		o.MaxUnused = 400 * 24 * time.Hour
	})
	fs := findings(r)
	if _, ok := fs[audit.RuleKeyTooOld+" "+acct+"user/apps/carol key 1"]; !ok {
		t.Error("--max-key-age 30d: carol's 42-day key not reported")
	}
	for _, f := range r.Findings {
		if f.RuleID == audit.RuleKeyUnused {
			t.Errorf("--max-unused 400d, yet %s", f.Location.Resource)
		}
	}
	if r.Settings.MaxKeyAgeDays != 30 || r.Settings.MaxUnusedDays != 400 {
		t.Errorf("settings = %+v", r.Settings)
	}
}

func TestOldReportUnknownUse(t *testing.T) {
	rep, err := inventory.ParseCredentialReport("old.csv", read(t, "../inventory/testdata/old-16-columns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	a := inventory.New()
	a.ApplyCredentialReport("old.csv", rep)
	r := run(t, a, nil)
	fs := findings(r)
	if _, ok := fs[audit.RuleKeyTooOld+" arn:aws:iam::444455556666:user/legacy key 1"]; !ok {
		t.Error("age still judged in an old report")
	}
	for _, f := range r.Findings {
		if f.RuleID == audit.RuleKeyUnused || f.RuleID == audit.RuleRoleWouldDo {
			t.Errorf("%s judged without last-use data", f.RuleID)
		}
	}
	if _, ok := fs[audit.RuleInactiveKey+" arn:aws:iam::444455556666:user/legacy key 2"]; !ok {
		t.Error("inactive key 2 not reported")
	}
}

func TestParseActions(t *testing.T) {
	got, err := audit.ParseActions("a.txt", []byte("# mine\niam:CreateUser\n\n s3:GetObject # read\nIAM:createuser\n"))
	if err != nil || strings.Join(got, ",") != "iam:CreateUser,s3:GetObject" {
		t.Errorf("ParseActions = %v, %v", got, err)
	}
	for _, bad := range []string{"iam\n", "iam:Create User\n", "# only comments\n", "a:b:c\n"} {
		if _, err := audit.ParseActions("a.txt", []byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	_, err = audit.ParseActions("a.txt", []byte("s3:GetObject\nnot an action\n"))
	if err == nil || !strings.Contains(err.Error(), "a.txt:2:") {
		t.Errorf("error without position: %v", err)
	}
	// --actions replaces the built-in list; the Permissions management
	// actions and the escalation paths' actions are still asked, since
	// they decide whether a key reaches administrator power.
	r := run(t, fixture(t, true, true), func(o *audit.Options) { o.Actions = []string{"s3:GetObject"} })
	if got := r.Settings.Actions; got[0] != "s3:GetObject" || !strings.Contains(strings.Join(got, ","), "iam:PutGroupPolicy") || strings.Contains(strings.Join(got, ","), "s3:PutObject") {
		t.Errorf("actions asked = %v", got)
	}
	f := findings(r)[audit.RuleKeyWithoutMFA+" "+acct+"user/bob key 1"]
	allowed := strings.Join(f.Properties["allowed_actions"].([]string), ",")
	if !strings.HasPrefix(allowed, "s3:GetObject,iam:PassRole,") || strings.Contains(allowed, "s3:PutObject") {
		t.Errorf("bob with one action = %s", allowed)
	}
}

func TestGolden(t *testing.T) {
	r := run(t, fixture(t, true, true), nil)
	var b bytes.Buffer
	if err := audit.WriteText(&b, r, audit.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, "account.txt", b.Bytes())

	b.Reset()
	if err := audit.WriteJSON(&b, "test", r); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, "account.json", b.Bytes())
	var doc struct {
		Findings []report.Finding `json:"findings"`
		Summary  report.Summary   `json:"summary"`
		Extra    struct {
			Audit struct {
				Keys []audit.KeyRow `json:"keys"`
			} `json:"audit"`
		} `json:"extra"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != len(r.Findings) || doc.Summary.Total != len(r.Findings) || len(doc.Extra.Audit.Keys) != len(r.Keys) {
		t.Errorf("JSON: %d findings, %d keys", len(doc.Findings), len(doc.Extra.Audit.Keys))
	}

	b.Reset()
	if err := audit.WriteSARIF(&b, "test", r); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, "account.sarif", b.Bytes())
	sarif := append([]byte(nil), b.Bytes()...)

	b.Reset()
	if err := audit.WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, "account.csv", b.Bytes())
	recs, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
	if err != nil || len(recs) != len(r.Findings)+1 {
		t.Errorf("CSV: %d records, %v", len(recs), err)
	}

	b.Reset()
	if err := audit.WriteHTML(&b, "test", r); err != nil {
		t.Fatal(err)
	}
	goldentest.Check(t, "account.html", b.Bytes())

	sariftest.Validate(t, sarif)
}

func TestTextNoColorAndColor(t *testing.T) {
	r := run(t, fixture(t, true, true), nil)
	var b bytes.Buffer
	_ = audit.WriteText(&b, r, audit.TextOptions{})
	out := b.String()
	if strings.Contains(out, "\x1b[") {
		t.Error("colour without Color")
	}
	for _, want := range []string{"Summary: 3 critical, 6 high,", "USER ", "WITHOUT MFA", "FROM ANYWHERE", "bob             key 1  active    60d    never", "18 actions", "0 actions (+6?)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	b.Reset()
	_ = audit.WriteText(&b, r, audit.TextOptions{Color: true})
	if !strings.Contains(b.String(), "\x1b[31mcritical\x1b[0m") {
		t.Error("no colour with Color")
	}
}

// hostile builds an account whose names try to break out of HTML, CSV and
// the terminal.
func hostile(t *testing.T) *audit.Result {
	name := `=HYPERLINK("http://x")<script>alert(1)</script>` + "\x1b[31m"
	report := "user,arn,user_creation_time,password_enabled,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service\n" +
		`"` + strings.ReplaceAll(name, `"`, `""`) + `",arn:aws:iam::111122223333:user/x,2020-01-01T00:00:00Z,true,false,true,2020-01-01T00:00:00Z,N/A,N/A,N/A` + "\n"
	rep, err := inventory.ParseCredentialReport("h.csv", []byte(report))
	if err != nil {
		t.Fatal(err)
	}
	a := inventory.New()
	a.ApplyCredentialReport("h.csv", rep)
	return run(t, a, nil)
}

func TestHostileNames(t *testing.T) {
	r := hostile(t)
	var h bytes.Buffer
	if err := audit.WriteHTML(&h, "test", r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.String(), "<script>alert") {
		t.Error("HTML report does not escape a user name")
	}
	if !strings.Contains(h.String(), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("escaped user name missing from the HTML report")
	}
	for _, ext := range []string{"<link", " src=", "@import", "url(http"} {
		if strings.Contains(h.String(), ext) {
			t.Errorf("HTML report is not self-contained: has %q", ext)
		}
	}
	var c bytes.Buffer
	if err := audit.WriteCSV(&c, r); err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(&c).ReadAll()
	for _, rec := range recs[1:] {
		if rec[4] != "" && !strings.HasPrefix(rec[4], "'=") {
			t.Errorf("CSV user cell not defused: %q", rec[4])
		}
	}
	var txt bytes.Buffer
	_ = audit.WriteText(&txt, r, audit.TextOptions{})
	table := strings.SplitN(txt.String(), "Findings:", 2)[0]
	if strings.Contains(table, "\x1b[31m") {
		t.Error("escape sequence from a user name reached the terminal table")
	}
}

// The public samples: audits of real credential reports.
func TestSharedSamples(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "iam", "credential-reports")
	f := filepath.Join(dir, "cloud-custodian__test_iam_user_unused_keys__iam.GetCredentialReport_2.csv")
	if _, err := os.Stat(f); err != nil {
		t.Skip("../shared/data/iam is absent: skipping the audit of real samples")
	}
	rep, err := inventory.ParseCredentialReport(f, read(t, f))
	if err != nil {
		t.Fatal(err)
	}
	a := inventory.New()
	a.ApplyCredentialReport(f, rep)
	r := run(t, a, nil)
	fs := findings(r)
	root := "arn:aws:iam::619193117841:root"
	for _, w := range []string{
		audit.RuleRootAccessKey + " " + root + " key 1",
		audit.RuleRootNoMFA + " " + root,
		audit.RuleInactiveKey + " " + root + " key 2",
		// charmworld's key was created with the user in 2012 and never used:
		// a never-used key does not pass the unused check.
		audit.RuleKeyUnused + " arn:aws:iam::619193117841:user/charmworld key 1",
		// rome and tyre: last used by iam only.
		audit.RuleRoleWouldDo + " arn:aws:iam::619193117841:user/rome",
	} {
		if _, ok := fs[w]; !ok {
			t.Errorf("missing %s", w)
		}
	}
	if f := fs[audit.RuleKeyUnused+" arn:aws:iam::619193117841:user/charmworld key 1"]; f.Properties["never_used"] != true {
		t.Errorf("charmworld = %+v", f)
	}
	// kaleb is a console user whose key was created with the user
	// (2016-07-05T23:57:09, the same second) and never used: CIS 1.11.
	if _, ok := fs[audit.RuleInitialSetupKey+" arn:aws:iam::619193117841:user/kaleb key 1"]; !ok {
		t.Error("kaleb's initial-setup key not reported")
	}

	f = filepath.Join(dir, "duo-labs__cloudmapper__demo__iam-get-credential-report.csv")
	rep, err = inventory.ParseCredentialReport(f, read(t, f))
	if err != nil {
		t.Fatal(err)
	}
	b := inventory.New()
	b.ApplyCredentialReport(f, rep)
	r = run(t, b, nil)
	fs = findings(r)
	if _, ok := fs[audit.RuleTwoActiveKeys+" arn:aws:iam::123456789012:user/user"]; !ok {
		t.Error("cloudmapper's user with two active keys not reported")
	}
	if _, ok := fs[audit.RuleRootNoMFA+" arn:aws:iam::123456789012:root"]; ok {
		t.Error("cloudmapper's root has MFA, yet root-no-mfa")
	}
}

func TestCoverageNotes(t *testing.T) {
	a := fixture(t, true, true)
	extra := `{"UserDetailList":[{"UserName":"ghost","Arn":"arn:aws:iam::111122223333:user/ghost","GroupList":[],"AttachedManagedPolicies":[]}]}`
	if err := a.ParseAuthorizationDetails("extra.json", []byte(extra)); err != nil {
		t.Fatal(err)
	}
	rep, err := inventory.ParseCredentialReport("extra.csv", []byte("user,arn,access_key_1_active,access_key_1_last_rotated\nstray,arn:aws:iam::111122223333:user/stray,true,2026-10-01T00:00:00Z\n"))
	if err != nil {
		t.Fatal(err)
	}
	a.ApplyCredentialReport("extra.csv", rep)
	r := run(t, a, nil)
	notes := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"1 users are in the authorization details but not in the credential report (created after it was generated?): their keys were not checked: ghost",
		"1 users with active keys are in the credential report but not in the authorization details: their policies were not evaluated: stray"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

// A user the authorization details name but the credential report does not
// (created after the report was generated) may have a key: with both
// exports their exposure must still be reported per user, as it is from the
// authorization details alone, not silently dropped.
func TestUserMissingFromReportStillEvaluated(t *testing.T) {
	a := fixture(t, true, true)
	extra := `{"UserDetailList":[{"UserName":"newbie","Arn":"arn:aws:iam::111122223333:user/newbie","GroupList":["devs-bool"],"AttachedManagedPolicies":[]}]}`
	if err := a.ParseAuthorizationDetails("extra.json", []byte(extra)); err != nil {
		t.Fatal(err)
	}
	r := run(t, a, nil)
	alone := run(t, fixture(t, false, true), nil)
	want := findings(alone)[audit.RuleKeyWithoutMFA+" "+acct+"user/bob"]
	f, ok := findings(r)[audit.RuleKeyWithoutMFA+" "+acct+"user/newbie"]
	if !ok {
		t.Fatalf("newbie (in the details, not in the report) has no exposure finding; findings: %d", len(r.Findings))
	}
	if f.Severity != want.Severity || !strings.Contains(f.Message, "unknown without the credential report") {
		t.Errorf("newbie = %v %q, want %v per user", f.Severity, f.Message, want.Severity)
	}
	nb := row(t, r, "newbie", "")
	if nb.Status != "unknown" || nb.WithoutMFA == nil || *nb.WithoutMFA != *row(t, alone, "bob", "").WithoutMFA {
		t.Errorf("newbie row = %+v", nb)
	}
	// The users the report does list keep their per-key verdicts.
	if _, ok := findings(r)[audit.RuleKeyWithoutMFA+" "+acct+"user/bob"]; ok {
		t.Error("bob is in the report, yet a per-user finding")
	}
}

// The IAM console's "require MFA" shape, an Allow with BoolIfExists
// aws:MultiFactorAuthPresent true (or a MultiFactorAuthAge test with
// IfExists), is an MFA guard that does not bind a long-term key: the key
// is absent, IfExists makes the condition true. The finding must say so,
// as it does for the Deny-with-Bool mistake.
func TestAllowWithIfExistsMFAConditionNamed(t *testing.T) {
	a := inventory.New()
	details := `{"UserDetailList":[{"UserName":"ifx","Arn":"arn:aws:iam::111122223333:user/ifx","GroupList":[],"AttachedManagedPolicies":[],
	  "UserPolicyList":[{"PolicyName":"console-mfa","PolicyDocument":{"Version":"2012-10-17","Statement":[
	    {"Sid":"S3WithMFA","Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}},
	    {"Sid":"EC2WithMFA","Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}}]}]}`
	if err := a.ParseAuthorizationDetails("d.json", []byte(details)); err != nil {
		t.Fatal(err)
	}
	rep, err := inventory.ParseCredentialReport("r.csv", []byte("user,arn,user_creation_time,password_enabled,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date\n"+
		"ifx,arn:aws:iam::111122223333:user/ifx,2026-11-01T00:00:00Z,false,true,true,2026-11-01T00:00:00Z,2026-11-20T00:00:00Z\n"))
	if err != nil {
		t.Fatal(err)
	}
	a.ApplyCredentialReport("r.csv", rep)
	r := run(t, a, nil)
	f, ok := findings(r)[audit.RuleKeyWithoutMFA+" "+acct+"user/ifx key 1"]
	if !ok {
		t.Fatal("no without-MFA finding for the BoolIfExists allow")
	}
	guard := "user/ifx/inline/console-mfa Statement[0] (Sid S3WithMFA)"
	if !strings.Contains(f.Message, "does not bind") || !strings.Contains(f.Message, guard) || !strings.Contains(f.Message, "IfExists") {
		t.Errorf("message does not name the non-binding Allow guard: %q", f.Message)
	}
	if strings.Contains(f.Message, "Statement[1]") {
		t.Errorf("the Bool allow binds (ec2 is not allowed) yet is named: %q", f.Message)
	}
	k := row(t, r, "ifx", "key 1")
	if k.Exposure == nil || len(k.Exposure.InertMFAAllows) != 1 || k.Exposure.InertMFAAllows[0] != guard {
		t.Errorf("exposure = %+v", k.Exposure)
	}
}

// An inline policy that does not parse is left out of the evaluation: if it
// was a Deny (an MFA guard) the verdict overstates, if an Allow it
// understates. Either way the user's policy data is incomplete, and the
// finding must say so for that user, as it does for a missing managed
// policy, not only in a note about the file.
func TestUnparsableInlinePolicyMakesDataIncomplete(t *testing.T) {
	a := inventory.New()
	details := `{"UserDetailList":[{"UserName":"broken","Arn":"arn:aws:iam::111122223333:user/broken","GroupList":["g"],"AttachedManagedPolicies":[],
	  "UserPolicyList":[{"PolicyName":"guard","PolicyDocument":"%7B%22Version%ZZ"},
	    {"PolicyName":"s3","PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}}]}],
	 "GroupDetailList":[{"GroupName":"g","Arn":"arn:aws:iam::111122223333:group/g","AttachedManagedPolicies":[],
	  "GroupPolicyList":[{"PolicyName":"bad","PolicyDocument":"{not json"}]}]}`
	if err := a.ParseAuthorizationDetails("d.json", []byte(details)); err != nil {
		t.Fatal(err)
	}
	r := run(t, a, nil)
	f, ok := findings(r)[audit.RuleIncompletePolicy+" "+acct+"user/broken"]
	if !ok {
		t.Fatalf("no %s finding for a user with an unparsable inline policy; notes: %q", audit.RuleIncompletePolicy, r.Warnings)
	}
	for _, want := range []string{"user/broken/inline/guard, group/g/inline/bad could not be read"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("finding does not name %s: %q", want, f.Message)
		}
	}
	// The policies that parse are still evaluated.
	if _, ok := findings(r)[audit.RuleKeyWithoutMFA+" "+acct+"user/broken"]; !ok {
		t.Error("the readable s3 policy was not evaluated")
	}
}

// AWS attaches FullAWSAccess at every level and teams add deny-list SCPs
// beside it: two policies of one level are a union. Given as one level,
// the deny removes only what it names; a level that allows nothing is
// named in a note, since it denies every action for every user.
func TestSCPsOfOneLevel(t *testing.T) {
	full, err := inventory.ParseSCP("full.json", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	deny, err := inventory.ParseSCP("deny.json", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	base := *row(t, run(t, fixture(t, true, true), nil), "bob", "key 1").WithoutMFA

	a := fixture(t, true, true)
	a.AddSCPLevel(full, deny)
	r := run(t, a, nil)
	if got := *row(t, r, "bob", "key 1").WithoutMFA; got != base-1 {
		t.Errorf("bob with FullAWSAccess + a deny of s3:DeleteObject at one level: %d actions, want %d", got, base-1)
	}
	if strings.Contains(strings.Join(r.Warnings, "\n"), "allows nothing") {
		t.Errorf("a level with an Allow is reported as allowing nothing: %q", r.Warnings)
	}

	b := fixture(t, true, true)
	b.AddSCPLevel(deny)
	r = run(t, b, nil)
	if got := *row(t, r, "bob", "key 1").WithoutMFA; got != 0 {
		t.Errorf("a deny-only level still allows %d actions", got)
	}
	if notes := strings.Join(r.Warnings, "\n"); !strings.Contains(notes, "deny.json") || !strings.Contains(notes, "allows nothing") {
		t.Errorf("no note that the deny-only SCP level denies everything: %q", r.Warnings)
	}
}

// The HTML report is one self-contained file: with names that carry no URL
// of their own, no address of any kind may appear (no CDN script, font,
// stylesheet, image or link that a browser would fetch or that breaks
// offline and in print).
func TestHTMLHasNoExternalReference(t *testing.T) {
	var h bytes.Buffer
	if err := audit.WriteHTML(&h, "test", run(t, fixture(t, true, true), nil)); err != nil {
		t.Fatal(err)
	}
	page := strings.ToLower(h.String())
	for _, ext := range []string{"://", "src=", "<link", "@import", "url(", "href=\"/", "href='/", "srcset", "<iframe", "<object", "<embed"} {
		if strings.Contains(page, ext) {
			t.Errorf("HTML report is not self-contained: has %q", ext)
		}
	}
}

// An old 16-column report has no last-use columns: the unused-key check and
// "a role would do" cannot run, and the report must say so under "Not
// checked", as it does for checks an absent export cannot support.
func TestOldReportListsUnusedCheckAsNotRun(t *testing.T) {
	rep, err := inventory.ParseCredentialReport("old.csv", read(t, "../inventory/testdata/old-16-columns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	a := inventory.New()
	a.ApplyCredentialReport("old.csv", rep)
	r := run(t, a, nil)
	skipped := map[string]string{}
	for _, s := range r.Skipped {
		skipped[s.Check] = s.Reason
	}
	for _, id := range []string{audit.RuleKeyUnused, audit.RuleRoleWouldDo} {
		if !strings.Contains(skipped[id], "last-used") {
			t.Errorf("%s not listed as not checked for a report without last-used columns: %q", id, skipped[id])
		}
	}
	// A current report runs them.
	for _, s := range run(t, fixture(t, true, true), nil).Skipped {
		if !liveOnly(s.Check) {
			t.Errorf("skipped with a full report: %+v", s)
		}
	}
}

// Real exports carry impossible dates (a cloud-custodian sample has keys
// created in 2099): such a key's age cannot be judged, and the report must
// say so rather than silently show it as new.
func TestFutureCreationDateNoted(t *testing.T) {
	rep, err := inventory.ParseCredentialReport("f.csv", []byte("user,arn,user_creation_time,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date\n"+
		"zed,arn:aws:iam::111122223333:user/zed,2020-01-01T00:00:00Z,true,2099-08-10T11:13:31+00:00,N/A\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := inventory.New()
	a.ApplyCredentialReport("f.csv", rep)
	r := run(t, a, nil)
	if notes := strings.Join(r.Warnings, "\n"); !strings.Contains(notes, "zed key 1 (2099-08-10)") || !strings.Contains(notes, "in the future") {
		t.Errorf("no note about the future creation date: %q", r.Warnings)
	}
}

// TestHTMLKeyRowsShowUserFindings (account.html is the golden of the first
// case): a key row that lists actions usable
// without MFA must show the findings about them, and a user's findings
// (no MFA device, incomplete policy data) appear on each of its key rows.
func TestHTMLKeyRowsShowUserFindings(t *testing.T) {
	tests := []struct {
		name                string
		withReport, details bool
		// user: rule ids whose findings its first row must show
		want map[string][]string
	}{
		{"both exports", true, true, map[string][]string{
			"bob":  {audit.RuleKeyWithoutMFA, audit.RuleConsoleNoMFA, audit.RuleKeyUserNoMFA, audit.RuleKeyUnused},
			"dave": {audit.RuleIncompletePolicy, audit.RuleInitialSetupKey},
		}},
		{"authorization details alone", false, true, map[string][]string{
			"bob":  {audit.RuleKeyWithoutMFA},
			"dave": {audit.RuleIncompletePolicy},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := audit.WriteHTML(&b, "test", run(t, fixture(t, tt.withReport, tt.details), nil)); err != nil {
				t.Fatal(err)
			}
			rows := strings.Split(b.String(), `<tbody class="key"`)[1:]
			first := map[string]string{}
			for _, r := range rows {
				if strings.Contains(r, "the key can call") && strings.Contains(r, "No findings for this key.") {
					t.Errorf("a row lists exposed actions and says it has no findings:\n%s", r)
				}
				user := r[strings.Index(r, `<td data-sort="`)+len(`<td data-sort="`):]
				user = user[:strings.IndexByte(user, '"')]
				if _, ok := first[user]; !ok {
					first[user] = r
				}
			}
			for user, rules := range tt.want {
				for _, id := range rules {
					if !strings.Contains(first[user], `<code class="muted">`+id+`</code>`) {
						t.Errorf("%s's row lacks %s", user, id)
					}
				}
			}
		})
	}
}
