"""A TLS terminator that requires a client certificate and speaks ALPN h2, as a gRPC frontend.

The Temporal dev server has no TLS; this stands where the Helm values put the frontend's own
mTLS (`requireClientAuth: true`), so clients are checked exactly as they would be there.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from pathlib import Path


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class MutualTLSProxy:
    def __init__(self, cert: Path, key: Path, client_ca: Path, upstream_port: int) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        self.refused = 0
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    client = context.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    proxy.refused += 1  # no certificate, or one from another CA
                    return
                upstream = socket.create_connection(("127.0.0.1", upstream_port))
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(timeout=5)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
