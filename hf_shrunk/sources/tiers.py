"""Where data comes from: tiers tried in order, and recorded for every input (docs/design.md#data-tiers).

1. ``explicit``: paths (or ``wordfreq:N``) given on the command line;
2. ``mirror``: ``$HF_SHRUNK_DATA_DIR``, a local copy with the layout ``vocab/aochildes_word_frequency.csv``,
   ``glue/<task>/<split>.parquet``, ``corpus/<source>.parquet`` (columns ``text``, ``source``) and optionally
   ``constrained_language/<split>.parquet``; ``hf-shrunk data mirror --to DIR`` writes one;
3. ``download``: the paper's vocabulary CSV from the paper's own repository at a pinned commit, checked against
   its sha256 and cached under the artifact root;
4. ``hub``: the Hugging Face Hub (``nyu-mll/glue``, ``text-machine-lab/constrained_language``, raw sources
   streamed with ``datasets``);
5. ``fallback``: offline and from PyPI only: Wikipedia articles shipped in the gensim wheel
   (:mod:`hf_shrunk.sources.fallback`). There is no fallback for the vocabulary or GLUE: a missing one is an
   error that says how to provide it (``--vocab wordfreq:21000`` is a different word list and must be asked for).

Every resolved input carries ``tier``, a ``description`` and a ``fingerprint`` for manifests, and is logged.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_shrunk.config import UserError
from hf_shrunk.vocab import Vocabulary, load_vocab

logger = logging.getLogger(__name__)

TIERS = ("explicit", "mirror", "download", "hub", "fallback")
DATA_DIR_ENV = "HF_SHRUNK_DATA_DIR"
VOCAB_FILENAME = "aochildes_word_frequency.csv"
# The paper's vocabulary as its authors published it (text-machine-lab/mini_bert at a pinned commit), checked
# byte for byte: a moved or edited file is refused, never silently replaced.
PAPER_VOCAB_URL = (
    "https://raw.githubusercontent.com/text-machine-lab/mini_bert/c801bc04ac4f061bf22513267dec86251ab508ba/"
    "data/vocabulary/AOChildes_word_frequency.csv"
)
PAPER_VOCAB_SHA256 = "b9eff95215e25f517a66d7d42d7803e809d5a2c8f601155abb5ecff1171ed06d"
VOCAB_URL_ENV = "HF_SHRUNK_VOCAB_URL"  # another copy of the same file (a proxy, an internal server); same sha256
OFFLINE_VOCAB = "wordfreq:21000"  # what the offline demo uses instead, said loudly; never a silent substitute
GLUE_REPO = "nyu-mll/glue"
CONSTRAINED_REPO = "text-machine-lab/constrained_language"
CONSTRAINED_COLUMN = "TEXT"
CONSTRAINED_SPLITS = ("train", "validation", "test")
VOCAB_HINT = (
    "provide the paper's vocabulary in one of these ways: set HF_SHRUNK_DATA_DIR to a mirror with "
    f"vocab/{VOCAB_FILENAME}; pass --vocab PATH to a copy of AOChildes_word_frequency.csv; allow the download of "
    f"{PAPER_VOCAB_URL} (unset HF_HUB_OFFLINE, or point {VOCAB_URL_ENV} at a reachable copy); or ask for another "
    f"word list explicitly (--vocab {OFFLINE_VOCAB}, which is not the paper's)"
)
MIRROR_HINT = (
    f"set {DATA_DIR_ENV} to a data mirror (create one with `hf-shrunk data mirror --to DIR` on a connected machine)"
)


class MissingDataError(UserError):
    """Data that a stage needs is in none of the tiers; the message says where we looked and how to provide it."""


def mirror_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The data mirror: ``data_dir`` if given, else ``$HF_SHRUNK_DATA_DIR``; ``None`` if unset.

    Raises:
        `UserError`: the folder does not exist.
    """
    value = data_dir or os.environ.get(DATA_DIR_ENV)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        where = "the data directory" if data_dir else DATA_DIR_ENV
        raise UserError(f"{where} {path} is not a directory; fix the path or unset it")
    return path


def hub_unavailable(timeout: float = 3.0) -> str | None:
    """Why the Hub cannot be used right now (offline mode, or no TCP connection to the endpoint within
    ``timeout`` seconds), or ``None`` if it can. Cheap: avoids huggingface_hub's retries when offline."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    url = urllib.parse.urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError as e:
        return f"cannot connect to {constants.ENDPOINT} ({e.strerror or e})"
    return None


def hub_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "not on the Hub / Hub not reachable" (offline, missing repo or file, HTTP errors)."""
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    return (
        ConnectionError,
        DatasetNotFoundError,
        FileNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
    )


@dataclass(frozen=True)
class Resolved:
    """A resolved input: the ``value`` and where it came from."""

    value: Any
    tier: str
    description: str
    fingerprint: str

    def manifest_entry(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "path": self.description, "fingerprint": self.fingerprint, "tier": self.tier}


def download_paper_vocab(cache_dir: Path, timeout: float = 30.0) -> Path:
    """The paper's vocabulary CSV in ``cache_dir``: downloaded once from :data:`PAPER_VOCAB_URL` (or
    ``$HF_SHRUNK_VOCAB_URL``) and kept only if its sha256 is :data:`PAPER_VOCAB_SHA256`.

    Raises:
        `MissingDataError`: offline, unreachable, or the bytes are not the paper's file; says how to provide it.
    """
    import urllib.request

    from hf_shrunk.artifacts import sha256_file

    final = cache_dir / VOCAB_FILENAME
    if final.is_file() and sha256_file(final) == PAPER_VOCAB_SHA256:
        return final
    url = os.environ.get(VOCAB_URL_ENV) or PAPER_VOCAB_URL
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise MissingDataError(
            f"vocabulary: offline (HF_HUB_OFFLINE is set), so {url} was not downloaded; {VOCAB_HINT}"
        )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (OSError, ValueError) as e:  # URLError, HTTPError, timeouts and bad URLs
        raise MissingDataError(f"vocabulary: cannot download {url} ({e}); {VOCAB_HINT}") from e
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    if digest != PAPER_VOCAB_SHA256:
        raise MissingDataError(
            f"vocabulary: {url} served {len(data):,} bytes with sha256 {digest}, not the paper's file "
            f"({PAPER_VOCAB_SHA256}); nothing was kept. {VOCAB_HINT}"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, final)
    logger.info("vocabulary: downloaded %s (sha256 verified) -> %s", url, final)
    return final


def resolve_vocab(spec: str = "auto", data_dir: str | os.PathLike | None = None) -> Resolved:
    """Find and load the vocabulary.

    Args:
        spec (`str`, defaults to ``"auto"``): a file or ``wordfreq:N`` (tier ``explicit``), or ``"auto"``: the
            mirror's CSV, else the paper's CSV downloaded from its pinned URL and checked (tier ``download``).
        data_dir (`str`, *optional*): mirror folder instead of ``$HF_SHRUNK_DATA_DIR``.

    Returns:
        `Resolved`: ``value`` is a :class:`~hf_shrunk.vocab.Vocabulary`; the fingerprint hashes its words.

    Raises:
        `MissingDataError`: ``"auto"`` found no copy of the paper's vocabulary; the message says how to provide one.
    """

    def done(vocab: Vocabulary, tier: str, description: str) -> Resolved:
        logger.info("vocabulary: %s (%d words; tier: %s)", description, vocab.size, tier)
        if vocab.mojibake:
            logger.info("vocabulary: %d mis-encoded rows kept: %s", len(vocab.mojibake), ", ".join(vocab.mojibake))
        return Resolved(vocab, tier, description, vocab.fingerprint)

    if spec != "auto":
        return done(load_vocab(spec), "explicit", str(spec))
    mirror = mirror_dir(data_dir)
    if mirror is not None and (mirror / "vocab" / VOCAB_FILENAME).is_file():
        path = mirror / "vocab" / VOCAB_FILENAME
        return done(load_vocab(path), "mirror", str(path))
    from hf_shrunk.artifacts import artifact_root

    path = download_paper_vocab(artifact_root() / "downloads")
    return done(load_vocab(path), "download", f"{os.environ.get(VOCAB_URL_ENV) or PAPER_VOCAB_URL} (sha256 verified)")
