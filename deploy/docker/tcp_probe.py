"""Exec probe for workers without an HTTP port: is there an ESTABLISHED connection to each port?

`python /opt/voxflow/tcp_probe.py 5672 7233` exits 0 when this pod's network namespace holds an
established TCP connection to a remote port 5672 and one to 7233 (RabbitMQ, Temporal), else 1.
A worker whose robust connection gave up never re-reads its queue; this catches that. It reads
/proc/net/tcp{,6} only: no extra packages in the image, no traffic.
"""

from __future__ import annotations

import sys
from pathlib import Path

ESTABLISHED = "01"


def established_remote_ports(proc_net: Path = Path("/proc/net")) -> set[int]:
    """Remote ports of every ESTABLISHED IPv4/IPv6 TCP connection in this network namespace."""
    ports: set[int] = set()
    for name in ("tcp", "tcp6"):
        table = proc_net / name
        if not table.is_file():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == ESTABLISHED:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def main(argv: list[str]) -> int:
    if not argv or not all(arg.isdigit() for arg in argv):
        print("usage: tcp_probe.py PORT [PORT...]", file=sys.stderr)
        return 2
    missing = sorted({int(arg) for arg in argv} - established_remote_ports())
    if missing:
        print(f"no established connection to port(s) {missing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
