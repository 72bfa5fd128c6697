"""OCIObjectStore beyond the shared contract: multipart, ranges, paging, PARs, auth and errors.

Every test drives the real oci SDK (signing, retries, HTTP) against the local endpoint from
tests/plugins/oci_endpoint.py.
"""

from __future__ import annotations

import datetime as dt
import io
import mimetypes
import os
import subprocess
import sys
import urllib.error
import urllib.request

import oci
import pytest

from tests.plugins.oci_endpoint import (
    ObjectStorageServer,
    client_config,
    make_api_key,
    oci_settings,
    write_oci_config,
)
from voxflow.artifacts import ArtifactNotFound, open_store
from voxflow.artifacts.oci import MIB, OCIObjectStore, make_client
from voxflow.artifacts.transfer import download
from voxflow.errors import ConfigError, ServiceUnavailable


@pytest.fixture
def settings(tmp_path):
    return oci_settings(tmp_path)


@pytest.fixture
def store(settings) -> OCIObjectStore:
    built = open_store(settings)
    assert isinstance(built, OCIObjectStore)
    return built


@pytest.fixture
def server(oci_endpoint) -> ObjectStorageServer:
    return oci_endpoint[0]


def requests_since(server: ObjectStorageServer, mark: int) -> list[tuple[str, str]]:
    return server.requests[mark:]


def quick_store(server: ObjectStorageServer, key, tmp_path, bucket: str, **kwargs):
    """A store whose client does not retry, for tests that provoke failures."""
    config_file = write_oci_config(tmp_path / "quick", key)
    client = oci.object_storage.ObjectStorageClient(
        client_config(key, config_file.parent / "oci_api_key.pem"),
        service_endpoint=server.url,
        retry_strategy=oci.retry.NoneRetryStrategy(),
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
        timeout=(2, 5),
    )
    return OCIObjectStore(client, server.namespace, bucket, part_size=MIB, **kwargs)


# ----------------------------------------------------------------------------- uploads


def test_large_stream_goes_multipart(store, server):
    payload = os.urandom(3 * MIB + 5)
    mark = len(server.requests)
    store.put("books/big.wav", io.BytesIO(payload))
    calls = requests_since(server, mark)
    parts = [c for c in calls if c[0] == "PUT" and "/u/" in c[1]]
    assert len(parts) == 4  # 3 full 1 MiB parts and the 5-byte tail
    assert ("POST", f"/n/{server.namespace}/b/{store.bucket}/u") in calls
    assert not any(c[0] == "PUT" and "/o/" in c[1] for c in calls)
    assert server.uploads == {}  # committed, nothing left open
    assert store.get("books/big.wav") == payload
    stored = server.buckets[store.bucket]["books/big.wav"]
    assert stored.multipart_md5 and stored.multipart_md5.endswith("-4")
    assert stored.content_type == mimetypes.guess_type("big.wav")[0]


def test_small_stream_and_bytes_are_one_put(store, server):
    mark = len(server.requests)
    store.put("a/small.mp3", io.BytesIO(b"ID3 small"))
    store.put("a/bytes.json", b"{}")
    calls = requests_since(server, mark)
    assert [c[0] for c in calls] == ["PUT", "PUT"]
    assert all("/o/" in c[1] for c in calls)
    assert server.buckets[store.bucket]["a/small.mp3"].content_type == "audio/mpeg"
    assert server.buckets[store.bucket]["a/bytes.json"].content_type == "application/json"


def test_object_names_with_slashes_arrive_encoded(store, server):
    mark = len(server.requests)
    store.put("projects/7/chapters/01-intro.mp3", b"x")
    _, path = requests_since(server, mark)[0]
    assert path.endswith("/o/projects%2F7%2Fchapters%2F01-intro.mp3")
    assert "projects/7/chapters/01-intro.mp3" in server.buckets[store.bucket]


def test_put_file_large_is_multipart_and_small_is_not(store, server, tmp_path):
    big = tmp_path / "book.m4b"
    big.write_bytes(os.urandom(2 * MIB + 1))
    small = tmp_path / "manifest.json"
    small.write_bytes(b'{"v": 1}')
    mark = len(server.requests)
    store.put_file("projects/1/book.m4b", big)
    multipart = requests_since(server, mark)
    assert sum(1 for c in multipart if c[0] == "PUT" and "/u/" in c[1]) == 3
    mark = len(server.requests)
    store.put_file("projects/1/manifest.json", small)
    assert [c[0] for c in requests_since(server, mark)] == ["PUT"]
    assert store.get("projects/1/book.m4b") == big.read_bytes()
    assert store.get("projects/1/manifest.json") == b'{"v": 1}'
    with pytest.raises(FileNotFoundError):
        store.put_file("x", tmp_path / "absent")


def test_a_failed_part_is_retried(oci_endpoint, tmp_path):
    server, key = oci_endpoint
    store = quick_store(server, key, tmp_path, server.create_bucket())
    payload = os.urandom(2 * MIB + 1)
    server.inject("PUT", f"/b/{store.bucket}/u/", 500, "InternalServerError", times=1)
    mark = len(server.requests)
    store.put("big.wav", io.BytesIO(payload))
    assert sum(1 for c in requests_since(server, mark) if c[0] == "PUT") == 4  # 3 parts + 1 retry
    assert store.get("big.wav") == payload


def test_failing_parts_end_in_a_clear_error_and_no_object(oci_endpoint, tmp_path):
    server, key = oci_endpoint
    bucket = server.create_bucket()
    store = quick_store(server, key, tmp_path, bucket)
    server.inject("PUT", f"/b/{bucket}/u/", 403, "NotAuthorizedOrNotFound", times=1000)
    with pytest.raises(ConfigError, match="refused access"):
        store.put("big.wav", io.BytesIO(os.urandom(2 * MIB + 1)))
    server.faults.clear()
    assert not quick_store(server, key, tmp_path, bucket).exists("big.wav")


# ----------------------------------------------------------------------------- reads


def test_get_range(store):
    store.put("r.bin", bytes(range(256)))
    assert store.get_range("r.bin", 10, 19) == bytes(range(10, 20))
    assert store.get_range("r.bin", 250) == bytes(range(250, 256))
    with pytest.raises(ArtifactNotFound):
        store.get_range("missing.bin", 0, 1)
    with pytest.raises(ValueError):
        store.get_range("r.bin", 5, 1)


def test_open_streams_in_chunks(store):
    payload = os.urandom(MIB + 3)
    store.put("s.bin", payload)
    with store.open("s.bin") as stream:
        first = stream.read(1000)
        rest = stream.read()
    assert first + rest == payload


def test_list_pages_through_next_start_with(oci_endpoint, tmp_path):
    _, key = oci_endpoint
    server = ObjectStorageServer(page_limit=2)
    server.add_key(key.key_id, key.public_key)
    server.start()
    try:
        store = quick_store(server, key, tmp_path, server.create_bucket())
        names = [f"seg/{i:02d}.wav" for i in range(7)] + ["segx", "other/1"]
        for name in reversed(names):
            store.put(name, b"1")
        mark = len(server.requests)
        assert list(store.list("seg/")) == [f"seg/{i:02d}.wav" for i in range(7)]
        pages = [c for c in requests_since(server, mark) if c[0] == "GET"]
        assert len(pages) == 4  # 2 + 2 + 2 + 1
        assert list(store.list("")) == sorted(names)
    finally:
        server.stop()


# ----------------------------------------------------------------------------- PARs


def test_url_is_a_working_time_limited_link(store, server):
    store.put("projects/7/book.m4b", b"m4b audio")
    before = dt.datetime.now(dt.UTC)
    url = store.url("projects/7/book.m4b")
    assert url.startswith(server.url + "/p/")
    assert "book.m4b" in url
    with urllib.request.urlopen(url, timeout=5) as response:  # no OCI credentials at all
        assert response.read() == b"m4b audio"
    (par,) = [p for p in server.pars.values() if p.name == "projects/7/book.m4b"]
    lifetime = (par.expires - before).total_seconds()
    assert store.par_expiry_s - 5 <= lifetime <= store.par_expiry_s + 5


def test_url_is_reused_then_renewed(store, server):
    store.put("a.mp3", b"a")
    mark = len(server.requests)
    first = store.url("a.mp3")
    assert store.url("a.mp3") == first
    assert sum(1 for c in requests_since(server, mark) if "/p" in c[1]) == 1
    link, _ = store._links["a.mp3"]
    store._links["a.mp3"] = (link, 0.0)  # as if it were near expiry
    assert store.url("a.mp3") != first


def test_expired_or_foreign_link_is_refused(store, server):
    store.put("x/secret.mp3", b"s")
    store.put("x/other.mp3", b"o")
    url = store.url("x/secret.mp3")
    token = url.split("/p/")[1].split("/")[0]
    forged = url.replace("secret.mp3", "other.mp3")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=5)
    assert refused.value.code == 404
    server.pars[token].expires = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(url, timeout=5)
    assert expired.value.code == 404


def test_unsigned_requests_are_refused(server, store):
    store.put("k", b"v")
    plain = f"{server.url}/n/{server.namespace}/b/{store.bucket}/o/k"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(plain, timeout=5)
    assert refused.value.code == 401


# ----------------------------------------------------------------------------- errors


def test_missing_bucket_at_open(tmp_path):
    settings = oci_settings(tmp_path, oci_bucket="no-such-bucket")
    with pytest.raises(ConfigError, match=r"bucket 'no-such-bucket' does not exist"):
        open_store(settings)


def test_bucket_removed_later(store, server):
    del server.buckets[store.bucket]
    with pytest.raises(ConfigError, match="does not exist"):
        store.put("a", b"1")
    with pytest.raises(ConfigError, match="does not exist"):
        store.get("a")
    with pytest.raises(ConfigError, match="does not exist"):
        store.delete("a")


def test_wrong_namespace(tmp_path):
    settings = oci_settings(tmp_path)
    store = open_store(settings)
    store.namespace = "elsewhere"
    with pytest.raises(ConfigError, match="VOXFLOW_OCI_NAMESPACE"):
        store.get("a")


def test_untrusted_key_is_auth_refused(tmp_path):
    settings = oci_settings(tmp_path)
    write_oci_config(settings.oci_config_file.parent, make_api_key())  # same path, unknown key
    with pytest.raises(ConfigError, match="refused the credentials"):
        open_store(settings)


def test_namespace_is_looked_up_when_unset(tmp_path, server):
    store = open_store(oci_settings(tmp_path, oci_namespace=None))
    assert store.namespace == server.namespace
    store.put("n", b"1")
    assert store.get("n") == b"1"


@pytest.mark.parametrize(
    ("status", "code", "error", "message"),
    [
        (503, "ServiceUnavailable", ServiceUnavailable, "unavailable"),
        (429, "TooManyRequests", ServiceUnavailable, "unavailable"),
        (403, "Forbidden", ConfigError, "manage objects"),
        (401, "NotAuthenticated", ConfigError, "refused the credentials"),
    ],
)
def test_service_errors_are_mapped(oci_endpoint, tmp_path, status, code, error, message):
    server, key = oci_endpoint
    store = quick_store(server, key, tmp_path, server.create_bucket())
    server.inject("GET", f"/b/{store.bucket}/o/", status, code)
    with pytest.raises(error, match=message):
        store.get("anything")
    server.faults.clear()


def test_endpoint_down_is_service_unavailable(oci_endpoint, tmp_path):
    _, key = oci_endpoint
    gone = ObjectStorageServer()
    gone.start()
    store = quick_store(gone, key, tmp_path, "b")
    gone.stop()
    with pytest.raises(ServiceUnavailable, match="does not answer"):
        store.exists("a")


def test_config_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="no OCI config file"):
        open_store(oci_settings(tmp_path, oci_config_file=tmp_path / "absent"))
    with pytest.raises(ConfigError, match="profile 'NOPE'"):
        open_store(oci_settings(tmp_path, oci_profile="NOPE"))


def test_store_parameters_are_checked(store):
    with pytest.raises(ConfigError, match="part size"):
        OCIObjectStore(store.client, "n", "b", part_size=1000)
    with pytest.raises(ConfigError, match="at least 60 s"):
        OCIObjectStore(store.client, "n", "b", par_expiry_s=5)


# ----------------------------------------------------------------------------- principals


WORKLOAD = "ocid1.workload.oc1..voxflowtest"


def _principal_factory(settings, calls):
    """Stands in for the SDK's principal signer (a class, as the SDK's isinstance checks need)."""

    class Principal(oci.auth.signers.KeyPairSigner):
        region = "eu-frankfurt-1"

        def __init__(self, *args, **kwargs):
            calls.append((args, kwargs))
            key_file = oci.config.from_file(str(settings.oci_config_file))["key_file"]
            key = oci.signer.load_private_key_from_file(key_file)
            super().__init__("2.1", WORKLOAD, None, key)

    return Principal


@pytest.mark.parametrize(
    ("auth", "attribute"),
    [
        ("instance_principal", "InstancePrincipalsSecurityTokenSigner"),
        ("workload_identity", "get_oke_workload_identity_resource_principal_signer"),
    ],
)
def test_principal_auth_uses_the_sdk_signer(oci_endpoint, tmp_path, monkeypatch, auth, attribute):
    server, key = oci_endpoint
    server.add_key(f"resource/v2.1/{WORKLOAD}", key.public_key)
    settings = oci_settings(tmp_path, oci_auth=auth)
    calls: list = []
    monkeypatch.setattr(oci.auth.signers, attribute, _principal_factory(settings, calls))
    store = open_store(settings)
    assert len(calls) == 1
    assert isinstance(store.client.base_client.signer, oci.auth.signers.KeyPairSigner)
    assert store.client.base_client.config["region"] == "eu-frankfurt-1"
    store.put("p/x", b"signed by the principal")
    assert store.get("p/x") == b"signed by the principal"


@pytest.mark.parametrize("auth", ["instance_principal", "workload_identity"])
def test_principal_failure_says_where_it_works(tmp_path, monkeypatch, auth):
    def broken(*args, **kwargs):
        raise OSError("token file /var/run/secrets/kubernetes.io/serviceaccount/token missing")

    monkeypatch.setattr(oci.auth.signers, "InstancePrincipalsSecurityTokenSigner", broken)
    monkeypatch.setattr(
        oci.auth.signers, "get_oke_workload_identity_resource_principal_signer", broken
    )
    with pytest.raises(ConfigError, match=f"OCI {auth} authentication failed"):
        make_client(oci_settings(tmp_path, oci_auth=auth))


def test_principal_without_region_needs_one(tmp_path, monkeypatch):
    monkeypatch.setattr(
        oci.auth.signers, "get_oke_workload_identity_resource_principal_signer", lambda: object()
    )
    monkeypatch.delenv("OCI_RESOURCE_PRINCIPAL_REGION", raising=False)
    settings = oci_settings(tmp_path, oci_auth="workload_identity", oci_endpoint=None)
    with pytest.raises(ConfigError, match="VOXFLOW_OCI_REGION"):
        make_client(settings)


# ----------------------------------------------------------------------------- init container


def store_pull(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`voxflow store pull ...` as the TorchServe pods' init container runs it."""
    return subprocess.run(
        [sys.executable, "-m", "voxflow", "store", "pull", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_store_pull_fetches_archives(settings, store, tmp_path):
    store.put("models/joe-1.0.mar", b"joe")
    store.put("models/gpu/mms-2.0.mar", b"mms")
    store.put("models/README.txt", b"not an archive")
    store.put("modelsx/other.mar", b"not under the prefix")
    env = {
        "VOXFLOW_ARTIFACT_STORE": "oci",
        "VOXFLOW_OCI_BUCKET": settings.oci_bucket,
        "VOXFLOW_OCI_NAMESPACE": settings.oci_namespace,
        "VOXFLOW_OCI_ENDPOINT": settings.oci_endpoint,
        "VOXFLOW_OCI_CONFIG_FILE": str(settings.oci_config_file),
        "VOXFLOW_DATA_DIR": str(tmp_path / "data"),
    }
    dest = tmp_path / "model-store"
    done = store_pull("models/", str(dest), "--suffix", ".mar", "--require", env=env)
    assert done.returncode == 0, done.stderr
    found = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert found == ["gpu/mms-2.0.mar", "joe-1.0.mar"]
    assert (dest / "joe-1.0.mar").read_bytes() == b"joe"
    assert "pulled" in done.stdout
    assert not [p for p in dest.rglob(".*")], "no temp file is left beside the archives"
    empty = store_pull("nothing/", str(tmp_path / "empty"), "--require", env=env)
    assert empty.returncode == 2 and "nothing under 'nothing/'" in empty.stderr
    absent = store_pull("models/", str(dest), env={**env, "VOXFLOW_OCI_BUCKET": "absent-bucket"})
    assert absent.returncode == 2 and "absent-bucket" in absent.stderr


def test_download_is_atomic(store, tmp_path):
    store.put("models/joe-1.0.mar", b"mar bytes")
    target = download(store, "models/joe-1.0.mar", tmp_path / "out" / "joe-1.0.mar")
    assert target.read_bytes() == b"mar bytes"
    with pytest.raises(ArtifactNotFound):
        download(store, "models/none.mar", tmp_path / "out" / "none.mar")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["joe-1.0.mar"]
