# rpmbucket: an S3 bucket that is a YUM/DNF repository.
#
#   upload ──► gateway Lambda (function URL) ──► presigned PUT ──► S3 bucket ──► SQS ──► indexer Lambda
#                                                                     ▲   (ObjectCreated/Removed *.rpm)  │
#   dnf/yum/zypper ◄── CloudFront (OAC) or public-read ◄──────────────┴──── repodata/ (atomic repomd.xml) ◄┘
#
# The resources are split by concern: s3.tf, sqs.tf, iam.tf, indexer.tf, gateway.tf, schedule.tf,
# cloudfront.tf, alarms.tf. This file holds the shared names and values.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Built from the name (not from the resource) so every policy is known at plan time and can be
  # reviewed, and tested, before anything exists.
  bucket_arn = "arn:${local.partition}:s3:::${var.bucket_name}"

  all_prefixes    = length(var.repository_prefixes) == 0
  upload_prefixes = var.upload_prefixes == null ? var.repository_prefixes : var.upload_prefixes

  # Objects under the repositories: what the indexer reads and what clients may download.
  repository_object_arns = local.all_prefixes ? ["${local.bucket_arn}/*"] : [
    for p in var.repository_prefixes : "${local.bucket_arn}/${p}*"
  ]

  # The only places the indexer may write: repodata/ of a repository root, and (layout "auto") of
  # repositories nested below a prefix.
  repodata_object_arns = local.all_prefixes ? [
    "${local.bucket_arn}/repodata/*",
    "${local.bucket_arn}/*/repodata/*",
    ] : flatten([
      for p in var.repository_prefixes : [
        "${local.bucket_arn}/${p}repodata/*",
        "${local.bucket_arn}/${p}*/repodata/*",
      ]
  ])

  # The only objects the gateway may presign a PUT or DELETE for.
  upload_object_arns = length(local.upload_prefixes) == 0 ? ["${local.bucket_arn}/*.rpm"] : [
    for p in local.upload_prefixes : "${local.bucket_arn}/${p}*.rpm"
  ]

  indexer_function_name = "${var.name}-indexer"
  gateway_function_name = "${var.name}-gateway"
  events_queue_name     = "${var.name}-events"

  # Same reason: ARNs spelled out from names, so the IAM documents are complete in the plan.
  arn_prefix           = "arn:${local.partition}"
  events_queue_arn     = "${local.arn_prefix}:sqs:${local.region}:${local.account_id}:${local.events_queue_name}"
  reconcile_dlq_name   = "${var.name}-reconcile-dlq"
  reconcile_dlq_arn    = "${local.arn_prefix}:sqs:${local.region}:${local.account_id}:${local.reconcile_dlq_name}"
  indexer_function_arn = "${local.arn_prefix}:lambda:${local.region}:${local.account_id}:function:${local.indexer_function_name}"
  indexer_log_arn      = "${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.indexer_function_name}:*"
  gateway_log_arn      = "${local.arn_prefix}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.gateway_function_name}:*"

  # A secret's ARN ends in '-' and six random characters; "-??????" is AWS's documented way to name it
  # in a policy before it exists.
  created_secret_name = "${var.name}/gateway-tokens"

  # The ARN the gateway is given, and the resource its policy names (known at plan time).
  tokens_secret_arn = !var.gateway_enabled || var.tokens_source != "secretsmanager" ? null : (
    var.tokens_secret_arn != null ? var.tokens_secret_arn : aws_secretsmanager_secret.tokens[0].arn
  )
  tokens_secret_policy_arn = var.tokens_source != "secretsmanager" ? null : (
    var.tokens_secret_arn != null ? var.tokens_secret_arn : "${local.arn_prefix}:secretsmanager:${local.region}:${local.account_id}:secret:${local.created_secret_name}-??????"
  )
  tokens_ssm_parameter_name = var.tokens_source == "ssm" ? var.tokens_ssm_parameter_name : null
  tokens_ssm_parameter_arn = local.tokens_ssm_parameter_name == null ? null : format(
    "arn:%s:ssm:%s:%s:parameter/%s", local.partition, local.region, local.account_id,
    trimprefix(local.tokens_ssm_parameter_name, "/")
  )

  # The URL clients put in baseurl= for the bucket root.
  derived_base_url = {
    "cloudfront"  = var.repository_access == "cloudfront" ? "https://${try(aws_cloudfront_distribution.this[0].domain_name, "")}/" : null
    "public-read" = "https://${var.bucket_name}.s3.${local.region}.amazonaws.com/"
    "none"        = null
  }[var.repository_access]
  base_url = var.public_base_url != null ? var.public_base_url : local.derived_base_url

  tags = merge({ "rpmbucket:name" = var.name }, var.tags)
}
