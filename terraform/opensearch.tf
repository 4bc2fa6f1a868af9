################################################################################
# Log groups the domain publishes to
################################################################################

resource "aws_cloudwatch_log_group" "domain" {
  for_each = toset(var.create_domain ? local.domain_log_types : [])

  name              = "${local.domain_log_group_prefix}/${lower(each.key)}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "domain_logs" {
  count = var.create_domain ? 1 : 0

  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for log_group in aws_cloudwatch_log_group.domain : "${log_group.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:es:${local.region}:${local.account_id}:domain/${var.name}"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "domain" {
  count = var.create_domain ? 1 : 0

  policy_name     = "${var.name}-opensearch-logs"
  policy_document = data.aws_iam_policy_document.domain_logs[0].json
}

################################################################################
# Domain
################################################################################

# OpenSearch Service manages a VPC domain's network interfaces through this role, and refuses
# to create one in an account that lacks it. It exists once per account, hence the variable.
resource "aws_iam_service_linked_role" "opensearch" {
  count = var.create_domain && local.in_vpc && var.create_opensearch_service_linked_role ? 1 : 0

  aws_service_name = "opensearchservice.amazonaws.com"
  description      = "Lets OpenSearch Service manage the network interfaces of VPC domains"

  tags = var.tags
}

resource "aws_opensearch_domain" "this" {
  count = var.create_domain ? 1 : 0

  #checkov:skip=CKV_AWS_137:VPC placement is optional (vpc_subnet_ids); outside a VPC the endpoint takes only signed HTTPS requests from the Lambda role and fine-grained access control users
  domain_name    = var.name
  engine_version = var.domain_engine_version

  cluster_config {
    instance_type            = var.domain_instance_type
    instance_count           = var.domain_instance_count
    dedicated_master_enabled = true
    dedicated_master_type    = var.domain_master_instance_type
    dedicated_master_count   = var.domain_master_instance_count
    zone_awareness_enabled   = true

    zone_awareness_config {
      availability_zone_count = var.domain_availability_zone_count
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.domain_volume_size
  }

  encrypt_at_rest {
    enabled    = true
    kms_key_id = local.kms_key_arn
  }

  node_to_node_encryption {
    enabled = true
  }

  domain_endpoint_options {
    enforce_https       = true
    tls_security_policy = var.domain_tls_security_policy
  }

  advanced_security_options {
    enabled                        = true
    anonymous_auth_enabled         = false
    internal_user_database_enabled = false

    master_user_options {
      master_user_arn = var.domain_master_user_arn
    }
  }

  log_publishing_options {
    enabled                  = true
    log_type                 = "INDEX_SLOW_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.domain["INDEX_SLOW_LOGS"].arn
  }

  log_publishing_options {
    enabled                  = true
    log_type                 = "SEARCH_SLOW_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.domain["SEARCH_SLOW_LOGS"].arn
  }

  log_publishing_options {
    enabled                  = true
    log_type                 = "ES_APPLICATION_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.domain["ES_APPLICATION_LOGS"].arn
  }

  log_publishing_options {
    enabled                  = true
    log_type                 = "AUDIT_LOGS"
    cloudwatch_log_group_arn = aws_cloudwatch_log_group.domain["AUDIT_LOGS"].arn
  }

  dynamic "vpc_options" {
    for_each = local.in_vpc ? [1] : []

    content {
      subnet_ids         = slice(var.vpc_subnet_ids, 0, var.domain_availability_zone_count)
      security_group_ids = var.vpc_security_group_ids
    }
  }

  software_update_options {
    auto_software_update_enabled = true
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_resource_policy.domain, aws_iam_service_linked_role.opensearch]
}

# Only the Lambda role gets in through the resource policy; people reach the domain through
# fine-grained access control as the master user or users it maps.
data "aws_iam_policy_document" "domain_access" {
  count = var.create_domain ? 1 : 0

  statement {
    sid       = "SluicegateLambdaWrites"
    actions   = ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet", "es:ESHttpHead"]
    resources = ["${aws_opensearch_domain.this[0].arn}/*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.lambda.arn]
    }
  }
}

resource "aws_opensearch_domain_policy" "this" {
  count = var.create_domain ? 1 : 0

  domain_name     = aws_opensearch_domain.this[0].domain_name
  access_policies = data.aws_iam_policy_document.domain_access[0].json
}
