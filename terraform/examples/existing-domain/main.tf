provider "aws" {
  region = var.region
}

# Ships two log groups to a domain managed elsewhere. The domain's owner must admit the
# Lambda role (output lambda_role_arn) in the domain's access policy and, with fine-grained
# access control, map it to a role that may write the cwl-* indices.
module "logs" {
  source = "../../"

  name = "shared-logs"

  lambda_zip_path = var.lambda_zip_path
  layer_zip_path  = var.layer_zip_path

  create_domain            = false
  existing_domain_endpoint = var.domain_endpoint
  existing_domain_arn      = var.domain_arn

  log_groups = {
    "/aws/lambda/orders" = {}
    "/aws/lambda/users"  = { filter_pattern = "-HEALTHCHECK" }
  }

  index_template = "shared-logs-{yyyy}.{MM}"
  bulk_action    = "create"
}
