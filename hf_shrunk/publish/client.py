"""The publish stage's Hub client: the token, an authenticated ``HfApi`` whose repeatable calls are retried, and Hub
answers turned into messages.

Retries: a call that is safe to repeat (reads, ``create_repo``/``create_branch`` with ``exist_ok``, Collection calls
with ``exists_ok``; see :data:`REPEATABLE`) is tried up to :attr:`RetryPolicy.tries` times when it fails for a
transient reason: HTTP 408/429/5xx (a ``Retry-After`` header is honoured) or a connection that failed, dropped or
timed out. The waits grow exponentially with jitter and are bounded in all (:attr:`RetryPolicy.budget`); each retry
logs one line. Other answers (401, 403, 404, 409, ...) are raised at once. A commit is retried by
:func:`hf_shrunk.publish.push.commit_branch`, which reads the branch again before each new try.

``HF_SHRUNK_HUB_TRIES`` sets the number of tries and ``HF_SHRUNK_HUB_RETRY_SCALE`` multiplies every wait (tests use
0.01).
"""

from __future__ import annotations

import collections.abc
import contextlib
import email.utils
import functools
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hf_shrunk.config import ConfigError, UserError

COLLECTION_TITLE = "hf_shrunk: shrunk language models"
COLLECTION_DESCRIPTION = (
    "Small masked LMs on a child-directed vocabulary (Deshpande et al. 2023, reproduced with hf_shrunk): every "
    "size, its checkpoints, the corpus."
)
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# HfApi methods that may be repeated as they are; value: the keyword that must be true for that (None: always).
REPEATABLE: dict[str, str | None] = {
    "whoami": None,
    "repo_info": None,
    "repo_exists": None,
    "list_repo_tree": None,
    "list_repo_refs": None,
    "list_repo_commits": None,
    "list_repo_files": None,
    "get_paths_info": None,
    "hf_hub_download": None,
    "list_collections": None,
    "get_collection": None,
    "create_repo": "exist_ok",
    "create_branch": "exist_ok",
    "create_collection": "exists_ok",
    "add_collection_item": "exists_ok",
}
TRIES_ENV, SCALE_ENV = "HF_SHRUNK_HUB_TRIES", "HF_SHRUNK_HUB_RETRY_SCALE"

logger = logging.getLogger("hf_shrunk.publish")
T = TypeVar("T")


class HubAuthError(UserError):
    """No token, or the Hub rejected it (401)."""


class HubPermissionError(UserError):
    """The Hub refused a write (403): the user cannot write to that namespace or repo."""


class HubUnavailableError(UserError):
    """A repeatable call kept failing for transient reasons until the retries ran out."""


def _env_number(name: str, kind: type, default: float) -> Any:
    value = os.environ.get(name)
    try:
        number = kind(value) if value else default
    except ValueError:
        number = -1
    if number < 0 or (kind is int and number < 1):
        raise ConfigError(f"{name}={value!r}: expected a {'whole number ≥ 1' if kind is int else 'number ≥ 0'}")
    return number


@dataclass
class RetryPolicy:
    """How often and how long to retry: ``tries`` in all; before try n+1 a wait drawn from [d/2, d] with
    d = min(cap, base * 2**(n-1)), or the server's ``Retry-After`` if longer; all waits of one call at most ``budget``
    seconds. ``scale`` multiplies the waits actually slept (and the budget)."""

    tries: int = 8
    base: float = 1.0
    cap: float = 30.0
    budget: float = 180.0
    scale: float = 1.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(tries=_env_number(TRIES_ENV, int, 8), scale=_env_number(SCALE_ENV, float, 1.0))

    def wait(self, attempt: int, retry_after: float | None) -> float:
        step = min(self.cap, self.base * 2 ** (attempt - 1))
        wait = step / 2 + self.rng.uniform(0, step / 2)
        return max(wait, retry_after or 0.0) * self.scale


@dataclass
class RetryStats:
    retries: int = 0
    waited: float = 0.0
    reasons: list[str] = field(default_factory=list)


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


@functools.cache
def _connection_errors() -> tuple[type[BaseException], ...]:
    """Errors of a connection that failed, dropped or timed out (the HTTP libraries huggingface_hub may use)."""
    found: list[type[BaseException]] = [ConnectionResetError, ConnectionAbortedError, ConnectionRefusedError]
    found.append(TimeoutError)
    with contextlib.suppress(ImportError):
        import httpx2

        found += [httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError]
    with contextlib.suppress(ImportError):
        import httpx

        found += [httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError]
    with contextlib.suppress(ImportError):
        import requests

        found += [requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError]
    return tuple(found)


def retry_after(error: BaseException) -> float | None:
    """Seconds the server asked to wait (``Retry-After``: seconds or an HTTP date), if any."""
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    return None


def transient(error: BaseException, also: frozenset[int] = frozenset()) -> bool:
    """Whether ``error`` (or an error it was raised from) is worth retrying: an HTTP status in
    :data:`TRANSIENT_STATUS` (or ``also``), or a connection that failed, dropped or timed out."""
    seen, current = set(), error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        status = _status(current)
        if status is not None:
            return status in TRANSIENT_STATUS or status in also  # the server answered: its status decides
        if isinstance(current, _connection_errors()):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(error: BaseException) -> str:
    status = _status(error)
    if status is not None:
        return f"HTTP {status}"
    cause = error.__cause__ or error.__context__
    inner = f" ({type(cause).__name__})" if cause is not None and not isinstance(error, _connection_errors()) else ""
    return f"{type(error).__name__}{inner}"


def with_retries(
    call: Callable[[], T],
    what: str,
    policy: RetryPolicy | None = None,
    stats: RetryStats | None = None,
    also: frozenset[int] = frozenset(),
) -> T:
    """``call()``, tried again after transient failures (see the module docstring); :class:`HubUnavailableError`
    once the tries or the wait budget run out. ``also`` adds HTTP statuses that are transient for this call."""
    policy = policy or RetryPolicy.from_env()
    stats = stats if stats is not None else RetryStats()
    waited, started = 0.0, time.monotonic()
    for attempt in range(1, policy.tries + 1):
        try:
            return call()
        except Exception as error:
            if not transient(error, also):
                raise
            wait = policy.wait(attempt, retry_after(error))
            if attempt == policy.tries or waited + wait > policy.budget * policy.scale:
                first_line = (str(error).strip().splitlines() or [""])[0][:200]
                raise HubUnavailableError(
                    f"{what}: the Hub kept failing ({describe(error)}: {first_line}) after {attempt} tries in "
                    f"{time.monotonic() - started:.1f} s. Commits are atomic, so nothing is half-done: run the same "
                    "command again later to continue where it stopped."
                ) from error
            logger.warning("%s: %s; retry %d/%d in %.2f s", what, describe(error), attempt, policy.tries - 1, wait)
            stats.retries, stats.waited = stats.retries + 1, stats.waited + wait
            stats.reasons.append(describe(error))
            time.sleep(wait)
            waited += wait
    raise AssertionError("unreachable")  # pragma: no cover


class RetryingApi:
    """An ``HfApi`` whose :data:`REPEATABLE` calls go through :func:`with_retries` (a lazy listing is read whole
    inside the retry); every other attribute is the wrapped api's. ``raw`` is the wrapped api."""

    def __init__(self, api: Any, policy: RetryPolicy | None = None):
        self.raw = api
        self.policy = policy or RetryPolicy.from_env()
        self.stats = RetryStats()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.raw, name)
        if name not in REPEATABLE:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            flag = REPEATABLE[name]
            if flag is not None and not kwargs.get(flag):
                return attr(*args, **kwargs)  # a create that fails when the thing exists: not repeatable
            target = args[0] if args and isinstance(args[0], str) else kwargs.get("repo_id", "")
            return self.retry(lambda: _whole(attr(*args, **kwargs)), f"{name}({target})")

        return call

    def retry(self, call: Callable[[], T], what: str, also: frozenset[int] = frozenset()) -> T:
        return with_retries(call, what, self.policy, self.stats, also)


def _whole(result: Any) -> Any:
    """A paginated listing is a lazy iterator whose requests run while it is read: read it inside the retry."""
    if isinstance(result, collections.abc.Iterator):
        return list(result)
    return result


def retrying(api: Any) -> RetryingApi:
    return api if isinstance(api, RetryingApi) else RetryingApi(api)


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


def connect(token: str | None) -> tuple[RetryingApi, str]:
    """An authenticated, retrying ``HfApi`` and the user's name; a 401 becomes :class:`HubAuthError`."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = RetryingApi(HfApi(token=resolve_token(token)))
    try:
        user = api.whoami()["name"]
    except HfHubHTTPError as e:
        if _status(e) == 401:
            raise HubAuthError(
                f"the Hugging Face token was rejected by {api.endpoint} (401: invalid or expired). Create a new one "
                "at https://huggingface.co/settings/tokens and run `hf auth login` (or set HF_TOKEN / pass --token)."
            ) from e
        raise
    return api, user


def anonymous() -> RetryingApi:
    """A retrying ``HfApi`` that sends no token (public repos can be read without one)."""
    from huggingface_hub import HfApi

    return RetryingApi(HfApi(token=False))


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
