package cli

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 64, newVaultCredentialProcessCmd) }

type vaultCredentialProcessOptions struct {
	*vaultOptions
	Profile string
}

func newVaultCredentialProcessCmd(f *Factory) *cobra.Command {
	opts := &vaultCredentialProcessOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "credential-process PROFILE",
		Short: "Print session credentials for the AWS CLI's credential_process",
		Long: `Print temporary credentials for PROFILE as the JSON (Version 1) that the AWS
CLI and SDKs read from a credential_process. The AWS CLI does not cache what
a credential_process prints; keywarden does, in its store, so the MFA code is
asked for once per session, not once per command.

Put it in ~/.aws/config under a profile of its own (a profile may not have
both credential_process and source_profile):

  [profile work-mfa]
  credential_process = keywarden credential-process work

The MFA prompt goes to the terminal (/dev/tty), never to stdout. Without a
terminal, give mfa_process in the profile.`,
		Example:           `  aws sts get-caller-identity --profile work-mfa`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored|vaultCompleteConfig, false),
		RunE:              vaultProfileRunE(&opts.Profile, func(ctx context.Context) error { return runVaultCredentialProcess(ctx, opts) }),
	}
	opts.bindSession(cmd)
	return cmd
}

func runVaultCredentialProcess(ctx context.Context, opts *vaultCredentialProcessOptions) error {
	s, err := opts.sessions()
	if err != nil {
		return err
	}
	res, err := opts.credentials(ctx, s, opts.Profile)
	if err != nil {
		return err
	}
	data, err := vault.ProcessOutput(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "%s\n", data)
	return err
}
