"""The vocabulary of the filtered GLUE condition: by default the one the model's corpus was filtered with.

``--vocab model`` (the default) follows the artifacts: a local pretrain run's manifest names its corpus artifact,
whose manifest records the vocabulary input (fingerprint, spec, file); a Hub repo's ``training_manifest.json`` (on
``main``, written by ``hf-shrunk publish``) is the same pretrain manifest. The recorded vocabulary is then loaded
again (the recorded ``wordfreq:N``, the recorded file, else the paper's vocabulary through
:func:`hf_shrunk.sources.resolve_vocab`) and used only if its words have the recorded fingerprint.

Another word list must be asked for (``--vocab auto|PATH|wordfreq:N``); one whose words differ from the model's
recorded vocabulary is refused unless ``--allow_vocab_mismatch``. Results and ``summary.json`` record
``vocab: {spec, fingerprint, matches_model, ...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import MANIFEST, Manifest, finished, is_complete, read_json
from hf_shrunk.config import UserError

logger = logging.getLogger(__name__)

TRAINING_MANIFEST = "training_manifest.json"  # on main of a model repo (hf_shrunk.publish's RUN_FILE)
CORPUS_MANIFEST = "corpus_manifest.json"  # on main of the corpus dataset repo (hf_shrunk.publish's CORPUS_FILE)


@dataclass(frozen=True)
class RecordedVocab:
    """What a model's artifacts record about the vocabulary its corpus was filtered with."""

    fingerprint: str
    spec: str | None
    source: str | None
    tier: str | None
    recorded_in: str


def _recorded(entry: dict[str, Any] | None, where: str) -> RecordedVocab | None:
    if not isinstance(entry, dict) or not entry.get("fingerprint"):
        return None
    path = entry.get("path")
    return RecordedVocab(
        entry["fingerprint"], entry.get("spec") or path, entry.get("source") or path, entry.get("tier"), where
    )


def _corpus_vocab(folder: Path) -> dict[str, Any] | None:
    from hf_shrunk.corpus import vocab_record

    return vocab_record(folder)


def vocab_of_manifest(manifest: dict[str, Any], where: str, root: str | None = None) -> RecordedVocab | None:
    """The vocabulary a pretrain manifest records: its own ``extra.vocab`` or its corpus input's ``vocab`` if present,
    else the vocabulary input of the corpus artifact it names (the one at the recorded path, or any finished corpus
    under the artifact root, whose manifest key is the recorded corpus fingerprint)."""
    found = _recorded((manifest.get("extra") or {}).get("vocab"), where)
    corpus = next((i for i in manifest.get("inputs") or [] if i.get("kind") == "corpus"), None)
    if found or corpus is None:
        return found
    found = _recorded(corpus.get("vocab"), where)
    if found:
        return found
    path = Path(str(corpus.get("path") or ""))
    candidates = ([path] if corpus.get("path") and path.is_dir() and is_complete(path) else []) + finished(
        "corpus", root
    )
    for folder in candidates:
        if corpus.get("fingerprint") in (None, Manifest.read(folder).key):
            found = _recorded(_corpus_vocab(folder), f"{where} -> {folder / MANIFEST}")
            if found:
                return found
    return None


def _pretrain_manifest_near(folder: Path) -> tuple[dict[str, Any], str] | None:
    """A model folder's run manifest: ``training_manifest.json`` inside it (a Hub download, a ``--to_dir`` folder),
    or the pretrain ``manifest.json`` of the run folder that holds it (``model/``, ``best/``, ``snapshots/stepN/``)."""
    if (folder / TRAINING_MANIFEST).is_file():
        return read_json(folder / TRAINING_MANIFEST), str(folder / TRAINING_MANIFEST)
    for parent in [folder, *list(folder.parents)[:3]]:
        if is_complete(parent):
            manifest = Manifest.read(parent)
            if manifest.stage == "pretrain":
                return manifest.to_dict(), str(parent / MANIFEST)
    return None


def _hub_json(repo: str, filename: str, revisions: list[str | None], repo_type: str = "model"):
    """``(json, where)`` of the first revision of ``repo`` that has ``filename``, or ``None``."""
    from huggingface_hub import hf_hub_download

    from hf_shrunk.sources import hub_errors

    for revision in dict.fromkeys(revisions):
        try:
            path = hf_hub_download(repo, filename, revision=revision, repo_type=repo_type)
        except (*hub_errors(), OSError, ValueError) as e:
            logger.debug("%s@%s: no %s (%s)", repo, revision, filename, e)
            continue
        return read_json(path), f"hf://{'datasets/' if repo_type == 'dataset' else ''}{repo}@{revision}/{filename}"
    return None


def _hub_vocab(repo: str, revision: str | None, root: str | None) -> RecordedVocab | None:
    """A Hub model's vocabulary: from its ``training_manifest.json`` (the revision, else ``main``), else from the
    corpus repo of the same owner (``<owner>/shrunk-corpus``) if that corpus is the one the model was trained on."""
    from hf_shrunk.hub import DATASET_REPO_NAME

    found = _hub_json(repo, TRAINING_MANIFEST, [revision or "main", "main"])
    if found is None:
        return None
    manifest, where = found
    recorded = vocab_of_manifest(manifest, where, root)
    corpus = next((i for i in manifest.get("inputs") or [] if i.get("kind") == "corpus"), {})
    if recorded or not corpus.get("fingerprint"):
        return recorded
    dataset = _hub_json(f"{repo.split('/')[0]}/{DATASET_REPO_NAME}", CORPUS_MANIFEST, ["main"], repo_type="dataset")
    if dataset is None or dataset[0].get("key") != corpus["fingerprint"]:
        return None
    entry = next((i for i in dataset[0].get("inputs") or [] if i.get("kind") == "vocab"), None)
    return _recorded(entry, f"{where} -> {dataset[1]}")


def model_vocab(ref: Any, root: str | None = None) -> RecordedVocab | None:
    """The vocabulary a model (a :class:`~hf_shrunk.glue.run.ModelRef`) was trained with, or ``None`` when its
    artifacts do not say (a model folder from elsewhere, a Hub repo without ``training_manifest.json``)."""
    if ref.kind == "hub":
        return _hub_vocab(ref.location, ref.revision, root)
    near = _pretrain_manifest_near(Path(ref.location))
    return vocab_of_manifest(near[0], near[1], root) if near else None


def _candidates(recorded: RecordedVocab) -> list[str]:
    """Specs that may load the recorded word list again, most specific first; the paper's vocabulary last."""
    out = []
    for value in (recorded.spec, recorded.source):
        value = str(value or "")
        if value.startswith("wordfreq:") or (value and Path(value).expanduser().is_file()):
            out.append(value)
    return [*dict.fromkeys(out), "auto"]


def load_recorded(recorded: RecordedVocab, model: str):
    """The recorded vocabulary, loaded again and checked against its fingerprint.

    Raises:
        `UserError`: no copy with the recorded fingerprint was found; says what was tried and what to pass.
    """
    from hf_shrunk.sources import resolve_vocab

    tried = []
    for spec in _candidates(recorded):
        try:
            vocab = resolve_vocab(spec).value
        except UserError as e:
            tried.append(f"{spec!r} ({e})")
            continue
        if vocab.fingerprint == recorded.fingerprint:
            return vocab
        tried.append(f"{spec!r} (other words: fingerprint {vocab.fingerprint})")
    raise UserError(
        f"{model} was trained on a corpus filtered with the vocabulary {recorded.spec!r} (fingerprint "
        f"{recorded.fingerprint}, recorded in {recorded.recorded_in}), and no copy of it was found: tried "
        + "; ".join(tried)
        + ". Pass --vocab PATH to a copy of that word list, or choose another one with --vocab auto|PATH|wordfreq:N "
        "--allow_vocab_mismatch (the filtered condition then differs from the model's language)."
    )


@dataclass(frozen=True)
class GlueVocab:
    """The filtered condition's vocabulary (``words`` and ``fingerprint`` for the filter and the cache key) and its
    ``record`` for results: ``{"spec", "requested", "fingerprint", "size", "matches_model", "model_fingerprint",
    "recorded_in"}``; ``matches_model`` is ``None`` when the model's artifacts record no vocabulary."""

    vocab: Any
    record: dict[str, Any]

    @property
    def words(self) -> frozenset[str]:
        return self.vocab.words

    @property
    def fingerprint(self) -> str:
        return self.vocab.fingerprint

    def info(self) -> dict[str, Any]:
        return self.vocab.info() | {"loaded_from": self.vocab.spec} | self.record


def _refuse_mismatch(spec: str, vocab: Any, recorded: RecordedVocab, model: str) -> None:
    raise UserError(
        f"--vocab {spec} ({vocab.size:,} words, fingerprint {vocab.fingerprint}) is not the vocabulary {model} was "
        f"trained with ({recorded.spec!r}, fingerprint {recorded.fingerprint}, recorded in {recorded.recorded_in}). "
        "Drop --vocab to use the model's, or add --allow_vocab_mismatch to filter GLUE with another word list on "
        "purpose (recorded as matches_model: false)."
    )


def choose_vocab(spec: str, ref: Any, root: str | None = None, allow_mismatch: bool = False) -> GlueVocab:
    """The vocabulary of the filtered condition (see the module docstring).

    Raises:
        `UserError`: ``model`` with no recorded vocabulary, or an explicit one whose words differ from the model's
            (without ``allow_mismatch``).
    """
    from hf_shrunk.sources import resolve_vocab

    recorded = model_vocab(ref, root)
    if spec == "model":
        if recorded is None:
            raise UserError(
                f"cannot tell which vocabulary {ref.display} was trained with: no pretrain manifest or "
                f"{TRAINING_MANIFEST} of it records one. Choose the filtered condition's vocabulary explicitly: "
                "--vocab auto (the paper's), --vocab PATH or --vocab wordfreq:N (or score --condition full only)."
            )
        vocab = load_recorded(recorded, ref.display)
    else:
        vocab = resolve_vocab(spec).value
        if recorded is not None and recorded.fingerprint != vocab.fingerprint and not allow_mismatch:
            _refuse_mismatch(spec, vocab, recorded, ref.display)
    record = {
        "spec": recorded.spec if spec == "model" else spec,
        "requested": spec,
        "fingerprint": vocab.fingerprint,
        "size": vocab.size,
        "matches_model": None if recorded is None else recorded.fingerprint == vocab.fingerprint,
        "model_fingerprint": recorded.fingerprint if recorded else None,
        "recorded_in": recorded.recorded_in if recorded else None,
    }
    if recorded is None:
        logger.warning("%s records no vocabulary: GLUE is filtered with --vocab %s, unchecked", ref.display, spec)
    return GlueVocab(vocab, record)


def glue_options(cfg: Any, ref: Any, conditions: Sequence[str]) -> GlueVocab | None:
    """Check ``--head`` against the model (a clear error before any work) and choose the filtered condition's
    vocabulary (``None`` when only ``full`` is scored)."""
    from hf_shrunk.glue.heads import head_overrides

    head_overrides(cfg.head, ref.location, ref.revision, cfg.max_length)
    if "filtered" not in conditions:
        return None
    return choose_vocab(cfg.vocab, ref, cfg.root, cfg.allow_vocab_mismatch)


def vocab_fields(vocab: GlueVocab | None, condition: str) -> dict[str, Any]:
    """What a per-seed result records about its vocabulary: the filtered condition's, ``None`` for ``full``."""
    return {"vocab": vocab.record if vocab is not None and condition == "filtered" else None}


def summary_fields(cfg: Any, vocab: GlueVocab | None) -> dict[str, Any]:
    """What ``summary.json`` records about the vocabulary and the classification head."""
    from hf_shrunk.glue.heads import head_info

    return {
        "vocabulary": vocab.info() if vocab is not None else None,
        "vocab": vocab.record if vocab is not None else None,
        "head": head_info(cfg.head, cfg.max_length),
    }


def checked_vocab(record: dict[str, Any], vocab: GlueVocab | None, condition: str, path: Path) -> dict[str, Any]:
    """A stored result, refused if it is a filtered-condition result scored with other words than ``vocab``."""
    stored = (record.get("vocab") or {}).get("fingerprint")
    if condition == "filtered" and vocab is not None and stored and stored != vocab.fingerprint:
        raise UserError(
            f"{path} was scored with the vocabulary fingerprint {stored}, now {vocab.fingerprint} "
            f"({vocab.record['spec']}). Pass --overwrite to re-score, or --name to keep both."
        )
    return record
