"""A local HTTP server standing in for an entity's JSON API, on 127.0.0.1 and a free port.

Each route is a function of the request (path, query, headers) that returns what to answer:
`Reply(status, body, headers, delay)`, or `DROP` to close the connection without answering.
Every request is logged, so a test can tell how many tries a page took.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # bytes as they are, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)


DROP = Reply(status=0)


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Route = Callable[[Request], Reply]


class ApiServer:
    def __init__(self, routes: dict[str, Route]) -> None:
        self.routes = routes
        self.log: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(parts.path, {k: v[-1] for k, v in
                                               parse_qs(parts.query).items()},
                                  dict(self.headers.items()))
                server.log.append(request)
                route = server.routes.get(parts.path)
                reply = route(request) if route else Reply(404, {"error": "no existe"})
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 0:
                    self.close_connection = True
                    self.connection.close()
                    return
                body = reply.body if isinstance(reply.body, bytes) else \
                    json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting (a timeout it then retries)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]


@contextmanager
def api_server(routes: dict[str, Route]) -> Iterator[ApiServer]:
    server = ApiServer(routes)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=5)


__all__ = ["DROP", "ApiServer", "Reply", "Request", "api_server"]
