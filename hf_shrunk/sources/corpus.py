"""Corpus sources (``hf-shrunk corpus --sources``): files, the data mirror, Hub datasets, the paper's corpus and
the offline fallback, each resolved with its tier (:mod:`hf_shrunk.sources.tiers`, docs/design.md#data-tiers).

Every :class:`CorpusSource` yields documents as ``(texts, locations)`` blocks (locations like ``"file.txt:12"``
for error messages and examples), has a fingerprint for the manifest and records its tier and licence.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import file_fingerprint, fingerprint
from hf_shrunk.config import ConfigError, UserError
from hf_shrunk.sources.files import SUPPORTED, file_batches, file_kind, group_documents, parquet_rows, readable
from hf_shrunk.sources.tiers import (
    CONSTRAINED_COLUMN,
    CONSTRAINED_REPO,
    CONSTRAINED_SPLITS,
    DATA_DIR_ENV,
    MIRROR_HINT,
    MissingDataError,
    hub_errors,
    hub_unavailable,
    mirror_dir,
)

logger = logging.getLogger(__name__)


@dataclass
class CorpusSource:
    """One raw-text input of the corpus stage. ``kind`` is ``files``, ``hub``, ``fallback`` or ``passthrough``
    (the paper's already-filtered corpus, verified and kept as it is)."""

    name: str
    spec: str
    tier: str
    kind: str
    description: str
    fingerprint: str
    paths: tuple[str, ...] = ()
    text_column: str = "text"
    hub_repo: str | None = None
    hub_config: str | None = None
    max_docs: int | None = None
    max_doc_chars: int = 10_000_000
    license: str | None = None
    root: str | None = None

    @property
    def passthrough(self) -> bool:
        return self.kind == "passthrough"

    def manifest_entry(self) -> dict[str, Any]:
        entry = {
            "kind": f"source:{self.name}",
            "path": self.description,
            "fingerprint": self.fingerprint,
            "tier": self.tier,
        }
        if self.license:
            entry["license"] = self.license
        return entry

    def num_documents(self) -> int | None:
        """Number of documents when cheap to know (parquet files), for progress bars."""
        if self.kind != "files" or not all(file_kind(p) == "parquet" for p in self.paths):
            return None
        total = sum(parquet_rows(Path(p), self.text_column) for p in self.paths)
        return min(total, self.max_docs) if self.max_docs is not None else total

    def document_batches(self, rows: int = 4096) -> Iterator[tuple[list[str], list[str]]]:
        """``(texts, locations)`` blocks of up to ``rows`` documents, at most ``max_docs`` documents in all."""
        if self.kind == "fallback":
            from hf_shrunk.sources.fallback import fallback_corpus

            blocks = file_batches(fallback_corpus(self.root), "text", self.max_doc_chars, rows)
        elif self.kind == "files":
            blocks = (b for p in self.paths for b in file_batches(Path(p), self.text_column, self.max_doc_chars, rows))
        elif self.kind == "hub":
            blocks = group_documents(self._hub_documents(), rows)
        else:
            raise ValueError(f"{self.name} is a pass-through source; use passthrough_splits()")
        left = self.max_docs
        for texts, locations in blocks:
            if left is not None:
                texts, locations = texts[:left], locations[:left]
                left -= len(texts)
            if texts:
                yield texts, locations
            if left == 0:
                return

    def documents(self) -> Iterator[tuple[str, str]]:
        """``(text, location)`` pairs, at most ``max_docs``."""
        for texts, locations in self.document_batches():
            yield from zip(texts, locations, strict=True)

    def _hub_documents(self) -> Iterator[tuple[str, str]]:
        import datasets

        repo = self.hub_repo
        try:
            stream = datasets.load_dataset(repo, self.hub_config, split="train", streaming=True)
            for row, example in enumerate(stream):
                if self.text_column not in example:
                    raise UserError(
                        f"{repo}: no column {self.text_column!r}; columns: {sorted(example)}. Use --text_column."
                    )
                text = example[self.text_column] or ""
                if len(text) > self.max_doc_chars:
                    raise UserError(f"{repo} row {row}: document longer than --max_doc_chars={self.max_doc_chars}")
                yield text, f"{repo} row {row}"
        except hub_errors() as e:
            raise MissingDataError(
                f"cannot stream {repo} from the Hub ({type(e).__name__}: {e}). {MIRROR_HINT}."
            ) from e

    def passthrough_splits(self) -> dict[str, list[str]]:
        """The splits of the paper's corpus (mirror parquet or Hub), each at most ``max_docs`` sequences."""
        out = {}
        if self.tier == "mirror":
            for split in CONSTRAINED_SPLITS:
                path = Path(self.paths[0]) / f"{split}.parquet"
                texts = [t for block, _ in file_batches(path, "text", self.max_doc_chars) for t in block]
                out[split] = texts if self.max_docs is None else texts[: self.max_docs]
            return out
        import datasets

        try:
            for split in CONSTRAINED_SPLITS:
                stream = datasets.load_dataset(CONSTRAINED_REPO, split=split, streaming=self.max_docs is not None)
                rows = stream.take(self.max_docs) if self.max_docs is not None else stream
                out[split] = [row[CONSTRAINED_COLUMN] or "" for row in rows]
        except hub_errors() as e:
            raise MissingDataError(
                f"cannot load {CONSTRAINED_REPO} from the Hub ({type(e).__name__}). {MIRROR_HINT}."
            ) from e
        return out


def _readable_fingerprint(path: str) -> str:
    with readable(path):
        return file_fingerprint(path)


def _files_source(spec: str, **common: Any) -> CorpusSource:
    path = Path(spec).expanduser()
    if glob.has_magic(spec):
        paths = sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not paths:
            raise UserError(f"no files match {spec!r}; check the pattern (quote it so the shell does not expand it)")
    elif path.is_dir():
        paths = sorted(str(p) for p in path.rglob("*") if p.is_file() and file_kind(p))
        if not paths:
            raise UserError(f"{path} holds no {SUPPORTED} files")
    elif path.is_file():
        paths = [str(path)]
    else:
        raise UserError(
            f"--sources {spec!r}: no such file. Expected a txt/jsonl/parquet file, directory or glob, or one of "
            f"auto, mirror, mirror:NAME, hub:OWNER/NAME[:CONFIG], {CONSTRAINED_REPO}, fallback."
        )
    for p in paths:
        if file_kind(p) is None:
            raise UserError(f"{p}: unsupported file type; supported: {SUPPORTED}")
    name = (
        Path(paths[0]).name.split(".")[0] if len(paths) == 1 else path.name.split(".")[0].replace("*", "") or "files"
    )
    return CorpusSource(
        name=name, spec=spec, tier="explicit", kind="files", description=spec if len(paths) > 1 else paths[0],
        fingerprint=fingerprint([_readable_fingerprint(p) for p in paths]), paths=tuple(paths), **common,
    )  # fmt: skip


def _mirror_sources(only: str | None, data_dir: str | os.PathLike | None, **common: Any) -> list[CorpusSource]:
    mirror = mirror_dir(data_dir)
    if mirror is None:
        raise UserError(f"--sources mirror needs {DATA_DIR_ENV}: {MIRROR_HINT}")
    files = sorted((mirror / "corpus").glob("*.parquet"))
    if only is not None:
        files = [f for f in files if f.stem == only]
        if not files:
            names = ", ".join(f.stem for f in sorted((mirror / "corpus").glob("*.parquet"))) or "none"
            raise UserError(f"no corpus/{only}.parquet in the mirror {mirror}; available: {names}")
    if not files:
        raise UserError(f"the mirror {mirror} has no corpus/*.parquet files")
    common = {**common, "text_column": "text"}
    return [
        CorpusSource(name=f.stem, spec=f"mirror:{f.stem}", tier="mirror", kind="files", description=str(f),
                     fingerprint=file_fingerprint(f), paths=(str(f),), **common)
        for f in files
    ]  # fmt: skip


def fallback_source(**common: Any) -> CorpusSource:
    from hf_shrunk.sources.fallback import FINGERPRINT, GENSIM_VERSION, LICENSE, WHEEL_MEMBER

    description = f"pypi:gensim=={GENSIM_VERSION}/{WHEEL_MEMBER}"
    return CorpusSource(name="fallback-enwiki", spec="fallback", tier="fallback", kind="fallback",
                        description=description, fingerprint=FINGERPRINT, license=LICENSE, **common)  # fmt: skip


def passthrough_source(data_dir: str | os.PathLike | None = None, **common: Any) -> CorpusSource:
    mirror = mirror_dir(data_dir)
    local = mirror / "constrained_language" if mirror else None
    fields = {"name": "constrained_language", "spec": CONSTRAINED_REPO, "kind": "passthrough", **common}
    if local is not None and (local / "train.parquet").is_file():
        prints = fingerprint([file_fingerprint(local / f"{s}.parquet") for s in CONSTRAINED_SPLITS])
        return CorpusSource(tier="mirror", description=str(local), fingerprint=prints, paths=(str(local),), **fields)
    hub = f"hf://datasets/{CONSTRAINED_REPO}"
    return CorpusSource(tier="hub", description=hub, fingerprint=fingerprint(CONSTRAINED_REPO), **fields)


def _hub_source(spec: str, **common: Any) -> CorpusSource:
    repo, _, config = spec.removeprefix("hub:").partition(":")
    if repo.count("/") != 1:
        raise ConfigError(f"--sources {spec!r}: expected hub:OWNER/NAME[:CONFIG]")
    if common.get("max_docs") is None:
        logger.warning("%s is streamed without --max_docs: it will be read to the end", repo)
    suffix = f"-{config}" if config else ""
    return CorpusSource(
        name=repo.split("/")[1] + suffix, spec=spec, tier="hub", kind="hub",
        description=f"hf://datasets/{repo}" + (f":{config}" if config else ""),
        fingerprint=fingerprint([repo, config]), hub_repo=repo, hub_config=config or None, **common,
    )  # fmt: skip


def _auto_sources(data_dir: str | os.PathLike | None, **common: Any) -> list[CorpusSource]:
    mirror = mirror_dir(data_dir)
    if mirror is not None and list((mirror / "corpus").glob("*.parquet")):
        return _mirror_sources(None, data_dir, **common)
    if mirror is not None and (mirror / "constrained_language" / "train.parquet").is_file():
        return [passthrough_source(data_dir, **common)]
    reason = hub_unavailable()
    if reason is None:
        return [passthrough_source(data_dir, **common)]
    logger.warning("corpus: no mirror (%s) and no Hub (%s); using the offline fallback corpus", DATA_DIR_ENV, reason)
    return [fallback_source(**common)]


def resolve_sources(
    specs: Sequence[str],
    text_column: str = "text",
    max_docs: int | None = None,
    max_doc_chars: int = 10_000_000,
    root: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> list[CorpusSource]:
    """Resolve ``--sources`` specs (see ``CorpusConfig.sources``) into :class:`CorpusSource` objects.

    Args:
        specs (`Sequence[str]`): ``auto``, ``mirror``, ``mirror:NAME``, files/directories/globs,
            ``hub:OWNER/NAME[:CONFIG]``, ``text-machine-lab/constrained_language``, ``fallback``.
        text_column (`str`, defaults to ``"text"``): column of jsonl/parquet/Hub sources.
        max_docs (`int`, *optional*): documents read per source.
        max_doc_chars (`int`): longest accepted document.
        root (`str`, *optional*): artifact root (where the fallback corpus is cached).
        data_dir (`str`, *optional*): mirror folder instead of ``$HF_SHRUNK_DATA_DIR``.

    Returns:
        `list[CorpusSource]`: in order, names made unique.
    """
    common = {"max_docs": max_docs, "max_doc_chars": max_doc_chars, "text_column": text_column, "root": root}
    sources: list[CorpusSource] = []
    for spec in specs:
        if spec == "auto":
            sources += _auto_sources(data_dir, **common)
        elif spec == "mirror" or spec.startswith("mirror:"):
            sources += _mirror_sources(spec.partition(":")[2] or None, data_dir, **common)
        elif spec == "fallback":
            sources.append(fallback_source(**common))
        elif spec in (CONSTRAINED_REPO, f"hub:{CONSTRAINED_REPO}"):
            sources.append(passthrough_source(data_dir, **common))
        elif spec.startswith("hub:"):
            sources.append(_hub_source(spec, **common))
        else:
            sources.append(_files_source(spec, **common))
    seen: dict[str, int] = {}
    for source in sources:
        seen[source.name] = seen.get(source.name, 0) + 1
        if seen[source.name] > 1:
            source.name = f"{source.name}-{seen[source.name]}"
        logger.info("source %s: %s (tier: %s)", source.name, source.description, source.tier)
    return sources
