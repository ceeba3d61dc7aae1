package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("", 40, newAuditCmd) }

// auditOptions are the inputs of `keywarden audit`.
type auditOptions struct {
	IO     *IOStreams
	Now    func() time.Time
	AWS    awsFlags
	Format string
	Output string
	FailOn string

	CredentialReport     string
	AuthorizationDetails string
	PasswordPolicy       string
	SCPs                 []string
	ActionsFile          string
	AllowedCIDRs         []string
	allowCIDRs           []string
	MaxKeyAge            string
	MaxUnused            string
	ReportTimeout        time.Duration
	PrintPolicy          bool

	// loadLive is replaced in tests; nil means the real AWS API.
	loadLive func(ctx context.Context, o *auditOptions, progress func(string, int, int)) (*inventory.Account, error)
}

// auditFormats are the output formats audit accepts.
var auditFormats = []report.Format{report.FormatText, report.FormatJSON, report.FormatSARIF, "csv", "html"}

func newAuditCmd(f *Factory) *cobra.Command {
	opts := &auditOptions{IO: f.IO, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Audit an account's access keys: age, use, MFA, and what each key can do without MFA",
		Long: `Audit an AWS account's access keys, live or from its exports.

Live (the default): reads the account through the AWS API with the SDK's
default chain (--profile, --region, AWS_PROFILE, environment). It needs
read-only IAM permissions: --print-required-policy prints a policy to attach.

Offline: --credential-report FILE (the CSV, or the JSON that
'aws iam get-credential-report' prints) and/or --authorization-details FILE
(the JSON of 'aws iam get-account-authorization-details'). Either alone runs
the checks it supports and says which it could not run. --scp FILE[,FILE...]
adds the service control policies of one level of the organisation (repeat
it per level: root, OUs, account; the files of one level, such as
FullAWSAccess and a deny list, are separated by commas).

Besides key age, unused keys, doubled and forgotten keys, root keys and MFA,
it evaluates each key owner's policies the way AWS does and reports which
sensitive actions a key can still call without MFA, and from any address.

Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage or input error.`,
		Example: `  keywarden audit --profile prod
  keywarden audit --credential-report report.csv --authorization-details details.json
  keywarden audit --profile prod --format html --output audit.html
  keywarden audit --profile prod --allowed-cidr 203.0.113.0/24 --fail-on high --format sarif
  keywarden audit --credential-report report.csv --authorization-details details.json \
      --scp root-full.json --scp account-full.json,account-deny.json
  keywarden audit --print-required-policy`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.AWS.bind(cmd)
	fl.StringVar(&opts.CredentialReport, "credential-report", "", "read the credential report from `FILE` (CSV, or the JSON of aws iam get-credential-report; - for stdin)")
	fl.StringVar(&opts.AuthorizationDetails, "authorization-details", "", "read the authorization details from `FILE` (the JSON of aws iam get-account-authorization-details)")
	fl.StringVar(&opts.PasswordPolicy, "password-policy", "", "read the account's password policy from `FILE` (the JSON of aws iam get-account-password-policy)")
	fl.StringArrayVar(&opts.SCPs, "scp", nil, "read the service control policies attached at one level of the organisation from `FILE[,FILE...]` (repeatable: one flag per level)")
	fl.StringVar(&opts.Format, "format", "text", "output format: text|json|sarif|csv|html")
	fl.StringVarP(&opts.Output, "output", "o", "", "write the report to `FILE` (mode 0600) instead of stdout")
	fl.StringVar(&opts.FailOn, "fail-on", "low", "exit 1 when a finding is at least this severity: "+report.SeverityNames+"|none")
	fl.StringVar(&opts.ActionsFile, "actions", "", "the sensitive actions to evaluate, one per line, from `FILE` (default: a built-in list; IAM permissions-management and privilege-escalation actions are always added)")
	fl.StringArrayVar(&opts.AllowedCIDRs, "allowed-cidr", nil, "a network keys are meant to be used from (repeatable); keys usable from outside are reported")
	fl.StringArrayVar(&opts.allowCIDRs, "allow-cidr", nil, "same as --allowed-cidr (the spelling of keywarden policy mfa)")
	_ = fl.MarkHidden("allow-cidr")
	fl.StringVar(&opts.MaxKeyAge, "max-key-age", "90d", "report active keys older than this (e.g. 90d, 12w, 2160h)")
	fl.StringVar(&opts.MaxUnused, "max-unused", "45d", "report active keys unused (or never used) for longer than this")
	fl.DurationVar(&opts.ReportTimeout, "report-timeout", 2*time.Minute, "live: how long to wait for AWS to generate the credential report")
	fl.BoolVar(&opts.PrintPolicy, "print-required-policy", false, "print the read-only IAM policy a live audit needs, and exit")
	// A whole organization (audit_org.go): --org, --org-exports and the
	// flags that tune them; runAuditOrg takes over when either is given.
	org := &auditOrgOptions{}
	org.bind(fl)
	cmd.Long += "\n\n" + auditOrgLong
	cmd.Example += "\n" + auditOrgExamples
	runAccount := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if org.enabled() {
			return runAuditOrg(c.Context(), opts, org)
		}
		return runAccount(c, args)
	}
	return cmd
}

func runAudit(ctx context.Context, opts *auditOptions) error {
	if opts.PrintPolicy {
		b, err := inventory.RequiredPolicy().Marshal()
		if err != nil {
			return err
		}
		_, err = opts.IO.Out.Write(b)
		return err
	}
	format, failOn, aopt, err := auditSettings(opts)
	if err != nil {
		return err
	}
	offline := opts.CredentialReport != "" || opts.AuthorizationDetails != "" || opts.PasswordPolicy != ""
	if offline && (opts.AWS.Profile != "" || opts.AWS.EndpointURL != "") {
		return usageErrorf("--profile and --endpoint-url are for a live audit; they cannot be combined with --credential-report, --authorization-details or --password-policy")
	}
	stdin := 0
	for _, in := range []string{opts.CredentialReport, opts.AuthorizationDetails, opts.PasswordPolicy} {
		if in == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("only one input can be read from stdin")
	}

	var acct *inventory.Account
	if offline {
		acct, err = auditLoadFiles(opts)
		if err != nil {
			return UsageError(err)
		}
	} else {
		progress, done := auditProgress(opts.IO)
		load := opts.loadLive
		if load == nil {
			load = auditLoadLive
		}
		acct, err = load(ctx, opts, progress)
		done()
		if err != nil {
			return &ExitErr{Code: ExitError, Err: err}
		}
	}
	// Each --scp is one level of the organisation; the files of one level
	// (FullAWSAccess and the deny lists beside it) are separated by commas.
	for _, level := range opts.SCPs {
		var ps []*iampolicy.Policy
		for _, path := range strings.Split(level, ",") {
			if path = strings.TrimSpace(path); path == "" {
				continue
			}
			data, err := readInput(opts.IO, path, 1<<20)
			if err != nil {
				return UsageError(err)
			}
			p, err := inventory.ParseSCP(path, data)
			if err != nil {
				return UsageError(err)
			}
			ps = append(ps, p)
		}
		acct.AddSCPLevel(ps...)
	}
	aopt.Exposer = audit.NewEngineExposer()
	res := audit.Run(acct, aopt)

	err = auditWrite(opts, format, res.Findings, auditRenderers{
		JSON:  func(w io.Writer) error { return audit.WriteJSON(w, Version, res) },
		SARIF: func(w io.Writer) error { return audit.WriteSARIF(w, Version, res) },
		CSV:   func(w io.Writer) error { return audit.WriteCSV(w, res) },
		HTML:  func(w io.Writer) error { return audit.WriteHTML(w, Version, res) },
		Text:  func(w io.Writer, color bool) error { return audit.WriteText(w, res, audit.TextOptions{Color: color}) },
	})
	if err != nil {
		return err
	}
	if report.AtOrAbove(res.Findings, failOn) {
		return ErrFindings()
	}
	return nil
}

// auditSettings reads the flags an account audit and an organization audit
// share: the format, --fail-on and the audit's thresholds.
func auditSettings(opts *auditOptions) (format report.Format, failOn report.Severity, aopt audit.Options, err error) {
	if format, err = report.ParseFormat(opts.Format, auditFormats...); err != nil {
		return "", 0, aopt, UsageError(err)
	}
	failOn, err = report.ParseSeverity(opts.FailOn)
	if err != nil {
		return "", 0, aopt, UsageError(fmt.Errorf("--fail-on: %w", err))
	}
	aopt = audit.Options{Now: opts.Now()}
	if aopt.MaxKeyAge, err = auditParseDays(opts.MaxKeyAge); err != nil {
		return "", 0, aopt, usageErrorf("--max-key-age: %v", err)
	}
	if aopt.MaxUnused, err = auditParseDays(opts.MaxUnused); err != nil {
		return "", 0, aopt, usageErrorf("--max-unused: %v", err)
	}
	for _, c := range append(append([]string(nil), opts.AllowedCIDRs...), opts.allowCIDRs...) {
		p, err := auditParseCIDR(c)
		if err != nil {
			return "", 0, aopt, usageErrorf("--allowed-cidr: %v", err)
		}
		aopt.AllowedCIDRs = append(aopt.AllowedCIDRs, p)
	}
	if opts.ActionsFile != "" {
		data, err := readInput(opts.IO, opts.ActionsFile, 1<<20)
		if err != nil {
			return "", 0, aopt, UsageError(err)
		}
		if aopt.Actions, err = audit.ParseActions(opts.ActionsFile, data); err != nil {
			return "", 0, aopt, UsageError(err)
		}
	}
	return format, failOn, aopt, nil
}

// auditRenderers write one report in each format audit supports.
type auditRenderers struct {
	JSON, SARIF, CSV, HTML func(io.Writer) error
	Text                   func(w io.Writer, color bool) error
}

// auditWrite renders the report in format to stdout or, with --output, to
// a file of mode 0600, and then says on stderr where it went.
func auditWrite(opts *auditOptions, format report.Format, findings []report.Finding, r auditRenderers) error {
	err := opts.IO.RenderReport(opts.Output, func(w io.Writer, color bool) error {
		switch format {
		case report.FormatJSON:
			return r.JSON(w)
		case report.FormatSARIF:
			return r.SARIF(w)
		case "csv":
			return r.CSV(w)
		case "html":
			return r.HTML(w)
		}
		return r.Text(w, color)
	})
	if err == nil && opts.Output != "" {
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: wrote the %s report to %s (%s)\n", format, opts.Output, report.SummaryLine(findings, report.NewPalette(false)))
	}
	return err
}

// auditLoadFiles reads the offline exports.
func auditLoadFiles(opts *auditOptions) (*inventory.Account, error) {
	acct := inventory.New()
	if opts.AuthorizationDetails != "" {
		data, err := readInput(opts.IO, opts.AuthorizationDetails, inventory.MaxAuthorizationDetailsSize)
		if err != nil {
			return nil, err
		}
		if err := acct.ParseAuthorizationDetails(opts.AuthorizationDetails, data); err != nil {
			return nil, err
		}
	}
	if opts.CredentialReport != "" {
		data, err := readInput(opts.IO, opts.CredentialReport, inventory.MaxCredentialReportSize)
		if err != nil {
			return nil, err
		}
		rep, err := inventory.ParseCredentialReport(opts.CredentialReport, data)
		if err != nil {
			return nil, err
		}
		acct.ApplyCredentialReport(opts.CredentialReport, rep)
	}
	if opts.PasswordPolicy != "" {
		data, err := readInput(opts.IO, opts.PasswordPolicy, 64<<10)
		if err != nil {
			return nil, err
		}
		pp, err := inventory.ParsePasswordPolicy(opts.PasswordPolicy, data)
		if err != nil {
			return nil, err
		}
		acct.SetPasswordPolicy(pp)
	}
	return acct, nil
}

func auditLoadLive(ctx context.Context, opts *auditOptions, progress func(string, int, int)) (*inventory.Account, error) {
	cfg, err := opts.AWS.load(ctx)
	if err != nil {
		return nil, err
	}
	return inventory.Load(ctx, inventory.NewIAMClient(cfg), sts.NewFromConfig(cfg), inventory.LiveOptions{
		ReportTimeout: opts.ReportTimeout, Progress: progress})
}

// auditProgress draws one updating line on stderr when it is a terminal;
// done clears it.
func auditProgress(io_ *IOStreams) (progress func(string, int, int), done func()) {
	if !io_.ProgressEnabled() {
		return nil, func() {}
	}
	var last time.Time
	drawn := false
	progress = func(stage string, n, total int) {
		now := time.Now()
		if drawn && now.Sub(last) < 100*time.Millisecond && (total == 0 || n < total) {
			return
		}
		last = now
		line := "loading " + stage
		switch {
		case total > 0:
			line += fmt.Sprintf(": %d/%d", n, total)
		case n > 0:
			line += fmt.Sprintf(": %d", n)
		}
		fmt.Fprintf(io_.ErrOut, "\r\x1b[K%s", line)
		drawn = true
	}
	done = func() {
		if drawn {
			fmt.Fprint(io_.ErrOut, "\r\x1b[K")
		}
	}
	return progress, done
}

// auditParseDays reads a duration written in days ("90d"), weeks ("12w")
// or anything time.ParseDuration takes ("2160h").
func auditParseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 || v > 36500 {
				return 0, fmt.Errorf("%q is not a positive number of days or weeks", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 90d, 12w, 2160h)", s)
	}
	return d, nil
}

// auditParseCIDR reads a CIDR or a bare address (as a /32 or /128).
func auditParseCIDR(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (e.g. 203.0.113.0/24, 2001:db8::/32)", s)
}
