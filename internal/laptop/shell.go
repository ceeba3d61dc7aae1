package laptop

import (
	"regexp"
	"strings"
	"sync"

	"github.com/keywarden/keywarden/internal/awsini"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// Assignment is a line of a start-up file that does nothing but set an
// environment variable (apart from indentation and a trailing comment), so
// that it can be replaced by a comment without changing what else the
// file does: "export VAR=value", "VAR=value", fish's "set -gx VAR value",
// csh's "setenv VAR value", PowerShell's "$env:VAR = 'value'".
type Assignment struct {
	Var  string
	Line awsini.Line
	// ValStart and ValEnd locate the value, without its quotes.
	ValStart, ValEnd int
}

// assignRE and awsVar are compiled on first use, not at start: every
// command (the pre-commit hook's scan among them) would otherwise pay
// for them.
var assignRE = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		// sh, bash, zsh: [export|declare -x|typeset -x] VAR=value
		regexp.MustCompile(`^(\s*)(?:(?:export|declare\s+-x|typeset\s+-x|local|readonly)\s+)?([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^\s;#]*)\s*(?:;\s*)?(#.*)?$`),
		// fish: set [-gx|-Ux|...] VAR value
		regexp.MustCompile(`^(\s*)set\s+(?:-[A-Za-z]+\s+)*([A-Za-z_][A-Za-z0-9_]*)\s+("[^"]*"|'[^']*'|[^\s;#]*)\s*(?:;\s*)?(#.*)?$`),
		// csh: setenv VAR value
		regexp.MustCompile(`^(\s*)setenv\s+([A-Za-z_][A-Za-z0-9_]*)\s+("[^"]*"|'[^']*'|[^\s;#]*)\s*(#.*)?$`),
		// PowerShell: $env:VAR = "value"
		regexp.MustCompile(`^(\s*)\$[Ee][Nn][Vv]:([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("[^"]*"|'[^']*'|[^\s;#]*)\s*(?:;\s*)?(#.*)?$`),
	}
})

// awsVar matches the names that carry AWS credentials, with an optional
// prefix or suffix naming the account (PROD_AWS_SECRET_ACCESS_KEY).
var awsVar = lazyregexp.New(`(?i)(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_SECURITY_TOKEN|AWS_ACCESS_KEY|AWS_SECRET_KEY)`)

// ParseAssignments returns the lines of a start-up file that set a
// variable whose name says it holds an AWS credential. Lines it cannot
// read as one assignment are skipped: the scanner still finds keys in
// them, and the rewrite then replaces only the secret.
func ParseAssignments(data []byte) []Assignment {
	var out []Assignment
	for _, l := range awsini.SplitLines(data) {
		text := string(data[l.Start:l.End])
		if !awsVar().MatchString(text) {
			continue
		}
		for _, re := range assignRE() {
			m := re.FindStringSubmatchIndex(text)
			if m == nil {
				continue
			}
			name := text[m[4]:m[5]]
			if !awsVar().MatchString(name) {
				break
			}
			vs, ve := m[6], m[7]
			if ve-vs >= 2 && (text[vs] == '"' || text[vs] == '\'') && text[ve-1] == text[vs] {
				vs, ve = vs+1, ve-1
			}
			out = append(out, Assignment{Var: name, Line: l, ValStart: l.Start + vs, ValEnd: l.Start + ve})
			break
		}
	}
	return out
}

// NameFromVar turns a variable's name into a profile name: the part
// around the AWS name (PROD_AWS_SECRET_ACCESS_KEY: "prod"), else
// "default".
func NameFromVar(v string) string {
	loc := awsVar().FindStringIndex(v)
	if loc == nil {
		return "default"
	}
	rest := strings.Trim(strings.ToLower(v[:loc[0]]+"_"+v[loc[1]:]), "_")
	rest = strings.ReplaceAll(rest, "__", "_")
	if rest == "" {
		return "default"
	}
	return strings.ReplaceAll(rest, "_", "-")
}
