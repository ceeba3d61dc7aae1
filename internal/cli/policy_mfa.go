package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/atomicfile"
	"github.com/keywarden/keywarden/internal/policygen"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("policy", 10, newPolicyMFACmd) }

// policyMFAOptions are the inputs of `keywarden policy mfa`.
type policyMFAOptions struct {
	IO            *IOStreams
	Group         string
	Name          string
	Grant         []string
	GrantManaged  []string
	MaxSessionAge time.Duration
	AllowCIDR     []string
	AllowVPCE     []string
	Exception     string
	CalledVia     []string
	Members       []string
	KeyEnrollment bool
	Format        string
	Output        string
}

func newPolicyMFACmd(f *Factory) *cobra.Command {
	opts := &policyMFAOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "mfa",
		Short: "Generate the policy that makes API keys useless without MFA (IAM JSON, Terraform, CloudFormation)",
		Long: `Generate an IAM policy, and the group it is attached to, that refuses every API
call made without MFA: a leaked long-term access key (AKIA...) can then do
nothing but what a new user needs to enrol a device.

What it writes:
  - a Deny with BoolIfExists aws:MultiFactorAuthPresent = false over every action
    except MFA self-service. Long-term keys carry no such key at all, and
    IfExists counts the absent key as a match, so they are denied, as are
    temporary sessions made without MFA. (A plain Bool would skip long-term
    keys entirely: the commonest mistake in published examples.)
  - self-service on the caller's own user and device only (user/${aws:username},
    mfa/${aws:username}): list, create, enable and resync an MFA device, get the
    user, change the password, sts:GetSessionToken. A virtual device must be
    named after the user. Deactivating or deleting a device needs MFA.
  - no enrolling a device with a long-term key (Null aws:MultiFactorAuthPresent):
    IAM allows several devices per user, so otherwise whoever holds a leaked key
    could enrol their own device and pass every MFA check. Users enrol from the
    console. --allow-key-enrollment drops this for users without console
    access, at that cost.
  - --grant actions (and --grant-managed policies attached to the group): what
    members may do once they used MFA.
  - --max-session-age: a Deny with NumericGreaterThanIfExists
    aws:MultiFactorAuthAge. The key is absent without MFA, and IfExists makes
    that a match, so this binds long-term keys too (a plain NumericGreaterThan
    would not).

Network guard (--allow-cidr, --allow-vpce): a Deny on NotIpAddress aws:SourceIp
for calls from anywhere else. aws:SourceIp is the public address AWS sees, so
private ranges (10/8, 172.16/12, 192.168/16, fc00::/7 ...) are refused: they
never match. List IPv6 prefixes too, or callers on dual-stack endpoints are
denied. Requests through a VPC endpoint carry no public address: name the
endpoints with --allow-vpce (StringNotEqualsIfExists aws:SourceVpce) or they are
denied. Calls AWS services make on the member's behalf carry the service's
address; --service-exception chooses how they pass, and what it costs:
  via-aws-service (default)  BoolIfExists aws:ViaAWSService = false: every
                             service works; the cost is that only the member's
                             own first call is address-checked, not what a
                             service then does for it.
  called-via                 StringNotEqualsIfExists aws:CalledViaFirst: only
                             the services named with --called-via (default
                             Athena, CloudFormation, DynamoDB, KMS: the only
                             ones that set the key) work; calls through any
                             other service from an allowed network break.
With no exception at all, CloudFormation stacks, Athena queries and SSE-KMS
reads fail; keywarden does not offer that.

The output passes "keywarden policy lint" with no finding at or above low,
except for risks asked for by name, which are also warned about here: an
IPv4-only allowlist (one low finding), --allow-key-enrollment (one high).
--format json prints only the policy document: attach --grant-managed policies
yourself. Terraform's aws_iam_group_membership is exclusive: it removes users
not listed with --member. CloudFormation needs CAPABILITY_NAMED_IAM.`,
		Example: `  # the classic "ec2Admins with MFA" group, done right
  keywarden policy mfa --group ec2Admins --grant 'ec2:*' --format terraform

  # ... and only from the office (IPv4 and IPv6) or through a VPC endpoint
  keywarden policy mfa --group ec2Admins --grant 'ec2:*' --format terraform \
    --allow-cidr 203.0.113.0/24 --allow-cidr 2001:db8:1234::/48 --allow-vpce vpce-0123456789abcdef0

  # a managed policy, MFA no older than 8 hours, two members, CloudFormation
  keywarden policy mfa --group ops --grant-managed arn:aws:iam::aws:policy/ReadOnlyAccess \
    --max-session-age 8h --member alice --member bob --format cloudformation -o mfa.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPolicyMFA(opts) },
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Group, "group", policygen.DefaultGroup, "IAM group the policy is attached to")
	fl.StringVar(&opts.Name, "name", "", "name of the managed policy (default GROUP-mfa)")
	fl.StringArrayVar(&opts.Grant, "grant", nil, "action members may perform with MFA, e.g. 'ec2:*' (repeatable)")
	fl.StringArrayVar(&opts.GrantManaged, "grant-managed", nil, "managed policy ARN attached to the group (repeatable)")
	fl.DurationVar(&opts.MaxSessionAge, "max-session-age", 0, "refuse MFA sessions whose MFA sign-in is older than this (e.g. 1h, 8h)")
	fl.StringSliceVar(&opts.AllowCIDR, "allow-cidr", nil, "public IPv4 or IPv6 network API calls may come from (repeatable, or comma-separated)")
	fl.StringSliceVar(&opts.AllowVPCE, "allow-vpce", nil, "VPC endpoint ID requests may come through (repeatable)")
	fl.StringVar(&opts.Exception, "service-exception", string(policygen.ViaAWSService), "how calls AWS services make for members pass the network guard: via-aws-service|called-via")
	fl.StringSliceVar(&opts.CalledVia, "called-via", nil, "service principal for --service-exception called-via (repeatable; default athena, cloudformation, dynamodb, kms)")
	fl.BoolVar(&opts.KeyEnrollment, "allow-key-enrollment", false, "let long-term access keys enrol MFA devices (users without console access; a leaked key could then enrol its holder's device)")
	fl.StringArrayVar(&opts.Members, "member", nil, "IAM user added to the group (repeatable; Terraform and CloudFormation only)")
	fl.StringVar(&opts.Format, "format", "json", "output format: json|terraform|cloudformation")
	fl.StringVarP(&opts.Output, "output", "o", "", "write to this file (mode 0600) instead of stdout")
	return cmd
}

// iacFormat reads a --format that names infrastructure as code, with the
// short names users type (tf, hcl, cfn, yaml), as one of allowed.
func iacFormat(s string, allowed ...string) (string, error) {
	f := strings.ToLower(s)
	switch f {
	case "tf", "hcl":
		f = "terraform"
	case "cfn", "yaml":
		f = "cloudformation"
	}
	if !slices.Contains(allowed, f) {
		return "", usageErrorf("unknown format %q (want %s)", s, strings.Join(allowed, "|"))
	}
	return f, nil
}

func runPolicyMFA(opts *policyMFAOptions) error {
	format, err := iacFormat(opts.Format, "json", "terraform", "cloudformation")
	if err != nil {
		return err
	}
	if len(opts.CalledVia) > 0 && opts.Exception != string(policygen.CalledVia) {
		return usageErrorf("--called-via needs --service-exception called-via")
	}
	if len(opts.AllowCIDR) == 0 && len(opts.AllowVPCE) == 0 && opts.Exception != string(policygen.ViaAWSService) {
		return usageErrorf("--service-exception only matters with --allow-cidr or --allow-vpce")
	}
	spec, err := policygen.Build(policygen.Options{
		Group: opts.Group, PolicyName: opts.Name,
		Grant: opts.Grant, GrantManaged: opts.GrantManaged,
		MaxSessionAge: opts.MaxSessionAge,
		AllowCIDR:     opts.AllowCIDR, AllowVPCE: opts.AllowVPCE,
		Exception: policygen.ServiceException(opts.Exception), CalledViaServices: opts.CalledVia,
		Members: opts.Members, AllowKeyEnrollment: opts.KeyEnrollment,
	})
	if err != nil {
		return UsageError(err)
	}
	var out []byte
	switch format {
	case "json":
		if out, err = policygen.JSON(spec); err != nil {
			return err
		}
		for _, arn := range spec.GrantManaged {
			fmt.Fprintf(opts.IO.ErrOut, "note: a policy document cannot hold a managed policy: attach %s to group %s yourself, or use --format terraform|cloudformation\n", arn, spec.Group)
		}
		if len(spec.Members) > 0 {
			fmt.Fprintf(opts.IO.ErrOut, "note: --member is ignored with --format json: add the users to group %s yourself\n", spec.Group)
		}
	case "terraform":
		out = policygen.Terraform(spec)
	case "cloudformation":
		out = policygen.CloudFormation(spec)
	}
	for _, w := range spec.Warnings {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	if opts.Output != "" && opts.Output != "-" {
		if err := atomicfile.Write(opts.Output, out, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "wrote %s\n", report.Printable(opts.Output))
		return nil
	}
	_, err = opts.IO.Out.Write(out)
	return err
}
