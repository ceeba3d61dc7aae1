package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register("", 62, newVaultRemoveCmd) }

type vaultRemoveOptions struct {
	*vaultOptions
	Profile      string
	SessionsOnly bool
}

func newVaultRemoveCmd(f *Factory) *cobra.Command {
	opts := &vaultRemoveOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "remove PROFILE",
		Short: "Delete a stored key and the sessions cached for it",
		Long: `Delete the long-term key stored for PROFILE and every session cached under
its name. The key itself stays valid in AWS: delete it there too if it is no
longer needed (or use keywarden rotate to replace it).`,
		Example: `  keywarden remove work
  keywarden remove work --sessions-only   # forget cached sessions, keep the key`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored, false),
		RunE:              vaultProfileRunE(&opts.Profile, func(context.Context) error { return runVaultRemove(opts) }),
	}
	opts.bindStore(cmd)
	cmd.Flags().BoolVar(&opts.SessionsOnly, "sessions-only", false, "forget the cached sessions and keep the key")
	return cmd
}

func runVaultRemove(opts *vaultRemoveOptions) error {
	v, err := opts.open()
	if err != nil {
		return err
	}
	if opts.SessionsOnly {
		if err := v.RemoveSessions(opts.Profile); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "Forgot the sessions cached for profile %s.\n", opts.Profile)
		return nil
	}
	// The record of an interrupted rotation may hold the only copy of a
	// key that is active in the account: settle it before forgetting.
	if rec, err := v.GetRotation(opts.Profile); err != nil {
		return err
	} else if rec != nil {
		return usageErrorf("a rotation of profile %q was interrupted and its record holds a key: run keywarden rotate %s first to finish it or roll it back", opts.Profile, opts.Profile)
	}
	found, err := v.RemoveProfile(opts.Profile)
	if err != nil {
		return err
	}
	if !found {
		return usageErrorf("no key stored for profile %q", opts.Profile)
	}
	fmt.Fprintf(opts.IO.Out, "Removed profile %s and its cached sessions from the %s store.\n", opts.Profile, v.Store.Backend())
	return nil
}
