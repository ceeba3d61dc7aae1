package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/keywarden/keywarden/internal/clock"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/keywarden/keywarden/internal/vault/awsconfig"
	"github.com/spf13/cobra"
)

// vaultOpenTerminal opens the controlling terminal; tests replace it.
var vaultOpenTerminal = vault.OpenTerminal

// vaultOptions are the flags and context every vault command shares.
type vaultOptions struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time

	Backend     string
	EndpointURL string
	MFAToken    string
	Duration    time.Duration
	Region      string
	NoCache     bool
	NoSession   bool
	Prompt      string
	NoBrowser   bool
}

func vaultNewOptions(f *Factory) *vaultOptions {
	return &vaultOptions{IO: f.IO, Getenv: f.Getenv, Now: f.Now}
}

// bindStore adds the flags that choose the store.
func (o *vaultOptions) bindStore(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Backend, "backend", "", "credential store: "+strings.Join(vault.Backends, "|")+" (default: KEYWARDEN_BACKEND, else auto)")
	_ = cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions(vault.Backends, cobra.ShellCompDirectiveNoFileComp))
}

// bindAWS adds the flags of commands that call STS.
func (o *vaultOptions) bindAWS(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.EndpointURL, "endpoint-url", "", "send STS and IAM requests here instead of AWS (default: AWS_ENDPOINT_URL)")
	cmd.Flags().StringVar(&o.Region, "region", "", "region for the session and the child (default: the profile's, AWS_REGION)")
}

// bindSession adds the flags of commands that need a session.
func (o *vaultOptions) bindSession(cmd *cobra.Command) {
	o.bindStore(cmd)
	o.bindAWS(cmd)
	cmd.Flags().StringVar(&o.MFAToken, "mfa-token", "", "the current 6-digit MFA code (else mfa_process, else a prompt on the terminal)")
	cmd.Flags().DurationVar(&o.Duration, "duration", 0, "session duration, e.g. 1h or 8h (default: duration_seconds, else 12h for sessions and 1h for roles)")
	cmd.Flags().BoolVar(&o.NoCache, "no-cache", false, "get a new session from STS even if a cached one is still fresh")
	cmd.Flags().StringVar(&o.Prompt, "prompt", "", "how to ask for an MFA code: "+strings.Join(vault.Prompts, "|")+" (default: KEYWARDEN_PROMPT, else the profile's mfa_prompt, else terminal)")
	cmd.Flags().BoolVar(&o.NoBrowser, "no-browser", false, "IAM Identity Center sign-in: print the URL and code only, do not open a browser (also KEYWARDEN_NO_BROWSER)")
	_ = cmd.RegisterFlagCompletionFunc("prompt", cobra.FixedCompletions(vault.Prompts, cobra.ShellCompDirectiveNoFileComp))
}

func (o *vaultOptions) passphrase(create bool) (string, error) {
	if p := o.Getenv("KEYWARDEN_FILE_PASSPHRASE"); p != "" {
		return p, nil
	}
	tty, err := vaultOpenTerminal()
	if err != nil {
		return "", errors.New("the encrypted file store needs its passphrase and there is no terminal to ask on: set KEYWARDEN_FILE_PASSPHRASE, or run keywarden unlock --for 8h from a terminal first")
	}
	defer tty.Close()
	p, err := tty.ReadSecret("Passphrase for the keywarden store: ")
	if err != nil {
		return "", err
	}
	if create {
		again, err := tty.ReadSecret("Passphrase again (a new store): ")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", errors.New("the two passphrases differ")
		}
	}
	if p == "" {
		return "", errors.New("empty passphrase")
	}
	return p, nil
}

// open opens the chosen store.
func (o *vaultOptions) open() (*vault.Vault, error) {
	v, err := o.openWith(o.passphrase)
	if err != nil {
		return nil, UsageError(err)
	}
	return v, nil
}

// openWith opens the chosen store, unlocking the encrypted file with pass.
func (o *vaultOptions) openWith(pass vault.PassphraseFunc) (*vault.Vault, error) {
	backend := o.Backend
	if backend == "" {
		backend = o.Getenv("KEYWARDEN_BACKEND")
	}
	st, err := vault.Open(vault.OpenOptions{
		Backend:                 backend,
		FileDir:                 vault.DefaultFileDir(o.Getenv),
		Passphrase:              pass,
		SecretServiceCollection: o.Getenv("KEYWARDEN_SECRET_SERVICE_COLLECTION"),
		KeyCache:                unlockCaches(o.Getenv),
	})
	if err != nil {
		return nil, err
	}
	return &vault.Vault{Store: st}, nil
}

func (o *vaultOptions) clients() vault.Clients {
	ep := o.EndpointURL
	if ep == "" {
		ep = o.Getenv("AWS_ENDPOINT_URL")
	}
	return vault.Clients{Endpoint: ep}
}

func (o *vaultOptions) config() (*awsconfig.Config, error) {
	return awsconfig.Load(awsconfig.Path(o.Getenv))
}

// region is the region for a profile: --region, the profile's, the
// environment's.
func (o *vaultOptions) region(profileRegion string) string {
	for _, r := range []string{o.Region, profileRegion, o.Getenv("AWS_REGION"), o.Getenv("AWS_DEFAULT_REGION")} {
		if r != "" {
			return r
		}
	}
	return ""
}

// sessions opens the store and builds the session manager over it: what
// every command that needs session credentials starts with.
func (o *vaultOptions) sessions() (*vault.Sessions, error) {
	v, err := o.open()
	if err != nil {
		return nil, err
	}
	cfg, err := o.config()
	if err != nil {
		return nil, UsageError(err)
	}
	if o.Duration != 0 && o.Duration < time.Second {
		return nil, usageErrorf("--duration %s is too short", o.Duration)
	}
	prompt := o.Prompt
	if prompt == "" {
		prompt = o.Getenv("KEYWARDEN_PROMPT")
	}
	if prompt != "" {
		if err := vault.CheckPrompt(prompt); err != nil {
			return nil, UsageError(err)
		}
	}
	chain := &vault.MFAChain{Code: o.MFAToken, Choice: prompt, Stderr: o.IO.ErrOut,
		YkmanAccount: o.Getenv("KEYWARDEN_YKMAN_OATH_ACCOUNT"), PassPrefix: o.Getenv("KEYWARDEN_PASS_OTP_PREFIX")}
	// Ask on the terminal only where there is one: without, the chain
	// fails at once with advice on --mfa-token and mfa_process.
	if tty, err := vaultOpenTerminal(); err == nil {
		tty.Close()
		chain.Prompt = func(prompt string) (string, error) {
			tty, err := vaultOpenTerminal()
			if err != nil {
				return "", err
			}
			defer tty.Close()
			return tty.ReadLine(prompt)
		}
	}
	c := o.clients()
	oidc, portal := c.SSOClients()
	return &vault.Sessions{
		SSO:      vault.SSOClients{OIDC: oidc, Portal: portal, SignIn: o.ssoSignIn, Sleep: clock.Sleep},
		Vault:    v,
		Config:   cfg,
		NewSTS:   c.STS,
		MFA:      chain,
		Now:      o.Now,
		Duration: o.Duration,
		NoCache:  o.NoCache,
		// --no-session: the long-term key itself; callers warn.
		NoSession: o.NoSession,
		// One MFA prompt when several commands want the same new session
		// at once (parallel aws commands through credential_process).
		Lock: vault.SessionLock(vault.DefaultFileDir(o.Getenv)),
	}, nil
}

// credentials returns the credentials for profile, with the region
// settled.
func (o *vaultOptions) credentials(ctx context.Context, s *vault.Sessions, profile string) (*vault.Result, error) {
	res, err := s.Credentials(ctx, profile)
	if err != nil {
		return nil, vaultUserError(err)
	}
	res.Region = o.region(res.Region)
	return res, nil
}

// bindNoSession adds --no-session (exec and export only).
func (o *vaultOptions) bindNoSession(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.NoSession, "no-session", false, "use the stored LONG-TERM key itself, no session (a role profile: AssumeRole straight from it); never the default, warns")
}

// warnNoSession says loudly, on stderr, what --no-session handed out.
func (o *vaultOptions) warnNoSession(profile string, res *vault.Result, to string) {
	if !o.NoSession {
		return
	}
	if res.Kind == "long-term" {
		fmt.Fprintf(o.IO.ErrOut, "keywarden: WARNING: --no-session: %s gets the LONG-TERM access key %s of profile %s, not a session.\n"+
			"keywarden: WARNING: it never expires (until you rotate or delete it), carries no MFA (policies that require MFA refuse it), and\n"+
			"keywarden: WARNING: whatever reads it can use it from anywhere. Use it only where a session cannot work.\n",
			report.Printable(to), awskey.Redact(res.AccessKeyID), report.Printable(profile))
		return
	}
	fmt.Fprintf(o.IO.ErrOut, "keywarden: WARNING: --no-session: the role of profile %s was assumed straight from the long-term key, without the shared MFA session, and is not cached.\n", report.Printable(profile))
}

// ssoSignIn tells the user where to approve an IAM Identity Center
// sign-in, on stderr (stdout may be credential_process's JSON), and opens
// the browser where there is one and --no-browser was not given.
func (o *vaultOptions) ssoSignIn(url, code string) {
	fmt.Fprintf(o.IO.ErrOut, "keywarden: to sign in to IAM Identity Center, open\n\n    %s\n\nkeywarden: and check that the page shows the code %s\n", report.Printable(url), report.Printable(code))
	if o.NoBrowser || o.Getenv("KEYWARDEN_NO_BROWSER") != "" {
		return
	}
	if err := vault.OpenBrowser(url, o.Getenv); err == nil {
		fmt.Fprintf(o.IO.ErrOut, "keywarden: opened it in your browser; waiting for approval\n")
	}
}

// vaultUserError makes errors the user must fix (a missing key, no MFA
// source) exit 2 with their message.
func vaultUserError(err error) error {
	if errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrNoMFASource) || errors.Is(err, vault.ErrSSOSignIn) {
		return UsageError(err)
	}
	return err
}

// vaultProfileRunE is the RunE of a command that takes one PROFILE: it
// checks the argument, stores it in *profile and calls run.
func vaultProfileRunE(profile *string, run func(ctx context.Context) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		p, err := vaultProfileArg(args)
		if err != nil {
			return err
		}
		*profile = p
		return run(cmd.Context())
	}
}

// vaultProfileArg checks a PROFILE argument.
func vaultProfileArg(args []string) (string, error) {
	if len(args) != 1 {
		return "", usageErrorf("expected one PROFILE argument")
	}
	if err := vault.CheckProfileName(args[0]); err != nil {
		return "", UsageError(err)
	}
	return args[0], nil
}

// Which profiles a PROFILE argument completes to.
const (
	vaultCompleteStored = 1 << iota // profiles with a stored key
	vaultCompleteConfig             // profiles in ~/.aws/config (AWS_CONFIG_FILE)
)

// completeProfile returns the completion of a command's PROFILE argument
// (its first; later ones complete as files when files, else to nothing).
// It never prompts: the encrypted file store is read only when
// KEYWARDEN_FILE_PASSPHRASE is set, and a store or config file that cannot
// be read just contributes no names.
func (o *vaultOptions) completeProfile(which int, files bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			if files {
				return nil, cobra.ShellCompDirectiveDefault
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return o.profileCompletions(which, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func (o *vaultOptions) profileCompletions(which int, prefix string) []cobra.Completion {
	desc := map[string]string{}
	if which&vaultCompleteConfig != 0 {
		if cfg, err := o.config(); err == nil {
			for _, n := range cfg.Names() {
				desc[n] = "in AWS config"
			}
		}
	}
	if which&vaultCompleteStored != 0 {
		if names, err := o.storedNames(); err == nil {
			for _, n := range names {
				desc[n] = "key stored"
			}
		}
	}
	var out []cobra.Completion
	for n, d := range desc {
		// A name with a tab, a newline or an escape would break the
		// completion protocol or the terminal: CheckProfileName refuses
		// those, as the commands do.
		if strings.HasPrefix(n, prefix) && vault.CheckProfileName(n) == nil {
			out = append(out, cobra.CompletionWithDesc(n, d))
		}
	}
	slices.Sort(out)
	return out
}

// storedNames lists the profiles with a stored key without ever asking
// for a passphrase.
func (o *vaultOptions) storedNames() ([]string, error) {
	v, err := o.openWith(func(bool) (string, error) {
		if p := o.Getenv("KEYWARDEN_FILE_PASSPHRASE"); p != "" {
			return p, nil
		}
		return "", errors.New("no passphrase while completing")
	})
	if err != nil {
		return nil, err
	}
	return v.KeyNames()
}
