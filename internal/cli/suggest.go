package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// groupArgs is the Args of a command that only holds subcommands. Cobra
// suggests a subcommand for a typo only at the root; here every group
// does: "keywarden policy mfaa" says "Did you mean this? mfa".
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only at the root
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += didYouMean(s)
	}
	return usageErrorf("%s\nRun '%s --help' for the commands.", msg, cmd.CommandPath())
}

// newHelpCmd replaces cobra's help command, which prints "Unknown help
// topic" and exits 0 for a typo at the root, and shows the parent's help
// for a typo below it ("help policy mfaa"). This one exits 2 with the same
// suggestions as the commands themselves.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help for any command: keywarden help policy lint.",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && sub.Name() != "help" && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return UsageError(err)
			}
			if len(rest) > 0 {
				return groupArgs(target, rest)
			}
			return target.Help()
		},
	}
}

// flagError turns a flag parsing error into a usage error (exit 2) and,
// for an unknown long flag, suggests the command's flags it is close to:
// "--formt" gets "Did you mean this? --format", and so does "-format".
func flagError(cmd *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		// "-format json": pflag reads -f, -o, ... as shorthands.
		msg := err.Error()
		i := strings.LastIndex(msg, " in -")
		if !strings.HasPrefix(msg, "unknown shorthand flag: ") || i < 0 {
			return UsageError(err)
		}
		name = msg[i+len(" in -"):]
	}
	if s := suggestFlags(cmd.Flags(), name); len(s) > 0 {
		return usageErrorf("%w%s", err, didYouMean(s))
	}
	return UsageError(err)
}

// suggestFlags returns the visible flags of fs whose name starts with
// typed or is at most two edits from it, closest first.
func suggestFlags(fs *pflag.FlagSet, typed string) []string {
	if i := strings.IndexByte(typed, '='); i >= 0 {
		typed = typed[:i]
	}
	typed = strings.ToLower(typed)
	if typed == "" {
		return nil
	}
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := levenshtein.Distance(typed, f.Name, nil)
		if strings.HasPrefix(f.Name, typed) {
			d = 0
		}
		if d <= 2 {
			cands = append(cands, cand{f.Name, d})
		}
	})
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = "--" + c.name
	}
	return out
}

func didYouMean(suggestions []string) string {
	return "\n\nDid you mean this?\n\t" + strings.Join(suggestions, "\n\t")
}
