"""Repository routes of the fake Hub: create/delete/settings, info, tree, paths-info, refs, commits, branches, tags."""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import parse_qs

from .server import URL_PREFIXES, Request, Response
from .storage import Commit, FileEntry, HubError, Repo

_REPO = r"/api/(?P<type>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def parse_card_data(readme: str) -> dict | None:
    """The YAML metadata block at the top of a README (None without one); ValueError if it is not a mapping."""
    import yaml  # a dependency of huggingface_hub itself

    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", readme, flags=re.DOTALL)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        raise ValueError(f"Invalid YAML in README.md metadata: {err}") from err
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("README.md metadata must be a YAML mapping")
    return data


# ---- create / delete / settings ---------------------------------------------------------------------------------
def _target(request: Request) -> tuple[str, str]:
    payload = request.json()
    user = request.require_user()
    namespace = payload.get("organization") or user
    repo_type = payload.get("type") or "model"
    if repo_type not in URL_PREFIXES:
        raise HubError(400, f"Invalid repo type {repo_type!r}")
    return repo_type, f"{namespace}/{payload.get('name', '')}"


def create_repo(request: Request) -> Response:
    repo_type, repo_id = _target(request)
    namespace, name = repo_id.split("/")
    payload = request.json()
    if not _NAME.fullmatch(name) or "--" in name or ".." in name:
        raise HubError(400, f"Invalid repo name {name!r}: use letters, digits, '-', '_', '.' (no '--' or '..')")
    url = f"{request.hub.endpoint}/{URL_PREFIXES[repo_type]}{repo_id}"
    if not request.can_write(namespace):
        raise HubError(403, f'You don\'t have the rights to create a {repo_type} under the namespace "{namespace}"')
    if request.hub.storage.get_repo(repo_type, repo_id) is not None:
        return Response.json({"error": f"You already created this {repo_type} repo", "url": url}, 409)
    private = payload.get("visibility") == "private" or bool(payload.get("private"))
    request.hub.storage.create_repo(repo_type, repo_id, private=private, author=request.user)
    return Response.json({"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]})


def delete_repo(request: Request) -> Response:
    repo_type, repo_id = _target(request)
    request.params.update(type=f"{repo_type}s", repo=repo_id)
    request.hub.storage.delete_repo(request.repo(write=True))
    return Response.json({})


def update_settings(request: Request) -> Response:
    repo = request.repo(write=True)
    payload = request.json()
    if "private" in payload:
        repo.private = bool(payload["private"])
    if "visibility" in payload:
        repo.private = payload["visibility"] == "private"
    request.hub.storage.save(repo)
    return Response.json({})


# ---- info --------------------------------------------------------------------------------------------------------
def _read_text(request: Request, entry: FileEntry | None) -> str | None:
    return None if entry is None else request.hub.storage.read_object(entry.sha256).decode("utf-8", errors="replace")


def repo_info(request: Request) -> Response:
    repo = request.repo()
    commit = repo.resolve(request.params.get("rev") or "main")
    blobs = request.flag("blobs")
    siblings = []
    for path, entry in sorted(commit.tree.items()):
        sibling: dict = {"rfilename": path}
        if blobs:
            lfs = entry.lfs_info()
            sibling.update(size=entry.size, blobId=entry.oid)
            if lfs:
                sibling["lfs"] = {"size": lfs["size"], "sha256": lfs["oid"], "pointerSize": lfs["pointerSize"]}
        siblings.append(sibling)
    try:
        card = parse_card_data(_read_text(request, commit.tree.get("README.md")) or "")
    except ValueError:
        card = None
    data: dict = {
        "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
        "id": repo.repo_id,
        "author": repo.namespace,
        "sha": commit.id,
        "lastModified": commit.date,
        "createdAt": repo.created_at,
        "private": repo.private,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": list((card or {}).get("tags") or []),
        "siblings": siblings,
        "usedStorage": sum(entry.size for entry in commit.tree.values()),
    }
    if card is not None:
        data["cardData"] = card
    if repo.repo_type == "model":
        data["modelId"] = repo.repo_id
        for key in ("library_name", "pipeline_tag", "model-index"):
            if card and key in card:
                data[key] = card[key]
        try:
            config = json.loads(_read_text(request, commit.tree.get("config.json")) or "null")
        except json.JSONDecodeError:
            config = None
        if isinstance(config, dict):
            data["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
    expand = request.query.get("expand", []) + request.query.get("expand[]", [])
    if expand:
        data = {key: value for key, value in data.items() if key in ("_id", "id", *expand)}
    return Response.json(data)


# ---- tree / paths-info -----------------------------------------------------------------------------------------
def _last_commit(repo: Repo, commit: Commit, changed) -> dict:
    """The newest commit (first-parent history of ``commit``) for which ``changed(commit, parent_tree)`` holds."""
    history = repo.history(commit.id)
    for current, parent in zip(history, [*history[1:], None], strict=True):
        if changed(current, parent.tree if parent else {}):
            return {"id": current.id, "title": current.title, "date": current.date}
    return {"id": history[-1].id, "title": history[-1].title, "date": history[-1].date}


def _file_json(repo: Repo, commit: Commit, path: str, expand: bool) -> dict:
    entry = commit.tree[path]
    data: dict = {"type": "file", "oid": entry.oid, "size": entry.size, "path": path}
    if entry.lfs:
        data["lfs"] = entry.lfs_info()
    if expand:
        data["lastCommit"] = _last_commit(repo, commit, lambda c, parent: c.tree.get(path) != parent.get(path))
        data["securityFileStatus"] = {"status": "safe", "avScan": {"virusFound": False}, "pickleImportScan": None}
    return data


def _folder_json(repo: Repo, commit: Commit, path: str, expand: bool) -> dict:
    prefix = path + "/"
    listing = sorted((p, e.oid) for p, e in commit.tree.items() if p.startswith(prefix))
    data: dict = {"type": "directory", "oid": hashlib.sha1(repr(listing).encode()).hexdigest(), "path": path}
    if expand:

        def changed(c: Commit, parent: dict) -> bool:
            return {p: e for p, e in c.tree.items() if p.startswith(prefix)} != {
                p: e for p, e in parent.items() if p.startswith(prefix)
            }

        data["lastCommit"] = _last_commit(repo, commit, changed)
    return data


def _folders(tree: dict[str, FileEntry]) -> set[str]:
    return {path.rsplit("/", i)[0] for path in tree for i in range(1, path.count("/") + 1)}


def list_tree(request: Request) -> Response:
    repo = request.repo()
    commit = repo.resolve(request.params["rev"])
    base = request.params.get("path", "").strip("/")
    expand, recursive = request.flag("expand"), request.flag("recursive")
    folders = _folders(commit.tree)
    if base and base not in folders:
        raise HubError(404, f"{base} does not exist or is not a directory on {commit.id}", code="EntryNotFound")
    prefix = base + "/" if base else ""

    def wanted(path: str) -> bool:
        return path.startswith(prefix) and (recursive or "/" not in path[len(prefix) :])

    entries = [_folder_json(repo, commit, p, expand) for p in sorted(folders) if wanted(p)]
    entries += [_file_json(repo, commit, p, expand) for p in sorted(commit.tree) if wanted(p)]
    return Response.json(sorted(entries, key=lambda e: e["path"]))


def paths_info(request: Request) -> Response:
    repo = request.repo()
    commit = repo.resolve(request.params["rev"])
    if request.headers.get("content-type", "").startswith("application/json"):
        payload = request.json()
        paths, expand = payload.get("paths", []), bool(payload.get("expand"))
    else:
        form = parse_qs(request.body.decode())
        paths, expand = form.get("paths", []), (form.get("expand") or ["false"])[0].lower() in ("1", "true")
    folders = _folders(commit.tree)
    found = []
    for path in (p.strip("/") for p in paths):
        if path in commit.tree:
            found.append(_file_json(repo, commit, path, expand))
        elif path in folders:
            found.append(_folder_json(repo, commit, path, expand))
    return Response.json(found)


# ---- refs / commits / branches / tags ------------------------------------------------------------------------
def list_refs(request: Request) -> Response:
    repo = request.repo()

    def refs(names: dict[str, str], kind: str) -> list[dict]:
        return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": c} for n, c in sorted(names.items())]

    return Response.json(
        {"branches": refs(repo.branches, "heads"), "tags": refs(repo.tags, "tags"), "converts": [], "pullRequests": []}
    )


def list_commits(request: Request) -> Response:
    repo = request.repo()
    return Response.json(
        [
            {
                "id": c.id,
                "title": c.title,
                "message": c.message,
                "date": c.date,
                "authors": [{"user": c.author, "avatar": None}],
            }
            for c in repo.history(request.params["rev"])
        ]
    )


def _check_ref_name(name: str) -> None:
    if name.startswith("refs/") or not re.fullmatch(r"[A-Za-z0-9._/-]+", name) or ".." in name:
        raise HubError(400, f"Invalid reference name {name!r}")


def create_branch(request: Request) -> Response:
    repo = request.repo(write=True)
    branch = request.params["name"]
    _check_ref_name(branch)
    if branch in repo.branches:
        raise HubError(409, f"Reference refs/heads/{branch} already exists")
    repo.branches[branch] = repo.resolve(request.json().get("startingPoint") or "main").id
    request.hub.storage.save(repo)
    return Response.json({})


def delete_branch(request: Request) -> Response:
    repo = request.repo(write=True)
    branch = request.params["name"]
    if branch == "main":
        raise HubError(403, "Cannot delete the default branch main")
    if branch not in repo.branches:
        raise HubError(404, f"Branch {branch} not found", code="RevisionNotFound")
    del repo.branches[branch]
    request.hub.storage.save(repo)
    return Response.json({})


def create_tag(request: Request) -> Response:
    repo = request.repo(write=True)
    tag = request.json().get("tag", "")
    _check_ref_name(tag)
    target = repo.resolve(request.params["name"]).id
    if tag in repo.tags:
        raise HubError(409, f"Tag {tag} already exists")
    repo.tags[tag] = target
    request.hub.storage.save(repo)
    return Response.json({})


def delete_tag(request: Request) -> Response:
    repo = request.repo(write=True)
    if request.params["name"] not in repo.tags:
        raise HubError(404, f"Tag {request.params['name']} not found", code="RevisionNotFound")
    del repo.tags[request.params["name"]]
    request.hub.storage.save(repo)
    return Response.json({})


ROUTES = [
    ("POST", r"/api/repos/create", create_repo),
    ("DELETE", r"/api/repos/delete", delete_repo),
    ("PUT", rf"{_REPO}/settings", update_settings),
    ("GET", rf"{_REPO}(?:/revision/(?P<rev>[^/]+))?", repo_info),
    ("GET", rf"{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", list_tree),
    ("POST", rf"{_REPO}/paths-info/(?P<rev>[^/]+)", paths_info),
    ("GET", rf"{_REPO}/refs", list_refs),
    ("GET", rf"{_REPO}/commits/(?P<rev>[^/]+)", list_commits),
    ("POST", rf"{_REPO}/branch/(?P<name>[^/]+)", create_branch),
    ("DELETE", rf"{_REPO}/branch/(?P<name>[^/]+)", delete_branch),
    ("POST", rf"{_REPO}/tag/(?P<name>[^/]+)", create_tag),
    ("DELETE", rf"{_REPO}/tag/(?P<name>[^/]+)", delete_tag),
]
