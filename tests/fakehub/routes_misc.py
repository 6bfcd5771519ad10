"""Account and metadata routes of the fake Hub: whoami, README metadata validation, collections."""

from __future__ import annotations

import re
import secrets

from .server import REPO_TYPES, Request, Response
from .storage import HubError, now_iso

_SLUG = r"(?P<slug>[^/]+/[^/]+)"


def whoami(request: Request) -> Response:
    user = request.require_user()
    orgs = [
        {"type": "org", "name": org, "fullname": org, "roleInOrg": "write"} for org in request.hub.orgs.get(user, [])
    ]
    return Response.json(
        {
            "type": "user",
            "id": f"user-{user}",
            "name": user,
            "fullname": user,
            "email": f"{user}@example.invalid",
            "emailVerified": True,
            "isPro": False,
            "orgs": orgs,
            "auth": {"type": "access_token", "accessToken": {"displayName": "fakehub", "role": "write"}},
        }
    )


def agent_harnesses(request: Request) -> Response:
    # huggingface_hub fetches this registry once per process to tag its user agent; an empty one detects nothing.
    return Response.json({"standardEnvVars": [], "harnesses": {}})


def validate_yaml(request: Request) -> Response:
    """Check that README front matter is valid YAML (the Hub also checks the schema; we do not)."""
    from .routes_repo import parse_card_data

    try:
        parse_card_data(request.json().get("content", ""))
    except ValueError as err:
        return Response.json({"errors": [{"message": str(err)}], "warnings": []}, 400)
    return Response.json({"errors": [], "warnings": []})


# ---- collections -----------------------------------------------------------------------------------------------
def _owner(request: Request, namespace: str) -> dict:
    kind = "user" if namespace in request.hub.tokens.values() else "org"
    return {"name": namespace, "fullname": namespace, "type": kind}


def _collection_json(request: Request, collection: dict, with_position: bool = True) -> dict:
    data = {key: value for key, value in collection.items() if key != "namespace"}
    data["owner"] = _owner(request, collection["namespace"])
    data["items"] = [dict(item, position=i) for i, item in enumerate(collection["items"])]
    if not with_position:
        del data["position"]  # the list answer has none: `list_collections` adds its own
    return data


def _get_collection(request: Request, write: bool = False) -> dict:
    collection = request.hub.collections.get(request.params["slug"])
    visible = collection is not None and (not collection["private"] or request.can_write(collection["namespace"]))
    if not visible:
        raise HubError(404, "Collection not found")
    if write and not request.can_write(collection["namespace"]):
        request.require_user()
        raise HubError(403, "You don't have the rights to edit this collection")
    return collection


def list_collections(request: Request) -> Response:
    owners = request.query.get("owner")
    found = [
        _collection_json(request, c, with_position=False)
        for c in request.hub.collections.values()
        if (owners is None or c["namespace"] in owners) and (not c["private"] or request.can_write(c["namespace"]))
    ]
    return Response.json(found)


def create_collection(request: Request) -> Response:
    payload = request.json()
    namespace = payload.get("namespace") or request.require_user()
    request.require_user()
    if not request.can_write(namespace):
        raise HubError(403, f"You don't have the rights to create a collection under the namespace {namespace}")
    for slug, existing in request.hub.collections.items():
        if existing["namespace"] == namespace and existing["title"] == payload["title"]:
            return Response.json({"error": "Collection already exists", "slug": slug}, 409)
    title_slug = re.sub(r"[^a-z0-9]+", "-", payload["title"].lower()).strip("-") or "collection"
    slug = f"{namespace}/{title_slug}-{secrets.token_hex(12)}"
    request.hub.collections[slug] = {
        "slug": slug,
        "title": payload["title"],
        "description": payload.get("description"),
        "namespace": namespace,
        "items": [],
        "lastUpdated": now_iso(),
        "position": len(request.hub.collections),
        "private": bool(payload.get("private", False)),
        "theme": "default",
        "upvotes": 0,
    }
    return Response.json(_collection_json(request, request.hub.collections[slug]))


def get_collection(request: Request) -> Response:
    return Response.json(_collection_json(request, _get_collection(request)))


def update_collection(request: Request) -> Response:
    collection = _get_collection(request, write=True)
    payload = request.json()
    for key in ("title", "description", "private", "theme", "position"):
        if key in payload:
            collection[key] = payload[key]
    collection["lastUpdated"] = now_iso()
    return Response.json({"data": _collection_json(request, collection)})


def delete_collection(request: Request) -> Response:
    _get_collection(request, write=True)
    del request.hub.collections[request.params["slug"]]
    return Response.json({})


def add_collection_item(request: Request) -> Response:
    collection = _get_collection(request, write=True)
    payload = request.json()
    item_id, item_type = payload["item"]["id"], payload["item"]["type"]
    if item_type in REPO_TYPES.values():
        repo = request.hub.storage.get_repo(item_type, item_id)
        if repo is None or (repo.private and not request.can_write(repo.namespace)):
            raise HubError(404, f"{item_type} {item_id} not found", code="RepoNotFound")
    if any(item["id"] == item_id and item["type"] == item_type for item in collection["items"]):
        raise HubError(409, "Item already in the collection")
    item = {"_id": secrets.token_hex(12), "id": item_id, "type": item_type}
    if item_type in REPO_TYPES.values():
        item["repoType"] = item_type
    if payload.get("note"):
        item["note"] = {"text": payload["note"], "html": payload["note"]}
    collection["items"].append(item)
    collection["lastUpdated"] = now_iso()
    return Response.json(_collection_json(request, collection))


def _find_item(collection: dict, object_id: str) -> dict:
    for item in collection["items"]:
        if item["_id"] == object_id:
            return item
    raise HubError(404, f"Item {object_id} not found in the collection")


def update_collection_item(request: Request) -> Response:
    collection = _get_collection(request, write=True)
    item = _find_item(collection, request.params["item"])
    payload = request.json()
    if "note" in payload:
        item["note"] = {"text": payload["note"], "html": payload["note"]}
    if "position" in payload:
        collection["items"].remove(item)
        collection["items"].insert(int(payload["position"]), item)
    return Response.json(_collection_json(request, collection))


def delete_collection_item(request: Request) -> Response:
    collection = _get_collection(request, write=True)
    collection["items"].remove(_find_item(collection, request.params["item"]))
    return Response.json({})


ROUTES = [
    ("GET", r"/api/whoami-v2", whoami),
    ("GET", r"/api/agent-harnesses", agent_harnesses),
    ("POST", r"/api/validate-yaml", validate_yaml),
    ("GET", r"/api/collections", list_collections),
    ("POST", r"/api/collections", create_collection),
    ("GET", rf"/api/collections/{_SLUG}", get_collection),
    ("PATCH", rf"/api/collections/{_SLUG}", update_collection),
    ("DELETE", rf"/api/collections/{_SLUG}", delete_collection),
    ("POST", rf"/api/collections/{_SLUG}/items", add_collection_item),
    ("PATCH", rf"/api/collections/{_SLUG}/items/(?P<item>[^/]+)", update_collection_item),
    ("DELETE", rf"/api/collections/{_SLUG}/items/(?P<item>[^/]+)", delete_collection_item),
]
