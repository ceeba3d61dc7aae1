package cli

import (
	"context"
	"fmt"

	"github.com/keywarden/keywarden/internal/baseline"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("baseline", 20, newBaselineCheckCmd) }

// baselineCheckOptions are the inputs of `keywarden baseline check`.
type baselineCheckOptions struct {
	baselineOptions
	AWS         awsFlags
	CheckFormat string
	FailOn      string
	PrintPolicy bool
}

// baselineRules describe the check's findings for SARIF.
var baselineRules = []report.Rule{
	{ID: baseline.RuleMissing, Title: "A part of the protection baseline is missing", Severity: report.SeverityHigh,
		Remediation: "keywarden baseline generate --only PART"},
	{ID: baseline.RuleWeak, Title: "A part of the protection baseline is weaker than generated", Severity: report.SeverityMedium},
	{ID: baseline.RuleUnknown, Title: "A part of the protection baseline could not be read", Severity: report.SeverityMedium},
	{ID: "kw-baseline-present", Title: "A part of the protection baseline is in place", Severity: report.SeverityInfo},
}

func newBaselineCheckCmd(f *Factory) *cobra.Command {
	opts := &baselineCheckOptions{baselineOptions: baselineOptions{IO: f.IO, Getenv: f.Getenv}}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check, read-only, whether an account has the protection baseline",
		Long: `Check an account against the baseline that "keywarden baseline generate" writes,
read-only, and say for each part what is missing and the generate flags that
add it:

  trail      a multi-region trail that is logging, with log-file validation and KMS
  alerts     for every alert, an enabled EventBridge rule in the right region (us-east-1
             for IAM, STS, sign-in and Health events) whose pattern covers the alert's,
             targeting an SNS topic with a confirmed subscription
  detectors  GuardDuty enabled, the Config recorder recording, every Config rule present
  cost       an AWS Budgets budget
  identity   a CIS-strength password policy, and every user with an active access key
             under an MFA guard (a Deny on BoolIfExists aws:MultiFactorAuthPresent
             false, in their own or a group's policies)

--print-required-policy prints the read-only policy it needs.

Exit codes: 0 nothing at or above --fail-on, 1 parts missing or weak, 2 usage or
input error.`,
		Example: `  keywarden baseline check --profile prod
  keywarden baseline check --region eu-west-1 --format sarif > baseline.sarif
  keywarden baseline check --print-required-policy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBaselineCheck(cmd.Context(), opts) },
	}
	opts.addPlanFlags(cmd)
	fl := cmd.Flags()
	// --region is the plan's home region (addPlanFlags); the rest of the
	// AWS CLI's connection flags come here.
	fl.StringVar(&opts.AWS.Profile, "profile", "", "use this profile from ~/.aws/config (default: AWS_PROFILE or the default chain)")
	fl.StringVar(&opts.AWS.EndpointURL, "endpoint-url", "", "send requests to this endpoint instead of AWS's (for emulators)")
	fl.StringVar(&opts.CheckFormat, "format", "text", "output format: text|json|sarif")
	fl.StringVar(&opts.FailOn, "fail-on", "low", "exit 1 when a finding is at least this severity: "+report.SeverityNames+"|none")
	fl.BoolVar(&opts.PrintPolicy, "print-required-policy", false, "print the read-only IAM policy the check needs, and exit")
	return cmd
}

func runBaselineCheck(ctx context.Context, opts *baselineCheckOptions) error {
	if opts.PrintPolicy {
		b, err := iampolicy.Document{Version: iampolicy.Version2012, Statement: []iampolicy.DocStatement{{
			Sid: "KeywardenBaselineCheckReadOnly", Effect: iampolicy.Allow,
			Action: iampolicy.StringOrList(baseline.RequiredActions), Resource: iampolicy.StringOrList{"*"},
		}}}.Marshal()
		if err != nil {
			return err
		}
		_, err = opts.IO.Out.Write(b)
		return err
	}
	format, err := report.ParseFormat(opts.CheckFormat, report.FormatText, report.FormatJSON, report.FormatSARIF)
	if err != nil {
		return UsageError(err)
	}
	failOn, err := report.ParseSeverity(opts.FailOn)
	if err != nil {
		return UsageError(fmt.Errorf("--fail-on: %w", err))
	}
	p, err := opts.plan()
	if err != nil {
		return err
	}
	opts.AWS.Region = p.Region
	cfg, err := opts.AWS.load(ctx)
	if err != nil {
		return UsageError(err)
	}
	snap, err := baseline.LoadSnapshot(ctx, cfg, p)
	if err != nil {
		return UsageError(err)
	}
	fs := baseline.Check(p, snap)
	tool := report.Tool{Name: "keywarden baseline check", Version: Version}
	switch format {
	case report.FormatJSON:
		err = report.WriteJSON(opts.IO.Out, tool, fs, nil)
	case report.FormatSARIF:
		err = report.WriteSARIF(opts.IO.Out, tool, baselineRules, fs)
	default:
		fmt.Fprintf(opts.IO.Out, "baseline of account %s (home region %s)\n", snap.Account, p.Region)
		err = report.WriteText(opts.IO.Out, fs, report.TextOptions{Color: opts.IO.ColorEnabled()})
	}
	if err != nil {
		return err
	}
	for _, f := range fs {
		if f.Severity >= failOn {
			return ErrFindings()
		}
	}
	return nil
}
