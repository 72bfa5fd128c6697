# The web load balancer's TLS certificate in OCI Certificates, imported (a certificate you bought
# or got from an ACME CA) or issued by an OCI private CA of yours. Output: web_certificate_id.

locals {
  web_certificate_imported = var.web_certificate_mode == "IMPORTED"
  web_certificate_issued   = var.web_certificate_mode == "ISSUED_BY_INTERNAL_CA"
}

resource "oci_certificates_management_certificate" "web" {
  count = var.web_certificate_mode == "NONE" ? 0 : 1

  compartment_id = var.compartment_ocid
  name           = "${var.name_prefix}-web"
  description    = "TLS for the Voxflow web load balancer"
  freeform_tags  = var.freeform_tags

  certificate_config {
    config_type = var.web_certificate_mode

    # IMPORTED
    certificate_pem = local.web_certificate_imported ? var.web_certificate_pem : null
    cert_chain_pem  = local.web_certificate_imported ? var.web_certificate_chain_pem : null
    private_key_pem = local.web_certificate_imported ? var.web_private_key_pem : null

    # ISSUED_BY_INTERNAL_CA
    issuer_certificate_authority_id = local.web_certificate_issued ? var.certificate_authority_id : null
    certificate_profile_type        = local.web_certificate_issued ? "TLS_SERVER_OR_CLIENT" : null
    key_algorithm                   = local.web_certificate_issued ? "RSA2048" : null
    signature_algorithm             = local.web_certificate_issued ? "SHA256_WITH_RSA" : null

    dynamic "subject" {
      for_each = local.web_certificate_issued ? [var.web_hostname] : []
      content {
        common_name = subject.value
      }
    }

    dynamic "subject_alternative_names" {
      for_each = local.web_certificate_issued ? [var.web_hostname] : []
      content {
        type  = "DNS"
        value = subject_alternative_names.value
      }
    }
  }

  # An issued certificate renews itself; an imported one is replaced by a new import.
  dynamic "certificate_rules" {
    for_each = local.web_certificate_issued ? [1] : []
    content {
      rule_type              = "CERTIFICATE_RENEWAL_RULE"
      renewal_interval       = "P90D"
      advance_renewal_period = "P30D"
    }
  }

  lifecycle {
    precondition {
      condition = !local.web_certificate_imported || (
        var.web_certificate_pem != "" && var.web_private_key_pem != "" && var.web_certificate_chain_pem != ""
      )
      error_message = "web_certificate_mode = IMPORTED needs web_certificate_pem, web_certificate_chain_pem and web_private_key_pem (or set it to NONE)."
    }
    precondition {
      condition     = !local.web_certificate_issued || (var.certificate_authority_id != "" && var.web_hostname != "")
      error_message = "web_certificate_mode = ISSUED_BY_INTERNAL_CA needs certificate_authority_id and web_hostname."
    }
  }
}
