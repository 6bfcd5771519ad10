"""The publish stage's Hub client: the token, an authenticated ``HfApi``, and Hub answers turned into messages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hf_shrunk.config import UserError

COLLECTION_TITLE = "hf_shrunk: shrunk language models"
COLLECTION_DESCRIPTION = (
    "Small masked LMs on a child-directed vocabulary (Deshpande et al. 2023, reproduced with hf_shrunk): every "
    "size, its checkpoints, the corpus."
)


class HubAuthError(UserError):
    """No token, or the Hub rejected it (401)."""


class HubPermissionError(UserError):
    """The Hub refused a write (403): the user cannot write to that namespace or repo."""


def resolve_token(explicit: str | None) -> str:
    """``--token``, else ``HF_TOKEN``, else the token saved by ``hf auth login``; a clear error if none."""
    from huggingface_hub import get_token

    token = explicit or get_token()
    if not token:
        raise HubAuthError(
            "no Hugging Face token found. Log in with `hf auth login` (or set HF_TOKEN, or pass --token) using a "
            "token with write access from https://huggingface.co/settings/tokens"
        )
    return token


def connect(token: str | None) -> tuple[Any, str]:
    """An authenticated ``HfApi`` and the user's name; a 401 becomes :class:`HubAuthError`."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=resolve_token(token))
    try:
        user = api.whoami()["name"]
    except HfHubHTTPError as e:
        if _status(e) == 401:
            raise HubAuthError(
                f"the Hugging Face token was rejected by {api.endpoint} (401: invalid or expired). Create a new one at "
                "https://huggingface.co/settings/tokens and run `hf auth login` (or set HF_TOKEN / pass --token)."
            ) from e
        raise
    return api, user


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


@contextlib.contextmanager
def hub_errors(repo_id: str, user: str) -> Iterator[None]:
    """Turn the Hub's 401/403 answers for ``repo_id`` into errors that say what to do."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as e:
        status = _status(e)
        if status == 401:
            raise HubAuthError(f"{repo_id}: the Hub rejected the token (401); run `hf auth login` again") from e
        if status == 403:
            namespace = repo_id.split("/")[0]
            raise HubPermissionError(
                f"user {user!r} has no write access to {repo_id} (403 from the Hub: {e.server_message or e}). "
                f"Ask an admin of {namespace!r} for write access, use a token with write rights there, or publish "
                "under another --org."
            ) from e
        raise
