package orgaudit

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/inventory"
)

// DefaultRoleName is the role AWS Organizations creates in the accounts it
// creates, and the one assumed by default.
const DefaultRoleName = "OrganizationAccountAccessRole"

// RequiredActions are the AWS Organizations permissions an organization
// audit needs in the management (or delegated administrator) account,
// besides sts:AssumeRole and the account audit's own in each account.
var RequiredActions = []string{
	"organizations:DescribeOrganization",
	"organizations:ListAccounts",
	"organizations:ListRoots",
	"organizations:ListOrganizationalUnitsForParent",
	"organizations:ListAccountsForParent",
	"organizations:ListPoliciesForTarget",
	"organizations:DescribePolicy",
}

// RequiredPolicy is the policy to attach in the management account: the
// organization's read calls, sts:AssumeRole on roleName in every account,
// and the account audit's read-only IAM calls (the management account is
// audited with the caller's own credentials).
func RequiredPolicy(roleName string) iampolicy.Document {
	acct := inventory.RequiredPolicy()
	return iampolicy.Document{
		Version: iampolicy.Version2012,
		Statement: append(acct.Statement,
			iampolicy.DocStatement{Sid: "KeywardenOrgRead", Effect: iampolicy.Allow,
				Action: iampolicy.StringOrList(RequiredActions), Resource: iampolicy.StringOrList{"*"}},
			iampolicy.DocStatement{Sid: "KeywardenAssumeAuditRole", Effect: iampolicy.Allow,
				Action: iampolicy.StringOrList{"sts:AssumeRole"}, Resource: iampolicy.StringOrList{"arn:aws:iam::*:role/" + roleName}},
		),
	}
}

// OrganizationsAPI is the part of the AWS Organizations client LoadLive
// uses.
type OrganizationsAPI interface {
	DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error)
	DescribePolicy(context.Context, *organizations.DescribePolicyInput, ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error)
	organizations.ListRootsAPIClient
	organizations.ListAccountsAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListPoliciesForTargetAPIClient
}

// NewOrganizationsClient builds a client that retries throttling patiently:
// AWS Organizations allows only a few calls per second.
func NewOrganizationsClient(cfg aws.Config) *organizations.Client {
	return organizations.NewFromConfig(cfg, func(o *organizations.Options) { o.Retryer = inventory.PatientRetryer() })
}

// LoadLive reads the organization: its accounts (ListAccounts), the OU
// tree from each root down (ListOrganizationalUnitsForParent,
// ListAccountsForParent), and the SCPs and RCPs attached at the root, each
// OU and each account (ListPoliciesForTarget, DescribePolicy).
func LoadLive(ctx context.Context, api OrganizationsAPI) (*Tree, error) {
	o := &Organization{Targets: map[string][]string{}}
	desc, err := api.DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		return nil, fmt.Errorf("reading the organization (from the management account or a delegated administrator): %w", err)
	}
	if d := desc.Organization; d != nil {
		o.Organization = OrgInfo{ID: aws.ToString(d.Id), MasterAccountID: aws.ToString(d.MasterAccountId)}
	}
	roots := organizations.NewListRootsPaginator(api, &organizations.ListRootsInput{})
	for roots.HasMorePages() {
		page, err := roots.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Roots {
			root := Root{ID: aws.ToString(r.Id), Name: aws.ToString(r.Name)}
			for _, pt := range r.PolicyTypes {
				root.PolicyTypes = append(root.PolicyTypes, PolicyType{Type: string(pt.Type), Status: string(pt.Status)})
			}
			o.Roots = append(o.Roots, root)
		}
	}
	accounts := organizations.NewListAccountsPaginator(api, &organizations.ListAccountsInput{})
	byID := map[string]int{}
	for accounts.HasMorePages() {
		page, err := accounts.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range page.Accounts {
			byID[aws.ToString(a.Id)] = len(o.Accounts)
			o.Accounts = append(o.Accounts, Account{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name),
				Email: aws.ToString(a.Email), Status: string(a.State)})
			if o.Accounts[len(o.Accounts)-1].Status == "" {
				o.Accounts[len(o.Accounts)-1].Status = string(a.Status) // older organizations report Status only
			}
		}
	}
	// The tree, breadth first from each root.
	var queue []string
	for _, r := range o.Roots {
		queue = append(queue, r.ID)
	}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		ous := organizations.NewListOrganizationalUnitsForParentPaginator(api, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent)})
		for ous.HasMorePages() {
			page, err := ous.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, u := range page.OrganizationalUnits {
				o.OrganizationalUnits = append(o.OrganizationalUnits, Unit{ID: aws.ToString(u.Id), Name: aws.ToString(u.Name), ParentID: parent})
				queue = append(queue, aws.ToString(u.Id))
			}
		}
		accts := organizations.NewListAccountsForParentPaginator(api, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent)})
		for accts.HasMorePages() {
			page, err := accts.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, a := range page.Accounts {
				if i, ok := byID[aws.ToString(a.Id)]; ok {
					o.Accounts[i].ParentID = parent
				}
			}
		}
	}
	// The policies at every level, each policy described once.
	targets := make([]string, 0, len(o.Roots)+len(o.OrganizationalUnits)+len(o.Accounts))
	for _, r := range o.Roots {
		targets = append(targets, r.ID)
	}
	for _, u := range o.OrganizationalUnits {
		targets = append(targets, u.ID)
	}
	for _, a := range o.Accounts {
		targets = append(targets, a.ID)
	}
	described := map[string]bool{}
	for _, typ := range []string{TypeSCP, TypeRCP} {
		if !rootEnables(o.Roots, typ) {
			continue
		}
		for _, target := range targets {
			pages := organizations.NewListPoliciesForTargetPaginator(api, &organizations.ListPoliciesForTargetInput{
				TargetId: aws.String(target), Filter: types.PolicyType(typ)})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("listing the %s policies of %s: %w", typ, target, err)
				}
				for _, p := range page.Policies {
					id := aws.ToString(p.Id)
					o.Targets[target] = append(o.Targets[target], id)
					if described[id] {
						continue
					}
					described[id] = true
					d, err := api.DescribePolicy(ctx, &organizations.DescribePolicyInput{PolicyId: aws.String(id)})
					if err != nil {
						return nil, fmt.Errorf("reading policy %s: %w", id, err)
					}
					if d.Policy == nil {
						continue
					}
					o.Policies = append(o.Policies, Policy{Summary: PolicySummary{ID: id, Name: aws.ToString(p.Name), Type: typ},
						Content: aws.ToString(d.Policy.Content)})
				}
			}
		}
	}
	sort.Slice(o.Policies, func(i, j int) bool { return o.Policies[i].Summary.ID < o.Policies[j].Summary.ID })
	t := NewTree(o)
	for _, a := range o.Accounts {
		if a.ParentID == "" {
			t.Warnings = append(t.Warnings, fmt.Sprintf("account %s (%s) was listed but not found under any root or OU", a.ID, a.Name))
		}
	}
	return t, nil
}

func rootEnables(roots []Root, typ string) bool {
	for _, r := range roots {
		for _, pt := range r.PolicyTypes {
			if pt.Type == typ && pt.Status == "ENABLED" {
				return true
			}
		}
	}
	return false
}

// LiveLoader audits each account with credentials for roleName in it,
// assumed from base; the caller's own account (the management account or
// the delegated administrator) is read with base itself. An access denied
// (to the role or to IAM) is permanent.
func LiveLoader(base aws.Config, callerAccount, roleName string, opt inventory.LiveOptions) Loader {
	stsClient := sts.NewFromConfig(base)
	return func(ctx context.Context, a Account) (*inventory.Account, error) {
		cfg := base.Copy()
		if a.ID != callerAccount {
			arn := "arn:aws:iam::" + a.ID + ":role/" + roleName
			prov := stscreds.NewAssumeRoleProvider(stsClient, arn, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "keywarden-audit"
			})
			cfg.Credentials = aws.NewCredentialsCache(prov)
			if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
				err = fmt.Errorf("assuming %s: %w", arn, err)
				if denied(err) {
					return nil, Permanent(err)
				}
				return nil, err
			}
		}
		acct, err := inventory.Load(ctx, inventory.NewIAMClient(cfg), sts.NewFromConfig(cfg), opt)
		if denied(err) {
			return nil, Permanent(err)
		}
		return acct, err
	}
}

func denied(err error) bool {
	var pe *inventory.PermissionError
	if errors.As(err, &pe) {
		return true
	}
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDenied", "AccessDeniedException":
			return true
		}
	}
	return false
}
