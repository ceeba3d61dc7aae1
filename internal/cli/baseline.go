package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/keywarden/keywarden/internal/baseline"
	"github.com/keywarden/keywarden/internal/policygen"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("baseline", 10, newBaselineGenerateCmd) }

// baselineOptions are the inputs of `keywarden baseline generate`; check
// shares the ones that describe the baseline.
type baselineOptions struct {
	IO      *IOStreams
	Getenv  func(string) string
	Format  string
	Output  string
	Force   bool
	Only    []string
	Skip    []string
	Region  string
	Name    string
	Org     bool
	Lock    bool
	LockDay int
	Emails  []string
	Budget  float64
	Anomaly float64
	KeyAge  int
	Unused  int
	Group   string
	CIDR    []string
	VPCE    []string
	Except  string
}

func (o *baselineOptions) addPlanFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&o.Only, "only", nil, "parts to include (default all): trail,alerts,detectors,cost,identity")
	fl.StringSliceVar(&o.Skip, "skip", nil, "parts to leave out: trail,alerts,detectors,cost,identity")
	fl.StringVar(&o.Region, "region", "", "home region (default $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)")
	fl.StringVar(&o.Name, "name", baseline.DefaultName, "prefix of resource names")
	fl.BoolVar(&o.Org, "org", false, "organization trail and organization-wide access analyzer (run from the management account)")
	fl.IntVar(&o.KeyAge, "max-key-age", baseline.DefaultMaxKeyAge, "days after which ACCESS_KEYS_ROTATED flags a key")
	fl.IntVar(&o.Unused, "max-unused-days", baseline.DefaultMaxUnusedDays, "days after which IAM_USER_UNUSED_CREDENTIALS_CHECK flags a credential")
	fl.StringVar(&o.Group, "group", policygen.DefaultGroup, "the MFA guard group (identity part)")
	fl.StringSliceVar(&o.CIDR, "allow-cidr", nil, "MFA guard: public network API calls may come from (repeatable)")
	fl.StringSliceVar(&o.VPCE, "allow-vpce", nil, "MFA guard: VPC endpoint ID requests may come through (repeatable)")
	fl.StringVar(&o.Except, "service-exception", string(policygen.ViaAWSService), "MFA guard: how calls AWS services make pass the network guard: via-aws-service|called-via")
}

// plan validates the flags into a baseline plan; every error exits 2
// before anything is written.
func (o *baselineOptions) plan() (*baseline.Plan, error) {
	parts, err := chooseParts(o.Only, o.Skip)
	if err != nil {
		return nil, UsageError(err)
	}
	region := o.Region
	for _, v := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if region == "" && o.Getenv != nil {
			region = o.Getenv(v)
		}
	}
	p, err := baseline.NewPlan(baseline.Options{
		Parts: parts, Region: region, Name: o.Name, Org: o.Org,
		ObjectLock: o.Lock, ObjectLockDays: o.LockDay, Emails: o.Emails,
		Budget: o.Budget, AnomalyThreshold: o.Anomaly, MaxKeyAge: o.KeyAge, MaxUnusedDays: o.Unused,
		MFA: policygen.Options{Group: o.Group, AllowCIDR: o.CIDR, AllowVPCE: o.VPCE,
			Exception: policygen.ServiceException(o.Except)},
	})
	if err != nil {
		return nil, UsageError(err)
	}
	return p, nil
}

func chooseParts(only, skip []string) ([]baseline.Part, error) {
	known := func(s string) (baseline.Part, error) {
		for _, p := range baseline.AllParts {
			if string(p) == strings.ToLower(strings.TrimSpace(s)) {
				return p, nil
			}
		}
		return "", fmt.Errorf("unknown part %q (want trail, alerts, detectors, cost or identity)", s)
	}
	if len(only) > 0 && len(skip) > 0 {
		return nil, errors.New("--only and --skip do not go together")
	}
	chosen := slices.Clone(baseline.AllParts)
	if len(only) > 0 {
		chosen = nil
		for _, s := range only {
			p, err := known(s)
			if err != nil {
				return nil, err
			}
			chosen = append(chosen, p)
		}
	}
	for _, s := range skip {
		p, err := known(s)
		if err != nil {
			return nil, err
		}
		chosen = slices.DeleteFunc(chosen, func(c baseline.Part) bool { return c == p })
	}
	if len(chosen) == 0 {
		return nil, errors.New("no part left to generate")
	}
	// Render order is the baseline's own, whatever order the flags gave.
	sort.SliceStable(chosen, func(i, j int) bool {
		return slices.Index(baseline.AllParts, chosen[i]) < slices.Index(baseline.AllParts, chosen[j])
	})
	return slices.Compact(chosen), nil
}

func newBaselineGenerateCmd(f *Factory) *cobra.Command {
	opts := &baselineOptions{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write the protection baseline as Terraform or CloudFormation",
		Long: `Write the baseline every team is told to set up after a key incident, as code:

  trail      a multi-region CloudTrail with log-file validation and KMS encryption,
             into an S3 bucket with versioning, no public access, TLS only, and a
             bucket policy bound to this trail (aws:SourceArn); --object-lock,
             --org for an organization trail
  alerts     KMS-encrypted SNS topics (--email subscribes) and EventBridge rules for
             access keys created/changed/deleted, MFA devices removed, console
             passwords created or changed, AdministratorAccess attached, trails
             stopped or changed, GuardDuty/Config/Security Hub disabled, root
             activity, console sign-in without MFA, AWS's quarantine policy
             attached, AWS Health AWS_RISK_CREDENTIALS_EXPOSED, and GuardDuty
             credential findings
  detectors  GuardDuty, IAM Access Analyzer, an AWS Config recorder and the managed
             rules for key age, unused credentials, MFA, root keys, the password
             policy, policies on users and the multi-region trail
  cost       an AWS Budgets budget (forecast and actual alerts) and a Cost Anomaly
             Detection monitor: a leaked key's first sign is often the bill
  identity   a CIS-strength password policy and the MFA guard group of
             "keywarden policy mfa" (--group, --allow-cidr, --allow-vpce)

IAM, STS global and console sign-in events reach EventBridge in us-east-1 only:
the rules for them (and the topic they publish to, the budget and the anomaly
monitor) are created there, through a second provider in Terraform; the
CloudFormation template is deployed in the home region and in us-east-1 (a
StackSet over both, or two stacks) and creates in each what belongs there.

Terraform is written as a module directory (-o DIR): main.tf, variables.tf,
outputs.tf, versions.tf (AWS provider ` + baseline.AWSProviderConstraint + `), mfa_guard.tf. CloudFormation is one
YAML template (stdout, or -o FILE). Every resource says which risk it answers.
Nothing is written when a flag is invalid, and -o never overwrites a non-empty
directory or an existing file without --force.`,
		Example: `  # everything, Terraform, alerts to the on-call address
  keywarden baseline generate --format terraform --email oncall@example.com -o baseline/

  # CloudFormation without the cost part, home region eu-west-1
  keywarden baseline generate --format cloudformation --skip cost --region eu-west-1 -o baseline.yaml

  # an organization trail with Object Lock, from the management account
  keywarden baseline generate --only trail,alerts --org --object-lock -o org-baseline/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBaselineGenerate(opts) },
	}
	opts.addPlanFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "terraform", "output format: terraform|cloudformation")
	fl.StringVarP(&opts.Output, "output", "o", "", "directory (terraform) or file (cloudformation) to write; files are 0600")
	fl.BoolVar(&opts.Force, "force", false, "write into a non-empty directory, or over an existing file")
	fl.BoolVar(&opts.Lock, "object-lock", false, "S3 Object Lock (governance mode) on the log bucket")
	fl.IntVar(&opts.LockDay, "object-lock-days", baseline.DefaultObjectLockDays, "Object Lock retention in days")
	fl.StringArrayVar(&opts.Emails, "email", nil, "address subscribed to the alert topics (repeatable)")
	fl.Float64Var(&opts.Budget, "budget", baseline.DefaultBudget, "monthly cost budget in USD")
	fl.Float64Var(&opts.Anomaly, "anomaly-threshold", baseline.DefaultAnomalyThreshold, "cost anomaly impact in USD that alerts")
	return cmd
}

func runBaselineGenerate(opts *baselineOptions) error {
	format, err := iacFormat(opts.Format, "terraform", "cloudformation")
	if err != nil {
		return err
	}
	p, err := opts.plan()
	if err != nil {
		return err
	}
	if format == "cloudformation" {
		out := baseline.CloudFormation(p)
		if opts.Output == "" || opts.Output == "-" {
			_, err := opts.IO.Out.Write(out)
			return err
		}
		if _, err := os.Stat(opts.Output); err == nil && !opts.Force {
			return usageErrorf("%s exists: pass --force to overwrite it", opts.Output)
		}
		if err := atomicfile.Write(opts.Output, out, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "wrote %s. %s\n", report.Printable(opts.Output), baseline.DeployWhere(p.Region))
		return nil
	}
	if opts.Output == "" || opts.Output == "-" {
		return usageErrorf("terraform output is a module directory: give -o DIR")
	}
	if err := emptyOrForced(opts.Output, opts.Force); err != nil {
		return err
	}
	if err := os.MkdirAll(opts.Output, 0o700); err != nil {
		return err
	}
	files := baseline.Terraform(p)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := atomicfile.Write(filepath.Join(opts.Output, n), files[n], 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s to %s (global rules, budget and cost monitor are created in %s)\n",
		strings.Join(names, ", "), report.Printable(opts.Output), baseline.GlobalRegion)
	return nil
}

// emptyOrForced refuses a non-empty directory (or a file) at dir unless
// force is set.
func emptyOrForced(dir string, force bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return usageErrorf("%s is a file, not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 && !force {
		return usageErrorf("%s is not empty: pass --force to write into it", dir)
	}
	return nil
}
