package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// hookRunOptions are the inputs of the hidden `keywarden hook run
// pre-push`, the entry point of the pre-push hook.
type hookRunOptions struct {
	F        *Factory // the whole factory: the scan runs through the command tree
	Dir      string
	Baseline string
	Args     []string // what git passed the hook: remote name and URL
}

func newHookRunCmd(f *Factory) *cobra.Command {
	opts := &hookRunOptions{F: f}
	cmd := &cobra.Command{
		Use:   "run pre-push [REMOTE [URL]]",
		Short: "Run a hook's scan (called by the hook scripts)",
		Long: `Run the scan of a pre-push hook. Called by the hook "keywarden hook install
--pre-push" writes, with git's pre-push standard input; or by the pre-commit
framework, which passes the range in PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF.`,
		Hidden: true,
		Args:   cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "pre-push" {
				return usageErrorf("unknown hook %q (want pre-push)", args[0])
			}
			opts.Args = args[1:]
			return runHookPrePush(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Dir, "repo", "C", ".", "a directory inside the git repository")
	cmd.Flags().StringVar(&opts.Baseline, "baseline", "", "accept the findings listed in this baseline file")
	return cmd
}

// runHookPrePush scans the commits of a push with the scan command itself,
// so that baselines, keywarden:allow, output and exit codes are those of
// `keywarden scan`: `scan --pre-push` when git runs the hook (the refs are
// on stdin), `scan --git FROM..TO` under the pre-commit framework.
func runHookPrePush(ctx context.Context, opts *hookRunOptions) error {
	getenv := opts.F.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	args := []string{"scan", "--quiet", "--repo", opts.Dir}
	if opts.Baseline != "" {
		args = append(args, "--baseline", opts.Baseline)
	}
	if from, to := getenv("PRE_COMMIT_FROM_REF"), getenv("PRE_COMMIT_TO_REF"); from != "" && to != "" {
		if strings.HasPrefix(from, "-") || strings.HasPrefix(to, "-") || strings.ContainsAny(from+to, " \t\n") {
			return usageErrorf("bad PRE_COMMIT_FROM_REF or PRE_COMMIT_TO_REF")
		}
		args = append(args, "--git", from+".."+to)
	} else {
		args = append(args, "--pre-push")
	}
	root := NewRootCmd(opts.F)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if ExitCode(err) == ExitFindings {
		fmt.Fprintln(opts.F.IO.ErrOut, "keywarden: push refused: the commits being pushed hold AWS credentials (listed above).\n"+
			"Remove them from those commits (git rebase -i, git commit --amend), or push with --no-verify to override.")
	}
	return err
}
