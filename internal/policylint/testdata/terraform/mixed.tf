resource "aws_iam_policy" "jsonencoded" {
  name = "ifexists"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "ec2:*"
      Resource = "*"
      Condition = {
        BoolIfExists = { "aws:MultiFactorAuthPresent" = "true" }
      }
    }]
  })
}

resource "aws_iam_role_policy" "heredoc" {
  role   = "r"
  policy = <<-EOF
    {
      "Version": "2012-10-17",
      "Statement": [{
        "Sid": "DenyNoMFA",
        "Effect": "Deny",
        "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ResyncMFADevice", "iam:ListMFADevices",
                      "iam:ListVirtualMFADevices", "iam:GetUser", "iam:ChangePassword", "sts:GetSessionToken"],
        "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}
      }]
    }
  EOF
}

data "aws_iam_policy_document" "doc" {
  statement {
    sid         = "NullDeny"
    effect      = "Deny"
    not_actions = ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ResyncMFADevice", "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:GetUser", "iam:ChangePassword", "sts:GetSessionToken"]
    resources   = ["*"]

    condition {
      test     = "Null"
      variable = "aws:MultiFactorAuthPresent"
      values   = ["true"]
    }
  }
}

variable "doc" {
  type = string
}

resource "aws_iam_policy" "fromvar" {
  policy = var.doc
}

resource "aws_iam_policy" "fromdata" {
  policy = data.aws_iam_policy_document.doc.json
}
