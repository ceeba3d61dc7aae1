package respond

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// md escapes text for a Markdown table cell or line: no terminal
// escapes, no table breaks, no HTML.
func md(s string) string {
	s = P(s)
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "`", "'", "\n", " ")
	return r.Replace(s)
}

// WriteMarkdown writes the incident report a person can forward: summary,
// timeline, the containment done, and what is left to do. Key IDs are
// shown in full (they are identifiers); no secret is in a report.
func WriteMarkdown(w io.Writer, r *Report) error {
	p := &printer{w: w}
	p.f("# Incident: leaked AWS access key %s\n\n", r.KeyID)
	p.f("Written by keywarden respond %s on %s.", md(r.Version), r.Finished.UTC().Format(time.RFC3339))
	if r.DryRun {
		p.f(" **Dry run: nothing was changed.**")
	}
	p.f("\n\n## Summary\n\n")
	id := r.Identity
	switch {
	case r.Stopped != "":
		p.f("The response stopped: %s\n\n", md(r.Stopped))
		for _, a := range r.Advice {
			p.f("- %s\n", md(a))
		}
		p.f("\n")
	case id != nil && id.User != "":
		p.f("- **Key**: `%s` (%s), owned by IAM user `%s` in account %s.\n", r.Subject, id.Kind, md(id.User), nonEmpty(id.KeyAccount, md(accountOfARN(id.UserARN))))
		if r.Subject != r.KeyID {
			p.f("- The reported key `%s` is a session made from it (%s at %s).\n", r.KeyID, md(id.Session.EventName), day(id.Session.EventTime))
		}
		p.f("- **Status before the response**: %s; created %s; last used %s.\n", md(id.Status), day(id.Created), md(lastUse(id.LastUsed)))
		p.f("- **Containment**: %s.\n", md(containSummary(r)))
		if e := id.Exposure; e != nil {
			p.f("- **What the key could do without MFA**: %s.\n", grants(e))
		}
	}
	if inv := r.Investigation; inv != nil {
		p.f("- **Activity**: %d events from %d key(s) between %s and %s, from %d address(es) in %d region(s); %d detection finding(s); %d resource(s) created or changed.\n",
			inv.Events, len(inv.Keys), day(inv.First), day(inv.Last), len(inv.Addresses), len(inv.Regions), len(inv.Findings), len(inv.Created))
	}
	if len(r.Steps) > 0 {
		p.f("\n## Containment\n\n| # | status | call | time | undo |\n| --- | --- | --- | --- | --- |\n")
		for i, s := range r.Steps {
			undo := s.UndoNote
			if s.Undo != nil {
				undo = "`" + md(s.Undo.Command()) + "`"
			} else {
				undo = md(undo)
			}
			status := string(s.Status)
			if s.Error != "" {
				status += ": " + md(s.Error)
			}
			p.f("| %d | %s | `%s` | %s | %s |\n", i+1, status, md(s.Call.Command()), day(s.At), undo)
		}
		p.f("\n`keywarden respond --undo REPORT.json` reverses the done steps in the opposite order.\n")
	}
	if inv := r.Investigation; inv != nil {
		p.f("\n## Investigation\n\nRead: %s.", md(listOr(inv.Sources, "nothing")))
		if inv.Skipped > 0 {
			p.f(" %d unreadable input(s) or record(s) were skipped.", inv.Skipped)
		}
		p.f("\n\nKeys: %s.\n", "`"+strings.Join(mapStrings(inv.Keys, md), "`, `")+"`")
		for _, e := range inv.Derived {
			p.f("- `%s` made `%s` with %s at %s%s\n", e.Parent, e.Child, md(e.Event), day(e.Time), md(roleOrUser(e)))
		}
		for _, c := range inv.countSections() {
			if len(c.counts) > 0 {
				p.f("\n**%s**: %s.\n", c.title, countsLine(c.counts, c.network, 20, md, "; "))
			}
		}
		if len(inv.Timeline) > 0 {
			p.f("\n### Timeline (changes and errors)\n\n| time (UTC) | key | call | region | address | error |\n| --- | --- | --- | --- | --- | --- |\n")
			for _, t := range inv.Timeline {
				p.f("| %s | `%s` | %s | %s | %s | %s |\n", t.Time.UTC().Format(time.RFC3339), t.KeyID, md(t.Call), md(t.Region), md(t.IP), md(t.Error))
			}
			if inv.TimelineOmitted > 0 {
				p.f("\n%d more entries are in the JSON report.\n", inv.TimelineOmitted)
			}
		}
		if len(inv.Findings) > 0 {
			p.f("\n### Detections\n\n")
			for _, f := range inv.Findings {
				p.f("- **%s** `%s`: %s\n", f.Severity, md(f.RuleID), md(f.Title))
			}
		}
	}
	if len(r.Persistence) > 0 {
		p.f("\n## Created or changed by the key\n\n| resource | ARN | region | event | time | state / undo |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, c := range r.Persistence {
			state := "review: `" + md(c.Undo) + "`"
			if c.Contained {
				state = "contained (deactivated)"
			}
			p.f("| %s | `%s` | %s | %s | %s | %s |\n", md(c.Kind), md(c.ARN), md(c.Region), md(c.Event), day(c.Time), state)
		}
	}
	if len(r.ToDo) > 0 {
		p.f("\n## Left to do\n\n")
		for _, t := range r.ToDo {
			p.f("- [ ] %s\n", md(t))
		}
	}
	return p.err
}

func roleOrUser(e Edge) string {
	switch {
	case e.RoleARN != "":
		return " (role " + e.RoleARN + ")"
	case e.User != "":
		return " (for user " + e.User + ")"
	}
	return ""
}

// containSummary says in one line what the containment did.
func containSummary(r *Report) string {
	n := map[Status]int{}
	for _, s := range r.Steps {
		n[s.Status]++
	}
	if r.DryRun {
		return fmt.Sprintf("dry run: %d call(s) would be made, %d already in place", n[Planned], n[Already])
	}
	s := fmt.Sprintf("%d change(s) made, %d already in place", n[Done], n[Already])
	if bad := n[Failed] + n[NotDone] + n[Declined]; bad > 0 {
		s += fmt.Sprintf("; %d NOT done (see Left to do)", bad)
	}
	return s
}

func mapStrings(s []string, f func(string) string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}
