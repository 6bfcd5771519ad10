"""Write routes of the fake Hub: preupload, the NDJSON commit endpoint, and LFS "basic" transfer.

The client flow (huggingface_hub ``create_commit``): ``preupload`` says per file whether it goes to LFS and gives the
remote oid (the client skips files whose oid is unchanged); LFS files are announced to the batch API, which answers
an upload action only for objects the repo does not have yet; each is PUT to the given URL (a one-time ticket on this
server, standing in for a presigned S3 URL, so no auth header is needed) and verified; then one NDJSON commit
references them by sha256 (``lfsFile``) next to inline regular files (``file``) and deletions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

from .server import Request, Response
from .storage import FileEntry, HubError, Repo, matches_any

_REPO = r"/api/(?P<type>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_LFS_TICKET = r"/_fakehub/lfs/(?P<ticket>[0-9a-f]+)"


def _reject_pull_requests(request: Request) -> None:
    if request.flag("create_pr"):
        # Pull requests are not modelled: answer cleanly, and record it so the test that asked fails visibly.
        request.hub.unimplemented.append(f"{request.method} {request.path}?create_pr=1 (pull requests)")
        raise HubError(400, "fakehub: pull requests (create_pr) are not supported")


def _branch_head(repo: Repo, branch: str):
    if branch not in repo.branches:
        raise HubError(404, f"Invalid rev id: {branch} (commits go to an existing branch)", code="RevisionNotFound")
    return repo.commits[repo.branches[branch]]


def preupload(request: Request) -> Response:
    repo = request.repo(write=True)
    _reject_pull_requests(request)
    head = _branch_head(repo, request.params["rev"])
    payload = request.json()
    storage = request.hub.storage
    gitignore = payload.get("gitIgnore")
    if gitignore is None and ".gitignore" in head.tree:
        gitignore = storage.read_object(head.tree[".gitignore"].sha256).decode("utf-8", errors="replace")
    ignore = [line.strip() for line in (gitignore or "").splitlines() if line.strip() and not line.startswith("#")]
    files = []
    for spec in payload.get("files", []):
        path, size = spec["path"], int(spec["size"])
        lfs = size > 0 and storage.is_lfs(head.tree, path, size, base64.b64decode(spec.get("sample", "")))
        answer = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": matches_any(path, ignore)}
        existing = head.tree.get(path)
        if existing is not None:
            # The oid the client compares with its own (sha256 for LFS, git blob sha1 otherwise) to skip no-ops.
            answer["oid"] = existing.etag
        files.append(answer)
    return Response.json({"files": files, "commitOid": head.id})


def _apply(request: Request, repo: Repo, tree: dict[str, FileEntry], key: str, value: dict) -> None:
    storage = request.hub.storage
    path = value.get("path", "").strip("/")
    if key == "file":
        if value.get("encoding", "base64") != "base64":
            raise HubError(400, f"Unsupported encoding {value.get('encoding')!r} for {path}")
        data = base64.b64decode(value["content"])
        lfs = len(data) > 0 and storage.is_lfs(tree, path, len(data), data[:512])
        sha256 = storage.put_object(data)
        if lfs:
            repo.lfs_objects.add(sha256)
        tree[path] = storage.entry_for(sha256, len(data), lfs)
    elif key == "lfsFile":
        oid = value["oid"]
        if oid not in repo.lfs_objects or not storage.has_object(oid):
            raise HubError(
                400, f"Your push was rejected because an LFS pointer pointed to a file that does not exist: {path}"
            )
        tree[path] = storage.entry_for(oid, storage.object_path(oid).stat().st_size, lfs=True)
    elif key == "deletedFile":
        if tree.pop(path, None) is None:
            raise HubError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
    elif key == "deletedFolder":
        inside = [p for p in tree if p.startswith(path + "/")]
        if not inside:
            raise HubError(404, f"A folder with this name doesn't exist: {path}", code="EntryNotFound")
        for p in inside:
            del tree[p]
    else:
        request.hub.unimplemented.append(f"{request.method} {request.path} (commit operation {key!r})")
        raise HubError(400, f"fakehub: commit operation {key!r} is not supported")


def commit(request: Request) -> Response:
    repo = request.repo(write=True)
    _reject_pull_requests(request)
    branch = request.params["rev"]
    head = _branch_head(repo, branch)
    lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
    if not lines or lines[0].get("key") != "header":
        raise HubError(400, "The first line of a commit must be its header")
    header = lines[0]["value"]
    if not header.get("summary"):
        raise HubError(400, "A commit needs a summary (commit message)")
    parent = header.get("parentCommit")
    if parent is not None and parent != head.id:
        raise HubError(412, f"A commit has happened on {branch} since {parent}. Please refresh and try again.")
    tree = dict(head.tree)
    for line in lines[1:]:
        _apply(request, repo, tree, line["key"], line["value"])
    new = request.hub.storage.commit(
        repo, branch, tree, header["summary"], header.get("description", ""), request.user
    )
    return Response.json(
        {
            "success": True,
            "commitOid": new.id,
            "commitUrl": f"{request.repo_url(repo)}/commit/{new.id}",
            "pullRequestUrl": None,
        }
    )


# ---- LFS ------------------------------------------------------------------------------------------------------------
def lfs_batch(request: Request) -> Response:
    repo = request.repo(write=True)
    payload = request.json()
    if payload.get("operation") != "upload":
        request.hub.unimplemented.append(
            f"{request.method} {request.path} (LFS operation {payload.get('operation')!r})"
        )
        raise HubError(501, "fakehub: only LFS uploads are implemented (downloads go through resolve)")
    objects = []
    for obj in payload.get("objects", []):
        oid, size = obj["oid"], int(obj["size"])
        answer: dict = {"oid": oid, "size": size, "authenticated": True}
        if oid not in repo.lfs_objects:
            ticket = secrets.token_hex(16)
            request.hub.uploads[ticket] = (repo.repo_type, repo.repo_id, oid, size)
            href = f"{request.hub.endpoint}/_fakehub/lfs/{ticket}"
            answer["actions"] = {"upload": {"href": href}, "verify": {"href": f"{href}/verify"}}
        objects.append(answer)
    return Response.json(
        {"transfer": "basic", "objects": objects}, headers={"Content-Type": "application/vnd.git-lfs+json"}
    )


def _ticket(request: Request) -> tuple[Repo, str, int]:
    try:
        repo_type, repo_id, oid, size = request.hub.uploads[request.params["ticket"]]
    except KeyError:
        raise HubError(404, "Unknown or expired upload URL") from None
    repo = request.hub.storage.get_repo(repo_type, repo_id)
    if repo is None:
        raise HubError(404, "Repository not found", code="RepoNotFound")
    return repo, oid, size


def lfs_upload(request: Request) -> Response:
    repo, oid, size = _ticket(request)
    if len(request.body) != size or hashlib.sha256(request.body).hexdigest() != oid:
        raise HubError(400, f"Uploaded content does not match the announced LFS object {oid} ({size} bytes)")
    request.hub.storage.put_object(request.body)
    repo.lfs_objects.add(oid)
    request.hub.storage.save(repo)
    return Response()


def lfs_verify(request: Request) -> Response:
    repo, oid, size = _ticket(request)
    payload = request.json()
    if payload.get("oid") != oid or int(payload.get("size", -1)) != size or oid not in repo.lfs_objects:
        raise HubError(404, f"LFS object {payload.get('oid')} was not uploaded")
    del request.hub.uploads[request.params["ticket"]]
    return Response.json({})


ROUTES = [
    ("POST", rf"{_REPO}/preupload/(?P<rev>[^/]+)", preupload),
    ("POST", rf"{_REPO}/commit/(?P<rev>[^/]+)", commit),
    ("POST", r"/(?:(?P<type>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", lfs_batch),
    ("PUT", _LFS_TICKET, lfs_upload),
    ("POST", rf"{_LFS_TICKET}/verify", lfs_verify),
]
