# Reconcile: compare the bucket listing with the published metadata and repair drift (a lost
# notification, a message that went to the DLQ, a manual change). The indexer tells this event apart
# from queue batches by its shape.
#
# A reconcile that does not happen is silent drift, so its failures are kept and alarmed on: the
# Scheduler sends an event it could not deliver (after its retries) to the reconcile dead-letter
# queue, and Lambda sends an invocation that failed (after its asynchronous retries: errors,
# timeouts, crashes) to the same queue as its on-failure destination. The queue is never read by
# rpmbucket; alarms.tf alarms when it is not empty, and each message says what failed.

resource "aws_sqs_queue" "reconcile_dlq" {
  count                     = var.reconcile_schedule == null ? 0 : 1
  name                      = local.reconcile_dlq_name
  message_retention_seconds = var.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

resource "aws_scheduler_schedule" "reconcile" {
  count       = var.reconcile_schedule == null ? 0 : 1
  name        = "${var.name}-reconcile"
  description = "rpmbucket: reconcile repositories with the bucket listing"

  schedule_expression = var.reconcile_schedule
  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 15
  }

  target {
    arn      = aws_lambda_function.indexer.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ rpmbucket = "reconcile" })

    retry_policy {
      maximum_retry_attempts       = 2
      maximum_event_age_in_seconds = 3600
    }

    dead_letter_config {
      arn = aws_sqs_queue.reconcile_dlq[0].arn
    }
  }

  # The Scheduler's role must be allowed to send to the queue before the first run.
  depends_on = [aws_iam_role_policy.scheduler]
}

# The schedule invokes the indexer asynchronously; the queue's event source mapping invokes it
# synchronously (its failures go through the queue's redrive), so this applies to reconcile runs.
resource "aws_lambda_function_event_invoke_config" "indexer" {
  count                        = var.reconcile_schedule == null ? 0 : 1
  function_name                = aws_lambda_function.indexer.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.reconcile_dlq[0].arn
    }
  }

  # Lambda checks that the execution role may send to the destination.
  depends_on = [aws_iam_role_policy.indexer]
}
