package audit

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/keywarden/keywarden/internal/report"
)

// Tool identifies the audit in JSON, SARIF and HTML output.
func Tool(version string) report.Tool {
	return report.Tool{Name: "keywarden audit", Version: version, InfoURI: "https://github.com/keywarden/keywarden"}
}

// WriteJSON writes the findings in the common report document, with the
// per-key table, the sources, the settings and the skipped checks under
// "extra.audit".
func WriteJSON(w io.Writer, version string, r *Result) error {
	return WriteDocument(w, version, r.Findings, map[string]any{"audit": r})
}

// WriteSARIF writes a SARIF 2.1.0 log with the whole check catalogue as
// rules.
func WriteSARIF(w io.Writer, version string, r *Result) error {
	return report.WriteSARIF(w, Tool(version), Rules(), r.Findings)
}

// TextOptions tune WriteText.
type TextOptions struct {
	Color bool
}

// WriteText writes the summary per severity, what could not be checked,
// the per-key table, then every finding.
func WriteText(w io.Writer, r *Result, opt TextOptions) error {
	p := report.NewPalette(opt.Color)
	var b bytes.Buffer
	acct := r.AccountID
	if acct == "" {
		acct = "unknown account"
	}
	fmt.Fprintf(&b, "%s %s, %d users, audited %s from %s\n", p.Bold("keywarden audit:"), report.Printable(acct), r.Users, r.Now.Format("2006-01-02 15:04 MST"), sourcesText(r))
	fmt.Fprintf(&b, "%s\n", summaryText(r, p))
	if len(r.Skipped) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Not checked:"))
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  %s: %s\n", s.Check, s.Reason)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Notes:"))
		for _, s := range r.Warnings {
			fmt.Fprintf(&b, "  %s\n", report.Printable(s))
		}
	}
	if len(r.Keys) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Access keys:"))
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tKEY\tSTATUS\tAGE\tLAST USED\tMFA\tWITHOUT MFA\tFROM ANYWHERE\tWORST")
		for _, k := range r.Keys {
			worst := "-"
			if k.Severity != "" {
				worst = fmt.Sprintf("%s (%d)", k.Severity, len(k.Findings))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", report.Printable(k.User), orDash(k.Key), k.Status, ageText(k.AgeDays),
				report.Printable(lastUsedText(k)), k.MFA, countText(k.WithoutMFA, k.WithoutMFADepends), countText(k.FromAnywhere, k.FromAnywhereDepends), worst)
		}
		_ = tw.Flush() // writes to a bytes.Buffer cannot fail
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\n%s\n", p.Bold("Findings:"))
		_ = report.WriteText(&b, r.Findings, report.TextOptions{Color: opt.Color})
	}
	_, err := w.Write(b.Bytes())
	return err
}

func sourcesText(r *Result) string {
	var s []string
	if r.Sources.Live {
		s = append(s, "the AWS API")
	} else {
		if r.Sources.CredentialReport {
			s = append(s, "the credential report")
		}
		if r.Sources.AuthorizationDetails {
			s = append(s, "the authorization details")
		}
		if r.Sources.PasswordPolicy {
			s = append(s, "the password policy")
		}
	}
	if r.Sources.SCPs {
		s = append(s, "SCPs")
	}
	if len(s) == 0 {
		return "no data"
	}
	return strings.Join(s, ", ")
}

func summaryText(r *Result, p report.Palette) string {
	sum := report.Summarize(r.Findings)
	if sum.Total == 0 {
		return "Summary: " + p.Green("no findings")
	}
	var parts []string
	for sev := report.SeverityCritical; sev >= report.SeverityInfo; sev-- {
		parts = append(parts, fmt.Sprintf("%d %s", sum.BySeverity[sev.String()], p.Severity(sev)))
	}
	return fmt.Sprintf("Summary: %s (%d findings)", strings.Join(parts, ", "), sum.Total)
}

func ageText(d *int) string {
	if d == nil {
		return "-"
	}
	return strconv.Itoa(*d) + "d"
}

func lastUsedText(k KeyRow) string {
	s := k.LastUsed
	if k.LastUsedDays != nil {
		s = fmt.Sprintf("%s (%dd", k.LastUsed, *k.LastUsedDays)
		if k.LastUsedService != "" {
			s += ", " + k.LastUsedService
		}
		s += ")"
	}
	if k.Status == "unknown" {
		return "-"
	}
	return s
}

// countText renders "N actions", with "+M?" for actions that depend on
// something unknown, or "-" when not evaluated.
func countText(n *int, depends int) string {
	if n == nil {
		return "-"
	}
	s := fmt.Sprintf("%d actions", *n)
	if *n == 1 {
		s = "1 action"
	}
	if depends > 0 {
		s += fmt.Sprintf(" (+%d?)", depends)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteCSV writes one row per finding, with the key's facts beside it, for
// spreadsheets and ticket imports. Cells that a spreadsheet would run as a
// formula are prefixed with a quote.
func WriteCSV(w io.Writer, r *Result) error {
	cw := csv.NewWriter(w)
	rows := map[string]KeyRow{}
	for _, k := range r.Keys {
		rows[k.User+"\x00"+k.Key] = k
	}
	header := []string{"severity", "rule_id", "title", "account", "user", "key", "resource", "security_hub", "cis",
		"key_status", "key_age_days", "key_last_used", "mfa", "without_mfa_actions", "from_anywhere_actions", "message", "remediation"}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, f := range r.Findings {
		user, _ := f.Properties["user"].(string)
		key, _ := f.Properties["key"].(string)
		c := CheckByID(f.RuleID)
		rec := []string{f.Severity.String(), f.RuleID, f.Title, r.AccountID, user, key, f.Location.Resource, c.SecurityHub, c.CIS}
		if k, ok := rows[user+"\x00"+key]; ok && key != "" {
			rec = append(rec, k.Status, intOrEmpty(k.AgeDays), k.LastUsed, k.MFA, intOrEmpty(k.WithoutMFA), intOrEmpty(k.FromAnywhere))
		} else {
			rec = append(rec, "", "", "", "", "", "")
		}
		rec = append(rec, f.Message, f.Remediation)
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

func intOrEmpty(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}
