package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/policylint"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("policy", 20, newPolicyLintCmd) }

// policyLintOptions are the inputs of `keywarden policy lint`.
type policyLintOptions struct {
	IO        *IOStreams
	Paths     []string
	Format    string
	FailOn    string
	ListRules bool
}

func newPolicyLintCmd(f *Factory) *cobra.Command {
	opts := &policyLintOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "lint [FILE|DIR...|-]",
		Short: "Find MFA and network conditions that let leaked keys through, and unsafe grants",
		Long: `Lint IAM policies for the mistakes that make MFA and network conditions silently
not apply to a request signed with a long-term access key, that lock users out
of enrolling MFA, or that break calls AWS services make on a user's behalf; and
for grants that are unsafe whatever the conditions.

Inputs are policy JSON files (also the output of aws iam get-policy-version and
get-account-authorization-details), Terraform files (.tf: aws_iam_policy_document
data sources, policy = jsonencode({...}) and heredoc policies), CloudFormation
templates (.yaml, .yml, .template), directories (searched for all of these)
and stdin ("-", or no argument when stdin is not a terminal).

Each finding has a rule id, a severity, the statement (index and Sid) with its
file position, what happens to a request signed with a long-term key, and the
fix. "keywarden policy lint --list-rules" lists the rules.

Severity follows the risk: critical for an unconditioned "*" on "*"; high when a
leaked long-term key gets through or someone without MFA can weaken MFA; medium
when temporary sessions without MFA get through, or AWS would refuse the
document; low when legitimate use breaks (lock-outs, service calls, IPv6,
private ranges); info for notes.

Exit status: 0 when nothing at or above --fail-on is found, 1 when something is,
2 when an input cannot be read or is malformed (the other inputs are still
linted and reported).`,
		Example: `  keywarden policy lint policy.json
  keywarden policy lint --format sarif infra/ > policy-lint.sarif
  aws iam get-policy-version --policy-arn "$ARN" --version-id v3 | keywarden policy lint -
  keywarden policy lint --fail-on high main.tf`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			return runPolicyLint(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text|json|sarif")
	cmd.Flags().StringVar(&opts.FailOn, "fail-on", "medium", "exit 1 when a finding is at least this severe: "+report.SeverityNames+"|none")
	cmd.Flags().BoolVar(&opts.ListRules, "list-rules", false, "list the rules and exit")
	return cmd
}

func runPolicyLint(opts *policyLintOptions) error {
	format, err := report.ParseFormat(opts.Format, report.FormatText, report.FormatJSON, report.FormatSARIF)
	if err != nil {
		return UsageError(err)
	}
	threshold, err := report.ParseSeverity(opts.FailOn)
	if err != nil {
		return UsageError(fmt.Errorf("--fail-on: %w", err))
	}
	if opts.ListRules {
		return policyLintListRules(opts, format)
	}
	paths := opts.Paths
	if len(paths) == 0 {
		if opts.IO.IsStdinTTY() {
			return usageErrorf("no input: give policy files, directories or - for stdin")
		}
		paths = []string{"-"}
	}
	inputs, walked, errs := policyLintExpand(paths)
	// Every input counts once: a directory that could not be walked, a
	// file that could not be read, or a file linted (failed when it is
	// malformed).
	total, failed := len(errs), len(errs)
	var findings []report.Finding
	for _, path := range inputs {
		data, err := readInput(opts.IO, path, iampolicy.MaxDocumentSize)
		if err != nil {
			errs = append(errs, err.Error())
			total++
			failed++
			continue
		}
		// Files found in a directory walk are linted only if they are
		// policies; files named on the command line always are.
		if walked[path] && !policylint.IsPolicyFile(path, data) {
			continue
		}
		total++
		name := path
		if path == "-" {
			name = "<stdin>"
		}
		fs, err := policylint.LintFile(name, data)
		findings = append(findings, fs...)
		if err != nil {
			// One line per malformed document (an export or a .tf
			// file may hold several).
			errs = append(errs, strings.Split(err.Error(), "\n")...)
			failed++
		}
	}
	report.Sort(findings)
	tool := report.Tool{Name: "keywarden", Version: Version, InfoURI: "https://github.com/keywarden/keywarden"}
	unread := fmt.Sprintf("%d of %d inputs could not be linted", failed, total)
	switch format {
	case report.FormatJSON:
		err = report.WriteJSON(opts.IO.Out, tool, findings, errs)
	case report.FormatSARIF:
		err = report.WriteSARIF(opts.IO.Out, tool, policylint.Rules(), findings)
	default:
		err = policyLintWriteText(opts.IO, findings, failed, total, unread)
	}
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", report.Printable(e))
		}
		return &ExitErr{Code: ExitError, Err: errors.New(unread)}
	}
	if report.AtOrAbove(findings, threshold) {
		return ErrFindings()
	}
	return nil
}

// policyLintWriteText renders findings as text. Every field that can come
// from the input (file names, Sids, logical IDs, Terraform names, values
// quoted in messages) goes through report.Printable, so control characters
// in a hostile file cannot drive the terminal. When an input failed, the
// summary says so: "no findings" alone would read as a clean result.
func policyLintWriteText(io_ *IOStreams, findings []report.Finding, failed, total int, unread string) error {
	shown := make([]report.Finding, len(findings))
	for i, f := range findings {
		f.Location.Path = report.Printable(f.Location.Path)
		f.Location.Resource = report.Printable(f.Location.Resource)
		f.Title = report.Printable(f.Title)
		f.Message = report.PrintableText(f.Message)
		f.Evidence = report.Printable(f.Evidence)
		f.Remediation = report.PrintableText(f.Remediation)
		shown[i] = f
	}
	if failed > 0 && len(shown) == 0 {
		line := unread
		if total > failed {
			line = fmt.Sprintf("no findings in the other %d; %s", total-failed, unread)
		}
		_, err := fmt.Fprintln(io_.Out, line)
		return err
	}
	if err := report.WriteText(io_.Out, shown, report.TextOptions{Color: io_.ColorEnabled()}); err != nil {
		return err
	}
	if failed > 0 {
		_, err := fmt.Fprintf(io_.Out, "%s\n", unread)
		return err
	}
	return nil
}

// policyLintExpand turns directories into the .json and .tf files under
// them; walked marks the files found that way.
func policyLintExpand(paths []string) ([]string, map[string]bool, []string) {
	var out, errs []string
	walked := map[string]bool{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if p == "-" || err != nil || !st.IsDir() {
			out = append(out, p) // a missing file is reported when read
			continue
		}
		n := 0
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, err.Error())
				return nil
			}
			if d.IsDir() {
				if path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
					return filepath.SkipDir // .git, .terraform
				}
				return nil
			}
			name := strings.ToLower(d.Name())
			if strings.HasSuffix(name, ".tf.json") {
				return nil // Terraform's JSON syntax: not read
			}
			if ext := filepath.Ext(name); ext == ".json" || ext == ".tf" || ext == ".yaml" || ext == ".yml" || ext == ".template" {
				out = append(out, path)
				walked[path] = true
				n++
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err.Error())
		} else if n == 0 {
			errs = append(errs, fmt.Sprintf("%s: no .json, .tf or CloudFormation files", p))
		}
	}
	return out, walked, errs
}

func policyLintListRules(opts *policyLintOptions, format report.Format) error {
	rules := policylint.Rules()
	switch format {
	case report.FormatJSON:
		enc := report.NewJSONEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rules)
	case report.FormatSARIF:
		return report.WriteSARIF(opts.IO.Out, report.Tool{Name: "keywarden", Version: Version}, rules, nil)
	}
	p := report.NewPalette(opts.IO.ColorEnabled())
	for _, r := range rules {
		fmt.Fprintf(opts.IO.Out, "%-38s %-8s %s\n", r.ID, p.Severity(r.Severity), r.Title)
	}
	return nil
}
