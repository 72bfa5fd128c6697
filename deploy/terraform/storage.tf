# The two buckets of deploy/README.md step 2. Neither is public: users download renders through
# pre-authenticated requests, and TorchServe's init container reads models with its workload
# identity.

data "oci_objectstorage_namespace" "this" {
  compartment_id = var.tenancy_ocid
}

resource "oci_objectstorage_bucket" "artifacts" {
  compartment_id = var.compartment_ocid
  namespace      = local.object_namespace
  name           = local.artifacts_bucket
  storage_tier   = "Standard"
  access_type    = "NoPublicAccess"
  versioning     = "Disabled"
  freeform_tags  = var.freeform_tags
}

resource "oci_objectstorage_bucket" "models" {
  compartment_id = var.compartment_ocid
  namespace      = local.object_namespace
  name           = local.models_bucket
  storage_tier   = "Standard"
  access_type    = "NoPublicAccess"
  versioning     = "Disabled"
  freeform_tags  = var.freeform_tags
}

# Multipart uploads that never committed (a worker killed mid-upload) are dropped after a day;
# finished renders under projects/<id>/ go to the Archive tier after artifacts_archive_after_days.
# Archived objects must be restored (hours) before a pre-authenticated link can serve them.
resource "oci_objectstorage_object_lifecycle_policy" "artifacts" {
  namespace = local.object_namespace
  bucket    = oci_objectstorage_bucket.artifacts.name

  rules {
    name        = "abort-uncommitted-multipart-uploads"
    action      = "ABORT"
    target      = "multipart-uploads"
    time_amount = 1
    time_unit   = "DAYS"
    is_enabled  = true
  }

  rules {
    name        = "archive-old-renders"
    action      = "ARCHIVE"
    target      = "objects"
    time_amount = var.artifacts_archive_after_days
    time_unit   = "DAYS"
    is_enabled  = true

    object_name_filter {
      inclusion_prefixes = ["projects/"]
    }
  }

  depends_on = [oci_identity_policy.object_storage_lifecycle]
}
