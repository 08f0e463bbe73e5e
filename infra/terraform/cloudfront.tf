# Default delivery: CloudFront in front of a private bucket, reading it through origin access control.
# repomd.xml is the only file that changes under the same name, so it alone gets a short TTL; the
# content-addressed metadata and the packages are cached for long.

resource "aws_cloudfront_origin_access_control" "this" {
  count                             = var.repository_access == "cloudfront" ? 1 : 0
  name                              = "${var.name}-${var.bucket_name}"
  description                       = "rpmbucket: CloudFront reads ${var.bucket_name}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_cache_policy" "metadata" {
  count       = var.repository_access == "cloudfront" ? 1 : 0
  name        = "${var.name}-repomd"
  comment     = "rpmbucket: repomd.xml (mutable)"
  min_ttl     = 0
  default_ttl = var.metadata_ttl_seconds
  max_ttl     = var.metadata_ttl_seconds

  parameters_in_cache_key_and_forwarded_to_origin {
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_cache_policy" "content" {
  count       = var.repository_access == "cloudfront" ? 1 : 0
  name        = "${var.name}-content"
  comment     = "rpmbucket: packages and content-addressed metadata (immutable)"
  min_ttl     = 0
  default_ttl = var.content_ttl_seconds
  max_ttl     = 31536000

  parameters_in_cache_key_and_forwarded_to_origin {
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  count           = var.repository_access == "cloudfront" ? 1 : 0
  enabled         = true
  is_ipv6_enabled = true
  comment         = "rpmbucket: ${var.bucket_name}"
  price_class     = var.cloudfront_price_class
  aliases         = var.cloudfront_aliases
  tags            = local.tags

  origin {
    origin_id                = "s3"
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this[0].id
  }

  # repodata/repomd.xml, repomd.xml.asc and repomd.xml.key of every repository (root or nested).
  ordered_cache_behavior {
    path_pattern           = "*repodata/repomd.xml*"
    target_origin_id       = "s3"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.metadata[0].id
    compress               = true
  }

  default_cache_behavior {
    target_origin_id       = "s3"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.content[0].id
    compress               = false # packages and .gz/.zst metadata are compressed already
  }

  # A missing object is a 403 from a private bucket. Cache it briefly only, so a repository that is
  # being created becomes visible quickly.
  custom_error_response {
    error_code            = 403
    error_caching_min_ttl = 10
  }
  custom_error_response {
    error_code            = 404
    error_caching_min_ttl = 10
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.cloudfront_acm_certificate_arn == null
    acm_certificate_arn            = var.cloudfront_acm_certificate_arn
    ssl_support_method             = var.cloudfront_acm_certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.cloudfront_acm_certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }

  lifecycle {
    precondition {
      condition     = length(var.cloudfront_aliases) == 0 || var.cloudfront_acm_certificate_arn != null
      error_message = "cloudfront_aliases need cloudfront_acm_certificate_arn."
    }
  }
}
