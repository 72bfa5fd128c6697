locals {
  # Names the manifests use (tests/deploy/test_terraform.py checks each against the rendered
  # overlays): VOXFLOW_OCI_BUCKET of voxflow-config and of the fetch-models init containers, the
  # namespaces, and what TorchServe GPU tolerates and selects.
  artifacts_bucket   = "voxflow-artifacts"
  models_bucket      = "voxflow-models"
  app_namespace      = "voxflow"
  temporal_namespace = "temporal"
  gpu_taint_key      = "nvidia.com/gpu"
  gpu_taint_value    = "present"
  gpu_taint_effect   = "NoSchedule"
  gpu_pool_label     = "gpu"

  # Node label (initial_node_labels) that tells the two pools apart: voxflow.dev/pool=cpu|gpu.
  pool_label_key = "voxflow.dev/pool"
  cpu_pool_label = "cpu"

  # kubelet --register-with-taints syntax: key=value:effect.
  gpu_node_taint = "${local.gpu_taint_key}=${local.gpu_taint_value}:${local.gpu_taint_effect}"

  # The managed node pool API has no taint argument (oci_containerengine_node_pool documents
  # none; only oci_containerengine_virtual_node_pool has `taints`, and virtual nodes cannot run
  # GPU pods; github.com/oracle/terraform-provider-oci/issues/1504 asks for it). So the gpu pool
  # replaces the node's cloud-init (node_metadata.user_data): it fetches OKE's own init script
  # from the instance metadata and runs it with the taint as an extra kubelet flag. Every node
  # the Cluster Autoscaler adds boots the same way, so the taint is there before the node is
  # Ready: nothing without the toleration is ever scheduled on a GPU node. (`kubectl taint`
  # after the fact would miss autoscaled nodes and race the scheduler.)
  gpu_cloud_init = <<-EOT
    #!/bin/bash
    set -euo pipefail
    curl --fail -H "Authorization: Bearer Oracle" -L0 \
      http://169.254.169.254/opc/v2/instance/metadata/oke_init_script | base64 --decode >/var/run/oke-init.sh
    bash /var/run/oke-init.sh --kubelet-extra-args "--register-with-taints=${local.gpu_node_taint}"
  EOT

  ocir_compartment_ocid = coalesce(var.ocir_compartment_ocid, var.compartment_ocid)
  object_namespace      = data.oci_objectstorage_namespace.this.namespace

  # The cluster-autoscaler pod of the ClusterAutoscaler add-on, as a workload identity.
  cluster_autoscaler_principal = join(", ", [
    "request.principal.type = 'workload'",
    "request.principal.namespace = 'kube-system'",
    "request.principal.service_account = 'cluster-autoscaler'",
    "request.principal.cluster_id = '${oci_containerengine_cluster.voxflow.id}'",
  ])
}
