package report

import (
	"fmt"
	"io"
	"strings"
)

// Format names an output format accepted by --format.
type Format string

// The formats every finding-producing command understands. Commands may add
// their own (csv, html) on top.
const (
	FormatText  Format = "text"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
)

// ParseFormat checks s against the allowed formats.
func ParseFormat(s string, allowed ...Format) (Format, error) {
	for _, a := range allowed {
		if string(a) == strings.ToLower(s) {
			return a, nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", fmt.Errorf("unknown format %q (want %s)", s, strings.Join(names, "|"))
}

// Tool identifies the producer in JSON and SARIF output.
type Tool struct {
	Name    string // e.g. "keywarden policy lint"
	Version string
	InfoURI string
}

// Document is the JSON form: findings plus a summary, one document per run.
type Document struct {
	Tool     string         `json:"tool"`
	Version  string         `json:"version"`
	Findings []Finding      `json:"findings"`
	Summary  Summary        `json:"summary"`
	Errors   []string       `json:"errors,omitempty"`
	Extra    map[string]any `json:"extra,omitempty"`
}

// Summary counts findings that count by severity, and suppressed ones.
type Summary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"by_severity"`
	Suppressed int            `json:"suppressed"`
}

// Summarize builds the summary of fs.
func Summarize(fs []Finding) Summary {
	s := Summary{BySeverity: map[string]int{}}
	for _, f := range fs {
		if f.Suppressed != "" {
			s.Suppressed++
			continue
		}
		s.Total++
		s.BySeverity[f.Severity.String()]++
	}
	return s
}

// WriteJSON writes one indented JSON document. errs are input problems
// reported beside the findings (a file that could not be read), so that
// no partial result is silently lost.
func WriteJSON(w io.Writer, tool Tool, fs []Finding, errs []string) error {
	if fs == nil {
		fs = []Finding{}
	}
	doc := Document{Tool: tool.Name, Version: tool.Version, Findings: fs, Summary: Summarize(fs), Errors: errs}
	enc := NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// TextOptions tunes the text renderer.
type TextOptions struct {
	Color bool
	// ShowSuppressed lists suppressed findings too (marked as such).
	ShowSuppressed bool
}

// Palette colours text output; every function is the identity without
// colour, so callers never branch on it.
type Palette struct{ on bool }

// NewPalette returns a palette that colours only when on is true.
func NewPalette(on bool) Palette { return Palette{on: on} }

func (p Palette) wrap(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold, Dim, Red, Yellow, Green and Cyan wrap s in an ANSI colour when on.
func (p Palette) Bold(s string) string   { return p.wrap("1", s) }
func (p Palette) Dim(s string) string    { return p.wrap("2", s) }
func (p Palette) Red(s string) string    { return p.wrap("31", s) }
func (p Palette) Yellow(s string) string { return p.wrap("33", s) }
func (p Palette) Green(s string) string  { return p.wrap("32", s) }
func (p Palette) Cyan(s string) string   { return p.wrap("36", s) }

// Severity colours a severity name by its level.
func (p Palette) Severity(s Severity) string {
	switch {
	case s >= SeverityHigh:
		return p.Red(s.String())
	case s == SeverityMedium:
		return p.Yellow(s.String())
	default:
		return p.Cyan(s.String())
	}
}

// WriteText writes findings grouped by location path (or resource), one
// block per finding, then a one-line summary.
func WriteText(w io.Writer, fs []Finding, opt TextOptions) error {
	p := NewPalette(opt.Color)
	ew := &errWriter{w: w}
	group := "\x00"
	shown := 0
	for _, f := range fs {
		if f.Suppressed != "" && !opt.ShowSuppressed {
			continue
		}
		g := Printable(f.Location.Path)
		if g != group {
			if shown > 0 {
				ew.printf("\n")
			}
			if g != "" {
				ew.printf("%s\n", p.Bold(g))
			}
			group = g
		}
		shown++
		loc := f.Location
		loc.Path = ""
		pos := loc.String()
		if f.Location.Path != "" && f.Location.Line > 0 {
			pos = fmt.Sprintf("%d:%d", f.Location.Line, f.Location.Column)
			if rest := (Location{Commit: f.Location.Commit, Resource: f.Location.Resource}).String(); rest != "" {
				pos += " " + rest
			}
		}
		// Every field may hold text read from hostile input (a path, a
		// user name, a policy's Sid): no terminal control passes.
		ew.printf("  %s [%s] %s", p.Severity(f.Severity), Printable(f.RuleID), Printable(f.Title))
		if pos != "" {
			ew.printf("  %s", p.Dim(Printable(pos)))
		}
		if f.Suppressed != "" {
			ew.printf("  %s", p.Dim("("+Printable(f.Suppressed)+")"))
		}
		ew.printf("\n")
		if f.Message != "" {
			ew.printf("%s\n", indent(PrintableText(f.Message), "      "))
		}
		if f.Evidence != "" {
			ew.printf("      evidence: %s\n", Printable(f.Evidence))
		}
		if f.Remediation != "" {
			ew.printf("      fix: %s\n", indentRest(PrintableText(f.Remediation), "           "))
		}
	}
	ew.printf("%s\n", SummaryLine(fs, p))
	return ew.err
}

// SummaryLine says how many findings count, by severity, and how many were
// suppressed.
func SummaryLine(fs []Finding, p Palette) string {
	s := Summarize(fs)
	if s.Total == 0 {
		line := p.Green("no findings")
		if s.Suppressed > 0 {
			line += fmt.Sprintf(" (%d suppressed)", s.Suppressed)
		}
		return line
	}
	var parts []string
	for sev := SeverityCritical; sev >= SeverityInfo; sev-- {
		if n := s.BySeverity[sev.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, p.Severity(sev)))
		}
	}
	noun := "findings"
	if s.Total == 1 {
		noun = "finding"
	}
	line := fmt.Sprintf("%d %s: %s", s.Total, noun, strings.Join(parts, ", "))
	if s.Suppressed > 0 {
		line += fmt.Sprintf(" (%d suppressed)", s.Suppressed)
	}
	return line
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pre)
}

func indentRest(s, pre string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pre)
}

// errWriter keeps the first write error so renderers can check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
