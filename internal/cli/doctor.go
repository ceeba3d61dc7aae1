package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/keywarden/keywarden/internal/awsini"
	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/keywarden/keywarden/internal/laptop"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 55, newDoctorCmd) }

// laptopOptions are what doctor and import share: where to look.
type laptopOptions struct {
	*vaultOptions
	Roots   []string
	Depth   int
	Environ func() []string
}

func (o *laptopOptions) bind(cmd *cobra.Command) {
	o.bindStore(cmd)
	cmd.Flags().StringArrayVar(&o.Roots, "root", nil, "look for .env, tfvars, Compose files and git repositories under `DIR` (repeatable; default: the home directory)")
	cmd.Flags().IntVar(&o.Depth, "depth", 6, "how many directories deep to look under each root")
}

// apiRegion is the region to call STS and IAM in: --region, the
// environment's, else us-east-1 (both are global services).
func (o *laptopOptions) apiRegion() string {
	if r := o.region(""); r != "" {
		return r
	}
	return "us-east-1"
}

func (o *laptopOptions) home() (string, error) {
	if h := o.Getenv("HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", usageErrorf("no home directory: set HOME")
	}
	return h, nil
}

// survey looks everywhere doctor and import look.
func (o *laptopOptions) survey(ctx context.Context) (*laptop.Survey, string, error) {
	home, err := o.home()
	if err != nil {
		return nil, "", err
	}
	if o.Depth < 1 {
		return nil, "", usageErrorf("--depth must be at least 1")
	}
	for _, r := range o.Roots {
		if st, err := os.Stat(r); err != nil || !st.IsDir() {
			return nil, "", usageErrorf("--root %s: not a directory", report.Printable(r))
		}
	}
	env := os.Environ
	if o.Environ != nil {
		env = o.Environ
	}
	s, err := laptop.Run(ctx, laptop.SurveyOptions{Home: home, Getenv: o.Getenv, Env: env(), Roots: o.Roots, Depth: o.Depth})
	if err != nil {
		return nil, "", err
	}
	return s, home, nil
}

type doctorOptions struct {
	laptopOptions
	Format  string
	FailOn  string
	Fix     bool
	Offline bool
	Online  bool
}

func newDoctorCmd(f *Factory) *cobra.Command {
	opts := &doctorOptions{laptopOptions: laptopOptions{vaultOptions: vaultNewOptions(f)}}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine for plain-text AWS keys and weak key handling",
		Long: `A read-only check-up of this machine, as a checklist: each item has its
severity and the command that fixes it. It looks for plain-text AWS keys in
~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
AWS_CONFIG_FILE), the environment, shell start-up files (bash, zsh, fish,
PowerShell), shell histories, ~/.boto, ~/.s3cfg, rclone and docker configs,
and .env, tfvars and Compose files under --root; temporary credentials are
listed apart, with their expiry when known. It also checks the store, the
profiles that use long-term keys without MFA, the modes of ~/.aws, and git
repositories without a secret-scanning pre-commit hook.

Secrets are never printed: each item names the file, line and key ID, and
redacts the secret. "keywarden import" (or doctor --fix) moves the keys into
the store and removes the plain text. See docs/doctor.md.`,
		Example: `  keywarden doctor
  keywarden doctor --root ~/src --format json
  keywarden doctor --fail-on high && echo clean`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd.Context(), opts) },
	}
	opts.bind(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text|json")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "medium", "exit 1 for items at or above this severity: "+report.SeverityNames+"|none")
	cmd.Flags().BoolVar(&opts.Fix, "fix", false, "run keywarden import with its defaults after the check-up")
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "with --fix: do not ask STS whether each key is valid before storing it")
	cmd.Flags().BoolVar(&opts.Online, "online", false, "ask IAM (iam:ListAccessKeys, signed with each stored key) when each key was created")
	opts.bindAWS(cmd)
	return cmd
}

func runDoctor(ctx context.Context, opts *doctorOptions) error {
	format, err := report.ParseFormat(opts.Format, report.FormatText, report.FormatJSON)
	if err != nil {
		return UsageError(err)
	}
	failOn, err := report.ParseSeverity(opts.FailOn)
	if err != nil {
		return UsageError(fmt.Errorf("--fail-on: %w", err))
	}
	s, home, err := opts.survey(ctx)
	if err != nil {
		return err
	}
	findings, problems := doctorFindings(ctx, opts, s, home)
	if format == report.FormatJSON {
		err = report.WriteJSON(opts.IO.Out, report.Tool{Name: "keywarden doctor", Version: Version}, findings, problems)
	} else {
		err = doctorWriteText(opts.IO.Out, opts.IO.ColorEnabled(), s, findings, problems)
	}
	if err != nil {
		return err
	}
	if opts.Fix {
		fmt.Fprintln(opts.IO.Out)
		return runImport(ctx, &importOptions{laptopOptions: opts.laptopOptions, Offline: opts.Offline, Command: "keywarden"})
	}
	if report.AtOrAbove(findings, failOn) {
		return ErrFindings()
	}
	return nil
}

// doctorFindings runs every check over the survey. Problems are what
// could not be checked, said beside the findings.
func doctorFindings(ctx context.Context, opts *doctorOptions, s *laptop.Survey, home string) ([]report.Finding, []string) {
	now := opts.Now().UTC()
	var findings []report.Finding
	var problems []string
	for _, e := range s.Problems {
		problems = append(problems, laptopPrintable(home, e.Error()))
	}
	for _, d := range s.Walk.Skipped {
		problems = append(problems, laptopPrintable(home, d))
	}
	keyed := map[string]string{} // profile -> account of its key
	var config []awsini.Section
	credsPlace, configPlace := laptop.AWSFiles(home, opts.Getenv)
	credsPath, configPath := credsPlace.Path, configPlace.Path
	for i := range s.Hits {
		h := &s.Hits[i]
		findings = append(findings, h.Finding(home, now))
		if h.Form == laptop.FormCredentials && h.Pair() && h.Suppressed == "" {
			keyed[h.Name], _ = awskey.AccountID(h.KeyID)
		}
	}
	if f := s.File(configPath); f != nil && !s.Malformed[configPath] {
		config, _ = awsini.Parse(configPath, f.Data, true)
	}
	findings = append(findings, laptop.CheckMFA(home, configPath, config, keyed)...)
	findings = append(findings, laptop.PermissionFindings(home, filepath.Join(home, ".aws"), credsPath, configPath)...)
	findings = append(findings, doctorStore(ctx, opts, now, &problems)...)
	gitconfig := laptop.GlobalGitConfig(home)
	for _, r := range s.Walk.Repos {
		if !laptop.RepoHasHook(home, r, gitconfig) {
			findings = append(findings, laptop.HookFinding(home, r))
		}
	}
	for i := range findings {
		f := &findings[i]
		f.Location.Path = laptopPrintable("", f.Location.Path)
		f.Location.Resource = report.Printable(f.Location.Resource)
		f.Message = report.Printable(f.Message)
		f.Evidence = report.Printable(f.Evidence)
		f.Remediation = report.Printable(f.Remediation)
	}
	report.Sort(findings)
	return findings, problems
}

// doctorStore checks the store: its backend, and the age of each key
// (with --online, from IAM's creation date). A store that cannot be
// opened, or an IAM that does not answer, is a problem, not a failure.
func doctorStore(ctx context.Context, opts *doctorOptions, now time.Time, problems *[]string) []report.Finding {
	v, err := opts.open()
	if err != nil {
		*problems = append(*problems, "store: "+report.Printable(err.Error()))
		return nil
	}
	out := []report.Finding{laptop.StoreFinding(v.Store.Backend())}
	names, err := v.KeyNames()
	if err != nil {
		*problems = append(*problems, "store: "+report.Printable(err.Error()))
		return out
	}
	for _, n := range names {
		k, err := v.GetKey(n)
		if err != nil {
			*problems = append(*problems, "store: "+report.Printable(err.Error()))
			continue
		}
		if opts.Online {
			created, err := doctorKeyCreated(ctx, opts, k)
			if err != nil {
				*problems = append(*problems, fmt.Sprintf("profile %s: IAM did not say when %s was created (its age is counted from the store): %s", n, k.AccessKeyID, report.Printable(err.Error())))
			} else {
				k.Created = created
			}
		}
		if f, old := laptop.CheckKeyAge(n, k.AccessKeyID, k.Born(), now); old {
			out = append(out, f)
		}
	}
	return out
}

// laptopPrintable shows a path or message from the machine with the home
// directory as "~" and control characters replaced.
func laptopPrintable(home, s string) string {
	if home != "" {
		s = strings.ReplaceAll(s, home+string(filepath.Separator), "~/")
	}
	return report.Printable(s)
}

func doctorWriteText(w io.Writer, color bool, s *laptop.Survey, findings []report.Finding, problems []string) error {
	fmt.Fprintf(w, "Checked %d %s, %d %s under the roots, %d git %s.\n",
		len(s.Files), plural(len(s.Files), "file", "files"), s.Walk.Dirs, plural(s.Walk.Dirs, "directory", "directories"),
		len(s.Walk.Repos), plural(len(s.Walk.Repos), "repository", "repositories"))
	if s.Walk.SkippedDirs+s.Walk.DeepDirs > 0 {
		fmt.Fprintf(w, "Not walked: %d skipped by name (package stores, caches, and ~/.aws and the like, checked on their own), %d %s below --depth.\n",
			s.Walk.SkippedDirs, s.Walk.DeepDirs, plural(s.Walk.DeepDirs, "directory", "directories"))
	}
	fmt.Fprintln(w)
	if err := report.WriteText(w, findings, report.TextOptions{Color: color, ShowSuppressed: true}); err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(w, "skipped: %s\n", p)
	}
	return nil
}

// doctorKeyCreated asks IAM when a stored key was created: ListAccessKeys
// signed with the key itself lists its own user's keys.
func doctorKeyCreated(ctx context.Context, opts *doctorOptions, k *vault.Key) (time.Time, error) {
	out, err := opts.clients().IAM(vault.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}, opts.apiRegion()).
		ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	if err != nil {
		return time.Time{}, err
	}
	for _, m := range out.AccessKeyMetadata {
		if aws.ToString(m.AccessKeyId) == k.AccessKeyID && m.CreateDate != nil {
			return m.CreateDate.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("the key is not among its user's keys")
}
