package cli

import (
	"fmt"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("", 67, newVaultClearCmd) }

type vaultClearOptions struct {
	*vaultOptions
	Profile string
}

func newVaultClearCmd(f *Factory) *cobra.Command {
	opts := &vaultClearOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "clear [PROFILE]",
		Short: "Forget cached sessions (all, or one profile's); keys are kept",
		Long: `Forget the sessions cached in the store: those cached under PROFILE's name,
or every cached session when no PROFILE is given. Stored long-term keys are
never touched (see remove for that). The next command for a profile gets a
new session, asking for an MFA code if it needs one. keywarden list shows
what is cached.`,
		Example: `  keywarden clear          # every cached session
  keywarden clear ops      # the role session of profile ops`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored|vaultCompleteConfig, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				p, err := vaultProfileArg(args)
				if err != nil {
					return err
				}
				opts.Profile = p
			}
			return runVaultClear(opts)
		},
	}
	opts.bindStore(cmd)
	return cmd
}

func runVaultClear(opts *vaultClearOptions) error {
	v, err := opts.open()
	if err != nil {
		return err
	}
	n, err := v.ClearSessions(opts.Profile)
	if err != nil {
		return err
	}
	what := "cached sessions"
	if n == 1 {
		what = "cached session"
	}
	if opts.Profile != "" {
		fmt.Fprintf(opts.IO.Out, "Cleared %d %s of profile %s.\n", n, what, report.Printable(opts.Profile))
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "Cleared %d %s.\n", n, what)
	return nil
}
