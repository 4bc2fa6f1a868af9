provider "aws" {
  region = var.region
}

# Ships two log groups to a domain managed elsewhere. The domain's owner must admit the
# Lambda role (output lambda_role_arn) in the domain's access policy, then run the setup_command
# output with the domain's admin credentials: with fine-grained access control it maps the role
# to one that may write the shared-logs-* indices (bulk_action create).
module "logs" {
  source = "../../"

  name = "shared-logs"

  lambda_zip_path = var.lambda_zip_path

  # One transform, from a .wasm path alone: the module uploads it and the pipeline to the
  # archive bucket, and the Lambda compiles it at its first cold start (no layer).
  transforms = [
    {
      name        = "redact"
      wasm_path   = var.redact_wasm_path
      config_json = jsonencode({ detectors = ["email", "aws_access_key", "aws_secret_key", "jwt", "bearer"], fields = "all" })
    },
  ]

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
