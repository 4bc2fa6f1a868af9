resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "Sluicegate ${var.name}: stream, archive, Lambda environment and logs, failure destination, domain"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}

data "aws_iam_policy_document" "kms" {
  count = var.kms_key_arn == null ? 1 : 0

  # In a key policy "*" as resource means this key and nothing else.
  #checkov:skip=CKV_AWS_109:a key policy's resource "*" is the key itself; the account root statement is the documented default that keeps the key manageable through IAM
  #checkov:skip=CKV_AWS_111:a key policy's resource "*" is the key itself, not every resource
  #checkov:skip=CKV_AWS_356:a key policy's resource "*" is the key itself, not every resource
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts a log group with the key itself, so it needs a key-policy grant;
  # the encryption context pins every use to one of the module's own log groups.
  statement {
    sid = "CloudWatchLogsEncryptsModuleLogGroups"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = [for log_group_name in local.own_log_group_names : "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${log_group_name}"]
    }
  }
}
