"""The OKE overlay, as rendered, converts books: every Deployment runs here as its manifest says.

The rendered objects are the source of truth. Each Deployment becomes a pod of real processes
(tests/deploy/cluster.py: own network namespace, Service DNS, env, volumes, user), wired to the
machine's real services, set up exactly as the manifests and Helm values say:
- RabbitMQ: a vhost, and the users and permissions of the `User` and `Permission` objects, with
  credentials from the rendered ExternalSecret templates (passwords hold '/', '+' and '=');
- PostgreSQL: the database in the vault's URL;
- Temporal: a dev server with exactly the namespaces deploy/temporal/values.yaml creates;
- Object Storage: the local endpoint with the two buckets, enforcing the IAM statements of
  deploy/terraform/iam.tf for each pod's service account;
- TorchServe: the pods' own config.properties behind the token proxy (Debian's nginx), with
  the .mar archives the init containers pull, the GPU pool's on CPU.

Substituted, because a laptop has no such thing: OKE workload identity (an API key per
service account, evaluated against the same policy), cluster DNS (socat), one replica per
Deployment, and KEDA, the operators and ESO themselves (their output is rendered here).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets as random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.deploy.certs import LocalCA, issue_certificates
from tests.deploy.cluster import Cluster
from tests.deploy.eso import render_external_secrets
from tests.deploy.iam import Principal, allowed, load_policy
from tests.deploy.k8s import REPO, config_map_by_prefix, named, of_kind, render
from tests.deploy.tls_proxy import MutualTLSProxy
from tests.plugins.oci_endpoint import (
    ObjectStorageServer,
    StoredObject,
    make_api_key,
    write_oci_config,
)
from tests.plugins.services import (
    POSTGRES_ADMIN_URL,
    free_port,
    missing,
    rabbitmqctl,
    require_service,
)
from tests.plugins.torchserve import require_torchserve
from voxflow.registry import parse_registry
from voxflow.serving.archives import build_archive
from voxflow.settings import Settings

pytestmark = pytest.mark.integration

SAMPLE = REPO / "examples" / "the-lighthouse-keeper.md"
GPU_BOOK = b"# Night Shift\n\n## Lamp\n\nThe lamp turned all night. The keeper wrote it down.\n"
DB_HOST = "voxflow-db.test.internal"
OCI_HOST = "objectstorage.test.internal"
TOOLS = ("unshare", "nsenter", "setpriv", "socat", "nginx", "rabbitmqctl", "ip")


def password() -> str:
    """What `openssl rand -base64 32` gives, with '/', '+' and '=' always in it."""
    return base64.b64encode(random.token_bytes(24)).decode() + "a/b+c="


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def amqp_vhost(url: str) -> str:
    """The vhost aiormq takes from an AMQP URL (its path, "/" when empty)."""
    path = urlsplit(url).path[1:]
    return path.replace("%2F", "/") or "/"


@pytest.fixture
def cleanup():
    """Undo each piece of setup as soon as it exists, whatever fails after it."""
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def workdir():
    """Not under /tmp: each pod gets its own /tmp, mounted over the machine's."""
    path = Path(tempfile.mkdtemp(prefix="voxflow-rendered-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def temporal_namespaces() -> list[str]:
    values = yaml.safe_load((REPO / "deploy" / "temporal" / "values.yaml").read_text())
    namespaces = values["server"]["config"].get("namespaces") or {}
    if not namespaces.get("create"):
        return []
    return [entry["name"] for entry in namespaces.get("namespace", [])]


def test_the_oke_overlay_converts_books_as_rendered(workdir, cleanup):
    for tool in TOOLS:
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (scripts/install.sh installs it)")
    require_torchserve()
    require_service("RabbitMQ", "127.0.0.1", 5672)
    require_service("RabbitMQ management", "127.0.0.1", 15672)
    require_service("PostgreSQL", "127.0.0.1", 5432)

    objects = render("overlays/oke")
    run = uuid.uuid4().hex[:8]
    config = config_map_by_prefix(objects, "voxflow-config")["data"]

    # --- the vault's values, and the Secrets ESO would make of them
    db_name, db_password = f"voxflow_rendered_{run}", password()
    vault = {
        "voxflow-database-url": f"postgresql+psycopg://voxflow:{quote(db_password, safe='')}"
        f"@{DB_HOST}:5432/{db_name}",
        "voxflow-amqp-username": f"voxflow-app-{run}",
        "voxflow-amqp-password": password(),
        "voxflow-keda-username": f"voxflow-keda-{run}",
        "voxflow-keda-password": password(),
        "voxflow-torchserve-token": password(),
        "voxflow-api-token": password(),
        "voxflow-web-password": password(),
        "voxflow-web-secret-key": password(),
    }
    ca = LocalCA.create()  # cert-manager's temporal-ca; here it also signs the web certificate
    web_tls = ca.issue("voxflow.example.com", ["voxflow.example.com"], ["server auth"])
    vault["voxflow-web-tls-crt"], vault["voxflow-web-tls-key"] = (
        web_tls["tls.crt"],
        web_tls["tls.key"],
    )
    # The OCI API-key Secret is for clusters without workload identity: left unmade (optional).
    secrets = render_external_secrets(objects, vault, skip=frozenset({"voxflow-oci-config"}))
    secrets.update(issue_certificates(objects, ca))

    # --- RabbitMQ as the RabbitmqCluster, User and Permission objects say
    vhost = f"voxflow-rendered-{run}"
    amqp_url = secrets["voxflow-amqp"]["VOXFLOW_AMQP_URL"]
    permissions = of_kind(objects, "Permission")
    for permission in permissions:
        assert amqp_vhost(amqp_url) == permission["spec"]["vhost"], "the apps' vhost is permitted"
    for scaled in of_kind(objects, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            if trigger["type"] == "rabbitmq":
                assert trigger["metadata"]["vhostName"] == permissions[0]["spec"]["vhost"]
    amqp_host = urlsplit(amqp_url).hostname
    secrets["voxflow-amqp"]["VOXFLOW_AMQP_URL"] = with_vhost(amqp_url, vhost)
    rabbitmqctl("add_vhost", vhost)
    cleanup.callback(rabbitmqctl, "delete_vhost", vhost)
    users = {}
    for user in of_kind(objects, "User"):
        credentials = secrets[user["spec"]["importCredentialsSecret"]["name"]]
        users[user["metadata"]["name"]] = credentials["username"]
        rabbitmqctl("add_user", credentials["username"], credentials["password"])
        cleanup.callback(rabbitmqctl, "delete_user", credentials["username"])
        rabbitmqctl("set_user_tags", credentials["username"], *user["spec"].get("tags", []))
    for permission in permissions:
        rules = permission["spec"]["permissions"]
        user = users[permission["spec"]["userReference"]["name"]]
        rabbitmqctl("set_permissions", "-p", vhost, user, rules["configure"], rules["write"],
                    rules["read"])  # fmt: skip

    # --- PostgreSQL: the vault URL's user and database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    cleanup.callback(admin.dispose)
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'voxflow'")).first()
        verb = "ALTER" if exists else "CREATE"
        # DDL takes no bind parameters; the password is base64 and URL-safe characters only.
        conn.execute(text(f"{verb} ROLE voxflow LOGIN PASSWORD '{db_password}'"))
        conn.execute(text(f'CREATE DATABASE "{db_name}" OWNER voxflow'))
    cleanup.callback(drop_database, admin, db_name)

    # --- Temporal with the namespaces the Helm values create (suffixed: this test's own)
    from voxflow.stack import TemporalDevServer

    temporal_port = free_port()
    namespaces = [f"{name}-{run}" for name in temporal_namespaces()]
    temporal = TemporalDevServer(
        Settings(
            data_dir=workdir / "temporal",
            temporal_address=f"127.0.0.1:{temporal_port}",
            temporal_ui_url=f"http://127.0.0.1:{free_port()}",
        ),
        extra_args=[arg for ns in namespaces for arg in ("--namespace", ns)],
    )

    # --- Object Storage: the buckets, the archives, and the IAM policy per service account
    oci = ObjectStorageServer()
    oci.start()
    cleanup.callback(oci.stop)
    artifacts_bucket = config["VOXFLOW_OCI_BUCKET"]
    oci.create_bucket(artifacts_bucket)
    policy = load_policy()
    principals: dict[str, Principal] = {}
    oci.authorize = lambda key, needed, bucket: (
        allowed(policy, principals[key], needed, bucket) if key in principals else needed
    )
    registry = parse_registry(
        config_map_by_prefix(objects, "voxflow-models")["data"]["models.yaml"]
    )
    store = workdir / "archives"
    for deployment in of_kind(objects, "Deployment"):
        for init in deployment["spec"]["template"]["spec"].get("initContainers", []):
            if init["name"] != "fetch-models":
                continue
            bucket = next(e["value"] for e in init["env"] if e["name"] == "VOXFLOW_OCI_BUCKET")
            oci.create_bucket(bucket)
            args = init["command"][1:] + init["args"]  # voxflow store pull PREFIX DEST ...
            prefix = args[args.index("pull") + 1]
            pool = prefix.strip("/").split("/")[-1]
            for voice in registry.in_pool(pool):  # what an operator publishes (deploy/README)
                mar = build_archive(voice, store, device=voice.pool)
                oci.buckets[bucket][prefix + mar.name] = StoredObject(mar.read_bytes())

    env_overrides: dict[str, dict[str, str]] = {}
    for deployment in of_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        pod_spec = deployment["spec"]["template"]["spec"]
        key = make_api_key()
        oci.add_key(key.key_id, key.public_key)
        principals[key.key_id] = Principal(pod_spec["serviceAccountName"])
        key_dir = workdir / "keys" / name
        oci_config = write_oci_config(key_dir, key)
        uid = pod_spec["securityContext"]["runAsUser"]
        for path in (key_dir, *key_dir.iterdir()):
            shutil.chown(path, uid, uid)
        env_overrides[name] = {
            "VOXFLOW_OCI_AUTH": "config",
            "VOXFLOW_OCI_CONFIG_FILE": str(oci_config),
            "VOXFLOW_OCI_ENDPOINT": f"http://{OCI_HOST}:{urlsplit(oci.url).port}",
            "VOXFLOW_TEMPORAL_NAMESPACE": f"{config['VOXFLOW_TEMPORAL_NAMESPACE']}-{run}",
        }

    # The frontend's mTLS, as deploy/temporal/values.yaml configures it (requireClientAuth),
    # in front of the dev server, which has no TLS of its own.
    tls_port = frontend_tls(workdir, ca, temporal_port, cleanup)
    temporal_host, _, temporal_frontend = config["VOXFLOW_TEMPORAL_ADDRESS"].rpartition(":")
    external = {
        (amqp_host, 5672): 5672,
        (amqp_host, 15672): 15672,
        (temporal_host, int(temporal_frontend)): tls_port,
        (DB_HOST, 5432): 5432,
        (OCI_HOST, urlsplit(oci.url).port): urlsplit(oci.url).port,
    }
    cluster = Cluster(objects, workdir, secrets, external, env_overrides)
    try:
        temporal.start()
        for deployment in of_kind(objects, "Deployment"):
            cluster.add(deployment)
        cluster.start()
        cluster.wait_ready()
        assert not oci.denials, f"IAM refused: {oci.denials}"
        assert_frontend_refuses_anonymous(tls_port, ca)

        # KEDA's view: its rendered host URL and user read the queue lengths it scales on.
        keda = secrets[named(objects, "TriggerAuthentication", "voxflow-rabbitmq")["spec"]
                       ["secretTargetRef"][0]["name"]]["host"]  # fmt: skip
        keda_url = urlsplit(keda)._replace(netloc=f"{urlsplit(keda).netloc.rsplit('@', 1)[0]}"
                                           "@127.0.0.1:15672")  # fmt: skip
        for scaled in of_kind(objects, "ScaledObject"):
            for trigger in scaled["spec"]["triggers"]:
                if trigger["type"] != "rabbitmq":
                    continue
                queue = trigger["metadata"]["queueName"]
                answer = httpx.get(
                    f"{urlunsplit(keda_url)}api/queues/{quote(vhost, safe='')}/{queue}", timeout=10
                )
                assert answer.status_code == 200, f"KEDA cannot read {queue}: {answer.text}"

        web = cluster.pods["web"]
        token = secrets["voxflow-web"]["VOXFLOW_API_TOKEN"]
        started = {
            "joe": start_book(cluster, web, token, SAMPLE.read_bytes(), SAMPLE.name, "joe"),
            "joe-gpu": start_book(cluster, web, token, GPU_BOOK, "night-shift.md", "joe-gpu"),
        }
        for voice, project_id in started.items():
            project = wait_done(cluster, web, token, project_id)
            assert project["state"] == "done", f"{voice}: {project}"
            book = web_get(cluster, web, token, project["book_url"])
            if book.is_redirect:  # a pre-authenticated link to the bucket
                book = httpx.get(book.headers["location"], timeout=30)
            assert book.status_code == 200, f"{voice}: {book.status_code}"
            assert book.content[4:8] == b"ftyp", f"{voice}: the book is not an M4B"

        metrics = cluster.http(cluster.pods["torchserve-gpu"], "metrics", "/metrics").text
        assert 'model_name="joe-gpu"' in metrics, "the GPU pool's TorchServe served the GPU voice"
        assert not list(cluster.exited()), f"{list(cluster.exited())}"
        assert not oci.denials, f"IAM refused: {oci.denials}"
        for name in ("temporal-worker", "relay", "inference-worker-cpu", "inference-worker-gpu"):
            log = cluster.pods[name].log("worker" if "worker" in name else name).read_text()
            assert log.strip(), f"{name} logged nothing"
    except BaseException:
        print("\n".join(pod.logs() for pod in cluster.pods.values()))
        raise
    finally:
        cluster.stop()
        temporal.stop()


def drop_database(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def frontend_tls(workdir: Path, ca: LocalCA, temporal_port: int, cleanup) -> int:
    """A TLS listener with the frontend's certificate that requires a client certificate."""
    values = yaml.safe_load((REPO / "deploy" / "temporal" / "values.yaml").read_text())
    frontend = values["server"]["config"]["tls"]["frontend"]["server"]
    assert frontend["requireClientAuth"] is True
    certificate = named(render("temporal-secrets"), "Certificate", "temporal-frontend")["spec"]
    issued = ca.issue(certificate["commonName"], certificate["dnsNames"], certificate["usages"])
    folder = workdir / "temporal-tls"
    folder.mkdir()
    for name, pem in issued.items():
        (folder / name).write_text(pem)
    proxy = MutualTLSProxy(folder / "tls.crt", folder / "tls.key", folder / "ca.crt", temporal_port)
    cleanup.callback(proxy.stop)
    return proxy.port


def assert_frontend_refuses_anonymous(port: int, ca: LocalCA) -> None:
    """Without a client certificate, Temporal's frontend lets nobody in."""
    from temporalio.client import Client
    from temporalio.service import TLSConfig

    tls = TLSConfig(server_root_ca_cert=ca.pem.encode(), domain="temporal-frontend")
    with pytest.raises(RuntimeError):
        asyncio.run(Client.connect(f"127.0.0.1:{port}", tls=tls))


def web_get(cluster: Cluster, web, token: str, path: str) -> httpx.Response:
    return cluster.http(web, "http", path, headers={"Authorization": f"Bearer {token}"})


def start_book(cluster: Cluster, web, token: str, data: bytes, name: str, voice: str) -> int:
    transport = httpx.HTTPTransport(uds=str(web.inbound(web.ports()["http"])))
    with httpx.Client(transport=transport, base_url="http://web", timeout=60) as client:
        answer = client.post(
            "/api/projects",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": (name, data)},
            data={"voice": voice, "start": "true"},
        )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def wait_done(cluster: Cluster, web, token: str, project_id: int, timeout_s: float = 420) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        project = web_get(cluster, web, token, f"/api/projects/{project_id}").json()
        if project["state"] in {"done", "failed", "attention", "cancelled"}:
            return project
        exited = list(cluster.exited())
        assert not exited, f"{exited} while converting"
        assert time.monotonic() < deadline, f"project {project_id} stuck: {project['state']}"
        time.sleep(2)
