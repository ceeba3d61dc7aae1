package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// completedFlags are the flags whose values the shell completes, on every
// command that has them. Their usage text ends with the values, "a|b|c":
// the one place they are written down, so help and completion agree.
var completedFlags = []string{"format", "fail-on"}

// registerValueCompletions walks the command tree and makes the shell
// complete the values of completedFlags (`keywarden scan --format <TAB>`).
// Commands added later are covered without a change here.
func registerValueCompletions(c *cobra.Command) {
	for _, name := range completedFlags {
		f := c.Flags().Lookup(name)
		if f == nil {
			continue
		}
		if choices := flagChoices(f); len(choices) > 0 {
			// The error only says a function is already registered.
			_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	for _, sub := range c.Commands() {
		registerValueCompletions(sub)
	}
}

var (
	parenthesised = lazyregexp.New(`\([^)]*\)`)
	choiceWord    = lazyregexp.New(`^[a-z0-9][a-z0-9-]*$`)
)

// flagChoices reads the values a flag's usage lists after its last colon
// ("output format: text|json (one per line)|sarif" gives text, json,
// sarif), or nil when the usage does not end with such a list.
func flagChoices(f *pflag.Flag) []string {
	u := f.Usage
	i := strings.LastIndex(u, ": ")
	if i < 0 {
		return nil
	}
	list := parenthesised().ReplaceAllString(u[i+2:], "")
	if !strings.Contains(list, "|") {
		return nil
	}
	var out []string
	for _, w := range strings.Split(list, "|") {
		w = strings.TrimSpace(w)
		if !choiceWord().MatchString(w) {
			return nil
		}
		out = append(out, w)
	}
	return out
}
