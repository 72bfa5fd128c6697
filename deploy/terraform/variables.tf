# ---------------------------------------------------------------- tenancy and region

variable "tenancy_ocid" {
  description = "OCID of the tenancy (dynamic groups live there, and the Object Storage namespace is looked up from it)."
  type        = string
}

variable "compartment_ocid" {
  description = "OCID of the compartment that holds everything Voxflow runs on."
  type        = string
}

variable "region" {
  description = "Region for all resources. deploy/k8s assumes eu-frankfurt-1 (VOXFLOW_OCI_REGION, the SecretStores, fra.ocir.io)."
  type        = string
  default     = "eu-frankfurt-1"
}

variable "home_region" {
  description = "The tenancy's home region: IAM (dynamic groups, policies) can only be written there."
  type        = string
  default     = "eu-frankfurt-1"
}

variable "name_prefix" {
  description = "Prefix for display names."
  type        = string
  default     = "voxflow"
}

variable "freeform_tags" {
  description = "Free-form tags put on every resource that takes them."
  type        = map(string)
  default     = { "app" = "voxflow" }
}

# ---------------------------------------------------------------- network

variable "vcn_cidr" {
  description = "CIDR of the VCN."
  type        = string
  default     = "10.20.0.0/16"
}

variable "subnet_cidrs" {
  description = "CIDRs of the four regional subnets, inside vcn_cidr."
  type = object({
    api_endpoint  = string
    workers       = string
    load_balancer = string
    database      = string
  })
  default = {
    api_endpoint  = "10.20.0.0/28"
    load_balancer = "10.20.1.0/24"
    database      = "10.20.2.0/24"
    workers       = "10.20.16.0/20"
  }
}

variable "kubernetes_api_allowed_cidrs" {
  description = "Who may reach the Kubernetes API endpoint (TCP 6443), e.g. your office or VPN egress. Required: there is no safe default."
  type        = list(string)

  validation {
    condition     = length(var.kubernetes_api_allowed_cidrs) > 0
    error_message = "Give at least one CIDR that may reach the Kubernetes API (6443)."
  }
}

variable "web_allowed_cidrs" {
  description = "Who may reach the web load balancer (TCP 80 and 443)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# ---------------------------------------------------------------- OKE

variable "kubernetes_version" {
  description = "OKE Kubernetes version for the control plane and both node pools (the 1.33 line; tests/deploy/k8s.py KUBERNETES_VERSION). `oci ce cluster-options get --cluster-option-id all` lists what is offered."
  type        = string
  default     = "v1.33.1"

  validation {
    condition     = can(regex("^v1\\.33\\.[0-9]+$", var.kubernetes_version))
    error_message = "The manifests are validated against Kubernetes 1.33: use a v1.33.x version."
  }
}

variable "ssh_public_key" {
  description = "Optional SSH public key for the worker nodes (empty: none)."
  type        = string
  default     = ""
}

variable "cpu_pool_shape" {
  description = "Shape of the cpu pool (web, workers, TorchServe CPU, RabbitMQ)."
  type        = string
  default     = "VM.Standard.E5.Flex"
}

variable "cpu_pool_ocpus" {
  description = "OCPUs per cpu node (flex shapes only)."
  type        = number
  default     = 8
}

variable "cpu_pool_memory_gbs" {
  description = "Memory per cpu node in GB (flex shapes only)."
  type        = number
  default     = 64
}

variable "cpu_pool_min_size" {
  description = "Fewest cpu nodes; also the pool's initial size. The Cluster Autoscaler keeps the pool within min..max."
  type        = number
  default     = 3
}

variable "cpu_pool_max_size" {
  description = "Most cpu nodes the Cluster Autoscaler may add up to."
  type        = number
  default     = 6

  validation {
    condition     = var.cpu_pool_max_size >= 1
    error_message = "cpu_pool_max_size must be at least 1."
  }
}

variable "cpu_pool_boot_volume_gbs" {
  description = "Boot volume per cpu node in GB (images and emptyDirs live there)."
  type        = number
  default     = 100
}

variable "cpu_image_id" {
  description = "OKE worker image OCID for the cpu pool. Empty: the newest Oracle Linux 8 OKE image for kubernetes_version that OKE offers for this cluster."
  type        = string
  default     = ""
}

variable "gpu_pool_shape" {
  description = "Shape of the gpu pool. TorchServe GPU's scheduling rules must accept it (tests/deploy/test_terraform.py checks the default)."
  type        = string
  default     = "VM.GPU.A10.1"
}

variable "gpu_pool_min_size" {
  description = "Fewest gpu nodes; also the pool's initial size."
  type        = number
  default     = 1

  validation {
    condition     = var.gpu_pool_min_size >= 0
    error_message = "gpu_pool_min_size cannot be negative."
  }
}

variable "gpu_pool_max_size" {
  description = "Most gpu nodes the Cluster Autoscaler may add up to."
  type        = number
  default     = 4

  validation {
    condition     = var.gpu_pool_max_size >= 1
    error_message = "gpu_pool_max_size must be at least 1."
  }
}

variable "gpu_pool_boot_volume_gbs" {
  description = "Boot volume per gpu node in GB: the CUDA TorchServe image alone is several GB."
  type        = number
  default     = 200

  validation {
    condition     = var.gpu_pool_boot_volume_gbs >= 50
    error_message = "OKE boot volumes are at least 50 GB."
  }
}

variable "gpu_image_id" {
  description = "OKE GPU worker image OCID (it carries the NVIDIA driver). Empty: the newest Oracle Linux 8 GPU OKE image for kubernetes_version."
  type        = string
  default     = ""
}

variable "gpu_availability_domains" {
  description = "Availability domains (names) for gpu nodes, where your GPU shape has capacity. Empty: all of the region's ADs."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------- registry

variable "ocir_compartment_ocid" {
  description = "Compartment of the OCI Registry repositories the nodes pull from. Empty: compartment_ocid."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------- object storage

variable "artifacts_archive_after_days" {
  description = "Renders under projects/ in the artifacts bucket move to the Archive tier after this many days."
  type        = number
  default     = 90

  validation {
    condition     = var.artifacts_archive_after_days >= 1
    error_message = "artifacts_archive_after_days must be at least 1."
  }
}

# ---------------------------------------------------------------- PostgreSQL

variable "psql_shape" {
  description = "Shape of the OCI Database with PostgreSQL instances (`oci psql shape-summary list-shapes`)."
  type        = string
  default     = "PostgreSQL.VM.Standard.E5.Flex"
}

variable "psql_ocpus" {
  description = "OCPUs per PostgreSQL instance."
  type        = number
  default     = 2
}

variable "psql_memory_gbs" {
  description = "Memory per PostgreSQL instance in GB."
  type        = number
  default     = 32
}

variable "psql_instance_count" {
  description = "PostgreSQL instances (1 primary + read replicas)."
  type        = number
  default     = 1
}

variable "psql_admin_username" {
  description = "Administrator of the DB system (creates the voxflow and temporal users and databases, README step 4)."
  type        = string
  default     = "voxflow_admin"
}

# ---------------------------------------------------------------- secrets

variable "amqp_username" {
  description = "RabbitMQ user of the Voxflow processes (vault secret voxflow-amqp-username)."
  type        = string
  default     = "voxflow-app"
}

variable "keda_username" {
  description = "RabbitMQ monitoring user KEDA polls queue lengths with (vault secret voxflow-keda-username)."
  type        = string
  default     = "voxflow-keda"
}

variable "oci_config_file" {
  description = "Only for VOXFLOW_OCI_AUTH=config: an OCI CLI config file (key_file=/etc/voxflow/oci/oci_api_key.pem). Empty: a placeholder is stored, so the ExternalSecret still syncs."
  type        = string
  default     = ""
  sensitive   = true
}

variable "oci_api_key_pem" {
  description = "Only for VOXFLOW_OCI_AUTH=config: the API signing key the config names. Empty: a placeholder."
  type        = string
  default     = ""
  sensitive   = true
}

# ---------------------------------------------------------------- certificate

variable "web_certificate_mode" {
  description = "IMPORTED: a certificate you bring (PEMs below). ISSUED_BY_INTERNAL_CA: issued by an OCI private CA (not trusted by browsers). NONE: no certificate."
  type        = string
  default     = "IMPORTED"

  validation {
    condition     = contains(["IMPORTED", "ISSUED_BY_INTERNAL_CA", "NONE"], var.web_certificate_mode)
    error_message = "web_certificate_mode must be IMPORTED, ISSUED_BY_INTERNAL_CA or NONE."
  }
}

variable "web_hostname" {
  description = "The web app's DNS name (common name of an issued certificate)."
  type        = string
  default     = ""
}

variable "web_certificate_pem" {
  description = "IMPORTED: the leaf certificate (PEM). Pass it as TF_VAR_web_certificate_pem=\"$(cat cert.pem)\"."
  type        = string
  default     = ""
  sensitive   = true
}

variable "web_certificate_chain_pem" {
  description = "IMPORTED: the intermediate chain (PEM)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "web_private_key_pem" {
  description = "IMPORTED: the private key (PEM)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "certificate_authority_id" {
  description = "ISSUED_BY_INTERNAL_CA: OCID of the OCI Certificates private CA that issues the web certificate."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------- logging

variable "log_retention_days" {
  description = "Retention of the custom and service logs, in 30-day steps (30..180)."
  type        = number
  default     = 30

  validation {
    condition     = contains([30, 60, 90, 120, 150, 180], var.log_retention_days)
    error_message = "log_retention_days must be 30, 60, 90, 120, 150 or 180."
  }
}
