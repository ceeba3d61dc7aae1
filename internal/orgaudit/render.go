package orgaudit

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/report"
)

// Summary is one account's line in the per-account table.
type Summary struct {
	Users    int
	Keys     int
	Findings int
	Worst    string // "" for none
	SCPText  string // "exempt (management account)", "3 levels", "none"
}

// Summarize returns the account's line.
func (ar *AccountResult) Summarize(scpsEnabled bool) Summary {
	var s Summary
	switch {
	case !scpsEnabled:
		s.SCPText = "not enabled"
	case ar.Management:
		s.SCPText = "exempt (management account)"
	case len(ar.SCPs) == 1:
		s.SCPText = "1 level"
	default:
		s.SCPText = fmt.Sprintf("%d levels", len(ar.SCPs))
	}
	if ar.Result == nil {
		return s
	}
	s.Users, s.Keys = ar.Result.Users, len(ar.Result.Keys)
	worst := report.Severity(-1)
	for _, f := range ar.Result.Findings {
		if f.Suppressed != "" {
			continue
		}
		s.Findings++
		if f.Severity > worst {
			worst = f.Severity
		}
	}
	if s.Findings > 0 {
		s.Worst = worst.String()
	}
	return s
}

// WriteJSON writes the common report document with every account's audit
// under "extra.audit_org".
func WriteJSON(w io.Writer, version string, r *Result) error {
	return audit.WriteDocument(w, version, r.Findings, map[string]any{"audit_org": r})
}

// WriteSARIF writes one SARIF run with every account's findings.
func WriteSARIF(w io.Writer, version string, r *Result) error {
	return report.WriteSARIF(w, audit.Tool(version), Rules(), r.Findings)
}

// WriteCSV writes the account audit's CSV (one row per finding, with its
// account) for every account, under one header, then a row per failed
// account.
func WriteCSV(w io.Writer, r *Result) error {
	first := true
	for _, ar := range r.Accounts {
		if ar.Result == nil {
			continue
		}
		var b bytes.Buffer
		if err := audit.WriteCSV(&b, ar.Result); err != nil {
			return err
		}
		out := b.Bytes()
		if !first {
			// The header is the first line and holds no quoted newline.
			if i := bytes.IndexByte(out, '\n'); i >= 0 {
				out = out[i+1:]
			}
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
		first = false
	}
	if first {
		var b bytes.Buffer
		if err := audit.WriteCSV(&b, &audit.Result{}); err != nil {
			return err
		}
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	for _, f := range r.Findings {
		if f.RuleID != RuleAccountFailed {
			continue
		}
		acct, _ := f.Properties["account"].(string)
		// The same 17 columns as the account audit's CSV.
		rec := []string{f.Severity.String(), f.RuleID, f.Title, acct, "", "", f.Location.Resource, "", "", "", "", "", "", "", "", f.Message, f.Remediation}
		for i, v := range rec {
			rec[i] = report.CSVCell(v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes the organization, the per-account table, the failed
// accounts, notes, the cross-account key table and every finding.
func WriteText(w io.Writer, r *Result, opt audit.TextOptions) error {
	p := report.NewPalette(opt.Color)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s (management account %s), %d accounts audited, %d failed, at %s\n", p.Bold("keywarden audit --org:"),
		report.Printable(orDash(r.OrganizationID)), report.Printable(orDash(r.ManagementAccountID)), len(r.Accounts)-r.Failed, r.Failed, r.Now.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s\n", summaryLine(r.Findings, p))
	fmt.Fprintf(&b, "SCPs: %s. RCPs: %s.\n", enabledText(r.SCPsEnabled, "applied per level (root, OUs, account); the management account is exempt, so none are applied to it"), enabledText(r.RCPsEnabled, "listed per account"))

	fmt.Fprintf(&b, "\n%s\n", p.Bold("Accounts:"))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tNAME\tOU\tSCPS\tUSERS\tKEYS\tFINDINGS\tWORST\tSTATUS")
	for i := range r.Accounts {
		ar := &r.Accounts[i]
		s := ar.Summarize(r.SCPsEnabled)
		status := "audited"
		if ar.Error != "" {
			status = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", report.Printable(ar.ID), report.Printable(orDash(ar.Name)), report.Printable(ar.Path),
			s.SCPText, s.Users, s.Keys, s.Findings, orDash(s.Worst), status)
	}
	_ = tw.Flush() // writes to a bytes.Buffer cannot fail
	if r.Failed > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Not audited:"))
		for _, ar := range r.Accounts {
			if ar.Error != "" {
				fmt.Fprintf(&b, "  %s (%s): %s\n", report.Printable(ar.ID), report.Printable(orDash(ar.Name)), report.Printable(ar.Error))
			}
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Skipped:"))
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  %s\n", report.Printable(s))
		}
	}
	if notes := notes(r); len(notes) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Notes:"))
		for _, s := range notes {
			fmt.Fprintf(&b, "  %s\n", report.Printable(s))
		}
	}
	if notRun := notChecked(r); len(notRun) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Not checked:"))
		for _, s := range notRun {
			fmt.Fprintf(&b, "  %s\n", report.Printable(s))
		}
	}
	rows := 0
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\t"+strings.Join(audit.KeyColumns, "\t"))
	for _, ar := range r.Accounts {
		if ar.Result == nil {
			continue
		}
		for _, k := range ar.Result.Keys {
			rows++
			fmt.Fprintln(tw, report.Printable(ar.ID)+"\t"+strings.Join(k.TextCells(), "\t"))
		}
	}
	if rows > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Access keys (every account):"))
		_ = tw.Flush()
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Findings:"))
		_ = report.WriteText(&b, r.Findings, report.TextOptions{Color: opt.Color})
	}
	_, err := w.Write(b.Bytes())
	return err
}

func enabledText(on bool, what string) string {
	if !on {
		return "not enabled in the organization"
	}
	return what
}

func summaryLine(fs []report.Finding, p report.Palette) string {
	return "Summary: " + report.SummaryLine(fs, p)
}

// notes are the organization's warnings, then each account's, prefixed
// with the account.
func notes(r *Result) []string {
	out := append([]string(nil), r.Warnings...)
	for _, ar := range r.Accounts {
		if ar.Result == nil {
			continue
		}
		for _, w := range ar.Result.Warnings {
			out = append(out, ar.ID+": "+w)
		}
	}
	return out
}

// notChecked merges the checks each account could not run: one line per
// check and reason, with the accounts it applies to.
func notChecked(r *Result) []string {
	by := map[string][]string{}
	var order []string
	for _, ar := range r.Accounts {
		if ar.Result == nil {
			continue
		}
		for _, s := range ar.Result.Skipped {
			k := s.Check + ": " + s.Reason
			if _, ok := by[k]; !ok {
				order = append(order, k)
			}
			by[k] = append(by[k], ar.ID)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, fmt.Sprintf("%s (%s)", k, accountsText(by[k])))
	}
	return out
}

func accountsText(ids []string) string {
	if len(ids) <= 5 {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:5], ", ") + fmt.Sprintf(" and %d more accounts", len(ids)-5)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

//go:embed org.html.tmpl
var htmlTemplate string

// htmlTmpl is parsed on first use, not at start: every command (the
// pre-commit hook's scan among them) would otherwise pay for it.
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("org").Funcs(template.FuncMap{
		"count": func(n *int, depends int) string {
			if n == nil {
				return "-"
			}
			s := strconv.Itoa(*n)
			if depends > 0 {
				s += " (+" + strconv.Itoa(depends) + "?)"
			}
			return s
		},
		"days": func(n *int) string {
			if n == nil {
				return "-"
			}
			return strconv.Itoa(*n) + "d"
		},
		"sevRank": func(s string) int {
			v, err := report.ParseSeverity(s)
			if err != nil {
				return 0
			}
			return int(v)
		},
		"str":  func(v any) string { s, _ := v.(string); return s },
		"join": strings.Join,
	}).Parse(htmlTemplate))
})

type htmlAccount struct {
	*AccountResult
	Summary
}

type htmlKey struct {
	Account string
	audit.KeyRow
	// UserFindings are the findings about the key's user that name no key
	// (e.g. "usable without MFA" from the authorization details alone).
	Findings []report.Finding
}

type htmlData struct {
	Style     template.CSS
	MinSev    []string
	R         *Result
	Version   string
	Sev       []htmlSev
	Total     int
	Accounts  []htmlAccount
	AccountID []string
	Keys      []htmlKey
	Findings  []report.Finding
	Notes     []string
	NotRun    []string
}

type htmlSev struct {
	Name  string
	Count int
}

// WriteHTML writes one self-contained file: the accounts, the
// cross-account key table and every finding, filtered by account (and by
// text and severity) in the page itself.
func WriteHTML(w io.Writer, version string, r *Result) error {
	d := htmlData{Style: audit.HTMLStyle(), MinSev: []string{"low", "medium", "high", "critical"}, R: r, Version: version, Findings: r.Findings, Notes: notes(r), NotRun: notChecked(r)}
	sum := report.Summarize(r.Findings)
	d.Total = sum.Total
	for sev := report.SeverityCritical; sev >= report.SeverityInfo; sev-- {
		d.Sev = append(d.Sev, htmlSev{Name: sev.String(), Count: sum.BySeverity[sev.String()]})
	}
	for i := range r.Accounts {
		ar := &r.Accounts[i]
		d.Accounts = append(d.Accounts, htmlAccount{AccountResult: ar, Summary: ar.Summarize(r.SCPsEnabled)})
		d.AccountID = append(d.AccountID, ar.ID)
		if ar.Result == nil {
			continue
		}
		for _, k := range ar.Result.Keys {
			hk := htmlKey{Account: ar.ID, KeyRow: k}
			for _, f := range ar.Result.Findings {
				user, _ := f.Properties["user"].(string)
				key, _ := f.Properties["key"].(string)
				if user == k.User && (key == k.Key || key == "") {
					hk.Findings = append(hk.Findings, f)
				}
			}
			d.Keys = append(d.Keys, hk)
		}
	}
	sort.Strings(d.AccountID)
	return htmlTmpl().Execute(w, d)
}
