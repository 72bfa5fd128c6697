# What the manifests need after `terraform apply` (README.md, "Outputs → manifests").

output "cluster_id" {
  description = "OKE cluster OCID: `oci ce cluster create-kubeconfig --cluster-id ...`, and request.principal.cluster_id in the workload policies."
  value       = oci_containerengine_cluster.voxflow.id
}

output "cpu_node_pool_id" {
  description = "OCID of the cpu node pool (also named in the Cluster Autoscaler add-on)."
  value       = oci_containerengine_node_pool.cpu.id
}

output "gpu_node_pool_id" {
  description = "OCID of the gpu node pool (also named in the Cluster Autoscaler add-on)."
  value       = oci_containerengine_node_pool.gpu.id
}

output "vault_id" {
  description = "Vault OCID: replaces ocid1.vault.oc1.eu-frankfurt-1.replace-with-your-vault-ocid in deploy/k8s/base/secrets.yaml and deploy/k8s/temporal-secrets/secrets.yaml."
  value       = oci_kms_vault.voxflow.id
}

output "vault_key_id" {
  description = "Master encryption key of the vault's secrets."
  value       = oci_kms_key.voxflow.id
}

output "vault_secret_ids" {
  description = "Secret name → secret OCID, for every secret the ExternalSecrets read."
  value       = { for name, secret in oci_vault_secret.voxflow : name => secret.id }
}

output "artifacts_bucket" {
  description = "VOXFLOW_OCI_BUCKET of the voxflow-config ConfigMap."
  value       = oci_objectstorage_bucket.artifacts.name
}

output "models_bucket" {
  description = "VOXFLOW_OCI_BUCKET of the TorchServe fetch-models init containers."
  value       = oci_objectstorage_bucket.models.name
}

output "object_storage_namespace" {
  description = "Object Storage namespace (the TENANCY-NAMESPACE of the fra.ocir.io/<namespace>/voxflow/... image paths)."
  value       = local.object_namespace
}

output "app_namespace" {
  description = "Kubernetes namespace of Voxflow (request.principal.namespace in the workload policies)."
  value       = local.app_namespace
}

output "web_certificate_id" {
  description = "OCID of the web certificate in OCI Certificates (null with web_certificate_mode = NONE)."
  value       = try(oci_certificates_management_certificate.web[0].id, null)
}

output "psql_endpoint" {
  description = "PostgreSQL primary endpoint FQDN: the host in voxflow-database-url (already stored) and in deploy/temporal/values.yaml."
  value       = local.psql_endpoint.fqdn
}

output "psql_port" {
  description = "PostgreSQL port."
  value       = local.psql_endpoint.port
}

output "psql_ca_certificate" {
  description = "CA certificate of the PostgreSQL endpoint (for sslmode=verify-full)."
  value       = data.oci_psql_db_system_connection_detail.voxflow.ca_certificate
}

output "log_group_id" {
  description = "OCI Logging log group; enable the web load balancer's access/error logs in it."
  value       = oci_logging_log_group.voxflow.id
}

output "load_balancer_subnet_id" {
  description = "Subnet of the web load balancer (already the cluster's default service LB subnet)."
  value       = oci_core_subnet.load_balancer.id
}
