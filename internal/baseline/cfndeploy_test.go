package baseline

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/keywarden/keywarden/internal/mototest"
)

// TestCloudFormationDeploysOnEmulator deploys the alerts part (SNS, KMS,
// EventBridge: resource types moto's CloudFormation implements) into
// moto_server, in us-east-1 where both region conditions hold, and reads
// it back through the services' APIs. The identity part is not deployed
// here: moto 5.2 resolves a !Ref to an AWS::IAM::Group inside
// AWS::IAM::ManagedPolicy.Groups to None ("Group None not found"), for
// policy mfa's own template as much as for this one. Nor is the trail
// part: moto 5.2's CloudFormation accepts it but creates no trail and
// applies neither the bucket's versioning nor its policy, and answers 500
// to the !GetAtt of the trail in the outputs.
func TestCloudFormationDeploysOnEmulator(t *testing.T) {
	srv := mototest.Start(t)
	ctx := context.Background()
	cfg := srv.Config()
	p := plan(t, Options{Parts: []Part{PartAlerts}, Emails: []string{"oncall@example.com"}})
	cf := cloudformation.NewFromConfig(cfg)
	_, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("keywarden-baseline"), TemplateBody: aws.String(string(CloudFormation(p))),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam},
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("keywarden-baseline")})
		if err != nil {
			t.Fatal(err)
		}
		st := out.Stacks[0].StackStatus
		if st == cfntypes.StackStatusCreateComplete {
			break
		}
		if strings.HasSuffix(string(st), "_FAILED") || strings.Contains(string(st), "ROLLBACK") || time.Now().After(deadline) {
			t.Fatalf("stack %s: %s", st, aws.ToString(out.Stacks[0].StackStatusReason))
		}
		time.Sleep(200 * time.Millisecond)
	}

	rules, err := eventbridge.NewFromConfig(cfg).ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("keywarden-")})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, r := range rules.Rules {
		byName[aws.ToString(r.Name)] = aws.ToString(r.EventPattern)
	}
	for _, a := range Alerts() {
		got, ok := byName["keywarden-"+a.ID]
		if !ok {
			t.Errorf("rule for %s not created", a.ID)
			continue
		}
		var have map[string]any
		if err := json.Unmarshal([]byte(got), &have); err != nil {
			t.Errorf("%s: pattern %q: %v", a.ID, got, err)
			continue
		}
		want := normalise(a.Pattern)
		if !PatternCovers(have, want) || !PatternCovers(want, have) {
			t.Errorf("%s: deployed pattern %s differs from %v", a.ID, got, want)
		}
	}
	topics, err := sns.NewFromConfig(cfg).ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tp := range topics.Topics {
		arn := aws.ToString(tp.TopicArn)
		names[arn[strings.LastIndexByte(arn, ':')+1:]] = true
	}
	if !names["keywarden-alerts"] || !names["keywarden-alerts-global"] {
		t.Errorf("topics %v, want keywarden-alerts and keywarden-alerts-global", names)
	}
	// The parts are read back by the check too.
	snap, err := LoadSnapshot(ctx, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Rules[GlobalRegion]) < len(Alerts()) {
		t.Errorf("check sees %d rules, want %d", len(snap.Rules[GlobalRegion]), len(Alerts()))
	}
}
