"""A fault-injecting HTTP proxy for the publish tests (stdlib only, on 127.0.0.1), put in front of the fake Hub.

Requests are numbered in arrival order, n = 1, 2, ...; with ``fail_every=N`` every Nth is answered 500 without reaching
the Hub, with ``throttle_every=K`` every Kth is answered 429 with ``Retry-After``, and with ``drop_every=M`` the
connection of every Mth is dropped without an answer: alternately before the request reaches the Hub and after the
Hub has carried it out (an answer lost on the way back, which for a commit means it landed). ``drop_commit_answers``
drops the answers of the first commits that the Hub accepted. ``die_after_commits=C`` makes the proxy go dead once C
commits went through: every later connection is closed at once (a Hub that stopped answering).

Everything else is passed through unchanged. The LFS upload URLs the fake Hub hands out point at the fake Hub itself,
as presigned storage URLs point away from the Hub, so uploads of weights do not go through the proxy.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        fail_every: int = 0,
        drop_every: int = 0,
        throttle_every: int = 0,
        retry_after: int = 1,
        drop_commit_answers: int = 0,
        die_after_commits: int | None = None,
    ):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.fail_every, self.drop_every, self.throttle_every = fail_every, drop_every, throttle_every
        self.retry_after = retry_after
        self.drop_commit_answers = drop_commit_answers
        self.die_after_commits = die_after_commits
        self.counts: Counter[str] = Counter()  # requests, forwarded, 500, 429, drop-before, drop-after, dead, commits
        self.log: list[tuple[str, str, str]] = []  # (method, path, what happened)
        self.dead = False
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def faults(self) -> int:
        return sum(self.counts[k] for k in ("500", "429", "drop-before", "drop-after", "dead"))

    def __enter__(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def decide(self, method: str, path: str) -> str:
        """What to do with the next request: forward, 500, 429, drop-before, drop-after or dead."""
        with self._lock:
            self.counts["requests"] += 1
            n = self.counts["requests"]
            if self.dead:
                what = "dead"
            elif self.fail_every and n % self.fail_every == 0:
                what = "500"
            elif self.throttle_every and n % self.throttle_every == 0:
                what = "429"
            elif self.drop_every and n % self.drop_every == 0:
                what = "drop-after" if (n // self.drop_every) % 2 else "drop-before"
            else:
                what = "forward"
            self.counts[what] += 1
            self.log.append((method, path, what))
            return what

    def committed(self) -> bool:
        """Count a commit the Hub accepted; True if its answer is to be dropped."""
        with self._lock:
            self.counts["commits"] += 1
            if self.die_after_commits is not None and self.counts["commits"] >= self.die_after_commits:
                self.dead = True
            return self.counts["commits"] <= self.drop_commit_answers

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP | {"host", "content-length"}}
            sent["Content-Length"] = str(len(body))
            conn.request(method, path, body=body if body or method in ("POST", "PUT", "PATCH") else None, headers=sent)
            response = conn.getresponse()
            data = response.read()
            return response.status, response.getheaders(), data
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    @property
    def proxy(self) -> FaultProxy:
        return self.server.proxy

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self, reset: bool) -> None:
        if reset:  # RST instead of FIN: the client sees a reset connection
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def _answer(self, status: int, headers: list, body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                self.send_header(key, value)
        length = {k.lower(): v for k, v in headers}.get("content-length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, extra: list) -> None:
        body = json.dumps({"error": f"faultproxy: injected {status}"}).encode()
        headers = [("Content-Type", "application/json"), ("X-Error-Message", f"injected {status}"), *extra]
        self._answer(status, headers, body)

    def _handle(self) -> None:
        body = self._body()
        what = self.proxy.decide(self.command, self.path)
        if what in ("dead", "drop-before"):
            return self._drop(reset=what == "dead")
        if what == "500":
            return self._error(500, [])
        if what == "429":
            return self._error(429, [("Retry-After", str(self.proxy.retry_after))])
        status, headers, data = self.proxy.forward(self.command, self.path, dict(self.headers.items()), body)
        is_commit = self.command == "POST" and "/commit/" in self.path and status == 200
        lose_answer = self.proxy.committed() if is_commit else False
        if what == "drop-after" or lose_answer:
            return self._drop(reset=False)
        self._answer(status, headers, data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def log_message(self, format, *args) -> None:
        pass  # the proxy keeps its own log
