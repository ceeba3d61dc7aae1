package cli

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 65, newVaultExportCmd) }

type vaultExportOptions struct {
	*vaultOptions
	Profile string
	Format  string
}

func newVaultExportCmd(f *Factory) *cobra.Command {
	opts := &vaultExportOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "export PROFILE",
		Short: "Print session credentials as shell variables, JSON or an ini section",
		Long: `Print temporary credentials for PROFILE (the same cached MFA session as exec):
--format env gives "export VAR=value" lines for eval, json the
credential_process JSON, ini a section for a credentials file. Only session
credentials are printed, never the stored long-term key, unless --no-session
asks for it (refused when stdout is a terminal; warns on stderr).`,
		Example: `  eval "$(keywarden export work)"
  keywarden export work --format json | jq .Expiration`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored|vaultCompleteConfig, false),
		RunE:              vaultProfileRunE(&opts.Profile, func(ctx context.Context) error { return runVaultExport(ctx, opts) }),
	}
	opts.bindSession(cmd)
	opts.bindNoSession(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "env", "output format: env|json|ini")
	return cmd
}

func runVaultExport(ctx context.Context, opts *vaultExportOptions) error {
	switch opts.Format {
	case "env", "json", "ini":
	default:
		return usageErrorf("unknown format %q (want env, json or ini)", opts.Format)
	}
	if opts.NoSession && opts.IO.IsStdoutTTY() {
		return usageErrorf("--no-session would print the long-term secret key on the terminal: redirect or eval the output")
	}
	s, err := opts.sessions()
	if err != nil {
		return err
	}
	res, err := opts.credentials(ctx, s, opts.Profile)
	if err != nil {
		return err
	}
	opts.warnNoSession(opts.Profile, res, "the output")
	out, err := vault.Export(opts.Profile, res, opts.Format)
	if err != nil {
		return UsageError(err)
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: printing session credentials to the terminal; they are valid until %s\n", res.Expiration.UTC().Format("2006-01-02 15:04 MST"))
	}
	_, err = fmt.Fprint(opts.IO.Out, out)
	return err
}
