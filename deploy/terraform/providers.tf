# Authentication comes from ~/.oci/config (profile DEFAULT) or the OCI_* environment variables,
# as the provider documents; nothing secret is written here.
provider "oci" {
  region = var.region
}

# IAM resources (dynamic groups, policies) can only be written in the tenancy's home region.
provider "oci" {
  alias  = "home"
  region = var.home_region
}
