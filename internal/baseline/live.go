package baseline

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// RequiredActions are the read-only permissions LoadSnapshot uses (for
// --print-required-policy).
var RequiredActions = []string{
	"budgets:ViewBudget",
	"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus",
	"config:DescribeConfigRules", "config:DescribeConfigurationRecorderStatus",
	"events:ListRules", "events:ListTargetsByRule",
	"guardduty:GetDetector", "guardduty:ListDetectors",
	"iam:GetAccountPasswordPolicy", "iam:GetGroupPolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetUserPolicy",
	"iam:ListAccessKeys", "iam:ListAttachedGroupPolicies", "iam:ListAttachedUserPolicies", "iam:ListGroupPolicies",
	"iam:ListGroupsForUser", "iam:ListUserPolicies", "iam:ListUsers",
	"sns:ListSubscriptionsByTopic",
	"sts:GetCallerIdentity",
}

// LoadSnapshot reads, read-only, what Check needs of the account cfg
// points at. cfg's region is replaced by the plan's home region, and by
// us-east-1 for the global rules. A part that cannot be read is recorded
// in Snapshot.Errors; only a failure to learn the account is an error.
func LoadSnapshot(ctx context.Context, cfg aws.Config, p *Plan) (*Snapshot, error) {
	home, global := cfg.Copy(), cfg.Copy()
	home.Region, global.Region = p.Region, GlobalRegion
	id, err := sts.NewFromConfig(home).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("who am I (sts:GetCallerIdentity): %w", err)
	}
	s := &Snapshot{Account: aws.ToString(id.Account), Region: p.Region, Rules: map[string][]RuleState{},
		Topics: map[string]TopicState{}, Errors: map[Part]string{}}
	fail := func(part Part, err error) {
		if err != nil {
			s.Errors[part] = describe(err)
		}
	}
	if p.Has(PartTrail) {
		fail(PartTrail, loadTrails(ctx, cloudtrail.NewFromConfig(home), s))
	}
	if p.Has(PartAlerts) {
		regions := []aws.Config{home}
		if p.Region != GlobalRegion {
			regions = append(regions, global)
		}
		for _, c := range regions {
			if err := loadRules(ctx, eventbridge.NewFromConfig(c), sns.NewFromConfig(c), c.Region, s); err != nil {
				fail(PartAlerts, err)
				break
			}
		}
	}
	if p.Has(PartDetectors) {
		fail(PartDetectors, errors.Join(loadGuardDuty(ctx, guardduty.NewFromConfig(home), s), loadConfig(ctx, configservice.NewFromConfig(home), s)))
	}
	if p.Has(PartCost) {
		out, err := budgets.NewFromConfig(global).DescribeBudgets(ctx, &budgets.DescribeBudgetsInput{AccountId: id.Account})
		var nf interface{ ErrorCode() string }
		if errors.As(err, &nf) && nf.ErrorCode() == "NotFoundException" {
			err = nil
		}
		if err == nil && out != nil {
			s.Budgets = len(out.Budgets)
		}
		fail(PartCost, err)
	}
	if p.Has(PartIdentity) {
		fail(PartIdentity, loadIdentity(ctx, iam.NewFromConfig(home), s))
	}
	return s, nil
}

// describe keeps the service's error code and message, which say what to
// grant.
func describe(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func loadTrails(ctx context.Context, c *cloudtrail.Client, s *Snapshot) error {
	out, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return err
	}
	for _, t := range out.TrailList {
		st, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: t.TrailARN})
		if err != nil {
			return err
		}
		s.Trails = append(s.Trails, TrailState{
			Name: aws.ToString(t.Name), ARN: aws.ToString(t.TrailARN), HomeRegion: aws.ToString(t.HomeRegion),
			MultiRegion: aws.ToBool(t.IsMultiRegionTrail), Logging: aws.ToBool(st.IsLogging),
			LogFileValidation: aws.ToBool(t.LogFileValidationEnabled), KMS: aws.ToString(t.KmsKeyId) != "",
			Organization: aws.ToBool(t.IsOrganizationTrail),
		})
	}
	return nil
}

func loadRules(ctx context.Context, eb *eventbridge.Client, topics *sns.Client, region string, s *Snapshot) error {
	var next *string
	for {
		out, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{NextToken: next})
		if err != nil {
			return err
		}
		for _, r := range out.Rules {
			rs := RuleState{Name: aws.ToString(r.Name), Pattern: aws.ToString(r.EventPattern), Enabled: r.State == "ENABLED"}
			tg, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: r.Name})
			if err != nil {
				return err
			}
			for _, t := range tg.Targets {
				arn := aws.ToString(t.Arn)
				rs.Targets = append(rs.Targets, arn)
				if _, seen := s.Topics[arn]; !seen {
					s.Topics[arn] = confirmed(ctx, topics, arn)
				}
			}
			s.Rules[region] = append(s.Rules[region], rs)
		}
		if next = out.NextToken; next == nil {
			return nil
		}
	}
}

// confirmed counts a topic's confirmed subscriptions; a target that is
// not a readable topic has none.
func confirmed(ctx context.Context, c *sns.Client, arn string) TopicState {
	var ts TopicState
	var next *string
	for {
		out, err := c.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(arn), NextToken: next})
		if err != nil {
			return ts
		}
		for _, sub := range out.Subscriptions {
			if a := aws.ToString(sub.SubscriptionArn); a != "" && a != "PendingConfirmation" && a != "Deleted" {
				ts.Confirmed++
			}
		}
		if next = out.NextToken; next == nil {
			return ts
		}
	}
}

func loadGuardDuty(ctx context.Context, c *guardduty.Client, s *Snapshot) error {
	out, err := c.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	if err != nil {
		return err
	}
	for _, id := range out.DetectorIds {
		d, err := c.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(id)})
		if err != nil {
			return err
		}
		if d.Status == gdtypes.DetectorStatusEnabled {
			s.GuardDuty = true
		}
	}
	return nil
}

func loadConfig(ctx context.Context, c *configservice.Client, s *Snapshot) error {
	st, err := c.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{})
	if err != nil {
		return err
	}
	for _, r := range st.ConfigurationRecordersStatus {
		s.ConfigRecording = s.ConfigRecording || r.Recording
	}
	var next *string
	for {
		out, err := c.DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{NextToken: next})
		if err != nil {
			return err
		}
		for _, r := range out.ConfigRules {
			if r.Source != nil {
				s.ConfigRules = append(s.ConfigRules, aws.ToString(r.Source.SourceIdentifier))
			}
		}
		if next = out.NextToken; next == nil {
			return nil
		}
	}
}

func loadIdentity(ctx context.Context, c *iam.Client, s *Snapshot) error {
	pp, err := c.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
	case err != nil:
		return err
	default:
		v := pp.PasswordPolicy
		s.PasswordPolicy = &PasswordPolicy{
			MinLength: int(aws.ToInt32(v.MinimumPasswordLength)), ReusePrevention: int(aws.ToInt32(v.PasswordReusePrevention)),
			RequireLowercase: v.RequireLowercaseCharacters, RequireUppercase: v.RequireUppercaseCharacters,
			RequireNumbers: v.RequireNumbers, RequireSymbols: v.RequireSymbols,
			AllowUsersToChangePassword: v.AllowUsersToChangePassword,
		}
	}
	users := iam.NewListUsersPaginator(c, &iam.ListUsersInput{})
	guardedGroups := map[string]bool{}
	for users.HasMorePages() {
		page, err := users.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
			if err != nil {
				return err
			}
			active := false
			for _, k := range keys.AccessKeyMetadata {
				active = active || k.Status == iamtypes.StatusTypeActive
			}
			if !active {
				continue
			}
			guarded, err := userGuarded(ctx, c, aws.ToString(u.UserName), guardedGroups)
			if err != nil {
				return err
			}
			s.KeyHolders = append(s.KeyHolders, KeyHolder{User: aws.ToString(u.UserName), Guarded: guarded})
		}
	}
	return nil
}

// userGuarded: an MFA guard in the user's own policies or one of their
// groups'. groups caches each group's answer.
func userGuarded(ctx context.Context, c *iam.Client, user string, groups map[string]bool) (bool, error) {
	docs, err := principalPolicies(ctx, c, user, "")
	if err != nil {
		return false, err
	}
	for _, d := range docs {
		if HasMFAGuard(d) {
			return true, nil
		}
	}
	gs, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String(user)})
	if err != nil {
		return false, err
	}
	for _, g := range gs.Groups {
		name := aws.ToString(g.GroupName)
		guarded, seen := groups[name]
		if !seen {
			docs, err := principalPolicies(ctx, c, "", name)
			if err != nil {
				return false, err
			}
			for _, d := range docs {
				guarded = guarded || HasMFAGuard(d)
			}
			groups[name] = guarded
		}
		if guarded {
			return true, nil
		}
	}
	return false, nil
}

// principalPolicies returns the inline and attached policy documents of a
// user or (user empty) a group.
func principalPolicies(ctx context.Context, c *iam.Client, user, group string) ([][]byte, error) {
	var docs [][]byte
	add := func(encoded string) {
		if d, err := url.QueryUnescape(encoded); err == nil {
			docs = append(docs, []byte(d))
		}
	}
	var attached []iamtypes.AttachedPolicy
	if user != "" {
		names, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(user)})
		if err != nil {
			return nil, err
		}
		for _, n := range names.PolicyNames {
			p, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(n)})
			if err != nil {
				return nil, err
			}
			add(aws.ToString(p.PolicyDocument))
		}
		at, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(user)})
		if err != nil {
			return nil, err
		}
		attached = at.AttachedPolicies
	} else {
		names, err := c.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: aws.String(group)})
		if err != nil {
			return nil, err
		}
		for _, n := range names.PolicyNames {
			p, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String(n)})
			if err != nil {
				return nil, err
			}
			add(aws.ToString(p.PolicyDocument))
		}
		at, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(group)})
		if err != nil {
			return nil, err
		}
		attached = at.AttachedPolicies
	}
	for _, a := range attached {
		pol, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: a.PolicyArn})
		if err != nil {
			return nil, err
		}
		v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: a.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
		if err != nil {
			return nil, err
		}
		add(aws.ToString(v.PolicyVersion.Document))
	}
	return docs, nil
}
