package iameval

import (
	"testing"

	"github.com/keywarden/keywarden/internal/iampolicy"
)

// docCase is one request whose answer AWS documents. The page each group
// comes from is named above the group (IAM User Guide unless said).
type docCase struct {
	name      string
	principal string
	action    string
	resource  string
	ctx       map[string]string
	identity  []string // statements, one policy each
	boundary  string
	session   string
	scp       string
	rcp       string
	resPol    string // the statements of the resource-based policy
	want      Decision
}

const (
	docBob      = "arn:aws:iam::111122223333:user/bob"
	docFed      = "arn:aws:sts::111122223333:federated-user/alice"
	docOtherAcc = "arn:aws:iam::444455556666:user/carol"
	docObj      = "arn:aws:s3:::b/k"
	docKey      = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	allowStar   = `{"Effect":"Allow","Action":"*","Resource":"*"}`
)

func allowOn(principal, action string) string {
	return `{"Effect":"Allow","Principal":` + principal + `,"Action":"` + action + `","Resource":"*"}`
}

var docCases = []docCase{
	// Anonymous requests. reference_policies_elements_principal.html
	// ("All principals": "*" and {"AWS":"*"} grant anonymous access);
	// reference_policies_evaluation-logic.html (SCPs and identity-based
	// policies govern IAM principals only); orgs_manage_policies_rcps.html
	// (RCPs apply to requests for the resources whoever makes them).
	{name: "anonymous: public grant Principal *", principal: "*", resPol: allowOn(`"*"`, "s3:GetObject"), want: Allowed},
	{name: "anonymous: public grant AWS *", principal: "*", resPol: allowOn(`{"AWS":"*"}`, "s3:GetObject"), want: Allowed},
	{name: "anonymous: grant to an account is not public", principal: "*", resPol: allowOn(`{"AWS":"111122223333"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "anonymous: identity policies do not apply", principal: "*", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "anonymous: identity deny does not apply either", principal: "*", identity: []string{`{"Effect":"Deny","Action":"*","Resource":"*"}`}, resPol: allowOn(`"*"`, "s3:GetObject"), want: Allowed},
	{name: "anonymous: SCPs do not apply", principal: "*", scp: `{"Effect":"Deny","Action":"*","Resource":"*"}`, resPol: allowOn(`"*"`, "s3:GetObject"), want: Allowed},
	{name: "anonymous: an RCP deny on a missing org ID applies", principal: "*", rcp: `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalOrgID":"o-123"}}}`, resPol: allowOn(`"*"`, "s3:GetObject"), want: ExplicitlyDenied},
	{name: "anonymous: condition on a key the request carries", principal: "*", ctx: map[string]string{"aws:SecureTransport": "true"}, resPol: `{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`, want: Allowed},
	{name: "anonymous: condition on a key absent from the request", principal: "*", resPol: `{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`, want: ImplicitlyDenied},
	{name: "anonymous: aws:PrincipalAccount is absent", principal: "*", resPol: `{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111122223333"}}}`, want: ImplicitlyDenied},
	{name: "anonymous: Null on aws:PrincipalArn is true", principal: "*", resPol: `{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Null":{"aws:PrincipalArn":"true"}}}`, want: Allowed},
	{name: "anonymous: IfExists deny on an absent key applies", principal: "*", resPol: allowOn(`"*"`, "s3:GetObject") + `,{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}}}`, want: ExplicitlyDenied},
	{name: "anonymous: Deny NotPrincipal an account applies", principal: "*", resPol: allowOn(`"*"`, "s3:GetObject") + `,{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}`, want: ExplicitlyDenied},
	{name: "anonymous: Allow NotPrincipal an account grants the rest", principal: "*", resPol: `{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"*"}`, want: Allowed},

	// Statements without Principal. reference_policies_elements_principal.html
	// ("You must use the Principal element in resource-based policies").
	{name: "no Principal: an Allow grants nobody", principal: aliceARN, resPol: `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "no Principal: an Allow grants no anonymous caller", principal: "*", resPol: `{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "no Principal: a Deny denies nobody", principal: aliceARN, identity: []string{allowStar}, resPol: `{"Effect":"Deny","Action":"s3:*","Resource":"*"}`, want: Allowed},

	// NotPrincipal. reference_policies_elements_notprincipal.html (Allow:
	// every principal except those listed; Deny: the account must be
	// listed along with the user, role and session to spare them).
	{name: "Allow NotPrincipal naming the user excludes it", principal: aliceARN, resPol: `{"Effect":"Allow","NotPrincipal":{"AWS":"` + aliceARN + `"},"Action":"s3:GetObject","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "Allow NotPrincipal naming the account excludes its users", principal: aliceARN, resPol: `{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "Allow NotPrincipal naming the session excludes it", principal: sessARN, resPol: `{"Effect":"Allow","NotPrincipal":{"AWS":"` + sessARN + `"},"Action":"s3:GetObject","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "Allow NotPrincipal naming another grants the caller", principal: aliceARN, resPol: `{"Effect":"Allow","NotPrincipal":{"AWS":"` + docBob + `"},"Action":"s3:GetObject","Resource":"*"}`, want: Allowed},
	{name: "Allow NotPrincipal with a boundary still excludes", principal: aliceARN, boundary: allowStar, resPol: `{"Effect":"Allow","NotPrincipal":{"AWS":"` + aliceARN + `"},"Action":"s3:GetObject","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "Deny NotPrincipal user and account spares the user", principal: aliceARN, identity: []string{allowStar}, resPol: `{"Effect":"Deny","NotPrincipal":{"AWS":["` + aliceARN + `","arn:aws:iam::111122223333:root"]},"Action":"s3:*","Resource":"*"}`, want: Allowed},
	{name: "Deny NotPrincipal session, role and account spares the session", principal: sessARN, identity: []string{allowStar}, resPol: `{"Effect":"Deny","NotPrincipal":{"AWS":["` + sessARN + `","` + roleARN + `","111122223333"]},"Action":"s3:*","Resource":"*"}`, want: Allowed},
	{name: "Deny NotPrincipal naming the user alone denies", principal: aliceARN, identity: []string{allowStar}, resPol: `{"Effect":"Deny","NotPrincipal":{"AWS":"` + aliceARN + `"},"Action":"s3:*","Resource":"*"}`, want: ExplicitlyDenied},
	{name: "Deny NotPrincipal naming another denies the caller", principal: aliceARN, identity: []string{allowStar}, resPol: `{"Effect":"Deny","NotPrincipal":{"AWS":["` + docBob + `","111122223333"]},"Action":"s3:*","Resource":"*"}`, want: ExplicitlyDenied},

	// Same account: resource-based policies, permissions boundaries and
	// session policies. access_policies_boundaries.html ("Resource-based
	// policies": a grant to the user ARN or the role session ARN is not
	// limited by an implicit deny in the boundary; a grant to the role ARN
	// is); access_policies.html#policies_session (the same for session
	// policies, and for a federated user session named by its IAM user);
	// reference_policies_evaluation-logic.html.
	{name: "RBP names the user: no identity policy needed", principal: aliceARN, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the user: boundary implicit deny does not limit", principal: aliceARN, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the user: boundary explicit deny still denies", principal: aliceARN, boundary: allowStar + `,{"Effect":"Deny","Action":"s3:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: ExplicitlyDenied},
	{name: "RBP names the role: boundary implicit deny limits", principal: sessARN, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+roleARN+`"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the role: boundary allows", principal: sessARN, boundary: allowStar, resPol: allowOn(`{"AWS":"`+roleARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the role: session policy implicit deny limits", principal: sessARN, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+roleARN+`"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the role, caller given as the role: boundary limits", principal: roleARN, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+roleARN+`"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the session: boundary implicit deny does not limit", principal: sessARN, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+sessARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the session: session policy implicit deny does not limit", principal: sessARN, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+sessARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the account: identity allows, boundary does not", principal: aliceARN, identity: []string{allowStar}, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"111122223333"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the account: identity and boundary allow", principal: aliceARN, identity: []string{allowStar}, boundary: allowStar, resPol: allowOn(`{"AWS":"arn:aws:iam::111122223333:root"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the account: session policy limits a session", principal: sessARN, identity: []string{allowStar}, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"111122223333"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the federated user session: session policy does not limit", principal: docFed, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+docFed+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the IAM user of a federated session: session policy limits", principal: docFed, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the IAM user of a federated session: session policy allows", principal: docFed, session: allowStar, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the user: identity explicit deny still denies", principal: aliceARN, identity: []string{`{"Effect":"Deny","Action":"s3:*","Resource":"*"}`}, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: ExplicitlyDenied},
	{name: "RBP names the user: an SCP that does not allow still limits", principal: aliceARN, scp: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "s3:GetObject"), want: ImplicitlyDenied},
	{name: "RBP names the session: boundary and session policy both deny implicitly", principal: sessARN, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+sessARN+`"}`, "s3:GetObject"), want: Allowed},
	{name: "RBP names the session: session policy explicit deny still denies", principal: sessARN, session: allowStar + `,{"Effect":"Deny","Action":"s3:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+sessARN+`"}`, "s3:GetObject"), want: ExplicitlyDenied},
	{name: "no RBP: identity allows, session policy does not", principal: sessARN, identity: []string{allowStar}, session: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, want: ImplicitlyDenied},
	{name: "cross-account RBP names the user: boundary implicit deny limits", principal: docOtherAcc, resource: "arn:aws:sqs:eu-west-1:111122223333:q", action: "sqs:SendMessage", identity: []string{allowStar}, boundary: `{"Effect":"Allow","Action":"ec2:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+docOtherAcc+`"}`, "sqs:SendMessage"), want: ImplicitlyDenied},

	// KMS key policies (AWS KMS Developer Guide, key-policy-default.html:
	// "Allows access to the AWS account and enables IAM policies";
	// control-access.html: no IAM policy alone gives access to a key) and
	// role trust policies (id_roles_use_permissions-to-switch.html).
	{name: "KMS: identity policy alone is not enough", principal: aliceARN, action: "kms:Decrypt", resource: docKey, identity: []string{allowStar}, resPol: allowOn(`{"AWS":"`+docBob+`"}`, "kms:*"), want: ImplicitlyDenied},
	{name: "KMS: key policy delegates to the account, identity allows", principal: aliceARN, action: "kms:Decrypt", resource: docKey, identity: []string{allowStar}, resPol: allowOn(`{"AWS":"arn:aws:iam::111122223333:root"}`, "kms:*"), want: Allowed},
	{name: "KMS: delegation without an identity policy", principal: aliceARN, action: "kms:Decrypt", resource: docKey, resPol: allowOn(`{"AWS":"arn:aws:iam::111122223333:root"}`, "kms:*"), want: ImplicitlyDenied},
	{name: "KMS: delegation, identity allows, boundary does not", principal: aliceARN, action: "kms:Decrypt", resource: docKey, identity: []string{allowStar}, boundary: `{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"111122223333"}`, "kms:*"), want: ImplicitlyDenied},
	{name: "KMS: key policy names the user", principal: aliceARN, action: "kms:Decrypt", resource: docKey, resPol: allowOn(`{"AWS":"`+aliceARN+`"}`, "kms:Decrypt"), want: Allowed},
	{name: "KMS: key policy names the role, session policy does not allow", principal: sessARN, action: "kms:Decrypt", resource: docKey, session: `{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, resPol: allowOn(`{"AWS":"`+roleARN+`"}`, "kms:Decrypt"), want: ImplicitlyDenied},
	{name: "KMS: cross-account key policy names the account, identity allows", principal: docOtherAcc, action: "kms:Decrypt", resource: docKey, identity: []string{allowStar}, resPol: allowOn(`{"AWS":"444455556666"}`, "kms:Decrypt"), want: Allowed},
	{name: "KMS: cross-account identity policy alone", principal: docOtherAcc, action: "kms:Decrypt", resource: docKey, identity: []string{allowStar}, resPol: allowOn(`{"AWS":"111122223333"}`, "kms:Decrypt"), want: ImplicitlyDenied},
	{name: "KMS: ListKeys is governed by IAM policies alone", principal: aliceARN, action: "kms:ListKeys", resource: "*", identity: []string{allowStar}, resPol: allowOn(`{"AWS":"`+docBob+`"}`, "kms:*"), want: Allowed},
	{name: "KMS: CreateKey is governed by IAM policies alone", principal: aliceARN, action: "kms:CreateKey", resource: "*", identity: []string{allowStar}, resPol: allowOn(`{"AWS":"`+docBob+`"}`, "kms:*"), want: Allowed},
	{name: "trust policy: trusts a service only", principal: aliceARN, action: "sts:AssumeRole", resource: roleARN, identity: []string{allowStar}, resPol: `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`, want: ImplicitlyDenied},
	{name: "trust policy: trusts the account, identity allows", principal: aliceARN, action: "sts:AssumeRole", resource: roleARN, identity: []string{allowStar}, resPol: `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}`, want: Allowed},
	{name: "trust policy: trusts the account, no identity policy", principal: aliceARN, action: "sts:AssumeRole", resource: roleARN, resPol: `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}`, want: ImplicitlyDenied},
	{name: "trust policy: names the user", principal: aliceARN, action: "sts:AssumeRole", resource: roleARN, resPol: `{"Effect":"Allow","Principal":{"AWS":"` + aliceARN + `"},"Action":"sts:AssumeRole"}`, want: Allowed},

	// AWS-owned resources. access_policies_managed-vs-inline.html (AWS
	// managed policies cannot be changed); using-service-linked-roles.html
	// and IAM Identity Center's permission-set roles (/aws-reserved/);
	// AWS KMS Developer Guide, kms-alias.html (alias/aws/ is reserved).
	{name: "AWS managed policy: DeletePolicy", principal: aliceARN, action: "iam:DeletePolicy", resource: "arn:aws:iam::aws:policy/AdministratorAccess", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "AWS managed policy: CreatePolicyVersion", principal: aliceARN, action: "iam:CreatePolicyVersion", resource: "arn:aws:iam::aws:policy/ReadOnlyAccess", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "AWS managed policy: root cannot either", principal: "arn:aws:iam::111122223333:root", action: "iam:SetDefaultPolicyVersion", resource: "arn:aws:iam::aws:policy/ReadOnlyAccess", want: ImplicitlyDenied},
	{name: "AWS managed policy: reading is allowed", principal: aliceARN, action: "iam:GetPolicy", resource: "arn:aws:iam::aws:policy/ReadOnlyAccess", identity: []string{allowStar}, want: Allowed},
	{name: "AWS managed policy: an explicit deny stays explicit", principal: aliceARN, action: "iam:DeletePolicy", resource: "arn:aws:iam::aws:policy/ReadOnlyAccess", identity: []string{allowStar, `{"Effect":"Deny","Action":"iam:DeletePolicy","Resource":"*"}`}, want: ExplicitlyDenied},
	{name: "customer managed policy: DeletePolicy", principal: aliceARN, action: "iam:DeletePolicy", resource: "arn:aws:iam::111122223333:policy/mine", identity: []string{allowStar}, want: Allowed},
	{name: "service-linked role: PutRolePolicy", principal: aliceARN, action: "iam:PutRolePolicy", resource: "arn:aws:iam::111122223333:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "service-linked role: AttachRolePolicy", principal: aliceARN, action: "iam:AttachRolePolicy", resource: "arn:aws:iam::111122223333:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "AWS-reserved role: UpdateAssumeRolePolicy", principal: aliceARN, action: "iam:UpdateAssumeRolePolicy", resource: "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "service-linked role: GetRole is allowed", principal: aliceARN, action: "iam:GetRole", resource: "arn:aws:iam::111122223333:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk", identity: []string{allowStar}, want: Allowed},
	{name: "AWS managed KMS alias: DeleteAlias", principal: aliceARN, action: "kms:DeleteAlias", resource: "arn:aws:kms:eu-west-1:111122223333:alias/aws/s3", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "AWS managed KMS alias: CreateAlias", principal: aliceARN, action: "kms:CreateAlias", resource: "arn:aws:kms:eu-west-1:111122223333:alias/aws/ebs", identity: []string{allowStar}, want: ImplicitlyDenied},
	{name: "customer KMS alias: DeleteAlias", principal: aliceARN, action: "kms:DeleteAlias", resource: "arn:aws:kms:eu-west-1:111122223333:alias/mine", identity: []string{allowStar}, want: Allowed},

	// Requests for "*". Amazon S3 User Guide, example-policies-s3.html
	// (s3:ListAllMyBuckets granted on arn:aws:s3:::*); IAM User Guide,
	// reference_policies_elements_resource.html and access_controlling
	// (list actions take a path pattern, arn:aws:iam::ACCOUNT:user/*).
	{name: "* request: arn:aws:s3:::* covers ListAllMyBuckets", principal: aliceARN, action: "s3:ListAllMyBuckets", resource: "*", identity: []string{`{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*"}`}, want: Allowed},
	{name: "* request: one bucket does not cover ListAllMyBuckets", principal: aliceARN, action: "s3:ListAllMyBuckets", resource: "*", identity: []string{`{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::mybucket"}`}, want: ImplicitlyDenied},
	{name: "* request: a user path pattern covers ListUsers", principal: aliceARN, action: "iam:ListUsers", resource: "*", identity: []string{`{"Effect":"Allow","Action":"iam:ListUsers","Resource":"arn:aws:iam::111122223333:user/division_abc/*"}`}, want: Allowed},
	{name: "* request: another account's pattern does not", principal: aliceARN, action: "iam:ListUsers", resource: "*", identity: []string{`{"Effect":"Allow","Action":"iam:ListUsers","Resource":"arn:aws:iam::444455556666:user/*"}`}, want: ImplicitlyDenied},
	{name: "* request: a service-wide pattern", principal: aliceARN, action: "ec2:DescribeInstances", resource: "*", identity: []string{`{"Effect":"Allow","Action":"ec2:Describe*","Resource":"arn:aws:ec2:*:*:*"}`}, want: Allowed},
	{name: "* request: wildcards crossing patterns", principal: aliceARN, action: "ec2:DescribeInstances", resource: "*", identity: []string{`{"Effect":"Allow","Action":"ec2:Describe*","Resource":"arn:aws:e?2:eu-*:*:instance/*"}`}, want: Allowed},
	{name: "* request: another service's wildcard does not", principal: aliceARN, action: "ec2:DescribeInstances", resource: "*", identity: []string{`{"Effect":"Allow","Action":"ec2:Describe*","Resource":"arn:aws:s3:::*"}`}, want: ImplicitlyDenied},
	{name: "* request: a covering Deny denies", principal: aliceARN, action: "s3:ListAllMyBuckets", resource: "*", identity: []string{allowStar, `{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*"}`}, want: ExplicitlyDenied},
	{name: "* request: Resource * covers anything", principal: aliceARN, action: "iam:ListUsers", resource: "*", identity: []string{allowStar}, want: Allowed},
}

// TestDocumentedEvaluation checks the engine against AWS's documented
// evaluation logic, one case per documented behaviour, and reports the
// share it agrees with.
func TestDocumentedEvaluation(t *testing.T) {
	pass := 0
	for _, tc := range docCases {
		ok := t.Run(tc.name, func(t *testing.T) {
			res := evalOne(t, docSet(t, tc), docRequest(tc))
			if res.Decision != tc.want {
				t.Errorf("%s, want %s: %s", res.Decision, tc.want, res.Reason)
			}
		})
		if ok {
			pass++
		}
	}
	t.Logf("documentation-derived cases agreeing: %d of %d", pass, len(docCases))
}

func docSet(t *testing.T, tc docCase) PolicySet {
	var ps PolicySet
	for i, s := range tc.identity {
		ps.Identity = append(ps.Identity, stmtPolicy(t, "identity"+itoa(i), s))
	}
	if tc.boundary != "" {
		ps.Boundary = []*iampolicy.Policy{stmtPolicy(t, "boundary", tc.boundary)}
	}
	if tc.session != "" {
		ps.Session = []*iampolicy.Policy{stmtPolicy(t, "session", tc.session)}
	}
	if tc.scp != "" {
		ps.SCPs = [][]*iampolicy.Policy{{stmtPolicy(t, "scp", tc.scp)}}
	}
	if tc.rcp != "" {
		ps.RCPs = [][]*iampolicy.Policy{{stmtPolicy(t, "rcp", tc.rcp)}}
	}
	if tc.resPol != "" {
		ps.Resource = stmtPolicy(t, "resource-policy", tc.resPol)
	}
	return ps
}

func docRequest(tc docCase) Request {
	req := Request{Action: tc.action, Resource: tc.resource, Principal: tc.principal}
	if req.Action == "" {
		req.Action = "s3:GetObject"
	}
	if req.Resource == "" {
		req.Resource = docObj
	}
	if len(tc.ctx) > 0 {
		req.Context = NewContext()
		for k, v := range tc.ctx {
			req.Context.Set(k, v)
		}
	}
	return req
}
