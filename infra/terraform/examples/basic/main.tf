# The smallest complete deployment: one bucket with two repositories, the indexer, the upload gateway
# and CloudFront. `terraform apply -var bucket_name=...` after building the two Lambda zips.

provider "aws" {
  region = var.region
}

module "rpmbucket" {
  source = "../.."

  name                = var.name
  bucket_name         = var.bucket_name
  repository_prefixes = var.repository_prefixes
  repository_access   = var.repository_access
  force_destroy       = var.force_destroy

  indexer_zip         = var.indexer_zip
  gateway_zip         = var.gateway_zip
  lambda_architecture = var.lambda_architecture

  indexer_timeout_seconds = var.indexer_timeout_seconds
  sqs_max_receive_count   = var.sqs_max_receive_count

  tokens_secret_recovery_days = var.tokens_secret_recovery_days
  deny_insecure_transport     = var.deny_insecure_transport
  public_base_url             = var.public_base_url

  tags = { project = "rpmbucket-example" }
}
