package orgaudit

import (
	"context"
	"errors"
	"fmt"
	"github.com/keywarden/keywarden/internal/clock"
	"sort"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
)

// Defaults for Options.
const (
	DefaultParallel = 4
	DefaultAttempts = 3
)

// RuleAccountFailed is the finding of an account that could not be
// audited. It is informational for --fail-on: the command's exit code says
// that the audit is incomplete.
const RuleAccountFailed = "kw-audit-org-account-failed"

// Loader reads one account's inventory: live (assuming a role in it) or
// from its exports. An error wrapped with Permanent is not retried.
type Loader func(ctx context.Context, a Account) (*inventory.Account, error)

// Options tune Run.
type Options struct {
	// Audit are the options of each account's audit (one Exposer may be
	// shared: it is safe for concurrent use).
	Audit audit.Options
	// Parallel bounds the accounts loaded and audited at once (default 4).
	Parallel int
	// Attempts is how many times an account is tried (default 3).
	Attempts int
	// Backoff is the wait before attempt n+1 after n failures (default
	// 2s, 4s, 8s ...).
	Backoff func(failures int) time.Duration
	// Sleep waits (default: a timer that ctx cancels). Tests inject one.
	Sleep func(ctx context.Context, d time.Duration) error
	// Progress, if set, is told how many accounts are done, from one
	// goroutine at a time.
	Progress func(done, total int)
}

// Permanent marks an error that another attempt cannot fix (an export that
// does not parse, an access denied): the account fails at once.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// AccountResult is one account's part of the report.
type AccountResult struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Path is the account's place in the tree, root first ("Root/Prod").
	Path string `json:"ou_path"`
	// Management is set for the management account, which SCPs (and RCPs)
	// do not affect.
	Management bool `json:"management_account,omitempty"`
	// SCPs and RCPs are the policies applied, per level.
	SCPs []Level `json:"scps,omitempty"`
	RCPs []Level `json:"rcps,omitempty"`
	// Attempts is how many times the account was tried.
	Attempts int `json:"attempts"`
	// Error says why the account could not be audited ("" when it was).
	Error  string        `json:"error,omitempty"`
	Result *audit.Result `json:"audit,omitempty"`
}

// Result is the audit of an organization.
type Result struct {
	OrganizationID      string          `json:"organization_id,omitempty"`
	ManagementAccountID string          `json:"management_account_id,omitempty"`
	Now                 time.Time       `json:"audited_at"`
	SCPsEnabled         bool            `json:"scps_enabled"`
	RCPsEnabled         bool            `json:"rcps_enabled"`
	Accounts            []AccountResult `json:"accounts"`
	// Failed counts the accounts that could not be audited.
	Failed int `json:"failed"`
	// Skipped names the accounts left out (suspended, or without exports).
	Skipped []string `json:"skipped,omitempty"`
	// Warnings are notes about the organization's data.
	Warnings []string `json:"warnings,omitempty"`
	// Findings are every account's findings (each names its account in
	// Properties["account"]) and one per failed account.
	Findings []report.Finding `json:"-"`
}

// Run audits accounts of t, at most opt.Parallel at once, and combines the
// results. An account that fails (after opt.Attempts tries) is reported
// and the others go on. Run returns early only when ctx is cancelled; the
// accounts not reached then fail with the context's error.
func Run(ctx context.Context, t *Tree, accounts []Account, load Loader, opt Options) *Result {
	if opt.Parallel <= 0 {
		opt.Parallel = DefaultParallel
	}
	if opt.Attempts <= 0 {
		opt.Attempts = DefaultAttempts
	}
	if opt.Backoff == nil {
		opt.Backoff = func(n int) time.Duration { return time.Second << min(n, 6) }
	}
	if opt.Sleep == nil {
		opt.Sleep = clock.Sleep
	}
	res := &Result{OrganizationID: t.Organization.Organization.ID, ManagementAccountID: t.Organization.Organization.MasterAccountID,
		Now: opt.Audit.Now.UTC(), SCPsEnabled: t.Enabled(TypeSCP), RCPsEnabled: t.Enabled(TypeRCP),
		Warnings: append([]string(nil), t.Warnings...)}
	res.Accounts = make([]AccountResult, len(accounts))
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	var progressMu sync.Mutex
	finished := 0
	for i, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			if err := ctx.Err(); err != nil {
				res.Accounts[i] = AccountResult{ID: a.ID, Name: a.Name, Path: t.PathNames(a), Error: err.Error()}
			} else {
				res.Accounts[i] = auditAccount(ctx, t, a, load, opt)
			}
			res.Accounts[i].printable()
			if opt.Progress != nil {
				progressMu.Lock()
				finished++
				opt.Progress(finished, len(accounts))
				progressMu.Unlock()
			}
		}()
	}
	wg.Wait()
	rcpsNoted := false
	for i := range res.Accounts {
		ar := &res.Accounts[i]
		if ar.Error != "" {
			res.Failed++
			res.Findings = append(res.Findings, failedFinding(ar))
			continue
		}
		for _, f := range ar.Result.Findings {
			if f.Properties == nil {
				f.Properties = map[string]any{}
			}
			f.Properties["account"] = ar.ID
			if ar.Name != "" {
				f.Properties["account_name"] = report.Printable(ar.Name)
			}
			res.Findings = append(res.Findings, f)
		}
		if !rcpsNoted && restrictiveRCP(ar.RCPs) {
			rcpsNoted = true
			res.Warnings = append(res.Warnings, "resource control policies other than RCPFullAWSAccess are attached: they are listed per account, but the key exposure checks ask what a key's own policies, boundary and SCPs allow, and do not evaluate RCPs (they restrict access to resources, which the exposure questions leave open)")
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool { return res.Findings[i].Severity > res.Findings[j].Severity })
	return res
}

// printable makes the names and messages that came from the organization's
// data safe for every output: no terminal escapes or control characters.
func (ar *AccountResult) printable() {
	ar.Name, ar.Path, ar.Error = report.Printable(ar.Name), report.Printable(ar.Path), report.Printable(ar.Error)
	for _, levels := range [][]Level{ar.SCPs, ar.RCPs} {
		for i := range levels {
			levels[i].Name = report.Printable(levels[i].Name)
			for j, p := range levels[i].Policies {
				levels[i].Policies[j] = report.Printable(p)
			}
		}
	}
}

func restrictiveRCP(levels []Level) bool {
	for _, l := range levels {
		for _, p := range l.Policies {
			if p != "RCPFullAWSAccess (p-RCPFullAWSAccess)" {
				return true
			}
		}
	}
	return false
}

func auditAccount(ctx context.Context, t *Tree, a Account, load Loader, opt Options) AccountResult {
	ar := AccountResult{ID: a.ID, Name: a.Name, Path: t.PathNames(a), Management: t.Management(a.ID)}
	scpLevels, scpDocs, err := t.Levels(a, TypeSCP)
	if err != nil {
		ar.Error = err.Error()
		return ar
	}
	if ar.RCPs, _, err = t.Levels(a, TypeRCP); err != nil {
		ar.Error = err.Error()
		return ar
	}
	applySCPs := t.Enabled(TypeSCP) && !ar.Management
	if applySCPs {
		ar.SCPs = scpLevels
	}
	if ar.Management || !t.Enabled(TypeRCP) {
		ar.RCPs = nil
	}
	var inv *inventory.Account
	for {
		ar.Attempts++
		inv, err = load(ctx, a)
		if err == nil || IsPermanent(err) || ar.Attempts >= opt.Attempts || ctx.Err() != nil {
			break
		}
		if opt.Sleep(ctx, opt.Backoff(ar.Attempts)) != nil {
			break
		}
	}
	if err != nil {
		ar.Error = err.Error()
		return ar
	}
	if inv.ID == "" {
		inv.ID = a.ID
	} else if inv.ID != a.ID {
		ar.Error = fmt.Sprintf("the data read for account %s is of account %s", a.ID, inv.ID)
		return ar
	}
	if applySCPs {
		for _, ps := range scpDocs {
			inv.AddSCPLevel(ps...)
		}
	}
	r := audit.Run(inv, opt.Audit)
	if ar.Management && t.Enabled(TypeSCP) {
		r.Warnings = append(r.Warnings, "this is the organization's management account: SCPs do not apply to it, so none were evaluated")
	}
	ar.Result = r
	return ar
}

func failedFinding(ar *AccountResult) report.Finding {
	tries := "1 attempt"
	if ar.Attempts != 1 {
		tries = fmt.Sprintf("%d attempts", ar.Attempts)
	}
	msg := fmt.Sprintf("account %s (%s) could not be audited after %s: %s", ar.ID, ar.Name, tries, ar.Error)
	return report.Finding{RuleID: RuleAccountFailed, Severity: report.SeverityInfo, Title: "An account could not be audited",
		Message:     report.Printable(msg),
		Location:    report.Location{Resource: report.Printable(ar.ID)},
		Remediation: "Check that the role can be assumed in the account (--role-name) and allows the calls of `keywarden audit --print-required-policy --org`, or that the account's exports are complete, then audit it again with --accounts " + ar.ID + ".",
		Fingerprint: RuleAccountFailed + ":" + ar.ID,
		Properties:  map[string]any{"account": ar.ID, "account_name": report.Printable(ar.Name)}}
}

// Rules is the check catalogue of an organization audit: the account
// audit's and the failed-account rule.
func Rules() []report.Rule {
	return append(audit.Rules(), report.Rule{ID: RuleAccountFailed, Title: "An account could not be audited",
		Severity: report.SeverityInfo, Description: "The role could not be assumed in the account, the account's data could not be read, or its exports are missing or invalid: the account is not covered by the report.",
		Tags: []string{"aws", "organizations"}})
}
