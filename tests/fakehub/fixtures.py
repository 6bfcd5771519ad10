"""pytest plugin: the ``fakehub`` fixture (registered in tests/conftest.py via ``pytest_plugins``).

One server runs for the whole session on the port of ``HF_ENDPOINT`` (set by tests/conftest.py before any HF
library is imported, since huggingface_hub reads it into ``constants.ENDPOINT`` at import). Each test gets empty
storage, a fresh HF cache, and the clients switched ONLINE for its duration:

- huggingface_hub decides offline mode from ``constants.HF_HUB_OFFLINE`` (read from the env at import; every request
  goes through a hook that calls ``constants.is_offline_mode()``), and transformers 5 uses that same function;
- datasets copies it into ``datasets.config.HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE`` at import;
- caches: ``huggingface_hub.constants.HF_HUB_CACHE`` is read at call time (hf_hub_download, transformers);
  datasets computes ``datasets.config.HF_DATASETS_CACHE`` and the download paths derived from it at import.
  (transformers' ``HF_MODULES_CACHE`` for in-process ``trust_remote_code`` is not redirected: use a subprocess.)

So the fixture patches those module attributes (and the env vars, for anything that re-reads them) with
``monkeypatch``, which restores offline mode afterwards; it also sets ``HF_TOKEN`` to the test user's token.
Requests to routes the server does not implement, and server crashes, fail the test at teardown.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .server import FakeHub

USER, ORG, OTHER_USER = "tester", "shrunk-org", "someone-else"
TOKEN, OTHER_TOKEN = "hf_fakehub_tester_write_token", "hf_fakehub_someone_else_token"


@dataclass
class HubFixture:
    """What a test gets from the ``fakehub`` fixture.

    Attributes:
        server (`FakeHub`): the server (``.log`` of (method, path, status), ``.unimplemented``, ``.errors``,
            ``.storage``).
        endpoint (`str`): ``http://127.0.0.1:<port>`` (equal to ``HF_ENDPOINT``).
        token (`str`): write token of ``user``, also set as ``HF_TOKEN`` during the test.
        other_token (`str`): token of ``other_user`` (no rights on ``user``'s or ``org``'s repos).
        user, org, other_user (`str`): ``user`` is a member of ``org``.
        api (`HfApi`): ``HfApi(endpoint=endpoint, token=token)``.
        home (`Path`): this test's ``HF_HOME`` (hub cache in ``home / "hub"``).
    """

    server: FakeHub
    endpoint: str
    token: str
    other_token: str
    user: str
    org: str
    other_user: str
    api: object
    home: Path
    _subprocess_homes: itertools.count = field(default_factory=itertools.count)

    def subprocess_env(self, **extra: str) -> dict[str, str]:
        """Environment for a client in a subprocess: online, this server, ``HF_TOKEN``, a fresh empty ``HF_HOME``.

        Args:
            **extra: variables to add or override.
        """
        home = self.home.parent / f"subprocess_hf_home_{next(self._subprocess_homes)}"
        env = dict(os.environ)
        for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "HF_MODULES_CACHE"):
            env.pop(name, None)
        env.update(
            HF_ENDPOINT=self.endpoint,
            HF_HUB_OFFLINE="0",
            HF_DATASETS_OFFLINE="0",
            TRANSFORMERS_OFFLINE="0",
            HF_HUB_DISABLE_XET="1",
            HF_HOME=str(home),
            HF_TOKEN=self.token,
        )
        env.update(extra)
        return env

    def requests(self, method: str | None = None, contains: str = "") -> list[tuple[str, str, int]]:
        """Logged requests, optionally filtered by method and a substring of the path."""
        return [r for r in self.server.log if (method is None or r[0] == method) and contains in r[1]]


def _online(monkeypatch: pytest.MonkeyPatch, home: Path, token: str) -> None:
    """Switch huggingface_hub, transformers and datasets to online mode with caches under ``home``."""
    import datasets.config
    from huggingface_hub import constants

    env = {
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_DATASETS_CACHE": str(home / "datasets"),
        "HF_TOKEN": token,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.setattr(constants, name, str(home / "hub"))
    monkeypatch.setattr(constants, "HF_ASSETS_CACHE", str(home / "assets"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(datasets.config, "DOWNLOADED_DATASETS_PATH", home / "datasets" / "downloads")
    monkeypatch.setattr(datasets.config, "EXTRACTED_DATASETS_PATH", home / "datasets" / "downloads" / "extracted")
    monkeypatch.setattr(datasets.config, "HF_MODULES_CACHE", home / "modules")


@pytest.fixture(scope="session")
def fakehub_server(tmp_path_factory: pytest.TempPathFactory):
    """The session's server, on the port of ``HF_ENDPOINT`` (prefer the per-test ``fakehub`` fixture)."""
    endpoint = os.environ.get("HF_ENDPOINT", "")
    parts = urlsplit(endpoint)
    if parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise RuntimeError(f"HF_ENDPOINT must be http://127.0.0.1:<port> for the fake Hub (got {endpoint!r})")
    server = FakeHub(
        tmp_path_factory.mktemp("fakehub"),
        tokens={TOKEN: USER, OTHER_TOKEN: OTHER_USER},
        orgs={USER: [ORG]},
        port=parts.port,
    ).start()
    yield server
    server.stop()


@pytest.fixture()
def fakehub(fakehub_server: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty fake Hub for this test, with the HF clients online and a fresh cache (see module docstring)."""
    from huggingface_hub import HfApi

    fakehub_server.reset(tmp_path / "fakehub_storage")
    home = tmp_path / "hf_home"
    _online(monkeypatch, home, TOKEN)
    yield HubFixture(
        server=fakehub_server,
        endpoint=fakehub_server.endpoint,
        token=TOKEN,
        other_token=OTHER_TOKEN,
        user=USER,
        org=ORG,
        other_user=OTHER_USER,
        api=HfApi(endpoint=fakehub_server.endpoint, token=TOKEN),
        home=home,
    )
    if fakehub_server.unimplemented:
        calls = "\n  ".join(fakehub_server.unimplemented)
        pytest.fail(f"the test sent requests the fake Hub does not implement (answered 501/400):\n  {calls}")
    if fakehub_server.errors:
        pytest.fail("the fake Hub crashed while answering (answered 501):\n" + "\n".join(fakehub_server.errors))
