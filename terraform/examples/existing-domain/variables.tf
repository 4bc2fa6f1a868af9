variable "region" {
  description = "Region to deploy into (the domain's region)."
  type        = string
  default     = "eu-west-1"
}

variable "lambda_zip_path" {
  description = "Lambda zip built by `cargo xtask dist`."
  type        = string
  default     = "../../../target/dist/sluicegate-lambda-arm64.zip"
}

variable "redact_wasm_path" {
  description = "The redact transform's module, as `cargo xtask` builds it."
  type        = string
  default     = "../../../target/transforms/wasm32-unknown-unknown/release/redact.wasm"
}

variable "domain_endpoint" {
  description = "Endpoint of the existing OpenSearch domain, for example search-shared-abc.eu-west-1.es.amazonaws.com."
  type        = string
}

variable "domain_arn" {
  description = "ARN of the existing OpenSearch domain."
  type        = string
}
