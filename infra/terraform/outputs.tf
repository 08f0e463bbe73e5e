locals {
  # One .repo section per repository prefix; with no prefixes, a template to fill in.
  snippet_prefixes = local.all_prefixes ? ["REPO-PATH/"] : var.repository_prefixes

  repo_ids = { for p in local.snippet_prefixes : p => "${var.name}-${trimsuffix(replace(lower(p), "/", "-"), "-")}" }

  baseurls = local.base_url == null ? {} : { for p in local.snippet_prefixes : p => "${local.base_url}${p}" }

  repo_snippets = local.base_url == null ? {} : {
    for p in local.snippet_prefixes : p => join("\n", compact([
      "[${local.repo_ids[p]}]",
      "name=${var.name} ${trimsuffix(p, "/")}",
      "baseurl=${local.base_url}${p}",
      "enabled=1",
      "gpgcheck=${var.gpgkey_url == null ? 0 : 1}",
      var.gpgkey_url == null ? "" : "gpgkey=${var.gpgkey_url}",
      "repo_gpgcheck=0",
      # repomd.xml is cached metadata_ttl_seconds at most; checking more often gains nothing.
      "metadata_expire=${max(var.metadata_ttl_seconds, 60)}",
      "",
    ]))
  }

  # AWS returns the URL with a trailing '/', emulators not always; paths are appended to it.
  gateway_url = var.gateway_enabled ? "${trimsuffix(aws_lambda_function_url.gateway[0].function_url, "/")}/" : null
  example_upload_prefix = length(local.upload_prefixes) > 0 ? local.upload_prefixes[0] : (
    local.all_prefixes ? "el9/x86_64/" : var.repository_prefixes[0]
  )
}

output "bucket_name" {
  description = "The repository bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the repository bucket."
  value       = aws_s3_bucket.this.arn
}

output "queue_url" {
  description = "URL of the notification queue the indexer consumes."
  value       = aws_sqs_queue.events.id
}

output "dlq_url" {
  description = "URL of the dead-letter queue (notifications that failed sqs_max_receive_count times)."
  value       = aws_sqs_queue.dlq.id
}

output "reconcile_dlq_url" {
  description = "URL of the queue that keeps scheduled reconcile runs that could not be delivered or failed (null without a schedule)."
  value       = one(aws_sqs_queue.reconcile_dlq[*].id)
}

output "indexer_function_name" {
  description = "Name of the indexer Lambda function."
  value       = aws_lambda_function.indexer.function_name
}

output "indexer_role_arn" {
  description = "ARN of the indexer's execution role."
  value       = aws_iam_role.indexer.arn
}

output "gateway_function_name" {
  description = "Name of the gateway Lambda function (null when gateway_enabled is false)."
  value       = var.gateway_enabled ? aws_lambda_function.gateway[0].function_name : null
}

output "gateway_role_arn" {
  description = "ARN of the gateway's execution role (null when gateway_enabled is false)."
  value       = var.gateway_enabled ? aws_iam_role.gateway[0].arn : null
}

output "gateway_url" {
  description = "Function URL of the upload gateway, ending in '/'."
  value       = local.gateway_url
}

output "tokens_secret_arn" {
  description = "Secrets Manager secret the gateway reads its tokens from (null with SSM)."
  value       = var.gateway_enabled ? local.tokens_secret_arn : null
}

output "tokens_ssm_parameter_name" {
  description = "SSM parameter the gateway reads its tokens from (null with Secrets Manager)."
  value       = var.gateway_enabled ? local.tokens_ssm_parameter_name : null
}

output "cloudfront_domain_name" {
  description = "Domain name of the CloudFront distribution (null unless repository_access is \"cloudfront\")."
  value       = var.repository_access == "cloudfront" ? aws_cloudfront_distribution.this[0].domain_name : null
}

output "cloudfront_distribution_id" {
  description = "ID of the CloudFront distribution, for invalidations (null unless repository_access is \"cloudfront\")."
  value       = var.repository_access == "cloudfront" ? aws_cloudfront_distribution.this[0].id : null
}

output "repository_base_url" {
  description = "URL of the bucket root as clients see it, ending in '/' (null with repository_access = \"none\" and no public_base_url)."
  value       = local.base_url
}

output "baseurls" {
  description = "baseurl= of each repository prefix (\"REPO-PATH/\" stands for any path when repository_prefixes is empty)."
  value       = local.baseurls
}

output "repo_snippets" {
  description = "A ready /etc/yum.repos.d/*.repo section for each repository prefix."
  value       = local.repo_snippets
}

output "repo_file" {
  description = "All .repo sections in one file: `terraform output -raw repo_file | sudo tee /etc/yum.repos.d/rpmbucket.repo`."
  value       = join("\n", values(local.repo_snippets))
}

output "upload_command" {
  description = "How to upload a package through the gateway (RPMBUCKET_TOKEN is a token you stored in the tokens secret)."
  value = local.gateway_url == null ? null : join("\n", [
    "# packages up to 6 MB (one request; the gateway answers 307 to a presigned S3 URL):",
    "curl -fL -T pkg.rpm -u \"ci:$RPMBUCKET_TOKEN\" ${local.gateway_url}${local.example_upload_prefix}",
    "# any size (a function URL refuses bodies over 6 MB, so fetch the presigned URL first):",
    "curl -f -T pkg.rpm \"$(curl -fsS -u \"ci:$RPMBUCKET_TOKEN\" \"${local.gateway_url}presign/${local.example_upload_prefix}pkg.rpm?size=$(stat -c %s pkg.rpm)\")\"",
  ])
}
