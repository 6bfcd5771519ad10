"""HTTP side of the fake Hub: a threaded stdlib server, request parsing, bearer-token auth and routing.

Routes live in ``routes_*.py`` as ``(method, regex, handler)`` tables matched against the raw (still
percent-encoded) path, so a revision quoted with ``safe=""`` (``refs%2Fpr%2F1``) stays one path segment.
A request that no route matches is answered 501 and recorded in ``FakeHub.unimplemented``; the pytest fixture
fails the test that sent it, so a client upgrade calling a new endpoint shows up red.
"""

from __future__ import annotations

import json
import re
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .storage import HubError, Repo, Storage

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data, status: int = 200, headers: dict | None = None) -> Response:
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(data).encode(), hdrs)


@dataclass
class Request:
    """One parsed request, with the authenticated user (None when no token was sent)."""

    hub: FakeHub
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: str | None
    params: dict[str, str] = field(default_factory=dict)  # unquoted groups of the matched route

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str) -> bool:
        return (self.arg(name) or "").lower() in ("1", "true")

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except json.JSONDecodeError as err:
            raise HubError(400, f"Invalid JSON body: {err}") from err

    def require_user(self) -> str:
        if self.user is None:
            raise HubError(401, "Invalid username or password.")
        return self.user

    def can_write(self, namespace: str) -> bool:
        return self.user is not None and (namespace == self.user or namespace in self.hub.orgs.get(self.user, ()))

    def repo(self, write: bool = False) -> Repo:
        """The repo named by the route (``type``/``repo`` groups), checking that the user may see/write it."""
        repo_type = REPO_TYPES.get(self.params.get("type") or "models", "model")
        repo = self.hub.storage.get_repo(repo_type, self.params["repo"])
        if repo is None or (repo.private and not self.can_write(repo.namespace)):
            # The Hub answers the same for missing and invisible repos, so private names do not leak.
            raise HubError(404, "Repository not found", code="RepoNotFound")
        if write:
            self.require_user()
            if not self.can_write(repo.namespace):
                raise HubError(403, f"You don't have the rights to write to {repo_type} {repo.repo_id}")
        return repo

    def repo_url(self, repo: Repo) -> str:
        return f"{self.hub.endpoint}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}"


def _routes():
    from . import routes_commit, routes_files, routes_misc, routes_repo

    table = []
    for module in (routes_misc, routes_repo, routes_commit, routes_files):
        for method, pattern, handler in module.ROUTES:
            table.append((method, re.compile(pattern), handler))
    return table


class FakeHub:
    """A small Hugging Face Hub-compatible server on 127.0.0.1, backed by a directory.

    Args:
        root (`Path`): directory for the storage (objects and repo views).
        tokens (`dict[str, str]`): bearer token -> username.
        orgs (`dict[str, list[str]]`, *optional*): username -> organizations the user belongs to (and may write to).
        port (`int`, *optional*, defaults to 0): port to bind (0 = any free port).
    """

    def __init__(self, root: Path, tokens: dict[str, str], orgs: dict[str, list[str]] | None = None, port: int = 0):
        self.tokens = dict(tokens)
        self.orgs = {user: list(names) for user, names in (orgs or {}).items()}
        self.storage = Storage(root)
        self.unimplemented: list[str] = []  # "METHOD path" of requests no route handles
        self.errors: list[str] = []  # tracebacks of handlers that crashed (a bug here, or a malformed request)
        self.log: list[tuple[str, str, int]] = []  # (method, path, status) of every request, in order
        self.collections: dict[str, dict] = {}
        self.uploads: dict[str, tuple] = {}  # LFS upload ticket -> (repo type, repo id, sha256, size)
        self.routes = _routes()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakehub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self, root: Path) -> None:
        """Forget all repos, collections and logs; store new content under ``root``."""
        with self.storage.lock:
            self.storage = Storage(root)
            self.collections.clear()
            self.uploads.clear()
            self.unimplemented.clear()
            self.errors.clear()
            self.log.clear()

    def dispatch(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        split = urlsplit(raw_path)
        request = Request(self, method, split.path, parse_qs(split.query), headers, body, user=None)
        try:
            request.user = self._authenticate(headers)
            for route_method, pattern, handler in self.routes:
                match = pattern.fullmatch(split.path)
                if match and route_method == method:
                    request.params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                    with self.storage.lock:
                        return handler(request)
            self.unimplemented.append(f"{method} {raw_path}")
            raise HubError(501, f"fakehub: {method} {split.path} is not implemented")
        except HubError as err:
            reply_headers = {"X-Error-Message": err.message, **err.headers}
            if err.code:
                reply_headers["X-Error-Code"] = err.code
            return Response.json({"error": err.message}, err.status, reply_headers)
        except Exception as err:  # any crash must reach the test (fixture teardown), not kill the connection
            self.errors.append(f"{method} {raw_path}\n{traceback.format_exc()}")
            # Not 500: huggingface_hub retries 5xx with backoff (~20 s); 501 fails the client at once.
            return Response.json({"error": f"fakehub crashed: {err!r}"}, 501)

    def _authenticate(self, headers: dict[str, str]) -> str | None:
        value = headers.get("authorization")
        if not value:
            return None
        token = value[7:] if value.lower().startswith("bearer ") else value
        if token not in self.tokens:
            # The Hub rejects an invalid token on every route, even for public content.
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]


def _make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the clients pool connections
        timeout = 60  # idle keep-alive connections release their thread

        def _handle(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self._read_body(headers)
            response = hub.dispatch(self.command, self.path, headers, body)
            hub.log.append((self.command, self.path, response.status))
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if "Content-Length" not in response.headers:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _read_body(self, headers: dict[str, str]) -> bytes:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def log_message(self, format, *args) -> None:  # `format`: the base class's signature
            pass  # requests are kept in `hub.log`; stderr noise would drown pytest output

    return Handler
