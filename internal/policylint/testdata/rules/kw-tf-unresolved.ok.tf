data "aws_iam_policy_document" "net" {
  statement {
    effect    = "Deny"
    actions   = ["*"]
    resources = ["*"]
    condition {
      test     = "NotIpAddress"
      variable = "aws:SourceIp"
      values   = ["203.0.113.0/24", "2001:db8::/32"]
    }
    condition {
      test     = "BoolIfExists"
      variable = "aws:ViaAWSService"
      values   = ["false"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "aws:SourceVpce"
      values   = ["vpce-0123abcd"]
    }
  }
}
