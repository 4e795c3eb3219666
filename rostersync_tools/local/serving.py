"""Serving a local HTTP server on a thread of its own, and stopping it: the HTTP API adapter
and the console server both run this way (127.0.0.1 only)."""

from __future__ import annotations

import threading
from http.server import HTTPServer


def serve_in_background(server: HTTPServer, name: str) -> threading.Thread:
    """Serve `server` on a daemon thread named `name` until stop_serving."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    return thread


def stop_serving(server: HTTPServer | None) -> None:
    """Stop serving and close the socket (nothing to do for no server)."""
    if server is not None:
        server.shutdown()
        server.server_close()
