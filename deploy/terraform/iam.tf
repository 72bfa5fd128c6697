# Least-privilege IAM for the pods, through OKE workload identity: each statement names one
# Kubernetes service account in the voxflow namespace of this cluster, and one bucket.
# tests/deploy/test_runs_as_rendered.py replays the real processes against these statements
# (tests/deploy/iam.py evaluates them in the local Object Storage endpoint), so a missing
# grant fails a test instead of a pod.
#
# What each component's code does with Object Storage (voxflow/artifacts/oci.py):
#   every app pod   GetNamespace, HeadBucket (store.check() at start)
#   web             PutObject (uploads, previews), GetObject/HeadObject (downloads, pages),
#                   CreatePreauthenticatedRequest (download links)
#   temporal-worker GetObject/HeadObject/ListObjects, PutObject and multipart (chapters, books)
#   inference       HeadObject (skip stored audio), PutObject (segment audio)
#   relay           nothing (database and Temporal only)
#   fetch-models    ListObjects and GetObject on the models bucket (init containers)
locals {
  workload = "request.principal.type = 'workload', request.principal.cluster_id = '${oci_containerengine_cluster.voxflow.id}', request.principal.namespace = '${local.app_namespace}'"

  artifacts = "target.bucket.name = '${local.artifacts_bucket}'"
  models    = "target.bucket.name = '${local.models_bucket}'"
  in_comp   = "in compartment id ${var.compartment_ocid}"

  # Writers may create and overwrite, never delete: content-addressed keys are rewritten at
  # most with the same bytes, and the bucket's lifecycle rule aborts stale multipart uploads.
  workload_policy_statements = [
    # web
    "Allow any-user to inspect buckets ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-web', ${local.artifacts}}",
    "Allow any-user to use objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-web', ${local.artifacts}}",
    "Allow any-user to manage objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-web', ${local.artifacts}, request.permission = 'OBJECT_CREATE'}",
    "Allow any-user to manage buckets ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-web', ${local.artifacts}, request.permission = 'PAR_MANAGE'}",
    # temporal-worker
    "Allow any-user to inspect buckets ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-temporal-worker', ${local.artifacts}}",
    "Allow any-user to use objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-temporal-worker', ${local.artifacts}}",
    "Allow any-user to manage objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-temporal-worker', ${local.artifacts}, request.permission = 'OBJECT_CREATE'}",
    # inference workers
    "Allow any-user to inspect buckets ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-inference', ${local.artifacts}}",
    "Allow any-user to use objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-inference', ${local.artifacts}}",
    "Allow any-user to manage objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-inference', ${local.artifacts}, request.permission = 'OBJECT_CREATE'}",
    # TorchServe's fetch-models init containers
    "Allow any-user to inspect buckets ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-torchserve', ${local.models}}",
    "Allow any-user to read objects ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-torchserve', ${local.models}}",
    # External Secrets Operator: this vault only
    "Allow any-user to read secret-family ${local.in_comp} where all {${local.workload}, request.principal.service_account = 'voxflow-external-secrets', target.vault.id = '${oci_kms_vault.voxflow.id}'}",
    "Allow any-user to read secret-family ${local.in_comp} where all {request.principal.type = 'workload', request.principal.cluster_id = '${oci_containerengine_cluster.voxflow.id}', request.principal.namespace = '${local.temporal_namespace}', request.principal.service_account = 'temporal-external-secrets', target.vault.id = '${oci_kms_vault.voxflow.id}'}",
  ]

  # The Object Storage namespace is a tenancy-level resource: reading its name needs a
  # statement in the tenancy's root compartment (the store looks it up at start).
  tenancy_policy_statements = [
    "Allow any-user to read objectstorage-namespaces in tenancy where all {${local.workload}}",
  ]
}

resource "oci_identity_policy" "workloads" {
  provider       = oci.home
  compartment_id = var.compartment_ocid
  name           = "voxflow-workloads"
  description    = "Voxflow pods (OKE workload identity): least privilege per service account"
  statements     = local.workload_policy_statements
}

resource "oci_identity_policy" "workloads_tenancy" {
  provider       = oci.home
  compartment_id = var.tenancy_ocid
  name           = "voxflow-workloads-namespace"
  description    = "Voxflow pods may read the Object Storage namespace name"
  statements     = local.tenancy_policy_statements
}
