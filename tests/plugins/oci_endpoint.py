"""A local OCI Object Storage endpoint, so the real oci SDK's signing and HTTP path run in tests.

It implements just the REST calls Voxflow's store makes: namespace, HeadBucket, Put/Get (Range)/
Head/DeleteObject, ListObjects (prefix, start, limit, nextStartWith), multipart create/upload
part/commit/abort, CreatePreauthenticatedRequest, and GET on the PAR URL itself. Every request
except a PAR download must carry an HTTP Signature that verifies against a registered public key,
as the real service demands; a wrong key gets 401 NotAuthenticated.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NAMESPACE = "voxflowtest"
TENANCY = "ocid1.tenancy.oc1..voxflowtest"
USER = "ocid1.user.oc1..voxflowtest"
REGION = "us-ashburn-1"
MAX_PAGE = 1000


@dataclass
class StoredObject:
    data: bytes
    content_type: str = "application/octet-stream"
    etag: str = field(default_factory=lambda: uuid.uuid4().hex)
    md5: str = ""
    multipart_md5: str | None = None

    def __post_init__(self) -> None:
        self.md5 = base64.b64encode(hashlib.md5(self.data).digest()).decode()


@dataclass
class Upload:
    bucket: str
    name: str
    content_type: str
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class Par:
    bucket: str
    name: str
    expires: dt.datetime


@dataclass
class Fault:
    method: str
    path_part: str
    status: int
    code: str
    times: int


class ObjectStorageServer:
    """The service's state and a threaded HTTP server over it; start() returns its base URL."""

    def __init__(self, namespace: str = NAMESPACE, page_limit: int = MAX_PAGE) -> None:
        self.namespace = namespace
        self.page_limit = page_limit
        self.buckets: dict[str, dict[str, StoredObject]] = {}
        self.uploads: dict[str, Upload] = {}
        self.pars: dict[str, Par] = {}
        self.keys: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        # IAM: called with (key id, permissions the request needs, bucket) and answering the
        # permissions refused; a refusal is OCI's 404 NotAuthorizedOrNotFound. None: allow all.
        self.authorize: Callable[[str, set[str], str | None], set[str]] | None = None
        self.denials: list[tuple[str, str, str, str]] = []  # key id, method, path, missing
        self.lock = threading.RLock()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None, "server not started"
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        server = self

        class Handler(_Handler):
            state = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def add_key(self, key_id: str, public_key: Any) -> None:
        self.keys[key_id] = public_key

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"bucket-{uuid.uuid4().hex[:12]}"
        with self.lock:
            self.buckets.setdefault(name, {})
        return name

    def inject(self, method: str, path_part: str, status: int, code: str, times: int = 1) -> None:
        """Answer the next `times` matching requests with this error instead."""
        with self.lock:
            self.faults.append(Fault(method, path_part, status, code, times))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path_part in path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and `Expect: 100-continue`, like the real thing
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    state: ObjectStorageServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ---------------------------------------------------------------- plumbing

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("opc-request-id", uuid.uuid4().hex)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers, "application/json")

    def _error(self, status: int, code: str, message: str) -> None:
        self._json(status, {"code": code, "message": message})

    def _authenticated(self) -> bool:
        """Check the draft-cavage HTTP Signature the SDK puts in Authorization."""
        if not self.headers.get("Authorization", "").startswith("Signature "):
            return False
        params = self._signature_params()
        key = self.state.keys.get(params.get("keyId", ""))
        if key is None or params.get("algorithm") != "rsa-sha256":
            return False
        lines = []
        for name in params.get("headers", "").split():
            if name == "(request-target)":
                lines.append(f"(request-target): {self.command.lower()} {self.path}")
            elif self.headers.get(name) is None:
                return False
            else:
                lines.append(f"{name}: {self.headers[name]}")
        try:
            key.verify(
                base64.b64decode(params.get("signature", "")),
                "\n".join(lines).encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def _dispatch(self) -> None:
        state = self.state
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        parts = [unquote(p) for p in split.path.split("/")[1:]]
        body = b"" if self.command in {"GET", "HEAD", "DELETE"} else self._body()
        with state.lock:
            state.requests.append((self.command, split.path))
        if parts and parts[0] == "p":  # a PAR download: the token is the credential
            return self._par_download(parts)
        if not self._authenticated():
            return self._error(401, "NotAuthenticated", "The required information to complete "
                               "authentication was not provided or was incorrect.")  # fmt: skip
        fault = state.take_fault(self.command, split.path)
        if fault is not None:
            return self._error(fault.status, fault.code, f"injected {fault.code}")
        if not self._authorized(parts):
            return None
        if parts in (["n"], ["n", ""]) and self.command == "GET":
            return self._json(200, state.namespace)
        if len(parts) < 4 or parts[0] != "n" or parts[2] != "b":
            return self._error(404, "NotFound", f"no route for {split.path}")
        if parts[1] != state.namespace:
            return self._error(404, "NamespaceNotFound", f"namespace {parts[1]} not found")
        bucket = parts[3]
        with state.lock:
            objects = state.buckets.get(bucket)
        if objects is None:
            return self._error(
                404,
                "BucketNotFound",
                f"Either the bucket named '{bucket}' does not exist in the namespace "
                f"'{parts[1]}' or you are not authorized to access it",
            )
        rest = parts[4:]
        route = (self.command, rest[0] if rest else "", len(rest))
        handlers = {
            ("HEAD", "", 0): lambda: self._send(200, headers={"ETag": bucket}),
            ("GET", "o", 1): lambda: self._list(objects, query),
            ("PUT", "o", 2): lambda: self._put(objects, rest[1], body),
            ("GET", "o", 2): lambda: self._get(objects, rest[1]),
            ("HEAD", "o", 2): lambda: self._get(objects, rest[1]),
            ("DELETE", "o", 2): lambda: self._delete(objects, rest[1]),
            ("POST", "u", 1): lambda: self._create_upload(bucket, body),
            ("PUT", "u", 2): lambda: self._upload_part(bucket, rest[1], query, body),
            ("POST", "u", 2): lambda: self._commit(objects, bucket, rest[1], query, body),
            ("DELETE", "u", 2): lambda: self._abort(bucket, rest[1], query),
            ("POST", "p", 1): lambda: self._create_par(bucket, body),
            ("POST", "p", 2): lambda: self._create_par(bucket, body),
        }
        handler = handlers.get(route)
        if handler is None:
            return self._error(404, "NotFound", f"no route for {self.command} {split.path}")
        return handler()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _dispatch

    def _signature_params(self) -> dict[str, str]:
        """keyId, algorithm, headers and signature from the Authorization header."""
        return dict(re.findall(r'(\w+)="([^"]*)"', self.headers.get("Authorization", "")))

    def _key_id(self) -> str:
        return self._signature_params().get("keyId", "")

    def _authorized(self, parts: list[str]) -> bool:
        """Ask the IAM hook, with the permissions OCI's policy reference lists per operation."""
        state = self.state
        if state.authorize is None:
            return True
        bucket = parts[3] if len(parts) >= 4 and parts[2] == "b" else None
        needed = self._permissions(parts, bucket)
        missing = state.authorize(self._key_id(), needed, bucket)
        if not missing:
            return True
        with state.lock:
            state.denials.append(
                (self._key_id(), self.command, self.path, ",".join(sorted(missing)))
            )
        self._error(404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource "
                    f"not found (missing {', '.join(sorted(missing))})")  # fmt: skip
        return False

    def _permissions(self, parts: list[str], bucket: str | None) -> set[str]:
        if bucket is None:
            return {"OBJECTSTORAGE_NAMESPACE_READ"}
        rest = parts[4:]
        kind = rest[0] if rest else ""
        with self.state.lock:
            exists = len(rest) == 2 and rest[1] in self.state.buckets.get(bucket, {})
        write = {"OBJECT_OVERWRITE" if exists else "OBJECT_CREATE"}
        table = {
            ("HEAD", ""): {"BUCKET_INSPECT"},
            ("GET", ""): {"BUCKET_READ"},
            ("GET", "o"): {"OBJECT_INSPECT"} if len(rest) == 1 else {"OBJECT_READ"},
            ("HEAD", "o"): {"OBJECT_READ"},
            ("PUT", "o"): write,
            ("DELETE", "o"): {"OBJECT_DELETE"},
            ("POST", "u"): {"OBJECT_CREATE"} if len(rest) == 1 else write,
            ("PUT", "u"): {"OBJECT_CREATE"},
            ("DELETE", "u"): {"OBJECT_DELETE"},
            ("POST", "p"): {"PAR_MANAGE"},
        }
        return table.get((self.command, kind), {"UNKNOWN_OPERATION"})

    # ---------------------------------------------------------------- objects

    def _put(self, objects: dict[str, StoredObject], name: str, body: bytes) -> None:
        stored = StoredObject(body, self.headers.get("Content-Type") or "application/octet-stream")
        sent_md5 = self.headers.get("Content-MD5")
        if sent_md5 and sent_md5 != stored.md5:
            return self._error(400, "UnmatchedContentMD5", "Content-MD5 does not match the body")
        with self.state.lock:
            objects[name] = stored
        self._send(200, headers={"ETag": stored.etag, "opc-content-md5": stored.md5})

    def _get(self, objects: dict[str, StoredObject], name: str) -> None:
        with self.state.lock:
            stored = objects.get(name)
        if stored is None:
            return self._error(404, "ObjectNotFound", f"The object '{name}' was not found")
        headers = {"ETag": stored.etag, "Accept-Ranges": "bytes"}
        headers["opc-multipart-md5" if stored.multipart_md5 else "opc-content-md5"] = (
            stored.multipart_md5 or stored.md5
        )
        data, status = stored.data, 200
        wanted = self.headers.get("Range")
        if wanted and self.command == "GET":
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            size = len(stored.data)
            if not match or int(match.group(1)) >= size:
                return self._error(416, "InvalidRange", f"cannot satisfy {wanted} of {size}")
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
            data, status = stored.data[start : end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if self.command == "HEAD":
            self.send_response(200)
            self.send_header("opc-request-id", uuid.uuid4().hex)
            for header, value in headers.items():
                self.send_header(header, value)
            self.send_header("Content-Type", stored.content_type)
            self.send_header("Content-Length", str(len(stored.data)))
            self.end_headers()
            return None
        return self._send(status, data, headers, stored.content_type)

    def _delete(self, objects: dict[str, StoredObject], name: str) -> None:
        with self.state.lock:
            removed = objects.pop(name, None)
        if removed is None:
            return self._error(404, "ObjectNotFound", f"The object '{name}' was not found")
        return self._send(204)

    def _list(self, objects: dict[str, StoredObject], query: dict[str, str]) -> None:
        prefix, start = query.get("prefix", ""), query.get("start", "")
        limit = min(int(query.get("limit") or MAX_PAGE), self.state.page_limit, MAX_PAGE)
        with self.state.lock:
            names = sorted((n for n in objects if n.startswith(prefix)), key=str.encode)
        names = [n for n in names if n.encode() >= start.encode()]
        page = names[:limit]
        payload: dict[str, Any] = {"objects": [{"name": n} for n in page], "prefixes": []}
        if len(names) > limit:
            payload["nextStartWith"] = names[limit]
        return self._json(200, payload)

    # ---------------------------------------------------------------- multipart

    def _create_upload(self, bucket: str, body: bytes) -> None:
        details = json.loads(body or b"{}")
        name = details.get("object")
        if not name:
            return self._error(400, "InvalidParameter", "object is required")
        upload_id = uuid.uuid4().hex
        with self.state.lock:
            self.state.uploads[upload_id] = Upload(
                bucket, name, details.get("contentType") or "application/octet-stream"
            )
        now = dt.datetime.now(dt.UTC).isoformat()
        return self._json(
            200,
            {
                "namespace": self.state.namespace,
                "bucket": bucket,
                "object": name,
                "uploadId": upload_id,
                "timeCreated": now,
                "storageTier": "Standard",
            },
        )

    def _upload_of(self, bucket: str, name: str, query: dict[str, str]) -> Upload | None:
        upload = self.state.uploads.get(query.get("uploadId", ""))
        if upload is None or upload.bucket != bucket or upload.name != name:
            self._error(404, "NoSuchUpload", "The upload does not exist")
            return None
        return upload

    def _upload_part(self, bucket: str, name: str, query: dict[str, str], body: bytes) -> None:
        with self.state.lock:
            upload = self._upload_of(bucket, name, query)
            if upload is None:
                return None
            etag = uuid.uuid4().hex
            upload.parts[int(query["uploadPartNum"])] = (etag, body)
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        return self._send(200, headers={"ETag": etag, "opc-content-md5": md5})

    def _commit(
        self,
        objects: dict[str, StoredObject],
        bucket: str,
        name: str,
        query: dict[str, str],
        body: bytes,
    ) -> None:
        details = json.loads(body or b"{}")
        with self.state.lock:
            upload = self._upload_of(bucket, name, query)
            if upload is None:
                return None
            data = []
            for part in sorted(details.get("partsToCommit", []), key=lambda p: p["partNum"]):
                etag, chunk = upload.parts.get(part["partNum"], (None, b""))
                if etag != part["etag"]:
                    return self._error(400, "InvalidPart", f"part {part['partNum']} mismatch")
                data.append(chunk)
            stored = StoredObject(b"".join(data), upload.content_type)
            stored.multipart_md5 = f"{stored.md5}-{len(data)}"
            objects[name] = stored
            del self.state.uploads[query["uploadId"]]
        return self._send(
            200, headers={"ETag": stored.etag, "opc-multipart-md5": stored.multipart_md5}
        )

    def _abort(self, bucket: str, name: str, query: dict[str, str]) -> None:
        with self.state.lock:
            if self._upload_of(bucket, name, query) is None:
                return None
            del self.state.uploads[query["uploadId"]]
        return self._send(204)

    # ---------------------------------------------------------------- pre-authenticated requests

    def _create_par(self, bucket: str, body: bytes) -> None:
        details = json.loads(body or b"{}")
        if details.get("accessType") != "ObjectRead" or not details.get("objectName"):
            return self._error(400, "InvalidParameter", "only ObjectRead PARs on an object")
        expires = dt.datetime.fromisoformat(details["timeExpires"].replace("Z", "+00:00"))
        token = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        name = details["objectName"]
        with self.state.lock:
            self.state.pars[token] = Par(bucket, name, expires)
        access_uri = f"/p/{token}/n/{self.state.namespace}/b/{bucket}/o/{quote(name, safe='')}"
        return self._json(
            200,
            {
                "id": token,
                "name": details.get("name", ""),
                "accessUri": access_uri,
                "fullPath": f"{self.state.url}{access_uri}",
                "objectName": name,
                "accessType": "ObjectRead",
                "timeExpires": details["timeExpires"],
                "timeCreated": dt.datetime.now(dt.UTC).isoformat(),
            },
        )

    def _par_download(self, parts: list[str]) -> None:
        if self.command not in {"GET", "HEAD"} or len(parts) != 8:
            return self._error(404, "NotFound", "no such pre-authenticated request")
        _, token, _, namespace, _, bucket, _, name = parts
        with self.state.lock:
            par = self.state.pars.get(token)
            objects = self.state.buckets.get(bucket, {})
        now = dt.datetime.now(dt.UTC)
        if par is None or par.bucket != bucket or par.name != name or par.expires <= now:
            return self._error(404, "NotFound", "no such pre-authenticated request")
        if namespace != self.state.namespace:
            return self._error(404, "NotFound", "no such pre-authenticated request")
        return self._get(objects, name)


# -------------------------------------------------------------------- keys, configs, fixtures


@dataclass
class ApiKey:
    private_pem: bytes
    public_key: Any
    fingerprint: str

    @property
    def key_id(self) -> str:
        return f"{TENANCY}/{USER}/{self.fingerprint}"


def make_api_key() -> ApiKey:
    """A throwaway RSA key, fingerprinted the way OCI does (MD5 of the DER public key)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der).hexdigest()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return ApiKey(pem, public, fingerprint)


def write_oci_config(folder: Path, key: ApiKey, profile: str = "DEFAULT") -> Path:
    """An ~/.oci/config-style file and its key file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "oci_api_key.pem"
    key_file.write_bytes(key.private_pem)
    key_file.chmod(0o600)
    config = folder / "config"
    config.write_text(
        f"[{profile}]\nuser={USER}\nfingerprint={key.fingerprint}\nkey_file={key_file}\n"
        f"tenancy={TENANCY}\nregion={REGION}\n",
        encoding="utf-8",
    )
    return config


def client_config(key: ApiKey, key_file: Path) -> dict[str, str]:
    return {
        "user": USER,
        "fingerprint": key.fingerprint,
        "key_file": str(key_file),
        "tenancy": TENANCY,
        "region": REGION,
    }


_shared: tuple[ObjectStorageServer, ApiKey] | None = None
_shared_lock = threading.Lock()


def shared_endpoint() -> tuple[ObjectStorageServer, ApiKey]:
    """One server and trusted key per test process, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            server, key = ObjectStorageServer(), make_api_key()
            server.add_key(key.key_id, key.public_key)
            server.start()
            atexit.register(server.stop)
            _shared = (server, key)
        return _shared


def oci_settings(tmp_path: Path, **overrides: Any):
    """Settings for an OCIObjectStore on a fresh bucket of the shared endpoint (1 MiB parts)."""
    from voxflow.settings import Settings

    server, key = shared_endpoint()
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "artifact_store": "oci",
        "oci_auth": "config",
        "oci_config_file": write_oci_config(tmp_path / "oci", key),
        "oci_endpoint": server.url,
        "oci_namespace": server.namespace,
        "oci_bucket": server.create_bucket(),
        "oci_part_size_mb": 1,
        **overrides,
    }
    return Settings(**values)


def oci_test_store(tmp_path: Path):
    """The store the contract suite runs on: built by open_store, as production builds it."""
    from voxflow.artifacts import open_store

    return open_store(oci_settings(tmp_path))


@pytest.fixture(scope="session")
def oci_endpoint() -> tuple[ObjectStorageServer, ApiKey]:
    """The shared local Object Storage endpoint and the API key it trusts."""
    return shared_endpoint()
