package baseline

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/internal/policygen"
	"go.yaml.in/yaml/v3"
)

// The CloudFormation template is one template for two regions: deployed
// in the home region it creates the regional parts; deployed in us-east-1
// it creates the global alert rules, the global topic and the cost
// monitors. A StackSet over both regions (or two stacks) deploys it whole;
// where the home region is us-east-1 one stack holds everything.

// cfnPlaceholders maps tmpl placeholders to !Sub variables.
var cfnPlaceholders = map[string]string{
	"{partition}":  "${AWS::Partition}",
	"{account}":    "${AWS::AccountId}",
	"{region}":     "${AWS::Region}",
	"{bucket_arn}": "${LogBucket.Arn}",
	"{org_id}":     "${OrganizationId}",
}

const (
	condHome   = "IsHomeRegion"
	condGlobal = "IsGlobalRegion"
)

func yStr(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}

func yPlain(tag, s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s} }

func yTagged(tag, s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s, Style: yaml.DoubleQuotedStyle}
}

// cfnRef and cfnAtt are !Ref and !GetAtt values.
type cfnRef string
type cfnAtt string

// yMap builds a mapping from key, value pairs (values are converted with
// yValue).
func yMap(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i < len(kv); i += 2 {
		m.Content = append(m.Content, yPlain("!!str", kv[i].(string)), yValue(kv[i+1], nil))
	}
	return m
}

// yValue converts data (strings, tmpl, lists, maps, numbers, bools,
// intrinsic functions, ready nodes) to a YAML node.
func yValue(v any, extra map[string]string) *yaml.Node {
	switch v := v.(type) {
	case *yaml.Node:
		return v
	case string:
		return yStr(v)
	case tmpl:
		s := string(v)
		for k, r := range extra {
			s = strings.ReplaceAll(s, k, r)
		}
		for k, r := range cfnPlaceholders {
			s = strings.ReplaceAll(s, k, r)
		}
		return yTagged("!Sub", s)
	case cfnRef:
		return yTagged("!Ref", string(v))
	case cfnAtt:
		return yTagged("!GetAtt", string(v))
	case bool:
		return yPlain("!!bool", strconv.FormatBool(v))
	case int:
		return yPlain("!!int", strconv.Itoa(v))
	case float64:
		if v == float64(int64(v)) {
			return yPlain("!!int", strconv.FormatInt(int64(v), 10))
		}
		return yPlain("!!float", strconv.FormatFloat(v, 'f', -1, 64))
	case []any:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range v {
			s.Content = append(s.Content, yValue(e, extra))
		}
		return s
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range keys {
			m.Content = append(m.Content, yPlain("!!str", k), yValue(v[k], extra))
		}
		return m
	}
	panic(fmt.Sprintf("baseline: no CloudFormation form for %T", v))
}

// cfnTemplate collects resources in order.
type cfnTemplate struct {
	resources *yaml.Node
	outputs   *yaml.Node
}

// add appends a resource: its type, the condition it is created under, the
// risk it answers (as Metadata) and its properties as key, value pairs.
func (t *cfnTemplate) add(id, typ, cond, risk string, props ...any) *yaml.Node {
	r := yMap("Type", yPlain("!!str", typ))
	if cond != "" {
		r.Content = append(r.Content, yPlain("!!str", "Condition"), yPlain("!!str", cond))
	}
	r.Content = append(r.Content, yPlain("!!str", "Metadata"), yMap("Description", risk))
	if len(props) > 0 {
		r.Content = append(r.Content, yPlain("!!str", "Properties"), yMap(props...))
	}
	t.resources.Content = append(t.resources.Content, yPlain("!!str", id), r)
	return r
}

func dependsOn(r *yaml.Node, ids ...string) {
	s := make([]any, len(ids))
	for i, id := range ids {
		s[i] = yPlain("!!str", id)
	}
	r.Content = append(r.Content, yPlain("!!str", "DependsOn"), yValue(s, nil))
}

func (t *cfnTemplate) output(id, cond, desc string, value any) {
	o := yMap("Description", desc)
	if cond != "" {
		o.Content = append(o.Content, yPlain("!!str", "Condition"), yPlain("!!str", cond))
	}
	o.Content = append(o.Content, yPlain("!!str", "Value"), yValue(value, nil))
	t.outputs.Content = append(t.outputs.Content, yPlain("!!str", id), o)
}

// camel turns "access-key-changes" into "AccessKeyChanges".
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + strings.ToLower(w[1:]))
	}
	return b.String()
}

// cfnSections writes each section into the template.
var cfnSections = [sectionCount]func(*Plan, *cfnTemplate){
	sectionLogBucket: cfnLogBucket,
	sectionTrail:     cfnTrail,
	sectionTopics:    cfnTopics,
	sectionAlerts:    cfnAlerts,
	sectionDetectors: cfnDetectors,
	sectionCost:      cfnCost,
	sectionIdentity:  cfnIdentity,
}

// CloudFormation renders the plan as one YAML template.
func CloudFormation(p *Plan) []byte {
	t := &cfnTemplate{resources: yMap(), outputs: yMap()}
	params := yMap("HomeRegion", yMap("Type", "String", "Default", p.Region,
		"Description", "The region of the regional parts; deploy this template there and in us-east-1."))
	param := func(name, typ, desc string, def any) {
		params.Content = append(params.Content, yPlain("!!str", name), yMap("Type", typ, "Default", def, "Description", desc))
	}
	if p.Has(PartCost) {
		param("MonthlyBudget", "Number", "Monthly cost budget in USD: alerts at 80% actual and 100% forecast.", p.Budget)
		param("AnomalyThreshold", "Number", "Cost anomaly total impact, in USD, that alerts.", p.AnomalyThreshold)
	}
	if p.Has(PartDetectors) {
		param("MaxAccessKeyAge", "Number", "Days before ACCESS_KEYS_ROTATED flags a key.", p.MaxKeyAge)
		param("MaxUnusedCredentialAge", "Number", "Days before IAM_USER_UNUSED_CREDENTIALS_CHECK flags a credential.", p.MaxUnusedDays)
	}
	if p.Org && p.Has(PartTrail) {
		params.Content = append(params.Content, yPlain("!!str", "OrganizationId"), yMap("Type", "String",
			"AllowedPattern", "^o-[a-z0-9]{10,32}$", "Description", "The organization's ID (o-...), for the organization trail's log prefix."))
	}
	conds := yMap(
		condHome, yMap("Fn::Equals", []any{cfnRef("AWS::Region"), cfnRef("HomeRegion")}),
		condGlobal, yMap("Fn::Equals", []any{cfnRef("AWS::Region"), GlobalRegion}),
	)
	for _, s := range p.sections() {
		cfnSections[s](p, t)
	}
	root := yMap(
		"AWSTemplateFormatVersion", "2010-09-09",
		"Description", fmt.Sprintf("keywarden protection baseline (parts: %s). %s", partList(p), DeployWhere(p.Region)),
		"Parameters", params,
		"Conditions", conds,
		"Resources", t.resources,
	)
	if len(t.outputs.Content) > 0 {
		root.Content = append(root.Content, yPlain("!!str", "Outputs"), t.outputs)
	}
	root.HeadComment = "Generated by keywarden baseline generate.\nIAM, STS global and console sign-in events reach EventBridge in us-east-1 only:\nthe rules for them, the global alert topic and the cost monitors are created\nwhere this template is deployed in us-east-1. Deploy with CAPABILITY_NAMED_IAM."
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		panic(fmt.Sprintf("baseline: marshalling the template: %v", err))
	}
	return out.Bytes()
}

func cfnLogBucket(p *Plan, t *cfnTemplate) {
	props := []any{
		"VersioningConfiguration", yMap("Status", "Enabled"),
		"PublicAccessBlockConfiguration", yMap("BlockPublicAcls", true, "BlockPublicPolicy", true,
			"IgnorePublicAcls", true, "RestrictPublicBuckets", true),
	}
	if p.ObjectLock {
		props = append(props, "ObjectLockEnabled", true, "ObjectLockConfiguration", yMap("ObjectLockEnabled", "Enabled",
			"Rule", yMap("DefaultRetention", yMap("Mode", "GOVERNANCE", "Days", p.ObjectLockDays))))
	}
	t.add("LogBucket", "AWS::S3::Bucket", condHome, "Log bucket: an intruder who can delete the logs erases the evidence. Versioning, no public access, TLS only"+
		map[bool]string{true: ", Object Lock (governance mode)", false: ""}[p.ObjectLock]+".", props...)
	t.add("LogBucketPolicy", "AWS::S3::BucketPolicy", condHome,
		"TLS only; CloudTrail and Config may write only for this account (aws:SourceArn / aws:SourceAccount).",
		"Bucket", cfnRef("LogBucket"), "PolicyDocument", yValue(p.logBucketPolicy(), nil))
	t.output("LogBucket", condHome, "The S3 bucket that holds CloudTrail (and Config) logs.", cfnRef("LogBucket"))
}

func cfnTrail(p *Plan, t *cfnTemplate) {
	t.add("TrailKey", "AWS::KMS::Key", condHome, "Trail encryption: reading the logs then needs both S3 and KMS permissions, and every decryption is logged.",
		"Description", p.Name+" CloudTrail logs", "EnableKeyRotation", true, "PendingWindowInDays", 30,
		"KeyPolicy", yValue(p.trailKeyPolicy(), nil))
	t.add("TrailKeyAlias", "AWS::KMS::Alias", condHome, "A readable name for the trail key.",
		"AliasName", "alias/"+p.Name+"-trail", "TargetKeyId", cfnRef("TrailKey"))
	props := []any{"TrailName", p.Name + "-trail", "S3BucketName", cfnRef("LogBucket"), "IsLogging", true,
		"IsMultiRegionTrail", true, "IncludeGlobalServiceEvents", true, "EnableLogFileValidation", true,
		"KMSKeyId", cfnAtt("TrailKey.Arn")}
	if p.Org {
		props = append(props, "IsOrganizationTrail", true)
	}
	r := t.add("Trail", "AWS::CloudTrail::Trail", condHome,
		"Multi-region trail with log-file validation: API calls in every region, including the unused ones where intruders start.", props...)
	dependsOn(r, "LogBucketPolicy")
	t.output("TrailArn", condHome, "The multi-region trail.", cfnAtt("Trail.Arn"))
}

func cfnTopics(p *Plan, t *cfnTemplate) {
	for _, tp := range []struct{ id, cond, name, risk string }{
		{"Alerts", condHome, p.Name + "-alerts", "Alert topic (home region), encrypted: findings name users and addresses."},
		{"GlobalAlerts", condGlobal, p.Name + "-alerts-global", "Alert topic in us-east-1, where global events, budgets and cost anomalies are delivered."},
	} {
		t.add(tp.id+"Key", "AWS::KMS::Key", tp.cond, "Key of the "+tp.name+" topic; the publishing services must be able to use it or their messages are dropped.",
			"Description", tp.name+" topic", "EnableKeyRotation", true, "KeyPolicy", yValue(topicKeyPolicy(), nil))
		t.add(tp.id+"Topic", "AWS::SNS::Topic", tp.cond, tp.risk, "TopicName", tp.name, "KmsMasterKeyId", cfnRef(tp.id+"Key"))
		t.add(tp.id+"TopicPolicy", "AWS::SNS::TopicPolicy", tp.cond, "Only AWS's alerting services, for this account, may publish.",
			"Topics", []any{cfnRef(tp.id + "Topic")},
			"PolicyDocument", yValue(topicPolicy(), map[string]string{"{topic_arn}": "${" + tp.id + "Topic}"}))
		for i, e := range p.Emails {
			t.add(fmt.Sprintf("%sSubscription%d", tp.id, i+1), "AWS::SNS::Subscription", tp.cond, "Someone must read the alerts: the address confirms by email.",
				"TopicArn", cfnRef(tp.id+"Topic"), "Protocol", "email", "Endpoint", e)
		}
		t.output(tp.id+"TopicArn", tp.cond, "The "+tp.name+" topic.", cfnRef(tp.id+"Topic"))
	}
}

func cfnAlerts(p *Plan, t *cfnTemplate) {
	for _, a := range Alerts() {
		cond, topic := condHome, "AlertsTopic"
		if a.Global {
			cond, topic = condGlobal, "GlobalAlertsTopic"
		}
		t.add("Rule"+camel(a.ID), "AWS::Events::Rule", cond, a.Description,
			"Name", p.Name+"-"+a.ID, "Description", a.Description, "State", "ENABLED",
			"EventPattern", yValue(a.Pattern, nil),
			"Targets", []any{yMap("Id", "alerts", "Arn", cfnRef(topic))})
	}
}

func cfnDetectors(p *Plan, t *cfnTemplate) {
	t.add("GuardDutyDetector", "AWS::GuardDuty::Detector", condHome,
		"GuardDuty: AWS's own detection of credential misuse (keys used from unusual places, instance credentials used outside AWS).", "Enable", true)
	t.output("GuardDutyDetectorId", condHome, "The GuardDuty detector.", cfnRef("GuardDutyDetector"))
	t.add("AccessAnalyzer", "AWS::AccessAnalyzer::Analyzer", condHome, "IAM Access Analyzer: resources shared outside the "+
		map[bool]string{true: "organization", false: "account"}[p.Org]+".",
		"AnalyzerName", p.Name+"-access-analyzer", "Type", map[bool]string{true: "ORGANIZATION", false: "ACCOUNT"}[p.Org])
	t.add("ConfigRole", "AWS::IAM::Role", condHome, "The role AWS Config records with.",
		"AssumeRolePolicyDocument", yValue(configAssumeRole(), nil),
		"ManagedPolicyArns", []any{tmpl("arn:{partition}:iam::aws:policy/service-role/AWS_ConfigRole")})
	t.add("ConfigRecorder", "AWS::Config::ConfigurationRecorder", condHome, "AWS Config records IAM configuration, so the rules below can judge it.",
		"Name", p.Name, "RoleARN", cfnAtt("ConfigRole.Arn"),
		"RecordingGroup", yMap("AllSupported", true, "IncludeGlobalResourceTypes", true))
	r := t.add("ConfigDeliveryChannel", "AWS::Config::DeliveryChannel", condHome, "Config delivers its history to the log bucket.",
		"Name", p.Name, "S3BucketName", cfnRef("LogBucket"), "S3KeyPrefix", "config")
	dependsOn(r, "LogBucketPolicy")
	for _, rule := range p.ConfigRules() {
		props := []any{"ConfigRuleName", rule.Name, "Source", yMap("Owner", "AWS", "SourceIdentifier", rule.Identifier)}
		if params := rule.inputParams(func(v string) any { return cfnRef(camel(v)) }); params != nil {
			props = append(props, "InputParameters", yValue(params, nil))
		}
		r := t.add("ConfigRule"+camel(strings.ToLower(rule.Identifier)), "AWS::Config::ConfigRule", condHome, rule.Risk, props...)
		dependsOn(r, "ConfigRecorder", "ConfigDeliveryChannel")
	}
}

func cfnCost(p *Plan, t *cfnTemplate) {
	notify := func(kind string, threshold int) *yaml.Node {
		return yMap("Notification", yMap("ComparisonOperator", "GREATER_THAN", "NotificationType", kind,
			"Threshold", threshold, "ThresholdType", "PERCENTAGE"),
			"Subscribers", []any{yMap("SubscriptionType", "SNS", "Address", cfnRef("GlobalAlertsTopic"))})
	}
	r := t.add("MonthlyBudget", "AWS::Budgets::Budget", condGlobal, "Budget alarm: a leaked key's first visible sign is often the bill (crypto-mining instances, GPUs).",
		"Budget", yMap("BudgetName", p.Name+"-monthly", "BudgetType", "COST", "TimeUnit", "MONTHLY",
			"BudgetLimit", yMap("Amount", cfnRef("MonthlyBudget"), "Unit", "USD")),
		"NotificationsWithSubscribers", []any{notify("ACTUAL", 80), notify("FORECASTED", 100)})
	dependsOn(r, "GlobalAlertsTopicPolicy")
	t.add("CostAnomalyMonitor", "AWS::CE::AnomalyMonitor", condGlobal, "Cost Anomaly Detection per service: catches a sudden spend long before the month's budget.",
		"MonitorName", p.Name+"-services", "MonitorType", "DIMENSIONAL", "MonitorDimension", "SERVICE")
	r = t.add("CostAnomalySubscription", "AWS::CE::AnomalySubscription", condGlobal, "Anomalies are sent at once to the alert topic.",
		"SubscriptionName", p.Name+"-anomalies", "Frequency", "IMMEDIATE",
		"MonitorArnList", []any{cfnRef("CostAnomalyMonitor")},
		"Subscribers", []any{yMap("Type", "SNS", "Address", cfnRef("GlobalAlertsTopic"))},
		"ThresholdExpression", yTagged("!Sub", `{"Dimensions":{"Key":"ANOMALY_TOTAL_IMPACT_ABSOLUTE","MatchOptions":["GREATER_THAN_OR_EQUAL"],"Values":["${AnomalyThreshold}"]}}`))
	dependsOn(r, "GlobalAlertsTopicPolicy")
}

// cfnIdentity adds the MFA guard from policy mfa's own template. The IAM
// password policy has no CloudFormation resource type: the template says
// so and gives the command in an output.
func cfnIdentity(p *Plan, t *cfnTemplate) {
	var guard yaml.Node
	if err := yaml.Unmarshal(policygen.CloudFormation(p.MFASpec), &guard); err != nil {
		panic(fmt.Sprintf("baseline: policy mfa's template does not parse: %v", err))
	}
	root := guard.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "Resources" {
			continue
		}
		res := root.Content[i+1]
		for j := 0; j+1 < len(res.Content); j += 2 {
			r := res.Content[j+1]
			r.Content = append(r.Content[:2], append([]*yaml.Node{yPlain("!!str", "Condition"), yPlain("!!str", condHome),
				yPlain("!!str", "Metadata"), yMap("Description", "MFA guard (as from keywarden policy mfa): a leaked long-term key of a member is refused without MFA.")},
				r.Content[2:]...)...)
			t.resources.Content = append(t.resources.Content, res.Content[j], r)
		}
	}
	pp := CISPasswordPolicy
	t.output("PasswordPolicyCommand", condHome, "CloudFormation has no password-policy resource: run this once for the CIS-strength policy.",
		fmt.Sprintf("aws iam update-account-password-policy --minimum-password-length %d --password-reuse-prevention %d --require-lowercase-characters --require-uppercase-characters --require-numbers --require-symbols --allow-users-to-change-password",
			pp.MinLength, pp.ReusePrevention))
}

// DeployWhere says where the template must be deployed.
func DeployWhere(home string) string {
	if home == GlobalRegion {
		return "Deploy in us-east-1: one stack holds every part."
	}
	return "Deploy in " + home + " and in us-east-1 (a StackSet over both regions, or two stacks)."
}
