package baseline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	budgettypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cfgtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/keywarden/keywarden/internal/mototest"
	"github.com/keywarden/keywarden/internal/policygen"
	"github.com/keywarden/keywarden/internal/report"
)

// TestCheckAgainstEmulator: an empty account lacks every part; after the
// parts are created through the API (home region eu-west-1, the global
// rules in us-east-1), every part is present, and a user with a key
// outside the MFA guard is still named.
func TestCheckAgainstEmulator(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	cfg := srv.Config()
	p := plan(t, Options{Region: "eu-west-1"})

	snap, err := LoadSnapshot(ctx, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Errors) > 0 {
		t.Fatalf("parts unreadable on the emulator: %v", snap.Errors)
	}
	missing := partsWith(Check(p, snap), report.SeverityLow)
	if !slices.Equal(missing, []string{"alerts", "cost", "detectors", "identity", "trail"}) {
		t.Fatalf("empty account: parts reported missing %v, want all five", missing)
	}

	build(t, ctx, cfg, p)
	snap, err = LoadSnapshot(ctx, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	fs := Check(p, snap)
	var bad []string
	for _, f := range fs {
		if f.Severity >= report.SeverityLow && !strings.Contains(f.Title, "not under an MFA guard") {
			bad = append(bad, f.Title+": "+f.Message)
		}
	}
	if len(bad) > 0 {
		t.Fatalf("after building the baseline, still reported:\n%s", strings.Join(bad, "\n"))
	}
	var guard *report.Finding
	for i := range fs {
		if strings.Contains(fs[i].Title, "not under an MFA guard") {
			guard = &fs[i]
		}
	}
	if guard == nil || !strings.Contains(guard.Message, "loose") || strings.Contains(guard.Message, "guarded") {
		t.Fatalf("MFA guard finding = %+v, want one naming only the user outside the group", guard)
	}
}

func partsWith(fs []report.Finding, min report.Severity) []string {
	var parts []string
	for _, f := range fs {
		if f.Severity >= min && !slices.Contains(parts, f.Location.Resource) {
			parts = append(parts, f.Location.Resource)
		}
	}
	slices.Sort(parts)
	return parts
}

// must panics on a setup error; build turns the panic into t.Fatal.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// build creates every part of the plan through the API, the way a user
// who did it by hand would.
func build(t *testing.T, ctx context.Context, cfg aws.Config, p *Plan) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("building the baseline through the API: %v", r)
		}
	}()
	home, global := cfg.Copy(), cfg.Copy()
	home.Region, global.Region = p.Region, GlobalRegion

	// trail
	s3c := s3.NewFromConfig(home, func(o *s3.Options) { o.UsePathStyle = true })
	must(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(p.Region)}}))
	ct := cloudtrail.NewFromConfig(home)
	must(ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("logs"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true),
		KmsKeyId: aws.String("arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555")}))
	must(ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}))

	// alerts: a topic with a subscriber in each region, a rule per alert
	for _, c := range []aws.Config{home, global} {
		sc := sns.NewFromConfig(c)
		topic := must(sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("alerts")}))
		must(sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
			Endpoint: aws.String(fmt.Sprintf("arn:aws:sqs:%s:123456789012:oncall", c.Region))}))
		eb := eventbridge.NewFromConfig(c)
		for _, a := range Alerts() {
			if a.Global != (c.Region == GlobalRegion) {
				continue
			}
			pattern, _ := json.Marshal(a.Pattern)
			must(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(a.ID), EventPattern: aws.String(string(pattern)), State: ebtypes.RuleStateEnabled}))
			must(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(a.ID),
				Targets: []ebtypes.Target{{Id: aws.String("t"), Arn: topic.TopicArn}}}))
		}
	}

	// detectors
	must(guardduty.NewFromConfig(home).CreateDetector(ctx, &guardduty.CreateDetectorInput{Enable: aws.Bool(true)}))
	cs := configservice.NewFromConfig(home)
	must(cs.PutConfigurationRecorder(ctx, &configservice.PutConfigurationRecorderInput{ConfigurationRecorder: &cfgtypes.ConfigurationRecorder{
		Name: aws.String("default"), RoleARN: aws.String("arn:aws:iam::123456789012:role/config"),
		RecordingGroup: &cfgtypes.RecordingGroup{AllSupported: true, IncludeGlobalResourceTypes: true}}}))
	must(cs.PutDeliveryChannel(ctx, &configservice.PutDeliveryChannelInput{DeliveryChannel: &cfgtypes.DeliveryChannel{
		Name: aws.String("default"), S3BucketName: aws.String("logs")}}))
	must(cs.StartConfigurationRecorder(ctx, &configservice.StartConfigurationRecorderInput{ConfigurationRecorderName: aws.String("default")}))
	for _, r := range p.ConfigRules() {
		var params *string
		if len(r.Params) > 0 {
			b, _ := json.Marshal(r.Params)
			params = aws.String(string(b))
		}
		must(cs.PutConfigRule(ctx, &configservice.PutConfigRuleInput{ConfigRule: &cfgtypes.ConfigRule{
			ConfigRuleName: aws.String(r.Name), InputParameters: params,
			Source: &cfgtypes.Source{Owner: cfgtypes.OwnerAws, SourceIdentifier: aws.String(r.Identifier)}}}))
	}

	// cost
	must(budgets.NewFromConfig(global).CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String("123456789012"),
		Budget: &budgettypes.Budget{BudgetName: aws.String("monthly"), BudgetType: budgettypes.BudgetTypeCost,
			TimeUnit: budgettypes.TimeUnitMonthly, BudgetLimit: &budgettypes.Spend{Amount: aws.String("500"), Unit: aws.String("USD")}}}))

	// identity: the CIS password policy; one key holder in the MFA guard
	// group, one outside it
	pp := CISPasswordPolicy
	ic := iam.NewFromConfig(home)
	must(ic.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(int32(pp.MinLength)), PasswordReusePrevention: aws.Int32(int32(pp.ReusePrevention)),
		RequireLowercaseCharacters: true, RequireUppercaseCharacters: true, RequireNumbers: true, RequireSymbols: true,
		AllowUsersToChangePassword: true}))
	guardDoc := must(policygen.JSON(p.MFASpec))
	must(ic.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(p.MFASpec.Group)}))
	pol := must(ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("mfa-guard"), PolicyDocument: aws.String(string(guardDoc))}))
	must(ic.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(p.MFASpec.Group), PolicyArn: pol.Policy.Arn}))
	for _, u := range []string{"guarded", "loose"} {
		must(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
		must(ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)}))
	}
	must(ic.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(p.MFASpec.Group), UserName: aws.String("guarded")}))
}

func TestPatternCovers(t *testing.T) {
	ours := normalise(Alerts()[0].Pattern)
	tests := []struct {
		name, have string
		want       bool
	}{
		{"identical", `{"source":["aws.iam"],"detail-type":["AWS API Call via CloudTrail"],"detail":{"eventSource":["iam.amazonaws.com"],"eventName":["CreateAccessKey","UpdateAccessKey","DeleteAccessKey"]}}`, true},
		{"broader list", `{"source":["aws.iam"],"detail":{"eventName":["CreateAccessKey","UpdateAccessKey","DeleteAccessKey","CreateUser"]}}`, true},
		{"prefix covers", `{"source":["aws.iam"],"detail":{"eventName":[{"prefix":"Create"},{"prefix":"Update"},{"prefix":"Delete"}]}}`, true},
		{"everything from IAM", `{"source":["aws.iam"]}`, true},
		{"narrower list", `{"source":["aws.iam"],"detail":{"eventName":["CreateAccessKey"]}}`, false},
		{"extra constraint", `{"source":["aws.iam"],"detail":{"eventName":["CreateAccessKey","UpdateAccessKey","DeleteAccessKey"],"errorCode":[{"exists":false}]}}`, false},
		{"other service", `{"source":["aws.s3"]}`, false},
		{"anything-but is not understood", `{"source":[{"anything-but":"aws.s3"}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var have map[string]any
			if err := json.Unmarshal([]byte(tt.have), &have); err != nil {
				t.Fatal(err)
			}
			if got := PatternCovers(have, ours); got != tt.want {
				t.Errorf("covers = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHasMFAGuard(t *testing.T) {
	spec, err := policygen.Build(policygen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	generated, _ := policygen.JSON(spec)
	tests := []struct {
		name string
		doc  string
		want bool
	}{
		{"generated", string(generated), true},
		{"single statement object", `{"Statement":{"Effect":"Deny","NotAction":"iam:*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}`, true},
		{"bool array", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:multifactorauthpresent":[false]}}}]}`, true},
		{"plain Bool misses long-term keys", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}`, false},
		{"allow is no guard", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}}]}`, false},
		{"garbage", `{"Statement":`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasMFAGuard([]byte(tt.doc)); got != tt.want {
				t.Errorf("HasMFAGuard = %v, want %v", got, tt.want)
			}
		})
	}
}
