"""Where data comes from: four tiers, tried in order, and recorded for every input (DESIGN.md §4).

1. ``explicit``: paths (or ``wordfreq:N``) given on the command line;
2. ``mirror``: ``$HF_SHRUNK_DATA_DIR``, a local copy with the layout ``vocab/aochildes_word_frequency.csv``,
   ``glue/<task>/<split>.parquet``, ``corpus/<source>.parquet`` (columns ``text``, ``source``) and optionally
   ``constrained_language/<split>.parquet``; ``hf-shrunk data mirror --to DIR`` writes one from the Hub;
3. ``hub``: the Hugging Face Hub (``nyu-mll/glue``, ``text-machine-lab/constrained_language``, raw sources
   streamed with ``datasets``, our vocabulary repo :data:`DEFAULT_VOCAB_REPO`);
4. ``fallback``: offline and from PyPI only: Wikipedia articles shipped in the gensim wheel
   (:mod:`hf_shrunk.sources.fallback`) and ``wordfreq:21000``; GLUE has no fallback.

Every resolved input carries ``tier``, a ``description`` and a ``fingerprint`` for manifests, and is logged.
Corpus sources live in :mod:`hf_shrunk.sources.corpus` and GLUE loading in :mod:`hf_shrunk.sources.glue`; both are
re-exported here (:func:`resolve_sources`, :class:`CorpusSource`, :func:`load_glue_task`,
:func:`available_glue_tasks`). ``hf-shrunk data`` is :func:`main` (:mod:`hf_shrunk.sources.mirror`).
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

TIERS = ("explicit", "mirror", "hub", "fallback")
DATA_DIR_ENV = "HF_SHRUNK_DATA_DIR"
DEFAULT_VOCAB_REPO = "hf-shrunk/shrunk-corpus"  # our corpus dataset repo; `hf-shrunk publish --dataset` ships the CSV
VOCAB_REPO_ENV = "HF_SHRUNK_VOCAB_REPO"
VOCAB_FILENAME = "aochildes_word_frequency.csv"
VOCAB_HUB_PATH = f"vocabulary/{VOCAB_FILENAME}"  # where publish_dataset puts it in the corpus repo
FALLBACK_VOCAB = "wordfreq:21000"
GLUE_REPO = "nyu-mll/glue"
CONSTRAINED_REPO = "text-machine-lab/constrained_language"
CONSTRAINED_COLUMN = "TEXT"
CONSTRAINED_SPLITS = ("train", "validation", "test")
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


def vocab_repo() -> str:
    return os.environ.get(VOCAB_REPO_ENV) or DEFAULT_VOCAB_REPO


def resolve_vocab(spec: str = "auto", data_dir: str | os.PathLike | None = None) -> Resolved:
    """Find and load the vocabulary.

    Args:
        spec (`str`, defaults to ``"auto"``): a file or ``wordfreq:N`` (tier ``explicit``), or ``"auto"``: the
            mirror's CSV, else the CSV from the Hub repo :data:`DEFAULT_VOCAB_REPO` (``$HF_SHRUNK_VOCAB_REPO``
            overrides it), else ``wordfreq:21000`` (tier ``fallback``).
        data_dir (`str`, *optional*): mirror folder instead of ``$HF_SHRUNK_DATA_DIR``.

    Returns:
        `Resolved`: ``value`` is a :class:`~hf_shrunk.vocab.Vocabulary`; the fingerprint hashes its words.
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
    reason = hub_unavailable()
    if reason is None:
        from huggingface_hub import hf_hub_download

        try:
            path = hf_hub_download(vocab_repo(), VOCAB_HUB_PATH, repo_type="dataset")
        except hub_errors() as e:
            reason = f"{vocab_repo()}/{VOCAB_HUB_PATH}: {type(e).__name__}"
        else:
            return done(load_vocab(path), "hub", f"hf://datasets/{vocab_repo()}/{VOCAB_HUB_PATH}")
    logger.warning(
        "vocabulary: no mirror (%s unset or without vocab/) and no Hub (%s); using %s",
        DATA_DIR_ENV,
        reason,
        FALLBACK_VOCAB,
    )
    return done(load_vocab(FALLBACK_VOCAB), "fallback", FALLBACK_VOCAB)
