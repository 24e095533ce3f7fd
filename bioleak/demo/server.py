"""A static site on 127.0.0.1 on a free port, with an access log tests can assert on."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class _Server(ThreadingHTTPServer):
    # The default listen backlog of 5 drops SYNs under a crawler's 16-32 parallel connections,
    # and every dropped SYN costs the client a one-second retransmit.
    request_queue_size = 128
    connections = 0  # accepted so far: tests assert that a crawl reuses its connections

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1  # the serving thread alone accepts, so no lock is needed
        super().process_request(request, client_address)


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    hang: bool = False  # send headers, then never the body (until the site stops): a stuck server
    later: bytes | None = None  # served instead of `body` from the second request on: a site that changes


@dataclass
class FixtureSite:
    """Serves `pages` (path -> Page). Use as a context manager; `url` is set once started."""

    pages: dict[str, Page]
    access_log: list[str] = field(default_factory=list)
    # As an HTTP proxy, requests carry absolute URLs: they are logged in full and served by path.
    proxy: bool = False
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "site not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        assert self._server is not None, "site not started"
        return self._server.connections

    def start(self) -> FixtureSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real sites: Content-Length is always sent

            def do_GET(self) -> None:
                repeated = self.path in site.access_log
                site.access_log.append(self.path)
                path = self.path
                if site.proxy and path.startswith(("http://", "https://")):
                    parts = urlsplit(path)
                    path = parts.path + ("?" + parts.query if parts.query else "")
                page = site.pages.get(path.split("#")[0]) or Page(b"not found", "text/plain", 404)
                body = page.later if repeated and page.later is not None else page.body
                self.send_response(page.status)
                if page.content_type:
                    self.send_header("Content-Type", page.content_type)
                # A hanging page promises a body it never sends.
                self.send_header("Content-Length", str(100 if page.hang else len(body)))
                for key, value in page.headers:
                    self.send_header(key, value)
                self.end_headers()
                if page.hang:
                    self.wfile.flush()
                    site._stopping.wait()  # released by stop(), so the test never waits on it
                    return
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the access log above is what tests read

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fixture-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FixtureSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
