package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/keywarden/keywarden/internal/iamdata"
	"github.com/keywarden/keywarden/internal/iameval"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/cobra"
)

func init() { register("policy", 30, newPolicySimulateCmd) }

// policySimulateMaxLine bounds one line of --batch input: a request with
// its policies. AWS's own policy limits are a few KiB; 8 MiB leaves room
// for several pretty-printed documents while keeping memory bounded.
const policySimulateMaxLine = 8 << 20

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
	maxLine      int // --batch line limit; policySimulateMaxLine when 0
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
	if why := policySimulateActionProblem(opts.Action); why != "" {
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
		principal = policySimulateDefaultPrincipal(opts.Resource, opts.ResourceAccount)
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

// policySimulateDefaultPrincipal invents a user in the resource's account
// when no principal is given, so that identity policies apply and the
// request is not mistaken for a cross-account one.
func policySimulateDefaultPrincipal(resource, account string) string {
	if account == "" {
		if parts := strings.SplitN(resource, ":", 6); len(parts) == 6 && len(parts[4]) == 12 {
			account = parts[4]
		}
	}
	if account == "" {
		account = "123456789012"
	}
	return "arn:aws:iam::" + account + ":user/simulated-user"
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

// policySimulateBatchLine is one request of --batch input.
type policySimulateBatchLine struct {
	Action                string                     `json:"action"`
	Resource              string                     `json:"resource"`
	ResourceAccount       string                     `json:"resourceAccount"`
	Principal             string                     `json:"principal"`
	Context               map[string]json.RawMessage `json:"context"`
	IdentityPolicies      []json.RawMessage          `json:"identityPolicies"`
	PermissionsBoundaries []json.RawMessage          `json:"permissionsBoundaries"`
	SCPs                  [][]json.RawMessage        `json:"scps"`
	RCPs                  [][]json.RawMessage        `json:"rcps"`
	ResourcePolicy        json.RawMessage            `json:"resourcePolicy"`
	SessionPolicy         json.RawMessage            `json:"sessionPolicy"`
	VPCEndpointPolicy     json.RawMessage            `json:"vpcEndpointPolicy"`
}

func policySimulateBatch(opts *policySimulateOptions) error {
	var in io.Reader
	if opts.Batch == "-" {
		in = opts.IO.In
	} else {
		f, err := os.Open(opts.Batch)
		if err != nil {
			return UsageError(err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.IsDir() {
			return usageErrorf("%s: is a directory", opts.Batch)
		}
		in = f
	}
	br := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriter(opts.IO.Out)
	defer w.Flush()
	enc := report.NewJSONEncoder(w)
	enc.SetEscapeHTML(false)
	limit := opts.maxLine
	if limit <= 0 {
		limit = policySimulateMaxLine
	}
	bad, lineNo, n := 0, 0, 0
	for {
		line, tooLong, err := policySimulateReadLine(br, limit)
		if err != nil && err != io.EOF {
			w.Flush()
			return UsageError(fmt.Errorf("%s: line %d: %w", opts.Batch, lineNo+1, err))
		}
		eof := err == io.EOF
		if eof && line == nil && !tooLong {
			break
		}
		lineNo++
		if !tooLong && len(bytes.TrimSpace(line)) == 0 {
			if eof {
				break
			}
			continue // blank lines are not requests
		}
		n++
		var out policySimulateResult
		if tooLong {
			out = policySimulateResult{Line: lineNo, Error: fmt.Sprintf("line %d: longer than the %d-byte limit", lineNo, limit)}
		} else {
			out = policySimulateOne(lineNo, line, opts.Explain)
		}
		if out.Error != "" {
			bad++
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
		if eof {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return usageErrorf("%d of %d requests could not be evaluated (see the error lines)", bad, n)
	}
	return nil
}

// policySimulateReadLine reads one line without holding more than limit
// bytes: the rest of an overlong line is skipped and reported.
func policySimulateReadLine(br *bufio.Reader, limit int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > limit {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			return buf, tooLong, nil
		case io.EOF:
			if len(buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return buf, tooLong, io.EOF
		default:
			return nil, false, err
		}
	}
}

// policySimulateOne evaluates one batch line; problems become its error.
// Each line is compiled on its own: its policies are parsed afresh, and a
// shared cache would only grow with a long stream.
func policySimulateOne(lineNo int, line []byte, explain bool) policySimulateResult {
	fail := func(format string, args ...any) policySimulateResult {
		return policySimulateResult{Line: lineNo, Error: fmt.Sprintf("line %d: ", lineNo) + report.Printable(fmt.Sprintf(format, args...))}
	}
	var req policySimulateBatchLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fail("not a valid request object: %v", err)
	}
	if dec.More() {
		return fail("more than one JSON value on the line")
	}
	if why := policySimulateActionProblem(req.Action); why != "" {
		return fail("\"action\" %q %s", req.Action, why)
	}
	if req.Resource == "" {
		req.Resource = "*"
	}
	ctx := iameval.NewContext()
	for k, raw := range req.Context {
		vals, multi, err := policySimulateContextValue(raw)
		if err != nil {
			return fail("context key %q: %v", k, err)
		}
		if multi {
			ctx.SetMulti(k, vals...)
		} else {
			ctx.Set(k, vals...)
		}
	}
	doc := func(what string, raw json.RawMessage) (*iampolicy.Policy, error) {
		if len(raw) == 0 || string(raw) == "null" {
			return nil, nil
		}
		if len(raw) > iampolicy.MaxDocumentSize {
			return nil, fmt.Errorf("%s: larger than the %d-byte limit", what, iampolicy.MaxDocumentSize)
		}
		return iampolicy.Parse(what, raw)
	}
	var set iameval.PolicySet
	var err error
	for i, raw := range req.IdentityPolicies {
		p, err := doc(fmt.Sprintf("identityPolicies[%d]", i), raw)
		if err != nil {
			return fail("%v", err)
		}
		set.Identity = append(set.Identity, p)
	}
	for i, raw := range req.PermissionsBoundaries {
		p, err := doc(fmt.Sprintf("permissionsBoundaries[%d]", i), raw)
		if err != nil {
			return fail("%v", err)
		}
		set.Boundary = append(set.Boundary, p)
	}
	levels := func(name string, in [][]json.RawMessage) ([][]*iampolicy.Policy, error) {
		var out [][]*iampolicy.Policy
		for i, lvl := range in {
			var l []*iampolicy.Policy
			for j, raw := range lvl {
				p, err := doc(fmt.Sprintf("%s[%d][%d]", name, i, j), raw)
				if err != nil {
					return nil, err
				}
				l = append(l, p)
			}
			out = append(out, l)
		}
		return out, nil
	}
	if set.SCPs, err = levels("scps", req.SCPs); err != nil {
		return fail("%v", err)
	}
	if set.RCPs, err = levels("rcps", req.RCPs); err != nil {
		return fail("%v", err)
	}
	if set.Resource, err = doc("resourcePolicy", req.ResourcePolicy); err != nil {
		return fail("%v", err)
	}
	sess, err := doc("sessionPolicy", req.SessionPolicy)
	if err != nil {
		return fail("%v", err)
	}
	if sess != nil {
		set.Session = []*iampolicy.Policy{sess}
	}
	if set.VPCEndpoint, err = doc("vpcEndpointPolicy", req.VPCEndpointPolicy); err != nil {
		return fail("%v", err)
	}
	principal := req.Principal
	if principal == "" {
		principal = policySimulateDefaultPrincipal(req.Resource, req.ResourceAccount)
	}
	compiled := iameval.CompileSet(set)
	res := compiled.Evaluate(iameval.Request{Action: req.Action, Resource: req.Resource, Principal: principal, ResourceAccount: req.ResourceAccount, Context: ctx},
		iameval.Options{Explain: explain})
	out := policySimulateJSON(res, explain)
	out.Line = lineNo
	out.Warnings = append(policySimulateActionWarnings(req.Action, `"action"`), compiled.Problems...)
	return out
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

// policySimulateContextValue reads a context value: a string (or a JSON
// boolean or number, read as its text) or a list of them (multi-valued).
func policySimulateContextValue(raw json.RawMessage) ([]string, bool, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false, err
	}
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case bool:
			if t {
				return "true", true
			}
			return "false", true
		case json.Number:
			return t.String(), true
		}
		return "", false
	}
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, x := range list {
			s, ok := scalar(x)
			if !ok {
				return nil, false, errors.New("list elements must be strings, booleans or numbers")
			}
			out = append(out, s)
		}
		return out, true, nil
	}
	s, ok := scalar(v)
	if !ok {
		return nil, false, errors.New("want a string or a list of strings")
	}
	return []string{s}, false, nil
}

// policySimulateActionRe is one action as a request names it: a service
// prefix and an action name, no wildcards.
var policySimulateActionRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$`)

// policySimulateActionProblem says what is wrong with a request's action,
// or "". A request names one action: a wildcard belongs in a policy, and
// evaluated literally it would answer a question nobody asked.
func policySimulateActionProblem(a string) string {
	switch {
	case strings.ContainsAny(a, "*?"):
		return "has a wildcard: a request names one action (simulate each action you mean)"
	case !policySimulateActionRe.MatchString(a):
		return "is not of the form service:Action"
	}
	return ""
}
