"""File download route of the fake Hub: ``GET``/``HEAD`` ``[/{datasets|spaces}]/{repo_id}/resolve/{revision}/{path}``.

Headers follow what huggingface_hub's ``get_hf_file_metadata``/``hf_hub_download`` read: ``X-Repo-Commit`` (the
resolved commit), ``ETag`` (git blob sha1 of a regular file, sha256 of an LFS file), ``X-Linked-Etag`` and
``X-Linked-Size`` for LFS files, ``Content-Length``, and ``Range`` support (206/416). The Hub redirects LFS files to a
CDN; here the content is served directly, with the same metadata headers.
"""

from __future__ import annotations

import re

from .server import Request, Response
from .storage import HubError

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single ``Range`` header, None for the whole file; 416 if unsatisfiable."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        raise HubError(416, f"Unsupported Range header {header!r}", headers={"Content-Range": f"bytes */{size}"})
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    elif last:
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = 0, size - 1
    if start >= size or start > end:
        raise HubError(
            416, f"Range {header!r} is outside a {size}-byte file", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end


def resolve(request: Request) -> Response:
    repo = request.repo()
    commit = repo.resolve(request.params["rev"])
    path = request.params["path"]
    entry = commit.tree.get(path)
    if entry is None:
        raise HubError(404, f"Entry not found: {path}", code="EntryNotFound", headers={"X-Repo-Commit": commit.id})
    headers = {
        "X-Repo-Commit": commit.id,
        "ETag": f'"{entry.etag}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'inline; filename="{path.rsplit("/", 1)[-1]}"',
    }
    if entry.lfs:
        headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
    byte_range = _byte_range(request.headers.get("range"), entry.size)
    if request.method == "HEAD":
        return Response(200, b"", {**headers, "Content-Length": str(entry.size)})
    data = request.hub.storage.read_object(entry.sha256)
    if byte_range is None:
        return Response(200, data, headers)
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end}/{entry.size}"
    return Response(206, data[start : end + 1], headers)


_RESOLVE = r"/(?:(?P<type>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)"
ROUTES = [("GET", _RESOLVE, resolve), ("HEAD", _RESOLVE, resolve)]
