# The OKE cluster and its two managed node pools, with the NVIDIA GPU plugin and the Cluster
# Autoscaler as OKE cluster add-ons. ENHANCED_CLUSTER is required for both workload identity
# (every Voxflow pod and the autoscaler authenticate as their service account) and add-ons.

data "oci_identity_availability_domains" "ads" {
  compartment_id = var.tenancy_ocid
}

resource "oci_containerengine_cluster" "voxflow" {
  compartment_id     = var.compartment_ocid
  name               = "${var.name_prefix}-oke"
  vcn_id             = oci_core_vcn.voxflow.id
  kubernetes_version = var.kubernetes_version
  type               = "ENHANCED_CLUSTER"
  freeform_tags      = var.freeform_tags

  # Flannel: pods get overlay addresses (10.244.0.0/16), so the worker subnet only needs one
  # address per node. OKE's flannel does not enforce NetworkPolicy by itself; the policies in
  # deploy/k8s/base/networkpolicies.yaml need Calico (or another policy engine) installed on top.
  cluster_pod_network_options {
    cni_type = "FLANNEL_OVERLAY"
  }

  endpoint_config {
    is_public_ip_enabled = true
    subnet_id            = oci_core_subnet.api_endpoint.id
  }

  options {
    service_lb_subnet_ids = [oci_core_subnet.load_balancer.id]

    kubernetes_network_config {
      pods_cidr     = "10.244.0.0/16"
      services_cidr = "10.96.0.0/16"
    }

    persistent_volume_config {
      freeform_tags = var.freeform_tags
    }

    service_lb_config {
      freeform_tags = var.freeform_tags
    }
  }
}

# ---------------------------------------------------------------- worker images

# The images OKE offers for this cluster. Names look like
#   Oracle-Linux-8.10-2025.06.17-0-OKE-1.33.1-800          (x86_64)
#   Oracle-Linux-8.10-Gen2-GPU-2025.06.17-0-OKE-1.33.1-800 (x86_64 with the NVIDIA driver)
# That naming is what OKE has used so far; if it changes, set cpu_image_id / gpu_image_id.
data "oci_containerengine_node_pool_option" "voxflow" {
  node_pool_option_id = oci_containerengine_cluster.voxflow.id
  compartment_id      = var.compartment_ocid
}

locals {
  k8s_version_pattern = replace(trimprefix(var.kubernetes_version, "v"), ".", "\\.")
  # Name → image OCIDs (grouped with `...`, so a name listed twice cannot fail the plan).
  oke_image_ids = {
    for source in data.oci_containerengine_node_pool_option.voxflow.sources :
    source.source_name => source.image_id... if upper(source.source_type) == "IMAGE"
  }
  # Newest first: the build date is part of the name, so a reverse lexical sort orders them.
  oke_cpu_images = reverse(sort([
    for name in keys(local.oke_image_ids) : name
    if can(regex("^Oracle-Linux-8\\.[0-9]+-20[0-9.]+-[0-9]+-OKE-${local.k8s_version_pattern}-", name))
  ]))
  oke_gpu_images = reverse(sort([
    for name in keys(local.oke_image_ids) : name
    if can(regex("^Oracle-Linux-8\\.[0-9]+-Gen2-GPU-20[0-9.]+-[0-9]+-OKE-${local.k8s_version_pattern}-", name))
  ]))
  cpu_image_id = var.cpu_image_id != "" ? var.cpu_image_id : try(local.oke_image_ids[local.oke_cpu_images[0]][0], null)
  gpu_image_id = var.gpu_image_id != "" ? var.gpu_image_id : try(local.oke_image_ids[local.oke_gpu_images[0]][0], null)

  gpu_availability_domains = (
    length(var.gpu_availability_domains) > 0
    ? var.gpu_availability_domains
    : [for ad in data.oci_identity_availability_domains.ads.availability_domains : ad.name]
  )
}


# ---------------------------------------------------------------- node pools

resource "oci_containerengine_node_pool" "cpu" {
  cluster_id         = oci_containerengine_cluster.voxflow.id
  compartment_id     = var.compartment_ocid
  name               = "cpu"
  kubernetes_version = var.kubernetes_version
  node_shape         = var.cpu_pool_shape
  ssh_public_key     = var.ssh_public_key != "" ? var.ssh_public_key : null
  freeform_tags      = var.freeform_tags

  dynamic "node_shape_config" {
    for_each = endswith(var.cpu_pool_shape, ".Flex") ? [1] : []
    content {
      ocpus         = var.cpu_pool_ocpus
      memory_in_gbs = var.cpu_pool_memory_gbs
    }
  }

  node_source_details {
    source_type             = "IMAGE"
    image_id                = local.cpu_image_id
    boot_volume_size_in_gbs = var.cpu_pool_boot_volume_gbs
  }

  node_config_details {
    # The initial size; from then on the Cluster Autoscaler owns it (ignore_changes below).
    size          = var.cpu_pool_min_size
    freeform_tags = var.freeform_tags

    dynamic "placement_configs" {
      for_each = data.oci_identity_availability_domains.ads.availability_domains
      content {
        availability_domain = placement_configs.value.name
        subnet_id           = oci_core_subnet.workers.id
      }
    }

    node_pool_pod_network_option_details {
      cni_type = "FLANNEL_OVERLAY"
    }
  }

  initial_node_labels {
    key   = local.pool_label_key
    value = local.cpu_pool_label
  }

  # Scale-down and upgrades drain a node before deleting it (RabbitMQ and TorchServe have PDBs).
  node_eviction_node_pool_settings {
    eviction_grace_duration              = "PT30M"
    is_force_delete_after_grace_duration = true
  }

  # Kubernetes-version and image changes replace nodes one at a time, adding one first.
  # (maximum_surge/maximum_unavailable take "1" or "25%" per the docs: strings here.)
  node_pool_cycling_details {
    is_node_cycling_enabled = true
    maximum_surge           = "1"
    maximum_unavailable     = "0"
  }

  lifecycle {
    ignore_changes = [node_config_details[0].size]

    precondition {
      condition     = local.cpu_image_id != null
      error_message = "No Oracle Linux 8 OKE image for ${var.kubernetes_version}: set cpu_image_id (oci ce node-pool-options get --node-pool-option-id <cluster-ocid>)."
    }
  }
}

resource "oci_containerengine_node_pool" "gpu" {
  cluster_id         = oci_containerengine_cluster.voxflow.id
  compartment_id     = var.compartment_ocid
  name               = "gpu"
  kubernetes_version = var.kubernetes_version
  node_shape         = var.gpu_pool_shape
  ssh_public_key     = var.ssh_public_key != "" ? var.ssh_public_key : null
  freeform_tags      = var.freeform_tags

  # GPU shapes are fixed (no node_shape_config); a Flex shape here would be a CPU shape anyway.
  node_source_details {
    source_type             = "IMAGE"
    image_id                = local.gpu_image_id
    boot_volume_size_in_gbs = var.gpu_pool_boot_volume_gbs
  }

  node_config_details {
    size          = var.gpu_pool_min_size
    freeform_tags = var.freeform_tags

    dynamic "placement_configs" {
      for_each = local.gpu_availability_domains
      content {
        availability_domain = placement_configs.value
        subnet_id           = oci_core_subnet.workers.id
      }
    }

    node_pool_pod_network_option_details {
      cni_type = "FLANNEL_OVERLAY"
    }
  }

  # voxflow.dev/pool=gpu: what TorchServe GPU may select on (deploy/k8s/components/gpu).
  initial_node_labels {
    key   = local.pool_label_key
    value = local.gpu_pool_label
  }

  # The taint nvidia.com/gpu=present:NoSchedule: there is no taint argument on managed node
  # pools, so it is registered by the kubelet itself, from this cloud-init (locals.tf says why).
  node_metadata = {
    user_data = base64encode(local.gpu_cloud_init)
  }

  node_eviction_node_pool_settings {
    eviction_grace_duration              = "PT30M"
    is_force_delete_after_grace_duration = true
  }

  node_pool_cycling_details {
    is_node_cycling_enabled = true
    maximum_surge           = "1"
    maximum_unavailable     = "0"
  }

  lifecycle {
    ignore_changes = [node_config_details[0].size]

    precondition {
      condition     = local.gpu_image_id != null
      error_message = "No Oracle Linux 8 GPU OKE image for ${var.kubernetes_version}: set gpu_image_id."
    }
  }
}

# ---------------------------------------------------------------- add-ons

# The NVIDIA device plugin DaemonSet (nvidia.com/gpu as an allocatable resource); it tolerates
# the gpu taint by default. Enhanced clusters may already have it: override_existing adopts it.
resource "oci_containerengine_addon" "nvidia_gpu_plugin" {
  addon_name                       = "NvidiaGpuPlugin"
  cluster_id                       = oci_containerengine_cluster.voxflow.id
  remove_addon_resources_on_delete = true
  override_existing                = true
}

# The Cluster Autoscaler add-on, authenticating with workload identity as
# kube-system/cluster-autoscaler (policy in iam_platform.tf). `nodes` is MIN:MAX:NODE_POOL_OCID,
# comma-separated: the gpu pool scales 1..4 on pending GPU pods, the cpu pool 3..6.
resource "oci_containerengine_addon" "cluster_autoscaler" {
  addon_name                       = "ClusterAutoscaler"
  cluster_id                       = oci_containerengine_cluster.voxflow.id
  remove_addon_resources_on_delete = true

  configurations {
    key   = "authType"
    value = "workload"
  }

  configurations {
    key   = "nodes"
    value = "${var.gpu_pool_min_size}:${var.gpu_pool_max_size}:${oci_containerengine_node_pool.gpu.id},${var.cpu_pool_min_size}:${var.cpu_pool_max_size}:${oci_containerengine_node_pool.cpu.id}"
  }

  configurations {
    key   = "numOfReplicas"
    value = "1"
  }

  # Keep the autoscaler itself on the cpu pool.
  configurations {
    key   = "nodeSelectors"
    value = jsonencode({ (local.pool_label_key) = local.cpu_pool_label })
  }

  depends_on = [oci_identity_policy.cluster_autoscaler]

  lifecycle {
    precondition {
      condition     = var.gpu_pool_min_size <= var.gpu_pool_max_size && var.cpu_pool_min_size <= var.cpu_pool_max_size
      error_message = "Each pool's min size must not exceed its max size."
    }
  }
}
