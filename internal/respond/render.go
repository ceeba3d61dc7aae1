package respond

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/report"
)

// WriteJSON writes reports as JSON: one object for one report, an array
// for several (--from).
func WriteJSON(w io.Writer, reps []*Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if len(reps) == 1 {
		return enc.Encode(reps[0])
	}
	return enc.Encode(reps)
}

// ReadReport reads a report written by WriteJSON (for --undo). name is
// used in errors.
func ReadReport(name string, data []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		var se *json.SyntaxError
		if ok := asSyntax(err, &se); ok {
			return nil, fmt.Errorf("%s: not JSON at byte %d: %v", name, se.Offset, err)
		}
		return nil, fmt.Errorf("%s: not a keywarden respond report: %v", name, err)
	}
	if r.Tool != "keywarden respond" {
		return nil, fmt.Errorf("%s: not a keywarden respond report (tool %q; want the JSON that respond writes with --format json or its record file)", name, report.Printable(clip(r.Tool)))
	}
	for i, s := range r.Steps {
		if s == nil {
			return nil, fmt.Errorf("%s: step %d is empty", name, i+1)
		}
		for _, c := range []*Call{&s.Call, s.Undo} {
			if c != nil && !strings.HasPrefix(c.Action, "iam:") {
				return nil, fmt.Errorf("%s: step %d: %q is not a call respond makes", name, i+1, report.Printable(clip(c.Action)))
			}
		}
	}
	return &r, nil
}

func asSyntax(err error, se **json.SyntaxError) bool {
	s, ok := err.(*json.SyntaxError)
	if ok {
		*se = s
	}
	return ok
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// P makes a string from AWS or a log safe to print: report.Printable
// replaces control characters (a lone 0x9b byte included), and invalid
// UTF-8 becomes '?' like them rather than Printable's U+FFFD, so an
// incident report shows one mark for everything that was replaced.
func P(s string) string { return report.Printable(strings.ToValidUTF8(s, "?")) }

// WriteText writes the report for the terminal.
func WriteText(w io.Writer, r *Report, pal report.Palette) error {
	p := &printer{w: w}
	title := "keywarden respond " + r.KeyID
	if r.DryRun {
		title += " (dry run: nothing was changed)"
	}
	if r.UndoOf != "" {
		title = "keywarden respond --undo " + P(r.UndoOf)
	}
	p.f("%s\n", pal.Bold(title))
	if id := r.Identity; id != nil {
		p.f("\n%s\n", pal.Bold("Identify"))
		p.f("  key        %s (%s), account %s; you are %s\n", id.KeyID, id.Kind, nonEmpty(id.KeyAccount, "unknown"), P(id.CallerARN))
		if id.Session != nil {
			p.f("  session    made by %s at %s with %s %s\n", P(id.Session.EventName), day(id.Session.EventTime), id.Session.ParentKey, P(id.Session.ParentARN))
		}
		if id.User != "" {
			p.f("  owner      %s (%s)\n", P(id.User), P(id.UserARN))
			p.f("  status     %s, created %s, last used %s\n", P(id.Status), day(id.Created), P(lastUse(id.LastUsed)))
			for _, k := range id.OtherKeys {
				p.f("  other key  %s %s, created %s\n", k.ID, P(k.Status), day(k.Created))
			}
			p.f("  MFA        %s\n", P(listOr(id.MFADevices, "no device")))
			p.f("  console    %s\n", yesNo(id.ConsolePassword, "password set", "no password"))
			p.f("  groups     %s\n", P(listOr(id.Groups, "none")))
			p.f("  policies   %s\n", P(listOr(id.Policies, "none")))
			if e := id.Exposure; e != nil {
				p.f("  exposure   while active, without MFA, from any address, %d sensitive actions: %s\n", len(e.WithoutMFA), grants(e))
			} else if id.ExposureProblem != "" {
				p.f("  exposure   not evaluated: %s\n", P(id.ExposureProblem))
			}
		}
	}
	if r.Stopped != "" {
		p.f("\n%s %s\n", pal.Red("Stopped:"), P(r.Stopped))
		for _, a := range r.Advice {
			p.f("  - %s\n", P(a))
		}
	}
	if len(r.Steps) > 0 {
		p.f("\n%s\n", pal.Bold("Contain"))
		for _, s := range r.Steps {
			p.f("  %-13s %s\n", statusText(s.Status, pal), P(s.Call.String()))
			if s.Error != "" {
				p.f("                %s\n", P(s.Error))
			}
			if s.Status == Done {
				if s.Undo != nil {
					p.f("                undo: %s\n", P(s.Undo.Command()))
				} else if s.UndoNote != "" {
					p.f("                undo: %s\n", P(s.UndoNote))
				}
			}
		}
	}
	if len(r.RoleSessions) > 0 {
		p.f("  roles the key assumed: %s\n", P(strings.Join(r.RoleSessions, ", ")))
	}
	if inv := r.Investigation; inv != nil {
		p.f("\n%s\n", pal.Bold("Investigate"))
		p.f("  read       %s\n", P(listOr(inv.Sources, "nothing")))
		if inv.Skipped > 0 {
			p.f("  skipped    %d unreadable inputs or records\n", inv.Skipped)
			for _, s := range firstN(inv.Problems, 5) {
				p.f("             %s\n", P(s))
			}
		}
		p.f("  keys       %s\n", P(strings.Join(inv.Keys, ", ")))
		p.f("  events     %d, first %s, last %s\n", inv.Events, day(inv.First), day(inv.Last))
		for _, c := range inv.countSections() {
			if len(c.counts) > 0 {
				p.f("  %-10s %s\n", c.short, countsLine(c.counts, c.network, 10, P, ", "))
			}
		}
		if len(inv.Timeline) > 0 {
			p.f("  timeline (changes and errors):\n")
			for _, t := range inv.Timeline {
				p.f("    %s  %s  %s  %s %s %s\n", t.Time.UTC().Format(time.RFC3339), t.KeyID, P(t.Call), P(t.Region), P(t.IP), P(t.Error))
			}
			if inv.TimelineOmitted > 0 {
				p.f("    ... and %d more (see --format json)\n", inv.TimelineOmitted)
			}
		}
		for _, f := range inv.Findings {
			p.f("  detect     %s [%s] %s\n", pal.Severity(f.Severity), P(f.RuleID), P(f.Title))
		}
	}
	if len(r.Persistence) > 0 {
		p.f("\n%s\n", pal.Bold("Created or changed by the key"))
		for _, c := range r.Persistence {
			state := "review"
			if c.Contained {
				state = "contained"
			}
			p.f("  %-9s %s %s %s (%s, %s)\n", state, P(c.Kind), P(c.ARN), P(c.Region), P(c.Event), day(c.Time))
			if !c.Contained && c.Undo != "" {
				p.f("            undo: %s\n", P(c.Undo))
			}
		}
	}
	if len(r.ToDo) > 0 {
		p.f("\n%s\n", pal.Bold("Left to do"))
		for _, t := range r.ToDo {
			p.f("  - %s\n", P(t))
		}
	}
	return p.err
}

type countSection struct {
	short, title string
	counts       []Count
	network      bool
}

// countSections are the investigation's tallies, in the order printed.
func (inv *Investigation) countSections() []countSection {
	return []countSection{
		{"addresses", "Source addresses", inv.Addresses, true},
		{"agents", "User agents", inv.UserAgents, false},
		{"regions", "Regions", inv.Regions, false},
		{"services", "API calls by service", inv.Services, false},
		{"errors", "Errors", inv.Errors, false},
	}
}

// countsLine lists up to n counts as "value (network) ×count [detail]",
// each string passed through esc.
func countsLine(cs []Count, network bool, n int, esc func(string) string, sep string) string {
	var parts []string
	for _, c := range firstN(cs, n) {
		s := esc(c.Value)
		if network && c.Network != "" {
			s += " (" + esc(c.Network) + ")"
		}
		s += fmt.Sprintf(" ×%d", c.Count)
		if len(c.Detail) > 0 {
			s += " [" + esc(strings.Join(firstN(c.Detail, 8), " ")) + "]"
		}
		parts = append(parts, s)
	}
	line := strings.Join(parts, sep)
	if len(cs) > n {
		line += fmt.Sprintf("%sand %d more", sep, len(cs)-n)
	}
	return line
}

func firstN[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func statusText(s Status, pal report.Palette) string {
	switch s {
	case Done:
		return pal.Green(string(s))
	case Failed, NotDone:
		return pal.Red(string(s))
	case Declined:
		return pal.Yellow(string(s))
	}
	return string(s)
}

// grants lists the actions the key can call without MFA ("?" marks an
// answer that depends on a condition).
func grants(e *audit.Exposure) string {
	var names []string
	for _, g := range e.WithoutMFA {
		n := g.Action
		if len(g.Depends) > 0 {
			n += "?"
		}
		names = append(names, n)
	}
	return P(listOr(names, "none"))
}

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
