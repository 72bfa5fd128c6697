"""Run a rendered overlay's Deployments as local processes, pod by pod, without a cluster.

Each pod gets what Kubernetes would give it, built from the rendered objects only:
- its own network namespace (`unshare --net`): containers of one pod share `127.0.0.1`, and
  two TorchServe pods bind the same ports without clashing;
- Service DNS: an /etc/hosts of its own (a private mount namespace) maps every Service name to
  a loopback address, where socat forwards to the backing pod's port (`targetPort`, named or
  numbered, resolved against that pod's containerPorts), or to a real service on this machine;
- env from `env`, `envFrom` ConfigMaps and Secrets, and `valueFrom.secretKeyRef`;
- volumes: emptyDirs, ConfigMap and Secret files at their mountPaths, which are folders of the
  pod here (a path under a mountPath is rewritten to that folder, in env, args and files);
- init containers to completion, in order, then the containers; readiness probes.

What cannot be had here is said where it is substituted (see `Cluster.__init__`).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.deploy.k8s import REPO, Obj, of_kind, selects, template_labels
from voxflow.processes import ManagedProcess

VENV_BIN = Path(sys.executable).parent
# What the images put on PATH and in the environment (deploy/docker/*.Dockerfile).
IMAGE_ENV = {
    "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": str(REPO),  # the images install this checkout's code
    "LANG": "C.UTF-8",
}
# Files the images hold at fixed paths, and where they come from in this repository.
IMAGE_FILES = {"/opt/voxflow/tcp_probe.py": REPO / "deploy" / "docker" / "tcp_probe.py"}


@dataclass
class Endpoint:
    """Where a Service name and port lead: a pod's unix socket, or a port on this machine."""

    socket: Path


@dataclass
class Pod:
    name: str
    deployment: Obj
    root: Path
    mounts: dict[str, Path] = field(default_factory=dict)  # mountPath -> folder or file here
    sandbox: ManagedProcess | None = None
    containers: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def spec(self) -> Obj:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def labels(self) -> dict[str, str]:
        return template_labels(self.deployment)

    def ports(self) -> dict[str | int, int]:
        """containerPort by name and by number, across the pod's containers."""
        found: dict[str | int, int] = {}
        for container in self.spec["containers"]:
            for port in container.get("ports", []):
                found[port["containerPort"]] = port["containerPort"]
                if "name" in port:
                    found[port["name"]] = port["containerPort"]
        return found

    def inbound(self, port: int) -> Path:
        return self.root / "net" / f"in-{port}.sock"

    def rewrite(self, text: str) -> str:
        """Paths under a mountPath point into this pod's folders (one pass, longest first)."""
        if not self.mounts:
            return text
        names = "|".join(re.escape(m) for m in sorted(self.mounts, key=len, reverse=True))
        pattern = rf"(?<![\w/.-])({names})(?=$|[/\s\"',;:])"
        return re.sub(pattern, lambda m: str(self.mounts[m.group(1)]), text)

    def log(self, container: str) -> Path:
        return self.root / "logs" / f"{container}.log"

    def logs(self, lines: int = 40) -> str:
        parts = []
        for path in sorted((self.root / "logs").glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {self.name}/{path.stem}\n" + "\n".join(text))
        return "\n".join(parts)


class Cluster:
    """The rendered objects of one overlay, run as pods in namespaces of their own."""

    def __init__(
        self,
        objects: list[Obj],
        workdir: Path,
        secrets: dict[str, dict[str, str]],
        external: dict[tuple[str, int], int],
        env_overrides: dict[str, dict[str, str]],
    ) -> None:
        """`secrets`: Secret name -> data, rendered from the ExternalSecrets.
        `external`: (DNS name, port) -> local port, for what runs outside the overlay
        (RabbitMQ, Temporal, PostgreSQL, Object Storage).
        `env_overrides`: Deployment name -> env, only for what a laptop cannot be: the OKE
        workload identity (replaced by an API key of the pod's service account) and the
        Temporal namespace (suffixed so this test's namespaces are its own).
        """
        self.objects = objects
        self.workdir = workdir
        self.secrets = secrets
        self.env_overrides = env_overrides
        self.config_maps = {cm["metadata"]["name"]: cm for cm in of_kind(objects, "ConfigMap")}
        self.pods: dict[str, Pod] = {}
        self.mesh = workdir / "mesh"
        self.mesh.mkdir(parents=True, exist_ok=True)
        self.forwarders: list[ManagedProcess] = []
        self.routes: dict[tuple[str, int], Path] = {}  # (name, port) -> unix socket
        self.addresses: dict[str, str] = {}  # name -> loopback address inside pods
        self._external(external)

    # ------------------------------------------------------------------ names and routes

    def _address(self, name: str) -> str:
        if name not in self.addresses:
            n = len(self.addresses) + 1
            self.addresses[name] = f"127.0.{1 + n // 250}.{1 + n % 250}"
        return self.addresses[name]

    def _external(self, external: dict[tuple[str, int], int]) -> None:
        for index, ((name, port), local) in enumerate(sorted(external.items())):
            socket = self.mesh / f"ext-{index}.sock"
            self._forward(f"ext-{name}-{port}", f"UNIX-LISTEN:{socket},fork,mode=777",
                          f"TCP:127.0.0.1:{local}")  # fmt: skip
            self._route(name, port, socket)

    def _route(self, name: str, port: int, socket: Path) -> None:
        self._address(name)
        self.routes[(name, port)] = socket

    def _forward(self, name: str, listen: str, connect: str) -> None:
        process = ManagedProcess(
            f"socat {name}",
            ["socat", listen, connect],
            self.workdir / "logs" / f"socat-{len(self.forwarders)}.log",
        ).start()
        self.forwarders.append(process)

    def _service_routes(self) -> None:
        """Every Service port leads to the inbound socket of the pod its selector picks."""
        namespace = "voxflow"
        for service in of_kind(self.objects, "Service"):
            name = service["metadata"]["name"]
            selector = {"matchLabels": service["spec"].get("selector", {})}
            backing = [pod for pod in self.pods.values() if selects(selector, pod.labels)]
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                for pod in backing:
                    number = pod.ports().get(target)
                    if number is None:
                        raise AssertionError(
                            f"Service {name} port {port['port']} targets {target!r}, which no "
                            f"container of pod {pod.name} declares"
                        )
                    for host in (name, f"{name}.{namespace}.svc",
                                 f"{name}.{namespace}.svc.cluster.local"):  # fmt: skip
                        self._route(host, port["port"], pod.inbound(number))

    # ------------------------------------------------------------------ pods

    def add(self, deployment: Obj) -> Pod:
        name = deployment["metadata"]["name"]
        pod = Pod(name, deployment, self.workdir / "pods" / name)
        (pod.root / "logs").mkdir(parents=True, exist_ok=True)
        (pod.root / "net").mkdir(parents=True, exist_ok=True)
        (pod.root / "wd").mkdir(parents=True, exist_ok=True)
        self._volumes(pod)
        self.pods[name] = pod
        return pod

    def _volumes(self, pod: Pod) -> None:
        volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
        uid, gid = self._ids(pod.spec, {})
        for container in itertools.chain(
            pod.spec.get("initContainers", []), pod.spec["containers"]
        ):
            for mount in container.get("volumeMounts", []):
                path = mount["mountPath"]
                if path in pod.mounts:
                    continue
                volume = volumes[mount["name"]]
                host = pod.root / "volumes" / mount["name"]
                if "emptyDir" in volume:
                    host.mkdir(parents=True, exist_ok=True)
                    os.chown(host, uid, gid)
                    pod.mounts[path] = host
                    continue
                files = self._volume_files(volume)
                if files is None:
                    continue  # an optional Secret that does not exist: nothing mounted
                host.mkdir(parents=True, exist_ok=True)
                for key, text in files.items():
                    (host / key).write_text(text, encoding="utf-8")
                    os.chown(host / key, uid, gid)
                sub = mount.get("subPath")
                pod.mounts[path] = host / sub if sub else host
        for path, source in IMAGE_FILES.items():
            pod.mounts[path] = source
        # ConfigMap files that name mount paths (config.properties, nginx templates) are
        # rewritten once every mount of the pod is known.
        folders = {h for h in pod.mounts.values() if h.is_dir() and h.is_relative_to(pod.root)}
        for host in folders:
            if str(host).startswith(str(pod.root / "volumes")):
                for file in host.iterdir():
                    if file.is_file():
                        file.write_text(
                            pod.rewrite(file.read_text(encoding="utf-8")), encoding="utf-8"
                        )

    def _volume_files(self, volume: Obj) -> dict[str, str] | None:
        if "configMap" in volume:
            return dict(self.config_maps[volume["configMap"]["name"]].get("data", {}))
        if "secret" in volume:
            name = volume["secret"]["secretName"]
            if name not in self.secrets:
                if volume["secret"].get("optional"):
                    return None
                raise AssertionError(f"Secret {name} is mounted but not made by any ExternalSecret")
            return dict(self.secrets[name])
        raise AssertionError(f"unsupported volume {volume}")

    @staticmethod
    def _ids(pod_spec: Obj, container: Obj) -> tuple[int, int]:
        context = {**pod_spec.get("securityContext", {}), **container.get("securityContext", {})}
        return int(context.get("runAsUser", 0)), int(context.get("runAsGroup", 0))

    def env(self, pod: Pod, container: Obj) -> dict[str, str]:
        """The container's environment, exactly as the kubelet would assemble it."""
        env: dict[str, str] = dict(IMAGE_ENV)
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.config_maps[source["configMapRef"]["name"]]["data"])
            else:
                name = source["secretRef"]["name"]
                if name not in self.secrets:
                    raise AssertionError(f"{pod.name}: envFrom Secret {name} is made by nothing")
                env.update(self.secrets[name])
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = str(item["value"])
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.secrets[ref["name"]][ref["key"]]
        if container["image"].split("/")[-1].startswith("voxflow-torchserve"):
            env.setdefault("HOME", "/home/model-server")  # the image's user; read-only there
        env = {key: pod.rewrite(value) for key, value in env.items()}
        return {**env, **self.env_overrides.get(pod.name, {})}  # host paths: not rewritten

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        """Sandboxes first (every route must exist), then init containers, then containers."""
        self._service_routes()
        for pod in self.pods.values():
            self._sandbox(pod)
        for pod in self.pods.values():
            for container in pod.spec.get("initContainers", []):
                process = self._run(pod, container)
                code = process.process.wait(timeout=600)
                assert code == 0, (
                    f"init container {pod.name}/{container['name']} exited {code}:\n"
                    f"{process.log_tail(40)}"
                )
        for pod in self.pods.values():
            for container in pod.spec["containers"]:
                pod.containers[container["name"]] = self._run(pod, container)

    def _sandbox(self, pod: Pod) -> None:
        """The pod's "pause" process: network and mount namespaces, hosts file, forwarders."""
        hosts = pod.root / "hosts"
        hosts.write_text(
            "127.0.0.1 localhost\n"
            + "".join(f"{ip} {name}\n" for name, ip in sorted(self.addresses.items())),
            encoding="utf-8",
        )
        lines = ["set -e", "ip link set lo up", f"mount --bind {hosts} /etc/hosts"]
        # Where a mountPath exists here too (/tmp), the pod's volume is mounted over it, so
        # what a program writes there by default stays in its pod, as in a container.
        for path, host in sorted(pod.mounts.items()):
            if Path(path).is_dir() and host.is_dir() and host.is_relative_to(pod.root):
                lines.append(f"mount --bind {host} {path}")
        own = set(pod.ports().values())
        for (name, port), socket in sorted(self.routes.items()):
            if port in own:
                continue  # its own port: binding it twice would fail, and it never calls out there
            ip = self.addresses[name]
            lines.append(
                f"socat TCP-LISTEN:{port},bind={ip},fork,reuseaddr UNIX-CONNECT:{socket} &"
            )
        for port in sorted(set(pod.ports().values())):
            lines.append(
                f"socat UNIX-LISTEN:{pod.inbound(port)},fork,mode=777 TCP:127.0.0.1:{port} &"
            )
        lines.append("exec sleep infinity")
        script = pod.root / "sandbox.sh"
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        pod.sandbox = ManagedProcess(
            f"{pod.name} sandbox",
            [
                "unshare",
                "--net",
                "--mount",
                "--propagation",
                "private",
                "--fork",
                "sh",
                str(script),
            ],
            pod.log("sandbox"),
        ).start()
        deadline = time.monotonic() + 20
        while not all(pod.inbound(p).exists() for p in set(pod.ports().values())):
            assert pod.sandbox.alive, pod.sandbox.log_tail()
            assert time.monotonic() < deadline, f"{pod.name} sandbox did not come up"
            time.sleep(0.1)

    def sandbox_pid(self, pod: Pod) -> int:
        """The pid inside the namespaces (unshare --fork's child), for nsenter."""
        assert pod.sandbox is not None
        children = subprocess.run(
            ["pgrep", "-P", str(pod.sandbox.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        return int(children[0])

    def enter(self, pod: Pod, container: Obj) -> list[str]:
        """nsenter into the pod's namespaces, in the pod's working folder.

        The processes run as this machine's user, not the manifest's runAsUser: the Python here
        lives under /root (mode 0700), which uid 10001 cannot reach. The images' users are
        checked by tests/deploy/test_docker.py and test_k8s_invariants.py instead.
        """
        return [
            "nsenter", "-t", str(self.sandbox_pid(pod)), "--net", "--mount",
            f"--wd={pod.root / 'wd'}",
        ]  # fmt: skip

    def _run(self, pod: Pod, container: Obj) -> ManagedProcess:
        argv = [
            pod.rewrite(str(a)) for a in container.get("command", []) + container.get("args", [])
        ]
        env = self.env(pod, container)
        if container["image"].split("/")[-1].startswith("nginx"):
            argv = self._nginx(pod, env)
        assert argv, f"{pod.name}/{container['name']} has no command (the image default is not run)"
        process = ManagedProcess(
            f"{pod.name}/{container['name']}",
            [
                "env",
                "-i",
                *(f"{k}={v}" for k, v in env.items()),
                *self.enter(pod, container),
                *argv,
            ],
            pod.log(container["name"]),
        )
        return process.start()

    def _nginx(self, pod: Pod, env: dict[str, str]) -> list[str]:
        """What the nginx image's entrypoint does: envsubst each template into conf.d, run."""
        templates = pod.mounts["/etc/nginx/templates"]
        conf_d = pod.mounts["/etc/nginx/conf.d"]
        tmp = pod.mounts["/tmp"]
        for template in templates.glob("*.template"):
            text = re.sub(
                r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), template.read_text()
            )
            (conf_d / template.name.removesuffix(".template")).write_text(text)
        main = tmp / "nginx.conf"
        main.write_text(
            f"pid {tmp}/nginx.pid;\nerror_log stderr notice;\nevents {{}}\nhttp {{\n"
            f"  access_log off;\n  client_body_temp_path {tmp}/client;\n"
            f"  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fastcgi;\n"
            f"  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
            f"  include {conf_d}/*.conf;\n}}\n"
        )
        uid, gid = self._ids(pod.spec, {})
        for path in (main, *conf_d.iterdir()):
            os.chown(path, uid, gid)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return [nginx, "-e", "stderr", "-c", str(main), "-g", "daemon off;"]

    # ------------------------------------------------------------------ probes and access

    def http(self, pod: Pod, port: int | str, path: str, **kwargs: Any) -> httpx.Response:
        number = pod.ports()[port] if isinstance(port, str) else port
        transport = httpx.HTTPTransport(uds=str(pod.inbound(number)))
        with httpx.Client(transport=transport, base_url="http://pod", timeout=30) as client:
            return client.get(path, **kwargs)

    def probe(self, pod: Pod, container: Obj, probe: Obj) -> bool:
        if "httpGet" in probe:
            try:
                get = probe["httpGet"]
                return self.http(pod, get["port"], get["path"]).status_code < 400
            except httpx.HTTPError:
                return False
        command = [pod.rewrite(str(a)) for a in probe["exec"]["command"]]
        env = self.env(pod, container)
        result = subprocess.run(
            ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *self.enter(pod, container),
             *command],
            capture_output=True, check=False, timeout=30,
        )  # fmt: skip
        return result.returncode == 0

    def wait_ready(self, timeout_s: float = 420) -> None:
        """Every container's readiness probe passes (or the pod's logs say why not)."""
        deadline = time.monotonic() + timeout_s
        pending = [
            (pod, c) for pod in self.pods.values() for c in pod.spec["containers"]
            if "readinessProbe" in c
        ]  # fmt: skip
        while pending:
            pod, container = pending[0]
            process = pod.containers[container["name"]]
            assert process.alive, f"{process.name} exited:\n{pod.logs()}"
            if self.probe(pod, container, container["readinessProbe"]):
                pending.pop(0)
                continue
            assert time.monotonic() < deadline, f"{process.name} never got ready:\n{pod.logs()}"
            time.sleep(1)

    def exited(self) -> Iterator[str]:
        for pod in self.pods.values():
            for name, process in pod.containers.items():
                if not process.alive:
                    yield f"{pod.name}/{name} exited {process.process.returncode}"

    def stop(self) -> None:
        for pod in self.pods.values():
            for process in pod.containers.values():
                subprocess.run(["pkill", "-TERM", "-g", str(process.pid)], check=False)
            for process in pod.containers.values():
                process.stop(timeout_s=30)
            if pod.sandbox is not None:
                pod.sandbox.stop(timeout_s=5)
        for process in self.forwarders:
            process.stop(timeout_s=5)
