package audit

import (
	_ "embed"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/keywarden/keywarden/internal/report"
)

// The HTML report is one self-contained file (no external assets, so it
// can be mailed or attached to a ticket and still render offline): the
// summary, a sortable and filterable table of keys, per-key details and
// every finding. html/template escapes every value taken from the account
// (user names, policy names and Sids are the exporter's to choose).

//go:embed report.html.tmpl
var htmlTemplate string

// htmlTmpl is parsed on first use, not at start: every command (the
// pre-commit hook's scan among them) would otherwise pay for it.
var htmlTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("audit").Funcs(template.FuncMap{
		"count": func(n *int) string {
			if n == nil {
				return "-"
			}
			return strconv.Itoa(*n)
		},
		"countSort": func(n *int) int {
			if n == nil {
				return -1
			}
			return *n
		},
		"days": func(n *int) string {
			if n == nil {
				return "-"
			}
			return strconv.Itoa(*n) + "d"
		},
		"daysSort": func(n *int) int {
			if n == nil {
				return -1
			}
			return *n
		},
		"sevRank": func(s string) int {
			if s == "" {
				return 0
			}
			v, err := report.ParseSeverity(s)
			if err != nil {
				return 0
			}
			return int(v)
		},
		"join":      strings.Join,
		"lower":     strings.ToLower,
		"check":     CheckByID,
		"keyPhrase": keyPhrase,
	}).Parse(htmlTemplate))
})

type htmlSev struct {
	Name  string
	Count int
}

type htmlKey struct {
	KeyRow
	Index    int
	Findings []report.Finding
	// NoMFA and Anywhere are the exposure's grants grouped by the
	// statements that allow them: compact enough for thousands of keys.
	NoMFA, Anywhere []grantGroup
}

// grantGroup is the actions one set of statements allows.
type grantGroup struct {
	By      string
	Actions []string
	Depends []string
}

func groupGrants(gs []Grant) []grantGroup {
	var out []grantGroup
	at := map[string]int{}
	for _, g := range gs {
		by := strings.Join(g.AllowedBy, ", ")
		key := by + "\x00" + strings.Join(g.Depends, ",")
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, grantGroup{By: by, Depends: g.Depends})
		}
		out[i].Actions = append(out[i].Actions, g.Action)
	}
	return out
}

type htmlData struct {
	R        *Result
	Version  string
	Sources  string
	Sev      []htmlSev
	Total    int
	Keys     []htmlKey
	Others   []report.Finding
	Findings []report.Finding
	Checks   []Check
}

// WriteHTML writes the self-contained HTML report.
func WriteHTML(w io.Writer, version string, r *Result) error {
	d := htmlData{R: r, Version: version, Sources: sourcesText(r), Findings: r.Findings, Checks: Checks}
	sum := report.Summarize(r.Findings)
	d.Total = sum.Total
	for sev := report.SeverityCritical; sev >= report.SeverityInfo; sev-- {
		d.Sev = append(d.Sev, htmlSev{Name: sev.String(), Count: sum.BySeverity[sev.String()]})
	}
	// Attach each finding to its key's row; the rest (root MFA, users
	// without keys) are listed apart.
	grouped := map[*Exposure][2][]grantGroup{}
	for i, k := range r.Keys {
		hk := htmlKey{KeyRow: k, Index: i}
		if e := k.Exposure; e != nil {
			g, ok := grouped[e]
			if !ok {
				g = [2][]grantGroup{groupGrants(e.WithoutMFA), groupGrants(e.FromAnywhere)}
				grouped[e] = g
			}
			hk.NoMFA, hk.Anywhere = g[0], g[1]
		}
		d.Keys = append(d.Keys, hk)
	}
	for _, f := range r.Findings {
		user, _ := f.Properties["user"].(string)
		key, _ := f.Properties["key"].(string)
		placed := false
		for i := range d.Keys {
			k := &d.Keys[i]
			if k.User != user && !(user == "" && strings.HasPrefix(f.Location.Resource, k.UserARN+" ")) {
				continue
			}
			// A user's finding goes on every row that noted it: its active
			// keys, or the row standing for keys nobody listed.
			if key != "" && k.Key == key || key == "" && containsRule(k.KeyRow.Findings, f.RuleID) {
				k.Findings = append(k.Findings, f)
				placed = true
			}
		}
		if !placed {
			d.Others = append(d.Others, f)
		}
	}
	return htmlTmpl().Execute(w, d)
}

func containsRule(list []string, id string) bool {
	for _, s := range list {
		if s == id {
			return true
		}
	}
	return false
}
