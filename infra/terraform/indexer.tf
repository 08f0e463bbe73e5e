resource "aws_cloudwatch_log_group" "indexer" {
  name              = "/aws/lambda/${local.indexer_function_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "indexer" {
  function_name    = local.indexer_function_name
  description      = "rpmbucket indexer: bucket notifications to repodata"
  role             = aws_iam_role.indexer.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap" # ignored by custom runtimes, but part of the API
  architectures    = [var.lambda_architecture]
  filename         = var.indexer_zip
  source_code_hash = filebase64sha256(var.indexer_zip)
  memory_size      = var.indexer_memory_mb
  timeout          = var.indexer_timeout_seconds

  ephemeral_storage {
    size = var.indexer_ephemeral_storage_mb
  }

  environment {
    variables = merge({
      RPMBUCKET_BUCKET        = var.bucket_name
      RPMBUCKET_PREFIXES      = join(",", var.repository_prefixes)
      RPMBUCKET_LAYOUT        = var.layout
      RPMBUCKET_GRACE_SECONDS = tostring(var.grace_seconds)
      RPMBUCKET_COMPRESSION   = var.compression
      RPMBUCKET_DATABASE      = tostring(var.database)
      RUST_LOG                = var.log_level
      # Packages per checkpoint publish of a reconcile inside one repository.
      RPMBUCKET_RECONCILE_CHECKPOINT = tostring(var.indexer_reconcile_checkpoint)
      }, var.indexer_metadata_cache_mb == 0 ? {} : {
      RPMBUCKET_METADATA_CACHE     = "/tmp/rpmbucket-metadata-cache"
      RPMBUCKET_METADATA_CACHE_MIB = tostring(var.indexer_metadata_cache_mb)
      }, var.signing_key_secret_arn == null ? {} : {
      RPMBUCKET_SIGNING_KEY_SECRET_ARN = var.signing_key_secret_arn
    }, var.indexer_environment)
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.indexer_metadata_cache_mb * 2 <= var.indexer_ephemeral_storage_mb
      error_message = "indexer_metadata_cache_mb may use at most half of indexer_ephemeral_storage_mb: a publish also needs room in /tmp for the databases it updates."
    }
  }

  # The log group must exist first, or Lambda creates one without retention.
  depends_on = [aws_cloudwatch_log_group.indexer, aws_iam_role_policy.indexer]
}

resource "aws_lambda_event_source_mapping" "indexer" {
  event_source_arn                   = aws_sqs_queue.events.arn
  function_name                      = aws_lambda_function.indexer.arn
  batch_size                         = var.sqs_batch_size
  maximum_batching_window_in_seconds = var.sqs_batching_window_seconds
  # The indexer answers with batchItemFailures: only the messages of a repository that failed return
  # to the queue; the rest are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.sqs_maximum_concurrency
  }

  lifecycle {
    precondition {
      condition     = var.sqs_batch_size <= 10 || var.sqs_batching_window_seconds >= 1
      error_message = "SQS batch sizes above 10 need sqs_batching_window_seconds of at least 1."
    }
  }
}
