# The rpmbucket module deployed into LocalStack. Run through `tflocal` (terraform-local), which points
# every AWS endpoint at LocalStack; see ../README.md. Differences from a real deployment, all forced by
# LocalStack: plain HTTP (no TLS-only bucket policy), public-read instead of CloudFront, and a base URL
# on the LocalStack endpoint.

provider "aws" {
  region = var.region
}

module "rpmbucket" {
  source = "../../infra/terraform"

  name                = "rpmbucket"
  bucket_name         = var.bucket_name
  repository_prefixes = var.repository_prefixes
  force_destroy       = true

  repository_access       = "public-read"
  deny_insecure_transport = false
  public_base_url         = "${var.public_endpoint}/${var.bucket_name}/"

  indexer_zip         = var.indexer_zip
  gateway_zip         = var.gateway_zip
  lambda_architecture = var.lambda_architecture

  tokens_secret_recovery_days = 0
  reconcile_schedule          = "rate(1 hour)"
}
