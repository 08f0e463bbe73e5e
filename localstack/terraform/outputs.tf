output "gateway_url" {
  description = "Upload gateway (LocalStack function URL)."
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
  description = "Tokens secret."
  value       = module.rpmbucket.tokens_secret_arn
}

output "queue_url" {
  description = "Notification queue."
  value       = module.rpmbucket.queue_url
}
