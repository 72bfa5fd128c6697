"""OCI Object Storage as the artifact store: what pods on OKE use instead of a local folder.

Objects are named by the artifact key itself. Small writes are one PutObject; anything larger than
the part size goes through the SDK's UploadManager as a parallel multipart upload. Downloads for
users are pre-authenticated requests (PARs): time-limited links that need no OCI credentials.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import io
import mimetypes
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import oci
from circuitbreaker import CircuitBreakerError
from oci._vendor.requests.exceptions import RequestException as _RequestException
from oci.object_storage import ObjectStorageClient, UploadManager
from oci.object_storage.models import CreatePreauthenticatedRequestDetails

from voxflow.artifacts.base import ArtifactNotFound, validate_key
from voxflow.errors import ConfigError, ServiceUnavailable, VoxflowError

if TYPE_CHECKING:
    from voxflow.settings import Settings

MIB = 1024 * 1024
_CHUNK = MIB
_TIMEOUT = (10.0, 120.0)  # (connect, read) seconds for every Object Storage call.
# The SDK's transport errors: its own subclasses and the vendored requests' originals.
_TRANSPORT_ERRORS = (_RequestException, oci.exceptions.ConnectTimeout)


class OCIObjectStore:
    """Artifacts as objects in one bucket; every call goes through the real oci SDK."""

    def __init__(
        self,
        client: ObjectStorageClient,
        namespace: str,
        bucket: str,
        *,
        part_size: int = 128 * MIB,
        par_expiry_s: int = 3600,
        parallel_parts: int = 3,
    ) -> None:
        if part_size < MIB:
            raise ConfigError(f"OCI multipart part size must be at least 1 MiB, got {part_size}")
        if par_expiry_s < 60:
            raise ConfigError(f"OCI link lifetime must be at least 60 s, got {par_expiry_s}")
        self.client = client
        self.namespace = namespace
        self.bucket = bucket
        self.part_size = part_size
        self.par_expiry_s = par_expiry_s
        self._uploads = UploadManager(
            client, allow_parallel_uploads=True, parallel_process_count=parallel_parts
        )
        self._links: dict[str, tuple[str, float]] = {}
        self._links_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OCIObjectStore(namespace={self.namespace!r}, bucket={self.bucket!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> OCIObjectStore:
        """The store `VOXFLOW_OCI_*` describes, checked to exist and to accept our credentials."""
        if not settings.oci_bucket:
            raise ConfigError("VOXFLOW_OCI_BUCKET is not set: name the bucket for artifacts")
        client = make_client(settings)
        namespace = settings.oci_namespace or _fetch_namespace(client)
        store = cls(
            client,
            namespace,
            settings.oci_bucket,
            part_size=settings.oci_part_size_mb * MIB,
            par_expiry_s=settings.oci_par_expiry_s,
        )
        store.check()
        return store

    # ------------------------------------------------------------------ protocol

    def check(self) -> None:
        """Fail now, with a clear message, when the bucket is missing or the credentials refused."""
        with self._errors():
            try:
                self.client.head_bucket(self.namespace, self.bucket)
            except oci.exceptions.ServiceError as error:
                if error.status == 404:  # HEAD has no body to tell bucket from namespace.
                    raise self._missing_bucket() from None
                raise

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        validate_key(key)
        if isinstance(data, bytes | bytearray | memoryview):
            self._put_bytes(key, bytes(data))
            return
        # Read the whole stream before the first request: a source that fails mid-read then
        # leaves nothing behind, neither an object nor an open multipart upload.
        with _Spool(self.part_size) as spool:
            spool.fill(data)
            if spool.path is None:
                self._put_bytes(key, spool.getvalue())
            else:
                self._upload_file(key, spool.path)

    def put_file(self, key: str, path: str | Path) -> None:
        validate_key(key)
        if not Path(path).is_file():
            raise FileNotFoundError(f"no file {path} to store under {key!r}")
        self._upload_file(key, Path(path))

    def get(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def get_range(self, key: str, start: int, end: int | None = None) -> bytes:
        """Bytes `start`..`end` inclusive (HTTP Range semantics); to the end when `end` is None."""
        validate_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"bad byte range {start}-{end}")
        spec = f"bytes={start}-{'' if end is None else end}"
        with self._errors(key):
            response = self.client.get_object(self.namespace, self.bucket, key, range=spec)
        return response.data.content

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._errors(key):
            try:
                self.client.head_object(self.namespace, self.bucket, key)
            except oci.exceptions.ServiceError as error:
                if error.status == 404:
                    return False
                raise
        return True

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        validate_key(key)
        with self._errors(key):
            response = self.client.get_object(self.namespace, self.bucket, key)
        body = response.data
        try:
            yield body.raw
        finally:
            body.close()

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._errors(key):
            try:
                self.client.delete_object(self.namespace, self.bucket, key)
            except oci.exceptions.ServiceError as error:
                if error.status != 404 or error.code == "BucketNotFound":
                    raise
        with self._links_lock:
            self._links.pop(key, None)

    def list(self, prefix: str = "") -> Iterator[str]:
        validate_key(prefix, prefix=True)
        return self._list(prefix)

    def url(self, key: str) -> str:
        """A pre-authenticated read link; reused while more than half its lifetime is left."""
        validate_key(key)
        now = time.monotonic()
        with self._links_lock:
            cached = self._links.get(key)
            if cached and cached[1] - now > self.par_expiry_s / 2:
                return cached[0]
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.par_expiry_s)
        details = CreatePreauthenticatedRequestDetails(
            name=f"voxflow-{uuid.uuid4().hex}",
            object_name=key,
            access_type="ObjectRead",
            time_expires=expires,
        )
        with self._errors(key):
            par = self.client.create_preauthenticated_request(
                self.namespace, self.bucket, details
            ).data
        link = par.full_path or self.client.base_client.endpoint.rstrip("/") + par.access_uri
        with self._links_lock:
            self._links[key] = (link, now + self.par_expiry_s)
        return link

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    # ------------------------------------------------------------------ extras

    # ------------------------------------------------------------------ internals

    def _put_bytes(self, key: str, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode("ascii")
        with self._errors(key):
            self.client.put_object(
                self.namespace,
                self.bucket,
                key,
                data,
                content_md5=md5,
                content_type=_content_type(key),
            )

    def _upload_file(self, key: str, path: Path) -> None:
        with self._errors(key):
            self._uploads.upload_file(
                self.namespace,
                self.bucket,
                key,
                str(path),
                part_size=self.part_size,
                content_type=_content_type(key),
            )

    def _list(self, prefix: str) -> Iterator[str]:
        start: str | None = None
        while True:
            with self._errors():
                page = self.client.list_objects(
                    self.namespace,
                    self.bucket,
                    prefix=prefix or None,
                    start=start,
                    limit=1000,
                    fields="name",
                ).data
            for summary in page.objects:
                yield summary.name
            if not page.next_start_with:
                return
            start = page.next_start_with

    def _missing_bucket(self) -> ConfigError:
        return ConfigError(
            f"OCI bucket {self.bucket!r} does not exist in namespace {self.namespace!r}, or "
            "this principal may not use it: create it or grant access, or fix VOXFLOW_OCI_BUCKET "
            "/ VOXFLOW_OCI_NAMESPACE"
        )

    @contextlib.contextmanager
    def _errors(self, key: str | None = None) -> Iterator[None]:
        """Turn SDK and transport errors into one-line Voxflow errors that say what to fix."""
        try:
            yield
        except oci.exceptions.ServiceError as error:
            raise self._translate(error, key) from None
        except oci.exceptions.MultipartUploadError as error:
            causes = [c for c in error.error_causes if isinstance(c, oci.exceptions.ServiceError)]
            if causes:
                raise self._translate(causes[0], key) from None
            raise ServiceUnavailable(
                f"multipart upload of {key!r} to OCI failed: {error.error_causes or error}"
            ) from None
        except CircuitBreakerError as error:
            raise ServiceUnavailable(
                "OCI Object Storage failed repeatedly and the SDK stopped calling it for "
                f"{error._circuit_breaker.RECOVERY_TIMEOUT} s (circuit breaker open): retry later"
            ) from None
        except _TRANSPORT_ERRORS as error:
            endpoint = self.client.base_client.endpoint
            raise ServiceUnavailable(
                f"OCI Object Storage at {endpoint} does not answer ({type(error).__name__}); "
                "check the network and VOXFLOW_OCI_ENDPOINT / the region"
            ) from None

    def _translate(self, error: oci.exceptions.ServiceError, key: str | None) -> VoxflowError:
        code = error.code or ""
        if error.status == 404 and code == "BucketNotFound":
            return self._missing_bucket()
        if error.status == 404 and code == "NamespaceNotFound":
            return ConfigError(
                f"OCI namespace {self.namespace!r} does not exist: set VOXFLOW_OCI_NAMESPACE to "
                "the tenancy's Object Storage namespace (`oci os ns get`)"
            )
        if error.status == 404 and key is not None:
            return ArtifactNotFound(key)
        if error.status == 401:
            return ConfigError(
                "OCI Object Storage refused the credentials (401 NotAuthenticated): check "
                "VOXFLOW_OCI_AUTH and the key, fingerprint and user in the OCI config, or the "
                "dynamic group / workload identity policy"
            )
        if error.status == 403:
            return ConfigError(
                f"OCI Object Storage refused access to bucket {self.bucket!r} (403 "
                f"{code or 'Forbidden'}): grant this principal 'manage objects' on it"
            )
        if error.status == 429 or error.status >= 500:
            return ServiceUnavailable(
                f"OCI Object Storage is unavailable ({error.status} {code}): retry later"
            )
        return VoxflowError(f"OCI Object Storage said {error.status} {code}: {error.message}")


# ---------------------------------------------------------------------- clients and auth


def make_client(settings: Settings) -> ObjectStorageClient:
    """An ObjectStorageClient for `settings.oci_auth`: config file, instance or OKE workload."""
    signer: Any = None
    if settings.oci_auth == "config":
        config = _read_config(settings)
    else:
        signer = _principal_signer(settings.oci_auth)
        region = settings.oci_region or getattr(signer, "region", None)
        region = region or os.environ.get("OCI_RESOURCE_PRINCIPAL_REGION")
        if not region and not settings.oci_endpoint:
            raise ConfigError(
                f"OCI auth {settings.oci_auth!r} gave no region: set VOXFLOW_OCI_REGION"
            )
        config = {"region": region or "unset"}
    if settings.oci_region:
        config["region"] = settings.oci_region
    kwargs: dict[str, Any] = {
        "timeout": _TIMEOUT,
        "retry_strategy": oci.retry.DEFAULT_RETRY_STRATEGY,
    }
    if signer is not None:
        kwargs["signer"] = signer
    if settings.oci_endpoint:
        kwargs["service_endpoint"] = settings.oci_endpoint
    try:
        return ObjectStorageClient(config, **kwargs)
    except (oci.exceptions.InvalidConfig, oci.exceptions.InvalidPrivateKey, ValueError) as error:
        raise ConfigError(f"the OCI config cannot be used: {error}") from None


def _read_config(settings: Settings) -> dict[str, Any]:
    path = str(settings.oci_config_file or oci.config.DEFAULT_LOCATION)
    try:
        config = oci.config.from_file(path, settings.oci_profile)
        oci.config.validate_config(config)
    except oci.exceptions.ConfigFileNotFound:
        raise ConfigError(
            f"no OCI config file at {path}: set VOXFLOW_OCI_CONFIG_FILE, or use "
            "VOXFLOW_OCI_AUTH=instance_principal|workload_identity"
        ) from None
    except oci.exceptions.ProfileNotFound:
        raise ConfigError(
            f"profile {settings.oci_profile!r} is not in {path}: set VOXFLOW_OCI_PROFILE"
        ) from None
    except (oci.exceptions.InvalidConfig, oci.exceptions.InvalidKeyFilePath) as error:
        raise ConfigError(f"the OCI config {path} is invalid: {error}") from None
    return config


def _principal_signer(kind: str) -> Any:
    """The SDK's signer for an instance principal or an OKE workload identity."""
    signers = oci.auth.signers
    try:
        if kind == "instance_principal":
            return signers.InstancePrincipalsSecurityTokenSigner()
        if kind == "workload_identity":
            return signers.get_oke_workload_identity_resource_principal_signer()
    except Exception as error:  # The SDK raises many kinds here; all mean the same to a user.
        where = (
            "an OCI instance in a dynamic group with a policy for Object Storage"
            if kind == "instance_principal"
            else "an OKE enhanced cluster pod whose service account a policy names"
        )
        raise ConfigError(
            f"OCI {kind} authentication failed ({type(error).__name__}: {error}); it works "
            f"only on {where}"
        ) from None
    raise ConfigError(f"unknown VOXFLOW_OCI_AUTH {kind!r}")


def _fetch_namespace(client: ObjectStorageClient) -> str:
    try:
        return client.get_namespace().data
    except oci.exceptions.ServiceError as error:
        if error.status == 401:
            raise ConfigError(
                "OCI Object Storage refused the credentials (401 NotAuthenticated) while "
                "looking up the namespace: check VOXFLOW_OCI_AUTH and the OCI config"
            ) from None
        raise ServiceUnavailable(f"cannot read the OCI namespace: {error.message}") from None
    except _TRANSPORT_ERRORS as error:
        raise ServiceUnavailable(
            f"OCI Object Storage does not answer ({type(error).__name__}); set "
            "VOXFLOW_OCI_NAMESPACE or check the network"
        ) from None


def _content_type(key: str) -> str:
    guessed, _ = mimetypes.guess_type(key)
    return guessed or "application/octet-stream"


class _Spool:
    """Buffers a stream in memory up to `limit` bytes, then in a temp file for UploadManager."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buffer = io.BytesIO()
        self.path: Path | None = None
        self._file: BinaryIO | None = None

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def fill(self, stream: BinaryIO) -> None:
        while chunk := stream.read(_CHUNK):
            if self._file is None and self.buffer.tell() + len(chunk) > self.limit:
                fd, name = tempfile.mkstemp(prefix="voxflow-upload-")
                self.path = Path(name)
                self._file = os.fdopen(fd, "wb")
                self._file.write(self.buffer.getvalue())
                self.buffer = io.BytesIO()
            (self._file or self.buffer).write(chunk)
        if self._file is not None:
            self._file.close()

    def getvalue(self) -> bytes:
        return self.buffer.getvalue()
