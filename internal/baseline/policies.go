package baseline

// The policy documents inside the baseline (the log bucket's, the KMS key
// policies, the alert topic's), written once as data for both renderers.
// Strings that depend on where the baseline is deployed are templates:
// tmpl values whose {placeholders} each renderer maps to its own syntax
// (Terraform interpolation, CloudFormation !Sub).

// tmpl is a string with placeholders: {partition}, {account}, {region},
// {bucket_arn}, {org_id}.
type tmpl string

func stmt(sid, effect string, principal any, actions []string, resource any, cond map[string]any) map[string]any {
	s := map[string]any{"Sid": sid, "Effect": effect, "Action": strs(actions...)}
	if principal != nil {
		s["Principal"] = principal
	}
	if resource != nil {
		s["Resource"] = resource
	}
	if cond != nil {
		s["Condition"] = cond
	}
	return s
}

func doc(statements ...map[string]any) map[string]any {
	st := make([]any, len(statements))
	for i, s := range statements {
		st[i] = s
	}
	return map[string]any{"Version": "2012-10-17", "Statement": st}
}

func service(name string) map[string]any { return map[string]any{"Service": name} }

// trailARN is the ARN of the trail the baseline creates, spelled out
// rather than referenced: the trail depends on the bucket policy that
// names it.
func (p *Plan) trailARN() tmpl {
	return tmpl("arn:{partition}:cloudtrail:{region}:{account}:trail/" + p.Name + "-trail")
}

func accountRoot() map[string]any {
	return map[string]any{"AWS": tmpl("arn:{partition}:iam::{account}:root")}
}

// logBucketPolicy: TLS only; CloudTrail may check the ACL and write under
// AWSLogs/<account>/ (and the organization's prefix), for this trail only
// (aws:SourceArn); Config may do the same under config/.
func (p *Plan) logBucketPolicy() map[string]any {
	bucket, objects := tmpl("{bucket_arn}"), tmpl("{bucket_arn}/*")
	sts := []map[string]any{
		stmt("DenyInsecureTransport", "Deny", "*", []string{"s3:*"}, []any{bucket, objects},
			map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}),
	}
	if p.Has(PartTrail) {
		src := map[string]any{"StringEquals": map[string]any{"aws:SourceArn": p.trailARN()}}
		write := map[string]any{"StringEquals": map[string]any{
			"aws:SourceArn": p.trailARN(), "s3:x-amz-acl": "bucket-owner-full-control"}}
		resources := []any{tmpl("{bucket_arn}/AWSLogs/{account}/*")}
		if p.Org {
			resources = append(resources, tmpl("{bucket_arn}/AWSLogs/{org_id}/*"))
		}
		sts = append(sts,
			stmt("CloudTrailAclCheck", "Allow", service("cloudtrail.amazonaws.com"), []string{"s3:GetBucketAcl"}, bucket, src),
			stmt("CloudTrailWrite", "Allow", service("cloudtrail.amazonaws.com"), []string{"s3:PutObject"}, resources, write))
	}
	if p.Has(PartDetectors) {
		src := map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": tmpl("{account}")}}
		write := map[string]any{"StringEquals": map[string]any{
			"aws:SourceAccount": tmpl("{account}"), "s3:x-amz-acl": "bucket-owner-full-control"}}
		sts = append(sts,
			stmt("ConfigAclCheck", "Allow", service("config.amazonaws.com"), []string{"s3:GetBucketAcl", "s3:ListBucket"}, bucket, src),
			stmt("ConfigWrite", "Allow", service("config.amazonaws.com"), []string{"s3:PutObject"},
				tmpl("{bucket_arn}/config/AWSLogs/{account}/Config/*"), write))
	}
	return doc(sts...)
}

// trailKeyPolicy: the account administers the key; CloudTrail may encrypt
// this trail's logs with it; readers in the account may decrypt them.
func (p *Plan) trailKeyPolicy() map[string]any {
	return doc(
		stmt("AccountAdministers", "Allow", accountRoot(), []string{"kms:*"}, "*", nil),
		stmt("CloudTrailEncrypts", "Allow", service("cloudtrail.amazonaws.com"), []string{"kms:GenerateDataKey*"}, "*",
			map[string]any{
				"StringEquals": map[string]any{"aws:SourceArn": p.trailARN()},
				"StringLike":   map[string]any{"kms:EncryptionContext:aws:cloudtrail:arn": tmpl("arn:{partition}:cloudtrail:*:{account}:trail/*")},
			}),
		stmt("CloudTrailDescribes", "Allow", service("cloudtrail.amazonaws.com"), []string{"kms:DescribeKey"}, "*", nil),
		stmt("AccountReadsLogs", "Allow", map[string]any{"AWS": "*"}, []string{"kms:Decrypt", "kms:ReEncryptFrom"}, "*",
			map[string]any{
				"StringEquals": map[string]any{"kms:CallerAccount": tmpl("{account}")},
				"StringLike":   map[string]any{"kms:EncryptionContext:aws:cloudtrail:arn": tmpl("arn:{partition}:cloudtrail:*:{account}:trail/*")},
			}),
	)
}

// topicKeyPolicy: the services that publish to the encrypted topic must
// be able to use its key, or their messages are dropped silently.
func topicKeyPolicy() map[string]any {
	return doc(
		stmt("AccountAdministers", "Allow", accountRoot(), []string{"kms:*"}, "*", nil),
		stmt("PublishersEncrypt", "Allow",
			map[string]any{"Service": strs("events.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com")},
			[]string{"kms:GenerateDataKey*", "kms:Decrypt"}, "*",
			map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": tmpl("{account}")}}),
	)
}

// topicPolicy lets EventBridge, Budgets and Cost Anomaly Detection publish,
// for this account only. {topic_arn} is the topic the policy is set on.
func topicPolicy() map[string]any {
	return doc(
		stmt("ServicesPublish", "Allow",
			map[string]any{"Service": strs("events.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com")},
			[]string{"sns:Publish"}, tmpl("{topic_arn}"),
			map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": tmpl("{account}")}}),
	)
}

// configAssumeRole is the trust policy of the Config recorder's role.
func configAssumeRole() map[string]any {
	return doc(stmt("ConfigAssumes", "Allow", service("config.amazonaws.com"), []string{"sts:AssumeRole"}, nil, nil))
}

// documents lists every policy document the plan renders (tests lint
// them whole).
func (p *Plan) documents() []map[string]any {
	var d []map[string]any
	if p.needsLogBucket() {
		d = append(d, p.logBucketPolicy())
	}
	if p.Has(PartTrail) {
		d = append(d, p.trailKeyPolicy())
	}
	if p.needsTopic() {
		d = append(d, topicKeyPolicy(), topicPolicy())
	}
	if p.Has(PartDetectors) {
		d = append(d, configAssumeRole())
	}
	return d
}
