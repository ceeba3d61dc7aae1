package orgaudit_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/keywarden/keywarden/internal/orgaudit"
)

// pagedOrg is a fake AWS Organizations API that returns one item per page,
// so every list must follow NextToken to see the whole organization.
type pagedOrg struct {
	calls     map[string]int
	described map[string]int
	denyOn    string
}

// page returns item i of n and the token of the next page.
func page(token *string, n int) (int, *string) {
	i := 0
	if token != nil {
		i, _ = strconv.Atoi(*token)
	}
	if i+1 < n {
		return i, aws.String(strconv.Itoa(i + 1))
	}
	return i, nil
}

func (p *pagedOrg) count(op string) error {
	p.calls[op]++
	if op == p.denyOn {
		return errors.New("AccessDeniedException: not allowed")
	}
	return nil
}

func (p *pagedOrg) DescribeOrganization(context.Context, *organizations.DescribeOrganizationInput, ...func(*organizations.Options)) (*organizations.DescribeOrganizationOutput, error) {
	if err := p.count("DescribeOrganization"); err != nil {
		return nil, err
	}
	return &organizations.DescribeOrganizationOutput{Organization: &types.Organization{Id: aws.String("o-paged"), MasterAccountId: aws.String("100000000000")}}, nil
}

func (p *pagedOrg) DescribePolicy(_ context.Context, in *organizations.DescribePolicyInput, _ ...func(*organizations.Options)) (*organizations.DescribePolicyOutput, error) {
	p.described[*in.PolicyId]++
	content := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	if *in.PolicyId == "p-deny" {
		content = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`
	}
	return &organizations.DescribePolicyOutput{Policy: &types.Policy{Content: aws.String(content)}}, nil
}

func (p *pagedOrg) ListRoots(_ context.Context, in *organizations.ListRootsInput, _ ...func(*organizations.Options)) (*organizations.ListRootsOutput, error) {
	if err := p.count("ListRoots"); err != nil {
		return nil, err
	}
	return &organizations.ListRootsOutput{Roots: []types.Root{{Id: aws.String("r-1"), Name: aws.String("Root"),
		PolicyTypes: []types.PolicyTypeSummary{{Type: types.PolicyTypeServiceControlPolicy, Status: types.PolicyTypeStatusEnabled}}}}}, nil
}

// Four accounts: 100000000000 (management) and ...01 under the root,
// ...02 and ...03 under ou-a; ou-b (empty) under ou-a.
var pagedTree = map[string]struct{ ous, accounts []string }{
	"r-1":  {[]string{"ou-a"}, []string{"100000000000", "100000000001"}},
	"ou-a": {[]string{"ou-b"}, []string{"100000000002", "100000000003"}},
	"ou-b": {nil, nil},
}

func (p *pagedOrg) ListAccounts(_ context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	if err := p.count("ListAccounts"); err != nil {
		return nil, err
	}
	i, next := page(in.NextToken, 4)
	id := fmt.Sprintf("1%011d", i)
	return &organizations.ListAccountsOutput{Accounts: []types.Account{{Id: aws.String(id), Name: aws.String("a" + id[10:]), State: types.AccountStateActive}}, NextToken: next}, nil
}

func (p *pagedOrg) ListOrganizationalUnitsForParent(_ context.Context, in *organizations.ListOrganizationalUnitsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	if err := p.count("ListOrganizationalUnitsForParent"); err != nil {
		return nil, err
	}
	ous := pagedTree[*in.ParentId].ous
	if len(ous) == 0 {
		return &organizations.ListOrganizationalUnitsForParentOutput{}, nil
	}
	i, next := page(in.NextToken, len(ous))
	return &organizations.ListOrganizationalUnitsForParentOutput{OrganizationalUnits: []types.OrganizationalUnit{{Id: aws.String(ous[i]), Name: aws.String(strings.ToUpper(ous[i]))}}, NextToken: next}, nil
}

func (p *pagedOrg) ListAccountsForParent(_ context.Context, in *organizations.ListAccountsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	if err := p.count("ListAccountsForParent"); err != nil {
		return nil, err
	}
	accts := pagedTree[*in.ParentId].accounts
	if len(accts) == 0 {
		return &organizations.ListAccountsForParentOutput{}, nil
	}
	i, next := page(in.NextToken, len(accts))
	return &organizations.ListAccountsForParentOutput{Accounts: []types.Account{{Id: aws.String(accts[i])}}, NextToken: next}, nil
}

// Every target has FullAWSAccess; ou-a also has p-deny (two pages).
func (p *pagedOrg) ListPoliciesForTarget(_ context.Context, in *organizations.ListPoliciesForTargetInput, _ ...func(*organizations.Options)) (*organizations.ListPoliciesForTargetOutput, error) {
	if err := p.count("ListPoliciesForTarget"); err != nil {
		return nil, err
	}
	if in.Filter != types.PolicyTypeServiceControlPolicy {
		return nil, fmt.Errorf("asked for %s, which the root does not enable", in.Filter)
	}
	ps := []string{"p-FullAWSAccess"}
	if *in.TargetId == "ou-a" {
		ps = append(ps, "p-deny")
	}
	i, next := page(in.NextToken, len(ps))
	return &organizations.ListPoliciesForTargetOutput{Policies: []types.PolicySummary{{Id: aws.String(ps[i]), Name: aws.String(ps[i])}}, NextToken: next}, nil
}

func TestLoadLivePaging(t *testing.T) {
	api := &pagedOrg{calls: map[string]int{}, described: map[string]int{}}
	tree, err := orgaudit.LoadLive(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		account, path string
		scpLevels     int
	}{
		{"100000000000", "Root", 2},
		{"100000000001", "Root", 2},
		{"100000000002", "Root/OU-A", 3},
		{"100000000003", "Root/OU-A", 3},
	}
	if len(tree.Accounts) != len(tests) {
		t.Fatalf("%d accounts, want %d", len(tree.Accounts), len(tests))
	}
	for _, tc := range tests {
		a, ok := tree.Account(tc.account)
		if !ok {
			t.Fatalf("%s missing", tc.account)
		}
		levels, _, err := tree.Levels(a, orgaudit.TypeSCP)
		if err != nil {
			t.Fatal(err)
		}
		if got := tree.PathNames(a); got != tc.path || len(levels) != tc.scpLevels {
			t.Errorf("%s: path %q, %d SCP levels; want %q, %d", tc.account, got, len(levels), tc.path, tc.scpLevels)
		}
	}
	a, _ := tree.Account("100000000002")
	levels, _, _ := tree.Levels(a, orgaudit.TypeSCP)
	if got := strings.Join(levels[1].Policies, ","); got != "p-FullAWSAccess (p-FullAWSAccess),p-deny (p-deny)" {
		t.Errorf("ou-a policies %q (the second page must be read)", got)
	}
	if api.described["p-FullAWSAccess"] != 1 || api.described["p-deny"] != 1 {
		t.Errorf("each policy must be described once: %v", api.described)
	}
	if !tree.Management("100000000000") {
		t.Error("management account not known")
	}
}

func TestLoadLiveErrors(t *testing.T) {
	for _, op := range []string{"DescribeOrganization", "ListRoots", "ListAccounts", "ListOrganizationalUnitsForParent", "ListAccountsForParent", "ListPoliciesForTarget"} {
		t.Run(op, func(t *testing.T) {
			_, err := orgaudit.LoadLive(context.Background(), &pagedOrg{calls: map[string]int{}, described: map[string]int{}, denyOn: op})
			if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
				t.Fatalf("error %v", err)
			}
		})
	}
}
