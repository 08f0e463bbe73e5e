output "gateway_url" {
  description = "Upload gateway URL."
  value       = module.rpmbucket.gateway_url
}

output "baseurls" {
  description = "baseurl= of each repository."
  value       = module.rpmbucket.baseurls
}

output "repo_file" {
  description = "A ready .repo file."
  value       = module.rpmbucket.repo_file
}

output "upload_command" {
  description = "How to upload a package."
  value       = module.rpmbucket.upload_command
}

output "tokens_secret_arn" {
  description = "Put the gateway's tokens here."
  value       = module.rpmbucket.tokens_secret_arn
}

output "bucket_name" {
  description = "The repository bucket."
  value       = module.rpmbucket.bucket_name
}

output "queue_url" {
  description = "Notification queue."
  value       = module.rpmbucket.queue_url
}

output "dlq_url" {
  description = "Dead-letter queue."
  value       = module.rpmbucket.dlq_url
}

output "reconcile_dlq_url" {
  description = "Scheduled reconcile runs that could not be delivered or failed (alarmed when not empty)."
  value       = module.rpmbucket.reconcile_dlq_url
}

output "indexer_function_name" {
  description = "Indexer function."
  value       = module.rpmbucket.indexer_function_name
}

output "gateway_function_name" {
  description = "Gateway function."
  value       = module.rpmbucket.gateway_function_name
}

output "indexer_role_arn" {
  description = "Indexer execution role."
  value       = module.rpmbucket.indexer_role_arn
}

output "gateway_role_arn" {
  description = "Gateway execution role."
  value       = module.rpmbucket.gateway_role_arn
}
