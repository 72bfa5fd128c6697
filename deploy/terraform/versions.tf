# Voxflow on Oracle Cloud: the network, OKE, storage, vault, database, logging and certificate that
# deploy/k8s expects. Nothing here was ever run through `terraform init/plan/apply` in CI (no
# provider can be downloaded there); tests/deploy/test_terraform.py parses every file with
# python-hcl2 and cross-checks the names against the rendered manifests. See README.md.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    oci = {
      source = "oracle/oci"
      # ENHANCED_CLUSTER, oci_containerengine_addon, oci_psql_db_system and
      # node_eviction_node_pool_settings are all in the 7.x line; 8.28 was the newest release
      # whose docs were read when this was written.
      version = ">= 7.0.0, < 9.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
  }
}
