package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/guardduty"
	"github.com/keywarden/keywarden/internal/report"
)

// detectWriteText prints findings grouped by key, then by severity (most
// severe first), each with when, from where, and the triggering events.
// A caveat (inputs not read, no records, no baseline) follows the summary
// line, so "no findings" never stands alone when the run saw less than it
// was given.
func detectWriteText(w io.Writer, fs []*detect.Finding, showSuppressed, color bool, caveat string) error {
	p := report.NewPalette(color)
	ew := &detectErrWriter{w: w}
	detectWriteSummary(ew, p, fs, showSuppressed)
	var reps []report.Finding
	lastKey, lastSev := "\x00", report.Severity(0)
	for _, f := range fs {
		reps = append(reps, f.Report())
		if f.Suppressed != "" && !showSuppressed {
			continue
		}
		if k := f.Key(); k != lastKey {
			if lastKey != "\x00" {
				ew.printf("\n")
			}
			ew.printf("%s", p.Bold(report.Printable(k)))
			var about []string
			if f.Principal != "" && f.Principal != f.Actor {
				about = append(about, report.Printable(f.Principal))
			}
			if f.Account != "" {
				about = append(about, "account "+report.Printable(f.Account))
			}
			if len(about) > 0 {
				ew.printf("  %s", p.Dim("("+strings.Join(about, ", ")+")"))
			}
			// The first step (contain the key, or revoke the sessions) is
			// the same for every finding of the key: said once, in full.
			ew.printf("\n  next: %s\n", report.Printable(f.Next()[0]))
			lastKey, lastSev = k, 0
		}
		if f.Rule.Severity != lastSev {
			ew.printf("  %s\n", p.Severity(f.Rule.Severity))
			lastSev = f.Rule.Severity
		}
		ew.printf("    [%s] %s", f.Rule.ID, report.Printable(f.Rule.Title))
		if f.Rule.Attack != "" { // GuardDuty's findings have none
			ew.printf("  %s", p.Dim(f.Rule.Attack))
		}
		if f.Suppressed != "" {
			ew.printf("  %s", p.Dim("("+report.Printable(f.Suppressed)+")"))
		}
		ew.printf("\n      %s\n", report.Printable(f.Message()))
		if len(f.Evidence) > 0 {
			ew.printf("      evidence: %s\n", report.Printable(strings.Join(f.Evidence, "; ")))
		}
		if len(f.Created) > 0 {
			ew.printf("      created: %s\n", report.Printable(strings.Join(f.Created, "; ")))
		}
		if len(f.UserAgents) > 0 {
			ew.printf("      user agent: %s\n", report.Printable(detectAgents(f.UserAgents)))
		}
		if len(f.EventIDs) > 0 {
			ids := f.EventIDs
			more := ""
			if len(ids) > 5 {
				more = fmt.Sprintf(" (+%d more)", f.Count-5)
				ids = ids[:5]
			}
			ew.printf("      events: %s%s\n", report.Printable(strings.Join(ids, ", ")), more)
		}
		for _, n := range f.Next()[1:] {
			ew.printf("      next: %s\n", report.Printable(n))
		}
	}
	if ew.err != nil {
		return ew.err
	}
	if len(fs) > 0 && lastKey != "\x00" {
		ew.printf("\n")
	}
	line := report.SummaryLine(reps, p)
	if caveat != "" {
		line += "; " + p.Yellow(caveat)
	}
	ew.printf("%s\n", line)
	return ew.err
}

// detectSummaryKeys and detectSummaryFirst keep the summary on one screen.
const (
	detectSummaryKeys  = 8
	detectSummaryFirst = 6
)

// detectWriteSummary opens the text output with what an on-call engineer
// needs in the first minute: the keys and sessions involved (most severe
// first), the highest severity, the time span, and what to do first (the
// next steps of the most severe findings).
func detectWriteSummary(ew *detectErrWriter, p report.Palette, fs []*detect.Finding, showSuppressed bool) {
	type actor struct {
		key, principal string
		sev            report.Severity
		n              int
	}
	var live []*detect.Finding
	for _, f := range fs {
		if f.Suppressed == "" {
			live = append(live, f)
		}
	}
	if len(live) == 0 {
		return
	}
	byKey := map[string]*actor{}
	var order []*actor
	var top report.Severity
	first, last := live[0].First, live[0].Last
	for _, f := range live {
		a, ok := byKey[f.Key()]
		if !ok {
			a = &actor{key: f.Key(), principal: f.Principal}
			byKey[f.Key()] = a
			order = append(order, a)
		}
		a.n++
		a.sev = max(a.sev, f.Rule.Severity)
		top = max(top, f.Rule.Severity)
		if !f.First.IsZero() && (first.IsZero() || f.First.Before(first)) {
			first = f.First
		}
		if f.Last.After(last) {
			last = f.Last
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].sev > order[j].sev })
	ew.printf("%s %s involved, highest severity %s, %s to %s\n", p.Bold("SUMMARY"),
		detectPlural(len(order), "key or session", "keys or sessions"), p.Severity(top),
		first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339))
	for _, a := range order[:min(len(order), detectSummaryKeys)] {
		who := ""
		if a.principal != "" && a.principal != a.key {
			who = "  " + p.Dim("("+report.Printable(a.principal)+")")
		}
		ew.printf("  %-22s %-8s %s%s\n", report.Printable(a.key), a.sev, detectPlural(a.n, "finding", "findings"), who)
	}
	if len(order) > detectSummaryKeys {
		ew.printf("  ... and %d more\n", len(order)-detectSummaryKeys)
	}
	// What to do first: the next steps of the most severe findings, each
	// once.
	bySev := append([]*detect.Finding(nil), live...)
	sort.SliceStable(bySev, func(i, j int) bool { return bySev[i].Rule.Severity > bySev[j].Rule.Severity })
	seen := map[string]bool{}
	var todo []string
	for _, f := range bySev {
		for _, n := range f.Next() {
			if !seen[n] {
				seen[n] = true
				todo = append(todo, n)
			}
		}
	}
	ew.printf("%s\n", p.Bold("DO FIRST"))
	for _, n := range todo[:min(len(todo), detectSummaryFirst)] {
		ew.printf("  %s\n", report.Printable(n))
	}
	if len(todo) > detectSummaryFirst {
		ew.printf("  ... %d more steps below, under each finding\n", len(todo)-detectSummaryFirst)
	}
	ew.printf("\n")
}

type detectErrWriter struct {
	w   io.Writer
	err error
}

func (e *detectErrWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// detectWriteJSON writes one finding per line (JSON lines), so a month of
// findings streams into jq or a SIEM without a wrapper document.
func detectWriteJSON(w io.Writer, fs []*detect.Finding, showSuppressed bool) error {
	// report's encoder escapes DEL, the C1 controls and bidi overrides
	// that encoding/json writes raw, so `jq -r` or a plain cat cannot hand
	// a CSI (U+009B) from a hostile user agent to the terminal.
	enc := report.NewJSONEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range fs {
		if f.Suppressed != "" && !showSuppressed {
			continue
		}
		if err := enc.Encode(detectReport(f)); err != nil {
			return err
		}
	}
	return nil
}

var detectCSVHeader = []string{"rule_id", "severity", "title", "attack", "key", "principal", "account",
	"first_seen", "last_seen", "event_count", "source_ips", "regions", "event_names", "new_value", "evidence", "event_ids", "suppressed",
	"created", "next", "source"}

func detectWriteCSV(w io.Writer, fs []*detect.Finding, showSuppressed bool) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(detectCSVHeader); err != nil {
		return err
	}
	for _, f := range fs {
		if f.Suppressed != "" && !showSuppressed {
			continue
		}
		r := detectReport(f)
		row := []string{f.Rule.ID, f.Rule.Severity.String(), f.Rule.Title, f.Rule.Attack, f.Actor, f.Principal, f.Account,
			r.Properties["first_seen"].(string), r.Properties["last_seen"].(string), strconv.Itoa(f.Count),
			strings.Join(f.Sources, " "), strings.Join(f.Regions, " "), strings.Join(f.EventNames, " "), f.Value,
			strings.Join(f.Evidence, "; "), strings.Join(f.EventIDs, " "), f.Suppressed,
			strings.Join(f.Created, "; "), strings.Join(f.Next(), "; "), r.Properties["source"].(string)}
		for i, c := range row {
			row[i] = report.CSVCell(c)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// detectWriteSARIF writes SARIF 2.1.0 for code-scanning dashboards; the
// key is the result's location (there is no file).
func detectWriteSARIF(w io.Writer, rules []*detect.Rule, fs []*detect.Finding) error {
	rr := make([]report.Rule, len(rules))
	for i, r := range rules {
		rr[i] = r.Report()
	}
	reps := make([]report.Finding, len(fs))
	for i, f := range fs {
		reps[i] = detectReport(f)
	}
	return report.WriteSARIF(w, report.Tool{Name: "keywarden detect", Version: Version, InfoURI: "https://github.com/keywarden/keywarden/blob/main/docs/detect.md"}, rr, reps)
}

// detectReport is the finding as JSON, CSV, SARIF and --notify carry it,
// with "source": "keywarden" for keywarden's own rules, "guardduty" for
// GuardDuty's findings (which have no ATT&CK technique of their own:
// their references are GuardDuty's documentation).
func detectReport(f *detect.Finding) report.Finding {
	r := f.Report()
	if f.Rule.Kind != guardduty.Kind {
		r.Properties["source"] = "keywarden"
		return r
	}
	r.Properties["source"] = "guardduty"
	for _, k := range []string{"attack", "attack_name", "tactic"} {
		delete(r.Properties, k)
	}
	r.References = f.Rule.References
	return r
}

// detectListRules prints the rule catalogue.
func detectListRules(opts *detectOptions, rules []*detect.Rule) error {
	switch strings.ToLower(opts.Format) {
	case "json":
		enc := report.NewJSONEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		type jrule struct {
			*detect.Rule
			AttackURL string `json:"attack_url"`
		}
		out := make([]jrule, len(rules))
		for i, r := range rules {
			out[i] = jrule{r, r.AttackURL()}
		}
		return enc.Encode(out)
	case "text", "":
	default:
		return usageErrorf("unknown format %q for --list-rules (want text|json)", opts.Format)
	}
	p := report.NewPalette(opts.IO.ColorEnabled())
	ew := &detectErrWriter{w: opts.IO.Out}
	for _, r := range rules {
		ew.printf("%s  %s  %s  %s\n", p.Bold(r.ID), p.Severity(r.Severity), r.Attack, r.Title)
		ew.printf("    %s\n", detectWrap(strings.TrimSpace(r.Description), "    "))
		ew.printf("    false positives: %s\n", detectWrap(strings.TrimSpace(r.FalsePositives), "    "))
		ew.printf("    kind: %s; ATT&CK: %s (%s, %s)\n", r.Kind, r.AttackName, r.Tactic, r.AttackURL())
		for _, ref := range r.References {
			ew.printf("    see %s\n", ref)
		}
	}
	ew.printf("%d rules\n", len(rules))
	return ew.err
}

// detectWrap folds text at ~76 columns.
func detectWrap(s, indent string) string {
	words := strings.Fields(s)
	var b strings.Builder
	col := 0
	for i, w := range words {
		if i > 0 {
			if col+1+len(w) > 76 {
				b.WriteString("\n" + indent)
				col = 0
			} else {
				b.WriteString(" ")
				col++
			}
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// detectAgents shows a finding's user agents: at most three, each cut in
// the middle when long. Tools append their marks to the SDK's agent
// (Terraform's "HashiCorp-terraform-exec", Stratus Red Team's
// "stratus-red-team_<uuid>", boto3's "md/..." and "exec-env/..."), so the
// end of an agent says as much as its start and both are kept.
func detectAgents(agents []string) string {
	const show, head, tail = 3, 64, 91
	parts := make([]string, 0, show)
	for _, a := range agents[:min(len(agents), show)] {
		if len(a) > head+tail+5 {
			h, t := head, len(a)-tail
			for h > 0 && !utf8.RuneStart(a[h]) {
				h--
			}
			for t < len(a) && !utf8.RuneStart(a[t]) {
				t++
			}
			a = a[:h] + " ... " + a[t:]
		}
		parts = append(parts, a)
	}
	s := strings.Join(parts, " | ")
	if len(agents) > show {
		s += fmt.Sprintf(" (+%d more)", len(agents)-show)
	}
	return s
}
