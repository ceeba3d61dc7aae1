package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/laptop"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/vault"
	"github.com/spf13/cobra"
)

func init() { register("", 56, newImportCmd) }

type importOptions struct {
	laptopOptions
	Names           []string
	Offline         bool
	DryRun          bool
	FixProjectFiles bool
	// Command is the keywarden executable credential_process runs.
	Command string
	// writer applies the rewrites; tests inject failures.
	writer *laptop.Writer
}

func newImportCmd(f *Factory) *cobra.Command {
	opts := &importOptions{laptopOptions: laptopOptions{vaultOptions: vaultNewOptions(f)}}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Move the plain-text AWS keys doctor finds into the store, and remove them",
		Long: `Move every plain-text long-term key that "keywarden doctor" finds into the
encrypted store, then remove the plain text, safely:

  - each distinct key pair becomes a store entry, named after its profile
    or variable (--name to choose); unless --offline, sts:GetCallerIdentity
    checks it first and a key STS refuses is reported and left where it is;
  - the profile in ~/.aws/config gets
    "credential_process = keywarden credential-process NAME", and the key's
    lines leave ~/.aws/credentials (everything else kept; the file is
    deleted only when nothing else is left in it);
  - in shell histories and start-up files the secret (and the export lines
    of the key) is replaced by "<moved to keywarden: NAME>", every other
    byte kept, with the file's mode and owner;
  - .env, tfvars and other project files are left alone unless
    --fix-project-files, which empties the value.

Every rewrite is atomic and re-read to check the secret is gone; there is
never a plain-text backup. --dry-run shows each change as a diff with the
secrets redacted. Running it twice changes nothing the second time. At the
end the check-up runs again over what was fixed.`,
		Example: `  keywarden import --dry-run
  keywarden import
  keywarden import --name AKIAY34FZKBOKMUTVV7A=work --offline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runImport(cmd.Context(), opts) },
	}
	opts.bind(cmd)
	opts.bindAWS(cmd)
	cmd.Flags().StringArrayVar(&opts.Names, "name", nil, "the store name: `NAME` for the only key found, or KEYID=NAME (repeatable)")
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "do not ask STS whether each key is valid before storing it")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what would be stored and each change as a diff (secrets redacted); change nothing")
	cmd.Flags().BoolVar(&opts.FixProjectFiles, "fix-project-files", false, "also empty the values in .env, tfvars, Compose files and other tools' configs")
	cmd.Flags().StringVar(&opts.Command, "command", "keywarden", "the keywarden executable credential_process runs")
	return cmd
}

// importNames reads --name: NAME alone (for the only key) or KEYID=NAME.
func importNames(flags []string, keys []laptop.Key) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		id, name, ok := strings.Cut(f, "=")
		if !ok {
			if len(keys) != 1 {
				return nil, usageErrorf("--name %s: %d keys were found; name each with --name KEYID=NAME", report.Printable(f), len(keys))
			}
			id, name = keys[0].KeyID, f
		}
		if err := vault.CheckProfileName(name); err != nil {
			return nil, UsageError(err)
		}
		out[id] = name
	}
	return out, nil
}

func runImport(ctx context.Context, opts *importOptions) error {
	s, home, err := opts.survey(ctx)
	if err != nil {
		return err
	}
	w := opts.IO.Out
	show := func(p string) string { return laptopPrintable(home, laptop.Display(home, p)) }
	for _, e := range s.Problems {
		fmt.Fprintf(opts.IO.ErrOut, "skipped: %s\n", laptopPrintable(home, e.Error()))
	}
	found := laptop.Keys(s.Hits, nil)
	if len(found) == 0 {
		fmt.Fprintln(w, "No plain-text long-term key to import.")
		return nil
	}
	names, err := importNames(opts.Names, found)
	if err != nil {
		return err
	}
	v, err := opts.open()
	if err != nil {
		return err
	}
	// A key already stored keeps its name, so that a second run (after a
	// failure half-way) names every key as the first did.
	if stored, err := v.KeyNames(); err == nil {
		for _, n := range stored {
			if k, err := v.GetKey(n); err == nil && names[k.AccessKeyID] == "" {
				names[k.AccessKeyID] = n
			}
		}
	}
	keys := laptop.Keys(s.Hits, names)
	var imported []laptop.Key
	failed := 0
	for _, k := range keys {
		ok, err := importKey(ctx, opts, v, k)
		if err != nil {
			failed++
			fmt.Fprintf(opts.IO.ErrOut, "not imported: %s (%s): %s; its plain text is left where it is\n", k.KeyID, k.Name, report.Printable(err.Error()))
			continue
		}
		if ok {
			fmt.Fprintf(w, "%s %s as %s in the %s store.\n", map[bool]string{true: "Would store", false: "Stored"}[opts.DryRun], k.KeyID, k.Name, v.Store.Backend())
		} else {
			fmt.Fprintf(w, "%s is already in the store as %s.\n", k.KeyID, k.Name)
		}
		imported = append(imported, k)
	}
	plans, files := importPlans(opts, s, home, imported)
	touched, werr := importApply(opts, plans, files, show)
	clean := true
	malformed := 0
	if !opts.DryRun {
		malformed = importAdvice(opts, s, imported, touched, show)
		if clean, err = importRecheck(ctx, opts, s.Malformed, imported, touched, show); err != nil {
			return err
		}
	}
	switch {
	case malformed > 0:
		return usageErrorf("%d %s holding imported keys could not be parsed and %s left as %s: fix %s and run keywarden import again",
			malformed, plural(malformed, "file", "files"), plural(malformed, "was", "were"), plural(malformed, "it was", "they were"), plural(malformed, "it", "them"))
	case werr > 0:
		return usageErrorf("%d %s could not be rewritten: %s unchanged and the keys are in the store; fix the cause and run keywarden import again",
			werr, plural(werr, "file", "files"), plural(werr, "it is", "they are"))
	case !clean:
		return errors.New("doctor still finds imported keys in plain text: see above")
	case failed > 0:
		return ErrFindings()
	}
	return nil
}

// importKey verifies a key (unless --offline) and stores it. It returns
// false for a key already stored under that name.
func importKey(ctx context.Context, opts *importOptions, v *vault.Vault, k laptop.Key) (bool, error) {
	if err := vault.CheckProfileName(k.Name); err != nil {
		return false, fmt.Errorf("%w: choose a name with --name %s=NAME", err, k.KeyID)
	}
	old, err := v.GetKey(k.Name)
	switch {
	case err == nil && old.AccessKeyID == k.KeyID:
		return false, nil
	case err == nil:
		return false, fmt.Errorf("the store already has another key (%s) as %s: choose a name with --name %s=NAME", old.AccessKeyID, k.Name, k.KeyID)
	case !errors.Is(err, vault.ErrNotFound):
		return false, err
	}
	key := &vault.Key{AccessKeyID: k.KeyID, SecretAccessKey: k.Secret, Added: opts.Now().UTC()}
	if !opts.Offline {
		out, err := opts.clients().STS(vault.Credentials{AccessKeyID: k.KeyID, SecretAccessKey: k.Secret}, opts.apiRegion()).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return false, fmt.Errorf("STS did not accept the key (invalid, revoked, or no network: --offline skips the check): %w", err)
		}
		key.ARN = aws.ToString(out.Arn)
	}
	if opts.DryRun {
		return true, nil
	}
	if err := v.SetKey(k.Name, key); err != nil {
		return false, fmt.Errorf("storing the key: %w", err)
	}
	return true, nil
}

// importPlans computes the rewrite of every file that holds an imported
// key, and of the AWS config file for credential_process.
func importPlans(opts *importOptions, s *laptop.Survey, home string, keys []laptop.Key) ([]*laptop.FilePlan, []*laptop.File) {
	if len(keys) == 0 {
		return nil, nil
	}
	uses := laptop.Uses(keys)
	for _, u := range uses {
		if u.Profile != u.Store {
			fmt.Fprintf(opts.IO.ErrOut, "note: profile %s now gets the key stored as %s; keywarden reads mfa_serial and region from [profile %s]\n", report.Printable(u.Profile), u.Store, u.Store)
		}
	}
	files := s.Files
	_, configPlace := laptop.AWSFiles(home, opts.Getenv)
	if s.File(configPlace.Path) == nil && !s.Malformed[configPlace.Path] {
		files = append(files, laptop.NewFile(configPlace))
	}
	var plans []*laptop.FilePlan
	var out []*laptop.File
	for _, f := range files {
		if s.Malformed[f.Place.Path] {
			continue
		}
		p, err := laptop.Plan(f.Place, f.Data, keys, uses, laptop.PlanOptions{Command: opts.Command, FixProjectFiles: opts.FixProjectFiles})
		if err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "left unchanged: %s\n", laptopPrintable(home, err.Error()))
			continue
		}
		for _, n := range p.Notes {
			fmt.Fprintf(opts.IO.ErrOut, "note: %s\n", report.Printable(n))
		}
		if !p.Empty() {
			plans = append(plans, p)
			out = append(out, f)
		}
	}
	return plans, out
}

// importApply shows (--dry-run) or applies each plan. It returns the files
// rewritten and how many could not be.
func importApply(opts *importOptions, plans []*laptop.FilePlan, files []*laptop.File, show func(string) string) ([]*laptop.FilePlan, int) {
	wr := opts.writer
	if wr == nil {
		wr = &laptop.Writer{}
	}
	var done []*laptop.FilePlan
	failed := 0
	for i, p := range plans {
		if opts.DryRun {
			fmt.Fprint(opts.IO.Out, report.PrintableText(strings.ReplaceAll(p.Diff(), p.Path, show(p.Path))))
			continue
		}
		if err := wr.Apply(files[i], p); err != nil {
			failed++
			fmt.Fprintf(opts.IO.ErrOut, "error: %s\n", laptopPrintable("", strings.ReplaceAll(err.Error(), p.Path, show(p.Path))))
			continue
		}
		done = append(done, p)
		if p.Delete {
			fmt.Fprintf(opts.IO.Out, "Deleted %s: nothing else was in it.\n", show(p.Path))
		} else {
			fmt.Fprintf(opts.IO.Out, "Rewrote %s (%d %s).\n", show(p.Path), len(p.Edits), plural(len(p.Edits), "change", "changes"))
		}
	}
	return done, failed
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// historyAdvice is the command that drops a running shell's in-memory
// history, which it would otherwise write back on exit.
var historyAdvice = map[laptop.Shell]string{
	laptop.ShellBash:       "bash: history -c && history -r",
	laptop.ShellZsh:        "zsh: fc -p   (an empty history that is not saved; or leave the shell with: kill -9 $$)",
	laptop.ShellFish:       "fish: history clear-session",
	laptop.ShellPowerShell: "PowerShell: [Microsoft.PowerShell.PSConsoleReadLine]::ClearHistory(); Clear-History",
}

// importAdvice says what import did not (could not) do itself. It returns
// how many files holding imported keys were left because they could not be
// parsed.
func importAdvice(opts *importOptions, s *laptop.Survey, keys []laptop.Key, done []*laptop.FilePlan, show func(string) string) int {
	w := opts.IO.Out
	imported := map[string]string{}
	for _, k := range keys {
		imported[k.Secret] = k.Name
	}
	shells := map[laptop.Shell]bool{}
	for _, p := range done {
		for _, f := range s.Files {
			if f.Place.Path == p.Path && f.Place.Form == laptop.FormHistory {
				shells[f.Place.Shell] = true
			}
		}
	}
	if len(shells) > 0 {
		fmt.Fprintln(w, "Running shells keep their history in memory and may write the old lines back when they exit. In each open shell run:")
		for _, sh := range []laptop.Shell{laptop.ShellBash, laptop.ShellZsh, laptop.ShellFish, laptop.ShellPowerShell} {
			if shells[sh] {
				fmt.Fprintf(w, "  %s\n", historyAdvice[sh])
			}
		}
	}
	seen := map[string]bool{}
	malformed := 0
	for _, h := range s.Hits {
		name := imported[h.Secret]
		if name == "" || seen[h.Path] {
			continue
		}
		switch {
		case s.Malformed[h.Path]:
			seen[h.Path] = true
			malformed++
			fmt.Fprintf(opts.IO.ErrOut, "Left %s as it is: it could not be parsed (see above), and still holds %s.\n", show(h.Path), h.KeyID)
		case h.Form == laptop.FormEnv:
			seen[h.Path] = true
			fmt.Fprintf(w, "The environment still holds %s: unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY (and %s).\n", h.KeyID, report.Printable(h.Var))
		case (h.Form == laptop.FormProject || h.Form == laptop.FormTool) && !opts.FixProjectFiles:
			seen[h.Path] = true
			fmt.Fprintf(w, "Left %s as it is (it belongs to an application): run it with `keywarden exec %s -- COMMAND`, then empty the value (or: keywarden import --fix-project-files).\n", show(h.Path), name)
		}
	}
	return malformed
}

// importRecheck runs the check-up again and greps every rewritten file for
// the imported secrets: both must come out clean.
func importRecheck(ctx context.Context, opts *importOptions, malformed map[string]bool, keys []laptop.Key, done []*laptop.FilePlan, show func(string) string) (bool, error) {
	if len(keys) == 0 {
		return true, nil
	}
	var secrets []string
	imported := map[string]bool{}
	for _, k := range keys {
		secrets = append(secrets, k.Secret)
		imported[k.Secret] = true
	}
	for _, p := range done {
		if err := laptop.Verify(p.Path, secrets); err != nil {
			return false, fmt.Errorf("%s", show(err.Error()))
		}
	}
	if len(done) > 0 {
		fmt.Fprintf(opts.IO.Out, "Checked the %d rewritten %s: no imported secret is left in them.\n", len(done), plural(len(done), "file", "files"))
	}
	s, _, err := opts.survey(ctx)
	if err != nil {
		return false, err
	}
	var left []string
	for _, h := range s.Hits {
		if imported[h.Secret] && h.Form != laptop.FormEnv && !malformed[h.Path] && !((h.Form == laptop.FormProject || h.Form == laptop.FormTool) && !opts.FixProjectFiles) {
			left = append(left, fmt.Sprintf("%s:%d", show(h.Path), h.Line))
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "Checked again: imported keys are still in plain text at %s\n", strings.Join(left, ", "))
		return false, nil
	}
	fmt.Fprintln(opts.IO.Out, "Checked again: none of the imported keys is left in plain text in the files import rewrites.")
	return true, nil
}
