"""The one way every Voxflow process connects to Temporal: address, namespace and (m)TLS."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.service import TLSConfig

from voxflow.errors import ConfigError, ServiceUnavailable
from voxflow.settings import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """mTLS from the mounted certificate files, or False for a plain local dev server."""
    files = {
        "VOXFLOW_TEMPORAL_TLS_CA_FILE": settings.temporal_tls_ca_file,
        "VOXFLOW_TEMPORAL_TLS_CERT_FILE": settings.temporal_tls_cert_file,
        "VOXFLOW_TEMPORAL_TLS_KEY_FILE": settings.temporal_tls_key_file,
    }
    if not any(files.values()):
        return False
    contents: dict[str, bytes | None] = {}
    for variable, path in files.items():
        if path is None:
            contents[variable] = None
            continue
        try:
            contents[variable] = Path(path).read_bytes()
        except OSError as error:
            raise ConfigError(f"{variable}={path} cannot be read: {error.strerror}") from None
    if bool(contents["VOXFLOW_TEMPORAL_TLS_CERT_FILE"]) != bool(
        contents["VOXFLOW_TEMPORAL_TLS_KEY_FILE"]
    ):
        raise ConfigError(
            "Temporal mTLS needs both VOXFLOW_TEMPORAL_TLS_CERT_FILE and _KEY_FILE, or neither"
        )
    return TLSConfig(
        server_root_ca_cert=contents["VOXFLOW_TEMPORAL_TLS_CA_FILE"],
        client_cert=contents["VOXFLOW_TEMPORAL_TLS_CERT_FILE"],
        client_private_key=contents["VOXFLOW_TEMPORAL_TLS_KEY_FILE"],
        domain=settings.temporal_tls_server_name,
    )


async def connect(settings: Settings, who: str = "Voxflow") -> Client:
    """A client for `settings`, or a ServiceUnavailable that says what to check."""
    tls = tls_config(settings)
    try:
        return await Client.connect(
            settings.temporal_address, namespace=settings.temporal_namespace, tls=tls
        )
    except Exception as error:  # the SDK raises RuntimeError for a refused connection
        hint = (
            "check the client certificate and VOXFLOW_TEMPORAL_TLS_*"
            if tls
            else "start the local stack with `voxflow up` or set VOXFLOW_TEMPORAL_ADDRESS"
        )
        raise ServiceUnavailable(
            f"{who} cannot reach Temporal at {settings.temporal_address} (namespace "
            f"{settings.temporal_namespace}): {error}; {hint}"
        ) from error
