# OCI Logging: one log group, a custom log for the containers of the voxflow and temporal
# namespaces (shipped by the Oracle Cloud Agent's unified monitoring agent on every node), and
# the Object Storage write log of the artifacts bucket.
#
# The web load balancer is created by the cloud controller manager from the web Service, not
# here, so its access/error logs are enabled after the first apply (README.md, "After apply").

resource "oci_logging_log_group" "voxflow" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-logs"
  description    = "Voxflow: containers, Object Storage writes"
  freeform_tags  = var.freeform_tags
}

resource "oci_logging_log" "containers" {
  display_name       = "${var.name_prefix}-containers"
  log_group_id       = oci_logging_log_group.voxflow.id
  log_type           = "CUSTOM"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags
}

resource "oci_logging_log" "artifacts_writes" {
  display_name       = "${var.name_prefix}-artifacts-writes"
  log_group_id       = oci_logging_log_group.voxflow.id
  log_type           = "SERVICE"
  is_enabled         = true
  retention_duration = var.log_retention_days
  freeform_tags      = var.freeform_tags

  configuration {
    compartment_id = var.compartment_ocid
    source {
      category    = "write"
      resource    = oci_objectstorage_bucket.artifacts.name
      service     = "objectstorage"
      source_type = "OCISERVICE"
    }
  }
}

# kubelet writes container logs as /var/log/containers/<pod>_<namespace>_<container>-<id>.log in
# CRI format. The agent runs on the nodes (the dynamic group) and needs `use log-content`
# (iam_platform.tf). It relies on the Oracle Cloud Agent's "Custom Logs Monitoring" plugin,
# which must be enabled on the worker image.
resource "oci_logging_unified_agent_configuration" "containers" {
  compartment_id = var.compartment_ocid
  display_name   = "${var.name_prefix}-containers"
  description    = "Tail the voxflow and temporal containers' logs into ${var.name_prefix}-containers"
  is_enabled     = true
  freeform_tags  = var.freeform_tags

  group_association {
    group_list = [oci_identity_dynamic_group.nodes.id]
  }

  service_configuration {
    configuration_type = "LOGGING"

    destination {
      log_object_id = oci_logging_log.containers.id
    }

    sources {
      name        = "voxflow-containers"
      source_type = "LOG_TAIL"
      paths = [
        "/var/log/containers/*_${local.app_namespace}_*.log",
        "/var/log/containers/*_${local.temporal_namespace}_*.log",
      ]

      parser {
        parser_type = "CRI"
      }
    }
  }
}
