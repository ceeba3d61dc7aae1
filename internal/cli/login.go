package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 68, newLoginCmd) }

type loginOptions struct {
	*vaultOptions
	Profile       string
	Stdout        bool
	Path          string
	FederationURL string
	HTTP          *http.Client
}

func newLoginCmd(f *Factory) *cobra.Command {
	opts := &loginOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "login PROFILE",
		Short: "Open the AWS console signed in with a profile's session",
		Long: `Sign in to the AWS console with PROFILE's session, through AWS's federation
endpoint, and open it in the browser (or print the URL with --stdout).

A role profile or an IAM Identity Center profile signs in with its role
session: the console has the role's permissions, for --duration (default 1h,
at most 12h; 1h for a role assumed with temporary credentials).

A profile on an IAM user's key signs in with sts:GetFederationToken, signed
with the long-term key, after the user has passed MFA (the profile's MFA
session) when it has mfa_serial. The console session then has the user's
own permissions (its policies intersected with an allow-all session policy)
MINUS everything that requires MFA: a federation token carries no MFA
context, so policies with aws:MultiFactorAuthPresent deny it, and it cannot
call IAM or STS. --duration is the token's life (default 12h, at most 36h).

The URL signs anyone who has it in for 15 minutes: --stdout prints it for
you to paste, nowhere else.`,
		Example: `  keywarden login admin
  keywarden login dev --stdout --path /s3/home --region eu-west-1`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored|vaultCompleteConfig, false),
		RunE:              vaultProfileRunE(&opts.Profile, func(ctx context.Context) error { return runLogin(ctx, opts) }),
	}
	opts.bindSession(cmd)
	cmd.Flags().BoolVar(&opts.Stdout, "stdout", false, "print the sign-in URL instead of opening a browser")
	cmd.Flags().StringVar(&opts.Path, "path", "", "console page to land on, e.g. /s3/home (default "+vault.DefaultConsolePath+")")
	cmd.Flags().StringVar(&opts.FederationURL, "federation-url", "", "federation endpoint (default KEYWARDEN_FEDERATION_URL, else "+vault.DefaultFederationURL+")")
	return cmd
}

func runLogin(ctx context.Context, opts *loginOptions) error {
	dest, err := vault.ConsoleDestination(opts.Path, opts.Region)
	if err != nil {
		return UsageError(err)
	}
	endpoint := opts.FederationURL
	if endpoint == "" {
		endpoint = opts.Getenv("KEYWARDEN_FEDERATION_URL")
	}
	if endpoint == "" {
		endpoint = vault.DefaultFederationURL
	}
	s, err := opts.sessions()
	if err != nil {
		return err
	}
	// --duration is the console session's, not the role session's.
	d := opts.Duration
	s.Duration = 0
	res, federated, err := s.ConsoleCredentials(ctx, opts.Profile, d)
	if err != nil {
		return vaultUserError(err)
	}
	consoleDuration := time.Duration(0)
	if !federated {
		consoleDuration = d
		if consoleDuration == 0 {
			consoleDuration = time.Hour
		}
		if consoleDuration < vault.MinDuration || consoleDuration > vault.MaxConsoleSession {
			return usageErrorf("--duration %s is out of range: a console session lasts %s to %s", consoleDuration, vault.MinDuration, vault.MaxConsoleSession)
		}
	} else {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: profile %s is an IAM user's key: the console session comes from sts:GetFederationToken and has the user's permissions WITHOUT MFA (policies that require MFA deny it; no IAM or STS calls)\n", report.Printable(opts.Profile))
	}
	client := opts.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	tok, err := vault.SigninToken(ctx, client, endpoint, res.Credentials, consoleDuration)
	if err != nil {
		return err
	}
	u := vault.LoginURL(endpoint, tok, dest)
	if !opts.Stdout {
		if err := vault.OpenBrowser(u, opts.Getenv); err == nil {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: opened the console for profile %s in your browser\n", report.Printable(opts.Profile))
			return nil
		}
		return usageErrorf("no browser to open here: run keywarden login %s --stdout and paste the URL (it signs in whoever has it, for 15 minutes)", opts.Profile)
	}
	_, err = fmt.Fprintln(opts.IO.Out, u)
	return err
}
