# OCI Vault with one secret per remoteRef key of the ExternalSecrets in
# deploy/k8s/base/secrets.yaml and deploy/k8s/temporal-secrets/secrets.yaml (a test checks that
# every key has its secret here). The SecretStores name this vault by OCID: output vault_id.
#
# The values are generated here (random_password) or come from sensitive variables, so they are
# in the Terraform state: keep the state in an encrypted, access-controlled backend.

resource "oci_kms_vault" "voxflow" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-vault"
  vault_type     = "DEFAULT"
  freeform_tags  = var.freeform_tags
}

resource "oci_kms_key" "voxflow" {
  compartment_id      = var.compartment_ocid
  display_name        = "${var.name_prefix}-secrets"
  management_endpoint = oci_kms_vault.voxflow.management_endpoint
  protection_mode     = "HSM"
  freeform_tags       = var.freeform_tags

  key_shape {
    algorithm = "AES"
    length    = 32
  }
}

# ---------------------------------------------------------------- generated values

# Passwords may hold any of random_password's special characters (! @ # $ % & * ( ) - _ = + [ ]
# { } < > : ?): every URL built from them URL-encodes them (urlencode below; the ExternalSecret
# templates for AMQP and KEDA).
resource "random_password" "voxflow_db" {
  length = 32
}

resource "random_password" "temporal_db" {
  length = 32
}

resource "random_password" "amqp" {
  length = 32
}

resource "random_password" "keda" {
  length = 32
}

resource "random_password" "web" {
  length = 24
}

# Tokens are compared verbatim: the TorchServe token is substituted into the token proxy's nginx
# config, where a `$` would start an nginx variable. Letters and digits only.
resource "random_password" "torchserve_token" {
  length  = 48
  special = false
}

resource "random_password" "api_token" {
  length  = 48
  special = false
}

resource "random_password" "web_secret_key" {
  length  = 64
  special = false
}

# ---------------------------------------------------------------- secrets

locals {
  # Secret name → description. Not sensitive, so it can drive for_each; the values are below.
  vault_secret_names = {
    "voxflow-database-url"        = "VOXFLOW_DATABASE_URL (web, Temporal worker, relay)"
    "voxflow-amqp-username"       = "RabbitMQ user of the Voxflow processes"
    "voxflow-amqp-password"       = "RabbitMQ password of the Voxflow processes"
    "voxflow-keda-username"       = "RabbitMQ monitoring user for KEDA"
    "voxflow-keda-password"       = "RabbitMQ monitoring password for KEDA"
    "voxflow-torchserve-token"    = "VOXFLOW_TORCHSERVE_TOKEN (inference workers, TorchServe token proxy)"
    "voxflow-api-token"           = "VOXFLOW_API_TOKEN (web API bearer token)"
    "voxflow-web-password"        = "VOXFLOW_WEB_PASSWORD (web UI admin)"
    "voxflow-web-secret-key"      = "VOXFLOW_WEB_SECRET_KEY (web session signing)"
    "voxflow-oci-config"          = "OCI config file, only for VOXFLOW_OCI_AUTH=config"
    "voxflow-oci-api-key"         = "OCI API signing key, only for VOXFLOW_OCI_AUTH=config"
    "temporal-postgres-password"  = "Password of the PostgreSQL user temporal (Temporal server)"
    "voxflow-postgres-ca"         = "CA certificate of the PostgreSQL endpoint (Temporal verifies the host with it)"
    "voxflow-psql-admin-password" = "Administrator password of the PostgreSQL DB system (not read by any pod)"
    "voxflow-web-tls-crt"         = "The web load balancer's certificate and chain (PEM): Secret voxflow-web-tls"
    "voxflow-web-tls-key"         = "The web load balancer's private key (PEM): Secret voxflow-web-tls"
  }

  vault_secret_values = {
    "voxflow-database-url" = format(
      "postgresql+psycopg://voxflow:%s@%s:5432/voxflow?sslmode=require",
      urlencode(random_password.voxflow_db.result),
      local.psql_endpoint.fqdn,
    )
    "voxflow-amqp-username"       = var.amqp_username
    "voxflow-amqp-password"       = random_password.amqp.result
    "voxflow-keda-username"       = var.keda_username
    "voxflow-keda-password"       = random_password.keda.result
    "voxflow-torchserve-token"    = random_password.torchserve_token.result
    "voxflow-api-token"           = random_password.api_token.result
    "voxflow-web-password"        = random_password.web.result
    "voxflow-web-secret-key"      = random_password.web_secret_key.result
    "voxflow-oci-config"          = var.oci_config_file != "" ? var.oci_config_file : "# unused: VOXFLOW_OCI_AUTH=workload_identity\n"
    "voxflow-oci-api-key"         = var.oci_api_key_pem != "" ? var.oci_api_key_pem : "unused: VOXFLOW_OCI_AUTH=workload_identity\n"
    "temporal-postgres-password"  = random_password.temporal_db.result
    "voxflow-postgres-ca"         = data.oci_psql_db_system_connection_detail.voxflow.ca_certificate
    "voxflow-psql-admin-password" = random_password.psql_admin.result
    # The OKE cloud controller terminates TLS from a kubernetes.io/tls Secret, not from an OCI
    # Certificates OCID: the same PEMs that certificates.tf imports go to the vault for ESO.
    "voxflow-web-tls-crt" = var.web_certificate_pem != "" ? "${var.web_certificate_pem}\n${var.web_certificate_chain_pem}" : "unset: give web_certificate_pem\n"
    "voxflow-web-tls-key" = var.web_private_key_pem != "" ? var.web_private_key_pem : "unset: give web_private_key_pem\n"
  }
}

resource "oci_vault_secret" "voxflow" {
  for_each = local.vault_secret_names

  compartment_id = var.compartment_ocid
  vault_id       = oci_kms_vault.voxflow.id
  key_id         = oci_kms_key.voxflow.id
  secret_name    = each.key
  description    = each.value
  freeform_tags  = var.freeform_tags

  secret_content {
    content_type = "BASE64"
    content      = base64encode(local.vault_secret_values[each.key])
  }
}
