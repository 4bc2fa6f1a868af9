provider "aws" {
  region = var.region
}

# Ships two log groups to a domain managed elsewhere. The domain's owner must admit the
# Lambda role (output lambda_role_arn) in the domain's access policy and, with fine-grained
# access control, map it to a role that may write the shared-logs-* data streams (bulk_action
# create: the domain needs an index template with data_stream enabled for shared-logs-*).
module "logs" {
  source = "../../"

  name = "shared-logs"

  lambda_zip_path = var.lambda_zip_path
  layer_zip_path  = var.layer_zip_path
  # The layer's pipeline.json overrides the index template of the environment, so the layer
  # must be built for this configuration (no transforms, the index template below):
  #   cargo xtask dist --pipeline terraform/examples/existing-domain/source-pipeline.json
  # The default layer carries the built-in chain and cwl-* indices; this check refuses it.
  layer_pipeline_path = "${dirname(var.layer_zip_path)}/pipeline.json"

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
