# Something is wrong when a notification reaches the dead-letter queue, when a scheduled reconcile
# could not be delivered or failed, when a function reports errors, or when notifications pile up
# unprocessed.

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "rpmbucket: notifications the indexer could not process are in ${aws_sqs_queue.dlq.name}; read the indexer log for the reason, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "reconcile_failed" {
  count               = var.reconcile_schedule == null ? 0 : 1
  alarm_name          = "${var.name}-reconcile-failed"
  alarm_description   = "rpmbucket: a scheduled reconcile could not be delivered or failed after its retries; the messages in ${aws_sqs_queue.reconcile_dlq[0].name} say which and why (read the indexer log for the run), then delete them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.reconcile_dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  alarm_name          = "${var.name}-events-stuck"
  alarm_description   = "rpmbucket: the oldest notification in ${aws_sqs_queue.events.name} waits for more than 15 minutes; the indexer is not keeping up or not running."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.events.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 900
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

locals {
  alarmed_functions = merge(
    { indexer = aws_lambda_function.indexer.function_name },
    var.gateway_enabled ? { gateway = aws_lambda_function.gateway[0].function_name } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each            = local.alarmed_functions
  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "rpmbucket: ${each.value} reported errors (failed invocations, timeouts, crashes)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.alarm_evaluation_minutes
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}
