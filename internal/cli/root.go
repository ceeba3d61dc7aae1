// Package cli builds keywarden's commands. Each command is an options struct
// and a run function: flags fill the options, the run function calls a
// domain package and renders its result through IOStreams. It is the only
// package that knows cobra.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

// Factory carries what commands need from the outside world. Tests replace
// its fields to run a command without a process, a clock or an environment.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time
}

// NewFactory returns a factory over the real process.
func NewFactory() *Factory {
	return &Factory{IO: System(), Getenv: os.Getenv, Now: time.Now}
}

type registration struct {
	parent string // "" for top level, or a group: "policy", "key", "hook"
	order  int
	make   func(*Factory) *cobra.Command
}

var registry []registration

// register adds a command under parent ("" for the root). Command files
// call it from init so that adding a command touches only its own file.
func register(parent string, order int, mk func(*Factory) *cobra.Command) {
	registry = append(registry, registration{parent: parent, order: order, make: mk})
}

// groups are the parent commands that only hold subcommands.
var groups = []struct{ name, short, example string }{
	{"policy", "Generate, lint and simulate IAM policies that make leaked keys useless",
		"  keywarden policy mfa --group ec2Admins --grant 'ec2:*' --format terraform\n  keywarden policy lint policy.json"},
	{"key", "Inspect access key IDs offline", "  keywarden key inspect AKIAIOSFODNN7EXAMPLE"},
	{"hook", "Install or remove the git hooks that scan commits for AWS keys", "  keywarden hook install"},
	{"baseline", "Generate the protection baseline (trail, alerts, GuardDuty, Config, budget, MFA guard) as code, or check an account against it",
		"  keywarden baseline generate --format terraform --email oncall@example.com -o baseline/\n  keywarden baseline check --profile prod"},
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "keywarden",
		Short: "Protect AWS access keys end to end",
		Long: `keywarden protects AWS API keys end to end: policies that make a leaked key
useless without MFA, an audit of where an account stands, a scanner that stops
keys leaking, keys kept encrypted on the laptop with usable MFA sessions, and
detection of key abuse in CloudTrail.

Exit codes: 0 clean, 1 findings, 2 usage or input error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(newHelpCmd())

	parents := map[string]*cobra.Command{"": root}
	for _, g := range groups {
		c := &cobra.Command{Use: g.name, Short: g.short, Example: g.example, Args: groupArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
		parents[g.name] = c
		root.AddCommand(c)
	}
	regs := append([]registration(nil), registry...)
	sort.SliceStable(regs, func(i, j int) bool { return regs[i].order < regs[j].order })
	for _, r := range regs {
		p, ok := parents[r.parent]
		if !ok {
			panic("cli: unknown parent command " + r.parent)
		}
		p.AddCommand(r.make(f))
	}
	registerValueCompletions(root)
	return root
}

// Main runs keywarden with args and returns the exit code.
func Main(f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	// A context for every command, so cmd.Context() is never nil and run
	// functions need no fallback of their own.
	err := explainAWSError(root.ExecuteContext(context.Background()))
	if err != nil {
		var e *ExitErr
		if !errors.As(err, &e) || e.Err != nil {
			// Errors echo what the user typed and what was read (cobra's
			// "unknown command", flag values, AWS messages): no terminal
			// control may pass through.
			fmt.Fprintf(f.IO.ErrOut, "keywarden: %s\n", report.PrintableText(strings.TrimRight(err.Error(), "\n")))
		}
	}
	return ExitCode(err)
}
