package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 63, newVaultExecCmd) }

type vaultExecOptions struct {
	*vaultOptions
	Profile string
	Command []string
	Server  bool
	// EC2Server serves the credentials as EC2's instance metadata
	// service (IMDSv2) does.
	EC2Server bool
	// Lazy (with a server) gets no credentials until the command asks.
	Lazy   bool
	Nested bool
}

func newVaultExecCmd(f *Factory) *cobra.Command {
	opts := &vaultExecOptions{vaultOptions: vaultNewOptions(f)}
	cmd := &cobra.Command{
		Use:   "exec PROFILE [-- CMD [ARGS...]]",
		Short: "Run a command with MFA session credentials",
		Long: `Run CMD (default: $SHELL) with temporary credentials for PROFILE in its
environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_CREDENTIAL_EXPIRATION, and AWS_REGION/AWS_DEFAULT_REGION when a region is
known. Variables that would make the command use other credentials
(AWS_PROFILE, stale keys, container-credential settings) are removed.

The credentials come from a session cached in the store while it has more
than 5 minutes left, otherwise from STS with the stored key: GetSessionToken,
or AssumeRole for a profile with role_arn, with MFA when the profile has
mfa_serial.

With --server no keys are put in the environment: keywarden serves them on a
random loopback port through the container-credentials protocol
(AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN), and
renews the session when it runs out, so a long job outlives one session.

--ec2-server does the same through an EC2 instance metadata endpoint
(IMDSv2 only: a token from PUT /latest/api/token on every request; requests
with X-Forwarded-For refused) on a random loopback port, for tools that
read nothing else: AWS_EC2_METADATA_SERVICE_ENDPOINT points the command at
it, and AWS_EC2_METADATA_DISABLED is removed. With --lazy, either server gets
no credentials (and asks for no MFA code) until the command first asks.

--no-session gives the command the stored long-term key itself (for a role
profile: the role assumed straight from it, without the MFA session). It is
never the default and keywarden warns on stderr each time.

The command's stdin, stdout and stderr are its own, signals are passed on,
and keywarden exits with its status.`,
		Example: `  keywarden exec work -- aws s3 ls
  keywarden exec admin --server -- terraform apply
  keywarden exec admin --ec2-server -- legacy-tool-that-reads-imds
  keywarden exec work            # a shell with the credentials
  keywarden exec work --no-session -- legacy-tool   # the long-term key: warns`,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: opts.completeProfile(vaultCompleteStored|vaultCompleteConfig, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			var before []string
			if dash >= 0 {
				before, opts.Command = args[:dash], args[dash:]
			} else {
				before = args
				if len(args) > 1 {
					before, opts.Command = args[:1], args[1:]
				}
			}
			p, err := vaultProfileArg(before)
			if err != nil {
				return err
			}
			opts.Profile = p
			return runVaultExec(cmd.Context(), opts)
		},
	}
	opts.bindSession(cmd)
	opts.bindNoSession(cmd)
	cmd.Flags().BoolVar(&opts.Server, "server", false, "serve refreshing credentials on a loopback port instead of putting keys in the environment")
	cmd.Flags().BoolVar(&opts.EC2Server, "ec2-server", false, "serve refreshing credentials as an EC2 instance metadata endpoint (IMDSv2) on a loopback port")
	cmd.MarkFlagsMutuallyExclusive("server", "ec2-server")
	cmd.Flags().BoolVar(&opts.Lazy, "lazy", false, "with --server or --ec2-server: get no credentials (and ask for no MFA code) until the command asks for them")
	cmd.Flags().BoolVar(&opts.Nested, "nested", false, "allow running inside another keywarden exec")
	return cmd
}

func runVaultExec(ctx context.Context, opts *vaultExecOptions) error {
	if cur := opts.Getenv(vault.NestedEnv); cur != "" && !opts.Nested {
		return usageErrorf("already inside keywarden exec for profile %q: exit that shell first, or pass --nested", cur)
	}
	if len(opts.Command) == 0 {
		sh := opts.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		opts.Command = []string{sh}
	}
	s, err := opts.sessions()
	if err != nil {
		return err
	}
	var res *vault.Result
	if opts.Lazy {
		if !opts.Server && !opts.EC2Server {
			return usageErrorf("--lazy needs --server or --ec2-server: without a server the credentials go in the environment, before the command starts")
		}
		if opts.NoSession {
			return usageErrorf("--lazy and --no-session do not go together: the warning about the long-term key belongs before the command starts")
		}
		// The profile is checked now; STS waits for the first request.
		r, err := s.Config.Resolve(opts.Profile)
		if err != nil {
			return UsageError(err)
		}
		if !r.IsSSO() {
			if _, err := s.Vault.GetKey(r.KeyProfile); err != nil {
				return vaultUserError(err)
			}
		}
		res = &vault.Result{Region: opts.region(r.Region)}
	} else {
		// Get the first session now, in the foreground: an MFA prompt or
		// an error belongs before the command starts, not in the middle.
		res, err = opts.credentials(ctx, s, opts.Profile)
		if err != nil {
			return err
		}
		opts.warnNoSession(opts.Profile, res, opts.Command[0])
	}
	env := vault.CleanEnv(os.Environ())
	renewErr := func(err error) {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: renewing credentials for %s: %s\n", report.Printable(opts.Profile), report.Printable(err.Error()))
	}
	get := func(ctx context.Context) (*vault.Result, error) { return opts.credentials(ctx, s, opts.Profile) }
	if opts.Server {
		srv := &vault.CredentialServer{
			Get:    get,
			Errors: renewErr,
		}
		if err := srv.Start(); err != nil {
			return err
		}
		defer srv.Close()
		env = append(env, srv.Env()...)
		env = append(env, vault.RegionEnv(opts.Profile, res.Region)...)
	} else if opts.EC2Server {
		srv := &vault.IMDSServer{
			Get:    get,
			Role:   opts.Profile,
			Now:    opts.Now,
			Errors: renewErr,
		}
		if err := srv.Start(); err != nil {
			return err
		}
		defer srv.Close()
		env = append(vault.IMDSEnv(env), srv.Env()...)
		env = append(env, vault.RegionEnv(opts.Profile, res.Region)...)
	} else {
		env = append(env, vault.CredentialEnv(opts.Profile, res)...)
	}
	code, err := vault.Run(ctx, opts.Command[0], opts.Command[1:], env)
	if err != nil {
		return UsageError(fmt.Errorf("running %s: %w", opts.Command[0], err))
	}
	if code != 0 {
		return &ExitErr{Code: code}
	}
	return nil
}
