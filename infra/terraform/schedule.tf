# Reconcile: compare the bucket listing with the published metadata and repair drift (a lost
# notification, a message that went to the DLQ, a manual change). The indexer tells this event apart
# from queue batches by its shape.

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
  }
}
