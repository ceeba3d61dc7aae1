package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/audit"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/orgaudit"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/spf13/pflag"
)

// auditOrgOptions are the flags of `keywarden audit --org`.
type auditOrgOptions struct {
	Org      bool
	Exports  string
	RoleName string
	Accounts []string
	Exclude  []string
	Parallel int
	Retries  int
}

const auditOrgLong = `Whole organizations: --org reads the organization from its management
account (or a delegated administrator), assumes --role-name in each member
account and audits them, --parallel at a time, each with the SCPs of its
OU path (the management account is exempt), into one report.
--org-exports DIR does the same offline from DIR/organization.json and one
directory of exports per account (docs/audit.md, "Whole organizations").
With --org, exit 2 also means that an account could not be audited and
nothing reached --fail-on.`

const auditOrgExamples = `  keywarden audit --org --profile management --format html -o org.html
  keywarden audit --org --profile management --exclude-accounts 111122223333 --parallel 8
  keywarden audit --org-exports exports/ --format json
  keywarden audit --org --print-required-policy`

func (o *auditOrgOptions) bind(fl *pflag.FlagSet) {
	fl.BoolVar(&o.Org, "org", false, "audit every account of the organization, from its management account (or a delegated administrator)")
	fl.StringVar(&o.Exports, "org-exports", "", "audit an organization offline from `DIR`: DIR/organization.json and DIR/ACCOUNT-ID/ with each account's exports")
	fl.StringVar(&o.RoleName, "role-name", orgaudit.DefaultRoleName, "--org: the role to assume in each member account")
	fl.StringSliceVar(&o.Accounts, "accounts", nil, "--org: audit only these account IDs (comma-separated, repeatable)")
	fl.StringSliceVar(&o.Exclude, "exclude-accounts", nil, "--org: leave out these account IDs (comma-separated, repeatable)")
	fl.IntVar(&o.Parallel, "parallel", orgaudit.DefaultParallel, "--org: accounts audited at once")
	fl.IntVar(&o.Retries, "retries", orgaudit.DefaultAttempts-1, "--org: tries per account after a failure, with backoff")
}

func (o *auditOrgOptions) enabled() bool { return o.Org || o.Exports != "" }

func runAuditOrg(ctx context.Context, opts *auditOptions, o *auditOrgOptions) error {
	if opts.PrintPolicy {
		b, err := orgaudit.RequiredPolicy(o.RoleName).Marshal()
		if err != nil {
			return err
		}
		_, err = opts.IO.Out.Write(b)
		return err
	}
	if opts.CredentialReport != "" || opts.AuthorizationDetails != "" || opts.PasswordPolicy != "" || len(opts.SCPs) > 0 {
		return usageErrorf("--credential-report, --authorization-details, --password-policy and --scp audit one account; an organization's exports go in --org-exports DIR (see keywarden audit --help)")
	}
	if o.Exports != "" && (opts.AWS.Profile != "" || opts.AWS.EndpointURL != "") {
		return usageErrorf("--profile and --endpoint-url are for a live --org audit; they cannot be combined with --org-exports")
	}
	if o.Parallel < 1 || o.Parallel > 64 {
		return usageErrorf("--parallel: %d is not between 1 and 64", o.Parallel)
	}
	if o.Retries < 0 || o.Retries > 10 {
		return usageErrorf("--retries: %d is not between 0 and 10", o.Retries)
	}
	format, failOn, aopt, err := auditSettings(opts)
	if err != nil {
		return err
	}

	var tree *orgaudit.Tree
	var load orgaudit.Loader
	var skipped []string
	if o.Exports != "" {
		fsys := os.DirFS(o.Exports)
		if tree, err = orgaudit.ReadOrganization(fsys, o.Exports); err != nil {
			return UsageError(err)
		}
		unlisted, err := orgaudit.Unlisted(fsys, tree)
		if err != nil {
			return UsageError(err)
		}
		for _, n := range unlisted {
			skipped = append(skipped, fmt.Sprintf("%s: not the directory of an account of the organization, not read", strings.TrimSuffix(o.Exports, "/")+"/"+n))
		}
		load = orgaudit.ExportsLoader(fsys, strings.TrimSuffix(o.Exports, "/"))
	} else {
		if tree, load, err = auditOrgLive(ctx, opts, o); err != nil {
			return &ExitErr{Code: ExitError, Err: err}
		}
	}
	accounts, inactive, err := tree.Select(o.Accounts, o.Exclude)
	if err != nil {
		return UsageError(err)
	}
	skipped = append(skipped, inactive...)
	aopt.Exposer = audit.NewEngineExposer()
	progress, done := auditProgress(opts.IO)
	oopt := orgaudit.Options{Audit: aopt, Parallel: o.Parallel, Attempts: o.Retries + 1}
	if progress != nil {
		oopt.Progress = func(n, total int) { progress("accounts", n, total) }
	}
	res := orgaudit.Run(ctx, tree, accounts, load, oopt)
	done()
	res.Skipped = append(res.Skipped, skipped...)

	err = auditWrite(opts, format, res.Findings, auditRenderers{
		JSON:  func(w io.Writer) error { return orgaudit.WriteJSON(w, Version, res) },
		SARIF: func(w io.Writer) error { return orgaudit.WriteSARIF(w, Version, res) },
		CSV:   func(w io.Writer) error { return orgaudit.WriteCSV(w, res) },
		HTML:  func(w io.Writer) error { return orgaudit.WriteHTML(w, Version, res) },
		Text: func(w io.Writer, color bool) error {
			return orgaudit.WriteText(w, res, audit.TextOptions{Color: color})
		},
	})
	if err != nil {
		return err
	}
	for _, ar := range res.Accounts {
		if ar.Error != "" {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: account %s (%s) was not audited: %s\n", report.Printable(ar.ID), report.Printable(ar.Name), report.Printable(ar.Error))
		}
	}
	// Findings win (exit 1); without any, an account that could not be
	// audited makes the run an input error (exit 2): an incomplete audit
	// never passes as clean.
	var counted []report.Finding
	for _, f := range res.Findings {
		if f.RuleID != orgaudit.RuleAccountFailed {
			counted = append(counted, f)
		}
	}
	if report.AtOrAbove(counted, failOn) {
		return ErrFindings()
	}
	if res.Failed > 0 {
		return &ExitErr{Code: ExitError, Err: fmt.Errorf("%d of %d accounts could not be audited", res.Failed, len(res.Accounts))}
	}
	return nil
}

// auditOrgLive reads the organization with the caller's credentials and
// returns the loader that assumes --role-name in each member account.
func auditOrgLive(ctx context.Context, opts *auditOptions, o *auditOrgOptions) (*orgaudit.Tree, orgaudit.Loader, error) {
	cfg, err := opts.AWS.load(ctx)
	if err != nil {
		return nil, nil, err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, nil, err
	}
	tree, err := orgaudit.LoadLive(ctx, orgaudit.NewOrganizationsClient(cfg))
	if err != nil {
		return nil, nil, err
	}
	return tree, orgaudit.LiveLoader(cfg, aws.ToString(id.Account), o.RoleName, inventory.LiveOptions{ReportTimeout: opts.ReportTimeout}), nil
}
