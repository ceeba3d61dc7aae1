package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("policy", 30, newPolicySimulateCmd) }

// policySimulateOptions are the inputs of `keywarden policy simulate`.
type policySimulateOptions struct {
	IO *IOStreams

	Action          string
	Resource        string
	Principal       string
	ResourceAccount string
	Context         []string
	Identity        []string
	ResourcePolicy  string
	Boundary        string
	SCPs            []string
	RCPs            []string
	Session         []string
	VPCEndpoint     string

	Batch        string
	Explain      bool
	Format       string
	formatGiven  bool
	principalSet bool
	maxLine      int // --batch line limit; iameval.MaxBatchLine when 0
}

func newPolicySimulateCmd(f *Factory) *cobra.Command {
	opts := &policySimulateOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Evaluate a request against IAM policies the way AWS does",
		Long: `Evaluate one request (from flags) or many (--batch, JSON lines) against IAM
policies with AWS's documented evaluation logic: an explicit Deny in any
policy wins; every service control policy level (--scp, root first), every
resource control policy level (--rcp), the VPC endpoint policy, the permissions
boundary and the session policy that apply must allow; and an identity-based
or resource-based policy must grant the request (both, across accounts).

Conditions are evaluated with every operator family, IfExists, ForAllValues
and ForAnyValue and policy variables. A condition key not given with --context
is absent from the request, exactly as AWS treats a key the request does not
carry: it is never assumed present. aws:PrincipalArn, aws:PrincipalAccount,
aws:PrincipalType and (for users) aws:username are derived from --principal
unless given.

Exit codes, one request: 0 allowed, 1 denied (implicitly or explicitly),
2 usage or input error. --batch: 0, or 2 if any line was bad (every other line
is still answered).`,
		Example: `  keywarden policy simulate --principal arn:aws:iam::111122223333:user/alice \
      --action iam:CreateAccessKey --resource arn:aws:iam::111122223333:user/alice \
      --identity-policy admin.json --identity-policy require-mfa.json --explain
  keywarden policy simulate --action s3:GetObject --resource arn:aws:s3:::bucket/key \
      --identity-policy p.json --context aws:SourceIp=203.0.113.7 \
      --context aws:MultiFactorAuthPresent=true --format json
  keywarden policy simulate --batch requests.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.formatGiven = cmd.Flags().Changed("format")
			opts.principalSet = cmd.Flags().Changed("principal")
			return runPolicySimulate(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Action, "action", "", "the action, e.g. s3:GetObject")
	fl.StringVar(&opts.Resource, "resource", "*", "the resource ARN (\"*\" for actions that take none)")
	fl.StringVar(&opts.Principal, "principal", "", "the caller's ARN (user, role, assumed-role session, root) or a service principal")
	fl.StringVar(&opts.ResourceAccount, "resource-account", "", "the account owning the resource (default: from the resource ARN, else the principal's)")
	fl.StringArrayVar(&opts.Context, "context", nil, "a condition key `KEY=VALUE` of the request; repeat a key for a multi-valued key")
	fl.StringArrayVar(&opts.Identity, "identity-policy", nil, "an identity-based policy `FILE` (repeatable)")
	fl.StringVar(&opts.ResourcePolicy, "resource-policy", "", "the resource-based policy `FILE`")
	fl.StringVar(&opts.Boundary, "boundary", "", "the permissions boundary policy `FILE`")
	fl.StringArrayVar(&opts.SCPs, "scp", nil, "a service control policy `FILE`, one organisation level each, root first (repeatable)")
	fl.StringArrayVar(&opts.RCPs, "rcp", nil, "a resource control policy `FILE`, one organisation level each, root first (repeatable)")
	fl.StringArrayVar(&opts.Session, "session-policy", nil, "a session policy `FILE` (repeatable: inline and managed session policies)")
	fl.StringVar(&opts.VPCEndpoint, "vpc-endpoint-policy", "", "the policy `FILE` of the VPC endpoint the request goes through")
	fl.StringVar(&opts.Batch, "batch", "", "evaluate the requests of a JSON-lines `FILE` (\"-\" for stdin); writes one JSON line per request")
	fl.BoolVar(&opts.Explain, "explain", false, "say which statements matched or failed and why")
	fl.StringVar(&opts.Format, "format", "text", "output format: text|json")
	return cmd
}

func runPolicySimulate(opts *policySimulateOptions) error {
	format, err := report.ParseFormat(opts.Format, report.FormatText, report.FormatJSON)
	if err != nil {
		return UsageError(err)
	}
	if opts.Batch != "" {
		if opts.formatGiven && format != report.FormatJSON {
			return usageErrorf("--batch writes JSON lines; --format %s is not supported with it", opts.Format)
		}
		if opts.Action != "" || len(opts.Identity) > 0 || len(opts.Context) > 0 || opts.ResourcePolicy != "" || opts.principalSet {
			return usageErrorf("--batch takes every request from its input; do not combine it with --action, --principal, --context or policy flags")
		}
		return policySimulateBatch(opts)
	}
	if opts.Action == "" {
		return usageErrorf("--action is required (or --batch)")
	}
	if why := iameval.ActionProblem(opts.Action); why != "" {
		return usageErrorf("--action %q %s", opts.Action, why)
	}
	ctx, err := policySimulateContext(opts.Context)
	if err != nil {
		return UsageError(err)
	}
	set, err := policySimulateLoadSet(opts)
	if err != nil {
		return UsageError(err)
	}
	principal := opts.Principal
	if principal == "" {
		principal = iameval.DefaultPrincipal(opts.Resource, opts.ResourceAccount)
	}
	compiled := iameval.CompileSet(set)
	res := compiled.Evaluate(iameval.Request{
		Action: opts.Action, Resource: opts.Resource, Principal: principal,
		ResourceAccount: opts.ResourceAccount, Context: ctx,
	}, iameval.Options{Explain: opts.Explain})

	warnings := append(policySimulateActionWarnings(opts.Action, "--action"), compiled.Problems...)
	for _, p := range warnings {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", report.Printable(p))
	}
	if format == report.FormatJSON {
		out := policySimulateJSON(res, opts.Explain)
		out.Principal = principal
		out.Warnings = warnings
		enc := report.NewJSONEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		if err := policySimulateText(opts.IO, res, principal, opts.Principal == "", opts.Explain); err != nil {
			return err
		}
	}
	if res.Decision != iameval.Allowed {
		return ErrFindings()
	}
	return nil
}

func policySimulateContext(kvs []string) (*iameval.Context, error) {
	ctx := iameval.NewContext()
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--context %q: want KEY=VALUE", kv)
		}
		ctx.Add(k, v)
	}
	return ctx, nil
}

func policySimulateLoadSet(opts *policySimulateOptions) (iameval.PolicySet, error) {
	var set iameval.PolicySet
	stdinUsed := false
	load := func(path string) (*iampolicy.Policy, error) {
		if path == "-" {
			if stdinUsed {
				return nil, errors.New("only one policy can come from stdin (-)")
			}
			stdinUsed = true
		}
		data, err := readInput(opts.IO, path, iampolicy.MaxDocumentSize)
		if err != nil {
			return nil, err
		}
		name := path
		if path == "-" {
			name = "<stdin>"
		}
		return iampolicy.Parse(name, data)
	}
	loadAll := func(paths []string) ([]*iampolicy.Policy, error) {
		var out []*iampolicy.Policy
		for _, p := range paths {
			pol, err := load(p)
			if err != nil {
				return nil, err
			}
			out = append(out, pol)
		}
		return out, nil
	}
	var err error
	if set.Identity, err = loadAll(opts.Identity); err != nil {
		return set, err
	}
	if set.Session, err = loadAll(opts.Session); err != nil {
		return set, err
	}
	for _, p := range opts.SCPs {
		pol, err := load(p)
		if err != nil {
			return set, err
		}
		set.SCPs = append(set.SCPs, []*iampolicy.Policy{pol})
	}
	for _, p := range opts.RCPs {
		pol, err := load(p)
		if err != nil {
			return set, err
		}
		set.RCPs = append(set.RCPs, []*iampolicy.Policy{pol})
	}
	if opts.Boundary != "" {
		pol, err := load(opts.Boundary)
		if err != nil {
			return set, err
		}
		set.Boundary = []*iampolicy.Policy{pol}
	}
	if opts.ResourcePolicy != "" {
		if set.Resource, err = load(opts.ResourcePolicy); err != nil {
			return set, err
		}
	}
	if opts.VPCEndpoint != "" {
		if set.VPCEndpoint, err = load(opts.VPCEndpoint); err != nil {
			return set, err
		}
	}
	return set, nil
}

// policySimulateResult is the JSON form of one decision.
type policySimulateResult struct {
	Line        int                      `json:"line,omitempty"`
	Decision    string                   `json:"decision,omitempty"`
	DecidedBy   *[]iameval.StatementRef  `json:"decidedBy,omitempty"`
	Reason      string                   `json:"reason,omitempty"`
	Principal   string                   `json:"principal,omitempty"`
	MissingKeys []string                 `json:"missingKeys,omitempty"`
	Trace       []iameval.StatementTrace `json:"trace,omitempty"`
	Warnings    []string                 `json:"warnings,omitempty"`
	Error       string                   `json:"error,omitempty"`
}

func policySimulateJSON(res iameval.Result, explain bool) policySimulateResult {
	by := res.DecidedBy
	if by == nil {
		by = []iameval.StatementRef{}
	}
	out := policySimulateResult{Decision: res.Decision.String(), DecidedBy: &by, Reason: res.Reason}
	if explain {
		out.Trace = res.Trace
		out.MissingKeys = res.MissingKeys
	}
	return out
}

func policySimulateText(io_ *IOStreams, res iameval.Result, principal string, defaulted, explain bool) error {
	p := report.NewPalette(io_.ColorEnabled())
	if explain {
		if defaulted {
			fmt.Fprintf(io_.Out, "Principal: %s (none given; a user in the resource's account is assumed)\n", principal)
		}
		var b bytes.Buffer
		if err := iameval.WriteExplanation(&b, res); err != nil {
			return err
		}
		_, err := io_.Out.Write([]byte(report.PrintableText(b.String())))
		return err
	}
	word := res.Decision.String()
	switch res.Decision {
	case iameval.Allowed:
		word = p.Green(word)
	case iameval.ExplicitlyDenied:
		word = p.Red(word)
	default:
		word = p.Yellow(word)
	}
	fmt.Fprintf(io_.Out, "%s\n  %s\n", word, report.Printable(res.Reason))
	return nil
}

// policySimulateActionWarnings warns about a request's action that is not
// in the built-in catalogue: AWS would answer such a request with an error,
// and a simulation of a misspelt action answers a question nobody asked.
// The closest known action is named when there is a likely typo.
func policySimulateActionWarnings(action, what string) []string {
	p, bad := iamdata.Check(action)
	if !bad {
		return nil
	}
	return []string{what + " " + p.String()}
}
