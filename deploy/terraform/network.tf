# One VCN, four regional subnets:
#   api_endpoint  (public)  the Kubernetes API endpoint, reachable from kubernetes_api_allowed_cidrs
#   load_balancer (public)  the web Service's flexible load balancer
#   workers       (private) both node pools; out through the NAT gateway, Oracle services through
#                           the service gateway (OCIR, Object Storage, Vault, OKE)
#   database      (private) OCI Database with PostgreSQL, reachable only from the workers
# Rules follow OKE's "Network Resource Configuration" for flannel-overlay clusters; the cloud
# controller manager adds the load balancer's own listener rules when it creates the LB.

data "oci_core_services" "all" {
  filter {
    name   = "name"
    values = ["All .* Services In Oracle Services Network"]
    regex  = true
  }
}

locals {
  oracle_services      = data.oci_core_services.all.services[0]
  oracle_services_cidr = data.oci_core_services.all.services[0].cidr_block
}

resource "oci_core_vcn" "voxflow" {
  compartment_id = var.compartment_ocid
  cidr_blocks    = [var.vcn_cidr]
  display_name   = "${var.name_prefix}-vcn"
  dns_label      = "voxflow"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_internet_gateway" "voxflow" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-igw"
  enabled        = true
  freeform_tags  = var.freeform_tags
}

resource "oci_core_nat_gateway" "voxflow" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-nat"
  freeform_tags  = var.freeform_tags
}

resource "oci_core_service_gateway" "voxflow" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-sgw"
  freeform_tags  = var.freeform_tags

  services {
    service_id = local.oracle_services.id
  }
}

# ---------------------------------------------------------------- route tables

resource "oci_core_route_table" "public" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-public"
  freeform_tags  = var.freeform_tags

  route_rules {
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_internet_gateway.voxflow.id
  }
}

resource "oci_core_route_table" "workers" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-workers"
  freeform_tags  = var.freeform_tags

  route_rules {
    destination       = "0.0.0.0/0"
    destination_type  = "CIDR_BLOCK"
    network_entity_id = oci_core_nat_gateway.voxflow.id
  }

  route_rules {
    destination       = local.oracle_services_cidr
    destination_type  = "SERVICE_CIDR_BLOCK"
    network_entity_id = oci_core_service_gateway.voxflow.id
  }
}

resource "oci_core_route_table" "database" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-database"
  freeform_tags  = var.freeform_tags

  route_rules {
    destination       = local.oracle_services_cidr
    destination_type  = "SERVICE_CIDR_BLOCK"
    network_entity_id = oci_core_service_gateway.voxflow.id
  }
}

# ---------------------------------------------------------------- security lists

resource "oci_core_security_list" "api_endpoint" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-api-endpoint"
  freeform_tags  = var.freeform_tags

  dynamic "ingress_security_rules" {
    for_each = var.kubernetes_api_allowed_cidrs
    content {
      description = "kubectl and CI"
      protocol    = "6"
      source      = ingress_security_rules.value
      source_type = "CIDR_BLOCK"
      tcp_options {
        min = 6443
        max = 6443
      }
    }
  }

  ingress_security_rules {
    description = "kubelets to the API server"
    protocol    = "6"
    source      = var.subnet_cidrs.workers
    source_type = "CIDR_BLOCK"
    tcp_options {
      min = 6443
      max = 6443
    }
  }

  ingress_security_rules {
    description = "kubelets to the control plane proxy"
    protocol    = "6"
    source      = var.subnet_cidrs.workers
    source_type = "CIDR_BLOCK"
    tcp_options {
      min = 12250
      max = 12250
    }
  }

  ingress_security_rules {
    description = "path MTU discovery"
    protocol    = "1"
    source      = var.subnet_cidrs.workers
    source_type = "CIDR_BLOCK"
    icmp_options {
      type = 3
      code = 4
    }
  }

  egress_security_rules {
    description      = "OKE control plane to Oracle services"
    protocol         = "6"
    destination      = local.oracle_services_cidr
    destination_type = "SERVICE_CIDR_BLOCK"
    tcp_options {
      min = 443
      max = 443
    }
  }

  egress_security_rules {
    description      = "API server to kubelets and pods"
    protocol         = "6"
    destination      = var.subnet_cidrs.workers
    destination_type = "CIDR_BLOCK"
  }

  egress_security_rules {
    description      = "path MTU discovery"
    protocol         = "1"
    destination      = var.subnet_cidrs.workers
    destination_type = "CIDR_BLOCK"
    icmp_options {
      type = 3
      code = 4
    }
  }
}

resource "oci_core_security_list" "workers" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-workers"
  freeform_tags  = var.freeform_tags

  ingress_security_rules {
    description = "node to node and pod to pod (flannel VXLAN)"
    protocol    = "all"
    source      = var.subnet_cidrs.workers
    source_type = "CIDR_BLOCK"
  }

  ingress_security_rules {
    description = "control plane to kubelets and webhooks"
    protocol    = "6"
    source      = var.subnet_cidrs.api_endpoint
    source_type = "CIDR_BLOCK"
  }

  ingress_security_rules {
    description = "load balancer to Service node ports (and externalTrafficPolicy: Local health checks)"
    protocol    = "6"
    source      = var.subnet_cidrs.load_balancer
    source_type = "CIDR_BLOCK"
    tcp_options {
      min = 30000
      max = 32767
    }
  }

  ingress_security_rules {
    description = "load balancer to kube-proxy health check"
    protocol    = "6"
    source      = var.subnet_cidrs.load_balancer
    source_type = "CIDR_BLOCK"
    tcp_options {
      min = 10256
      max = 10256
    }
  }

  ingress_security_rules {
    description = "path MTU discovery"
    protocol    = "1"
    source      = "0.0.0.0/0"
    source_type = "CIDR_BLOCK"
    icmp_options {
      type = 3
      code = 4
    }
  }

  egress_security_rules {
    description      = "everything out: NAT to the internet (Hugging Face, Docker Hub), SGW to Oracle services, the VCN"
    protocol         = "all"
    destination      = "0.0.0.0/0"
    destination_type = "CIDR_BLOCK"
  }

  egress_security_rules {
    description      = "Oracle services through the service gateway (OCIR, Object Storage, Vault)"
    protocol         = "6"
    destination      = local.oracle_services_cidr
    destination_type = "SERVICE_CIDR_BLOCK"
  }
}

resource "oci_core_security_list" "load_balancer" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-load-balancer"
  freeform_tags  = var.freeform_tags

  dynamic "ingress_security_rules" {
    for_each = var.web_allowed_cidrs
    content {
      description = "HTTPS to the web load balancer"
      protocol    = "6"
      source      = ingress_security_rules.value
      source_type = "CIDR_BLOCK"
      tcp_options {
        min = 443
        max = 443
      }
    }
  }

  dynamic "ingress_security_rules" {
    for_each = var.web_allowed_cidrs
    content {
      description = "HTTP to the web load balancer"
      protocol    = "6"
      source      = ingress_security_rules.value
      source_type = "CIDR_BLOCK"
      tcp_options {
        min = 80
        max = 80
      }
    }
  }

  egress_security_rules {
    description      = "load balancer to Service node ports"
    protocol         = "6"
    destination      = var.subnet_cidrs.workers
    destination_type = "CIDR_BLOCK"
    tcp_options {
      min = 30000
      max = 32767
    }
  }

  egress_security_rules {
    description      = "load balancer to kube-proxy health check"
    protocol         = "6"
    destination      = var.subnet_cidrs.workers
    destination_type = "CIDR_BLOCK"
    tcp_options {
      min = 10256
      max = 10256
    }
  }
}

resource "oci_core_security_list" "database" {
  compartment_id = var.compartment_ocid
  vcn_id         = oci_core_vcn.voxflow.id
  display_name   = "${var.name_prefix}-database"
  freeform_tags  = var.freeform_tags

  # Pods reach PostgreSQL from their node's address (flannel masquerades pod traffic that
  # leaves the overlay), so the workers' CIDR is the only source.
  ingress_security_rules {
    description = "PostgreSQL from the worker nodes"
    protocol    = "6"
    source      = var.subnet_cidrs.workers
    source_type = "CIDR_BLOCK"
    tcp_options {
      min = 5432
      max = 5432
    }
  }

  egress_security_rules {
    description      = "Oracle services (backups, monitoring)"
    protocol         = "6"
    destination      = local.oracle_services_cidr
    destination_type = "SERVICE_CIDR_BLOCK"
  }
}

# ---------------------------------------------------------------- subnets

resource "oci_core_subnet" "api_endpoint" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.voxflow.id
  cidr_block                 = var.subnet_cidrs.api_endpoint
  display_name               = "${var.name_prefix}-api-endpoint"
  dns_label                  = "api"
  prohibit_public_ip_on_vnic = false
  route_table_id             = oci_core_route_table.public.id
  security_list_ids          = [oci_core_security_list.api_endpoint.id]
  freeform_tags              = var.freeform_tags
}

resource "oci_core_subnet" "workers" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.voxflow.id
  cidr_block                 = var.subnet_cidrs.workers
  display_name               = "${var.name_prefix}-workers"
  dns_label                  = "workers"
  prohibit_public_ip_on_vnic = true
  route_table_id             = oci_core_route_table.workers.id
  security_list_ids          = [oci_core_security_list.workers.id]
  freeform_tags              = var.freeform_tags
}

resource "oci_core_subnet" "load_balancer" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.voxflow.id
  cidr_block                 = var.subnet_cidrs.load_balancer
  display_name               = "${var.name_prefix}-load-balancer"
  dns_label                  = "lb"
  prohibit_public_ip_on_vnic = false
  route_table_id             = oci_core_route_table.public.id
  security_list_ids          = [oci_core_security_list.load_balancer.id]
  freeform_tags              = var.freeform_tags
}

resource "oci_core_subnet" "database" {
  compartment_id             = var.compartment_ocid
  vcn_id                     = oci_core_vcn.voxflow.id
  cidr_block                 = var.subnet_cidrs.database
  display_name               = "${var.name_prefix}-database"
  dns_label                  = "db"
  prohibit_public_ip_on_vnic = true
  route_table_id             = oci_core_route_table.database.id
  security_list_ids          = [oci_core_security_list.database.id]
  freeform_tags              = var.freeform_tags
}
