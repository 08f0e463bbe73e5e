# Bucket notifications → queue → indexer. A notification the indexer keeps failing on moves to the
# dead-letter queue after sqs_max_receive_count deliveries, where an alarm sees it.

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.name}-events-dlq"
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_sqs_queue" "events" {
  name = local.events_queue_name
  # AWS's advice for Lambda event sources: at least six times the function timeout, so a message is not
  # handed to a second invocation while the first is still working on it.
  visibility_timeout_seconds = 6 * var.indexer_timeout_seconds
  message_retention_seconds  = 345600 # 4 days; reconcile heals anything older
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true
  # Inline rather than aws_sqs_queue_policy: one SQS attribute round (and wait) fewer on create.
  policy = data.aws_iam_policy_document.events_queue.json
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
  tags = local.tags
}

data "aws_iam_policy_document" "events_queue" {
  statement {
    sid       = "BucketSendsNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [local.events_queue_arn]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
