# Platform IAM: what the nodes, the Cluster Autoscaler and Object Storage itself need. The pods'
# own least-privilege policies (buckets, PARs, vault secrets per service account) are in iam.tf.
# IAM is written in the home region (provider oci.home).

locals {
  compartment_scope = "compartment id ${var.compartment_ocid}"
  # OCIR repositories often sit in the root compartment, which policies call "tenancy".
  ocir_scope = (
    local.ocir_compartment_ocid == var.tenancy_ocid
    ? "tenancy"
    : "compartment id ${local.ocir_compartment_ocid}"
  )
}

# Every instance in the Voxflow compartment (the OKE workers). Instances are all the compartment
# holds; narrowing further needs a defined tag on the nodes (tag.<namespace>.<key>.value).
# In a tenancy with identity domains this dynamic group lands in the Default domain.
resource "oci_identity_dynamic_group" "nodes" {
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-oke-nodes"
  description    = "Voxflow OKE worker nodes (instances in the Voxflow compartment)"
  matching_rule  = "ALL {instance.compartment.id = '${var.compartment_ocid}'}"
  freeform_tags  = var.freeform_tags
}

# The kubelet pulls the Voxflow images from OCIR with the node's instance principal, so no
# imagePullSecrets are needed (deploy/README.md step 8); the nodes also write container logs.
resource "oci_identity_policy" "nodes" {
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "${var.name_prefix}-oke-nodes"
  description    = "Voxflow OKE nodes pull images from OCI Registry and write container logs"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow dynamic-group ${oci_identity_dynamic_group.nodes.name} to read repos in ${local.ocir_scope}",
    # The unified monitoring agent ships container logs to the custom log (logging.tf).
    "Allow dynamic-group ${oci_identity_dynamic_group.nodes.name} to use log-content in ${local.compartment_scope}",
  ]
}

# The ClusterAutoscaler add-on (authType=workload) as kube-system/cluster-autoscaler of this
# cluster: resize the node pools, create and delete their instances, attach them to the subnet.
resource "oci_identity_policy" "cluster_autoscaler" {
  provider       = oci.home
  compartment_id = var.compartment_ocid
  name           = "${var.name_prefix}-cluster-autoscaler"
  description    = "Cluster Autoscaler add-on (workload identity kube-system/cluster-autoscaler)"
  freeform_tags  = var.freeform_tags
  statements = [
    for permission in [
      "manage cluster-node-pools",
      "manage instance-family",
      "use subnets",
      "read virtual-network-family",
      "use vnics",
      "inspect compartments",
    ] : "Allow any-user to ${permission} in ${local.compartment_scope} where ALL {${local.cluster_autoscaler_principal}}"
  ]
}

# Object lifecycle rules run as the Object Storage service of the region: without this the
# ARCHIVE and ABORT rules on voxflow-artifacts are accepted but never act.
resource "oci_identity_policy" "object_storage_lifecycle" {
  provider       = oci.home
  compartment_id = var.compartment_ocid
  name           = "${var.name_prefix}-object-lifecycle"
  description    = "Object Storage may apply lifecycle rules to the Voxflow buckets"
  freeform_tags  = var.freeform_tags
  statements = [
    "Allow service objectstorage-${var.region} to manage object-family in ${local.compartment_scope}",
  ]
}
