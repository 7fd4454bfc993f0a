"""A manufacturer's system as the feed tests meet it: a real HTTP server on a loopback port, in a
thread, answering each request as the test's handler says (pages of cases, a 500, a slow answer,
a 503 then a 200) and recording every request it was sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON, or None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # sent as JSON
    delay: float = 0.0  # seconds before answering (a slow server)


Handler = Callable[[Request], Reply]


def pages(*batches: list[dict[str, Any]], key: str = "items") -> Handler:
    """Pages of records by the `page` parameter (from 1), under data.<key>; past the last, an
    empty page."""

    def handle(request: Request) -> Reply:
        n = int(request.query.get("page", "1"))
        items = batches[n - 1] if 1 <= n <= len(batches) else []
        return Reply(body={"data": {key: items}})

    return handle


class OemServer:
    """Start with start(); `url(path)` is where it listens; `requests` what it was sent."""

    def __init__(self) -> None:
        self.handler: Handler = lambda request: Reply(404, {"error": "no handler"})
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> OemServer:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw) if raw else None,
                )
                with owner._lock:
                    owner.requests.append(request)
                    handler = owner.handler
                reply = handler(request)
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body, ensure_ascii=False).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point

            do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def sent(self, method: str = "GET") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
