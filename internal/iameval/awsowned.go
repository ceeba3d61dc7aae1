package iameval

import "strings"

// awsOwned says why AWS refuses an action on a resource it owns, whatever
// the policies say, or "" when it does not. action is lower-case.
//
//   - AWS managed policies (arn:aws:iam::aws:policy/...) cannot be
//     created, versioned, deleted or tagged ("AWS managed policies",
//     IAM User Guide, access_policies_managed-vs-inline.html).
//   - Service-linked roles (path /aws-service-role/) can be changed only
//     by their service ("Using service-linked roles",
//     using-service-linked-roles.html), and the roles IAM Identity Center
//     creates (path /aws-reserved/) cannot be changed in IAM ("Referencing
//     permission sets", IAM Identity Center User Guide).
//   - AWS managed KMS aliases (alias/aws/...) cannot be created, updated
//     or deleted ("Aliases in AWS KMS", kms-alias.html).
func awsOwned(action, resource string) string {
	svc, name, _ := strings.Cut(action, ":")
	parts := strings.SplitN(resource, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != svc {
		return ""
	}
	res := parts[5]
	switch svc {
	case "iam":
		if parts[4] == "aws" && strings.HasPrefix(res, "policy/") {
			switch name {
			case "createpolicy", "createpolicyversion", "deletepolicy", "deletepolicyversion",
				"setdefaultpolicyversion", "tagpolicy", "untagpolicy":
				return "AWS managed policies belong to AWS: no one can create, change or delete them"
			}
			return ""
		}
		if strings.HasPrefix(res, "role/aws-service-role/") || strings.HasPrefix(res, "role/aws-reserved/") {
			switch name {
			case "deleterole", "updaterole", "updateassumerolepolicy", "putrolepolicy", "deleterolepolicy",
				"attachrolepolicy", "detachrolepolicy", "putrolepermissionsboundary", "deleterolepermissionsboundary":
				return "service-linked and AWS-reserved roles (paths /aws-service-role/, /aws-reserved/) can be changed only by the AWS service that owns them"
			}
		}
	case "kms":
		if strings.HasPrefix(res, "alias/aws/") {
			switch name {
			case "createalias", "updatealias", "deletealias":
				return "AWS managed KMS aliases (alias/aws/...) belong to AWS: no one can create, update or delete them"
			}
		}
	}
	return ""
}
