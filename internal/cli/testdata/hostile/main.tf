resource "aws_iam_policy" "hostile" {
  name   = "@BAD@"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{ Sid = "@BAD@", Effect = "Allow", Action = "@BAD@", Resource = "*" }]
  })
}
