# OCI Database with PostgreSQL 16 in the private database subnet (deploy/README.md step 4).
# Terraform creates the DB system and its administrator; the three databases and their owners
# (voxflow; temporal and temporal_visibility owned by temporal) are created with SQL from inside
# the VCN, with the passwords this configuration stored in the vault (README.md, "After apply").

# The service's password rules (8-32 characters, upper, lower, digit and a special character)
# are met by this; the special set is kept small because the accepted set is not documented
# in the provider docs.
resource "random_password" "psql_admin" {
  length           = 24
  min_upper        = 2
  min_lower        = 2
  min_numeric      = 2
  min_special      = 2
  override_special = "#*-_+!"
}

resource "oci_psql_db_system" "voxflow" {
  compartment_id              = var.compartment_ocid
  display_name                = "${var.name_prefix}-db"
  description                 = "Voxflow and Temporal (databases voxflow, temporal, temporal_visibility)"
  db_version                  = "16"
  shape                       = var.psql_shape
  instance_count              = var.psql_instance_count
  instance_ocpu_count         = var.psql_ocpus
  instance_memory_size_in_gbs = var.psql_memory_gbs
  system_type                 = "OCI_OPTIMIZED_STORAGE"
  freeform_tags               = var.freeform_tags

  network_details {
    subnet_id = oci_core_subnet.database.id
  }

  storage_details {
    is_regionally_durable = true
    system_type           = "OCI_OPTIMIZED_STORAGE"
  }

  credentials {
    username = var.psql_admin_username
    password_details {
      password_type = "PLAIN_TEXT"
      password      = random_password.psql_admin.result
    }
  }

  management_policy {
    backup_policy {
      kind           = "DAILY"
      backup_start   = "02:00"
      retention_days = 7
    }
    maintenance_window_start = "SUN 03:00"
  }
}

# The primary endpoint's FQDN: the host of VOXFLOW_DATABASE_URL (vault secret
# voxflow-database-url) and of deploy/temporal/values.yaml.
data "oci_psql_db_system_connection_detail" "voxflow" {
  db_system_id = oci_psql_db_system.voxflow.id
}

locals {
  psql_endpoint = data.oci_psql_db_system_connection_detail.voxflow.primary_db_endpoint[0]
}
