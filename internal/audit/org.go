package audit

import (
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/keywarden/keywarden/internal/report"
)

// The parts of the account report an organization's report (package
// orgaudit) reuses.

// KeyColumns are the headers of the per-key text table, in the order of
// KeyRow.TextCells. The organization report (package orgaudit) puts an
// account column before them.
var KeyColumns = []string{"USER", "KEY", "STATUS", "AGE", "LAST USED", "MFA", "WITHOUT MFA", "FROM ANYWHERE", "WORST"}

// TextCells renders the row as the text report does, every value from the
// account made printable.
func (k KeyRow) TextCells() []string {
	worst := "-"
	if k.Severity != "" {
		worst = fmt.Sprintf("%s (%d)", k.Severity, len(k.Findings))
	}
	return []string{report.Printable(k.User), orDash(k.Key), k.Status, ageText(k.AgeDays), report.Printable(lastUsedText(k)),
		k.MFA, countText(k.WithoutMFA, k.WithoutMFADepends), countText(k.FromAnywhere, k.FromAnywhereDepends), worst}
}

// WriteDocument writes findings in the common report document with extra
// beside them: the account audit's table ("audit"), or an organization's
// ("audit_org").
func WriteDocument(w io.Writer, version string, findings []report.Finding, extra map[string]any) error {
	if findings == nil {
		findings = []report.Finding{}
	}
	doc := report.Document{Tool: "keywarden audit", Version: version, Findings: findings, Summary: report.Summarize(findings), Extra: extra}
	enc := report.NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// HTMLStyle is the account report's style sheet, so that the organization
// report looks the same without a copy of it.
func HTMLStyle() template.CSS {
	_, rest, _ := strings.Cut(htmlTemplate, "<style>")
	css, _, _ := strings.Cut(rest, "</style>")
	return template.CSS(css) //nolint:gosec // our own embedded style sheet, not input
}
