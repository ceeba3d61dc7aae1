package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/keywarden/keywarden/internal/vault/awsconfig"
	"github.com/spf13/cobra"
)

func init() { register("", 69, newSSOCmd) }

func newSSOCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "sso",
		Short:   "IAM Identity Center: write a profile for every account and role you can reach",
		Example: "  keywarden sso populate --start-url https://corp.awsapps.com/start --sso-region eu-west-1",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSSOPopulateCmd(f))
	return cmd
}

type ssoPopulateOptions struct {
	*vaultOptions
	StartURL  string
	SSORegion string
	Session   string
	DryRun    bool
}

func newSSOPopulateCmd(f *Factory) *cobra.Command {
	opts := &ssoPopulateOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "populate --start-url URL --sso-region REGION",
		Short: "Add a profile per account and role to ~/.aws/config",
		Long: `Sign in to the IAM Identity Center at --start-url (the device flow, cached in
the store like any sign-in), list every account and role you can use, and
append to ~/.aws/config (AWS_CONFIG_FILE) an [sso-session] section, when it is
missing, and one [profile ACCOUNT-ROLE] per account and role that no profile
covers yet. Nothing already in the file is changed; names from the portal
are reduced to letters, digits and ._- . --dry-run prints what would be
appended.`,
		Example: `  keywarden sso populate --start-url https://corp.awsapps.com/start --sso-region eu-west-1
  keywarden sso populate --start-url https://corp.awsapps.com/start --sso-region eu-west-1 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSSOPopulate(cmd.Context(), opts) },
	}
	opts.bindStore(cmd)
	cmd.Flags().StringVar(&opts.EndpointURL, "endpoint-url", "", "send Identity Center requests here instead of AWS (default: AWS_ENDPOINT_URL)")
	cmd.Flags().BoolVar(&opts.NoBrowser, "no-browser", false, "print the sign-in URL and code only, do not open a browser")
	cmd.Flags().StringVar(&opts.StartURL, "start-url", "", "the AWS access portal URL (required)")
	cmd.Flags().StringVar(&opts.SSORegion, "sso-region", "", "the Identity Center's region (required)")
	cmd.Flags().StringVar(&opts.Session, "sso-session", "keywarden", "name of the [sso-session] section the profiles use")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what would be appended, change nothing")
	return cmd
}

func runSSOPopulate(ctx context.Context, opts *ssoPopulateOptions) error {
	if opts.StartURL == "" || opts.SSORegion == "" {
		return usageErrorf("--start-url and --sso-region are required")
	}
	if err := vault.CheckProfileName(opts.Session); err != nil {
		return UsageError(fmt.Errorf("--sso-session: %w", err))
	}
	path := awsconfig.Path(opts.Getenv)
	s, err := opts.sessions()
	if err != nil {
		return err
	}
	as, err := s.SSOAssignments(ctx, opts.Session, opts.StartURL, opts.SSORegion)
	if err != nil {
		return vaultUserError(err)
	}
	// Read the file again: the sign-in may have taken minutes.
	cfg, err := awsconfig.Load(path)
	if err != nil {
		return UsageError(err)
	}
	p, err := awsconfig.SSOProfiles(cfg, opts.Session, opts.StartURL, opts.SSORegion, as)
	if err != nil {
		return UsageError(err)
	}
	if p.Skipped > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: skipped %d account/role pairs the portal listed with a malformed account ID or role name\n", p.Skipped)
	}
	if opts.DryRun || p.Text == "" {
		fmt.Fprint(opts.IO.Out, report.Printable(p.Text))
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %d new profiles, %d already in %s%s\n", len(p.Added), p.Kept, path, map[bool]string{true: " (dry run: nothing written)"}[opts.DryRun])
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	perm := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(data, p.Text...), perm); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Added %d profiles to %s (%d already there):\n", len(p.Added), path, p.Kept)
	for _, n := range p.Added {
		fmt.Fprintf(opts.IO.Out, "  %s\n", n)
	}
	return nil
}
