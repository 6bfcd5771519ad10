"""``hf-shrunk data mirror`` and ``hf-shrunk data status``.

``mirror`` copies what the study needs from the Hub (any Hub-compatible endpoint: ``HF_ENDPOINT``; token from
``HF_TOKEN``) into the mirror layout read by :mod:`hf_shrunk.sources.tiers`, so that air-gapped clusters can run
every stage offline with ``HF_SHRUNK_DATA_DIR=DIR``:

    glue/<task>/<split>.parquet              nyu-mll/glue, written by ``datasets`` (features in the metadata)
    vocab/aochildes_word_frequency.csv       the paper's vocabulary (its repository at a pinned commit)
    constrained_language/<split>.parquet     the paper's corpus (column ``text``)
    corpus/<name>.parquet                    raw sources streamed from the Hub (columns ``text``, ``source``)
    MANIFEST.sha256, mirror.json             checksums; provenance (repo, config, split, revision, rows)

Each file is written to a temporary name and renamed when complete; existing files are kept unless
``--overwrite``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, is_complete, read_json, sha256_file, stage_dir, write_json
from hf_shrunk.config import ConfigError, UserError, field, parse_config
from hf_shrunk.sources.glue import GLUE_TASKS, available_glue_tasks, task_info
from hf_shrunk.sources.tiers import (
    CONSTRAINED_COLUMN,
    CONSTRAINED_REPO,
    CONSTRAINED_SPLITS,
    DATA_DIR_ENV,
    GLUE_REPO,
    PAPER_VOCAB_URL,
    VOCAB_FILENAME,
    VOCAB_URL_ENV,
    MissingDataError,
    download_paper_vocab,
    hub_errors,
    hub_unavailable,
    mirror_dir,
)

logger = logging.getLogger(__name__)


def _revision(repo: str) -> str | None:
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(repo).sha
    except hub_errors():
        return None


def _write_atomic(final: Path, write: Callable[[Path], Any]) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def _write_texts(path: Path, rows: Iterable[dict[str, str]], columns: Sequence[str], chunk: int = 10_000) -> int:
    """Stream ``rows`` into a zstd parquet file with string ``columns``; returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string()) for c in columns])
    count, buffer = 0, {c: [] for c in columns}
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for row in rows:
            for c in columns:
                buffer[c].append(row[c])
            count += 1
            if count % chunk == 0:
                writer.write_table(pa.table(buffer, schema=schema))
                buffer = {c: [] for c in columns}
        if buffer[columns[0]]:
            writer.write_table(pa.table(buffer, schema=schema))
    return count


def _hub_call(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except hub_errors() as e:
        raise MissingDataError(
            f"cannot download {what} from the Hub ({type(e).__name__}: {e}). Check the connection, HF_ENDPOINT and "
            "HF_TOKEN (gated or private repos), or pass local files instead."
        ) from e


def _mirror_glue(to: Path, task: str, overwrite: bool, record: dict) -> list[Path]:
    import datasets

    existing = [to / "glue" / task / f"{s}.parquet" for s in task_info(task).splits]
    if not overwrite and any(p.is_file() for p in existing):
        logger.info("GLUE %s: already in the mirror (use --overwrite to download again)", task)
        return []
    dd = _hub_call(f"{GLUE_REPO} {task}", lambda: datasets.load_dataset(GLUE_REPO, task))
    written = []
    for split, ds in dd.items():
        path = _write_atomic(to / "glue" / task / f"{split}.parquet", lambda tmp, ds=ds: ds.to_parquet(str(tmp)))
        record[str(path.relative_to(to))] = {"repo": GLUE_REPO, "config": task, "split": split, "rows": len(ds)}
        written.append(path)
        logger.info("GLUE %s/%s: %d rows", task, split, len(ds))
    return written


def _mirror_vocab(to: Path, overwrite: bool, record: dict) -> list[Path]:
    final = to / "vocab" / VOCAB_FILENAME
    if final.is_file() and not overwrite:
        return []
    src = download_paper_vocab(to / "vocab" / ".download")
    _write_atomic(final, lambda tmp: shutil.copyfile(src, tmp))
    shutil.rmtree(src.parent, ignore_errors=True)
    record[str(final.relative_to(to))] = {"repo": None, "url": os.environ.get(VOCAB_URL_ENV) or PAPER_VOCAB_URL}
    return [final]


def _mirror_corpus(
    to: Path, spec: str, max_docs: int | None, text_column: str, overwrite: bool, record: dict
) -> list[Path]:
    import datasets

    def take(stream):
        return stream.take(max_docs) if max_docs is not None else stream

    written = []
    if spec in (CONSTRAINED_REPO, f"hub:{CONSTRAINED_REPO}"):
        for split in CONSTRAINED_SPLITS:
            final = to / "constrained_language" / f"{split}.parquet"
            if final.is_file() and not overwrite:
                continue
            stream = _hub_call(
                CONSTRAINED_REPO, lambda s=split: datasets.load_dataset(CONSTRAINED_REPO, split=s, streaming=True)
            )
            rows = ({"text": r[CONSTRAINED_COLUMN] or ""} for r in take(stream))
            _hub_call(
                CONSTRAINED_REPO, lambda f=final, r=rows: _write_atomic(f, lambda tmp: _write_texts(tmp, r, ["text"]))
            )
            record[str(final.relative_to(to))] = {
                "repo": CONSTRAINED_REPO,
                "split": split,
                "column": CONSTRAINED_COLUMN,
            }
            written.append(final)
        return written
    if not spec.startswith("hub:") or spec.count("/") != 1:
        raise UserError(f"mirror --corpus {spec!r}: expected hub:OWNER/NAME[:CONFIG] or {CONSTRAINED_REPO}")
    repo, _, config = spec.removeprefix("hub:").partition(":")
    final = to / "corpus" / f"{repo.split('/')[1]}{'-' + config if config else ''}.parquet"
    if final.is_file() and not overwrite:
        return []
    if max_docs is None:
        logger.warning("%s: streaming the whole train split (no --max-docs)", repo)
    stream = _hub_call(repo, lambda: datasets.load_dataset(repo, config or None, split="train", streaming=True))
    rows = ({"text": r[text_column] or "", "source": repo} for r in take(stream))
    _hub_call(repo, lambda: _write_atomic(final, lambda tmp: _write_texts(tmp, rows, ["text", "source"])))
    record[str(final.relative_to(to))] = {
        "repo": repo,
        "config": config or None,
        "split": "train",
        "max_docs": max_docs,
    }
    return [final]


def write_mirror(
    to: Path,
    glue: Sequence[str] | None,
    vocab: bool,
    corpus: Sequence[str] | None,
    max_docs: int | None = None,
    overwrite: bool = False,
    text_column: str = "text",
) -> list[Path]:
    """Download into the mirror folder ``to``.

    Args:
        to (`Path`): the mirror folder (created).
        glue (`Sequence[str]`, *optional*): GLUE tasks; ``[]`` = all (with ``ax``); ``None`` = none.
        vocab (`bool`): download the paper's vocabulary CSV (pinned URL, sha256 checked).
        corpus (`Sequence[str]`, *optional*): ``hub:OWNER/NAME[:CONFIG]`` specs or the paper's corpus repo;
            ``[]`` = the paper's corpus; ``None`` = none.
        max_docs (`int`, *optional*): rows per corpus source and split.
        overwrite (`bool`): download files that exist again.
        text_column (`str`): text column of streamed raw sources.

    Returns:
        `list[Path]`: the files written.
    """
    to.mkdir(parents=True, exist_ok=True)
    meta_path = to / "mirror.json"
    meta = read_json(meta_path) if meta_path.is_file() else {"files": {}}
    record: dict[str, Any] = {}
    written: list[Path] = []
    for task in [task_info(t).name for t in glue or []] or (list(GLUE_TASKS) if glue is not None else []):
        written += _mirror_glue(to, task, overwrite, record)
    if vocab:
        written += _mirror_vocab(to, overwrite, record)
    for spec in (corpus or [CONSTRAINED_REPO]) if corpus is not None else []:
        written += _mirror_corpus(to, spec, max_docs, text_column, overwrite, record)
    revisions = {info["repo"]: None for info in record.values()}
    for repo in revisions:
        revisions[repo] = _revision(repo) if repo else None  # the vocabulary's URL pins its own commit
    for rel, info in record.items():
        meta["files"][rel] = {**info, "revision": revisions[info["repo"]]}
    from huggingface_hub import constants

    meta.update(endpoint=constants.ENDPOINT, updated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    write_json(meta_path, meta)
    data_files = sorted(
        p
        for p in to.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.sha256", "mirror.json") and not p.name.startswith(".")
    )
    lines = [f"{sha256_file(p)}  {p.relative_to(to)}" for p in data_files]
    _write_atomic(to / "MANIFEST.sha256", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
    return written


def status_lines(data_dir: str | None = None, root: str | None = None) -> list[str]:
    """Where each input of the study would come from now (nothing is downloaded)."""
    mirror = mirror_dir(data_dir)
    hub = hub_unavailable()
    lines = [
        f"mirror:     {mirror if mirror else f'not set ({DATA_DIR_ENV})'}",
        f"hub:        {'reachable' if hub is None else 'unavailable: ' + hub}",
    ]
    if mirror and (mirror / "vocab" / VOCAB_FILENAME).is_file():
        vocab = f"mirror ({mirror / 'vocab' / VOCAB_FILENAME})"
    else:
        cached = (artifact_root(root) / "downloads" / VOCAB_FILENAME).is_file()
        vocab = "download (cached)" if cached else f"download ({os.environ.get(VOCAB_URL_ENV) or PAPER_VOCAB_URL})"
    lines.append(f"vocabulary: {vocab}")
    corpus_files = sorted((mirror / "corpus").glob("*.parquet")) if mirror else []
    if corpus_files:
        corpus = f"mirror ({', '.join(f.stem for f in corpus_files)})"
    elif mirror and (mirror / "constrained_language" / "train.parquet").is_file():
        corpus = "mirror (constrained_language, passed through)"
    elif hub is None:
        corpus = f"hub ({CONSTRAINED_REPO}, passed through)"
    else:
        cached = is_complete(stage_dir("fallback", "gensim-enwiki", root))
        when = "cached" if cached else "downloaded from PyPI on first use"
        corpus = f"fallback (Wikipedia from the gensim wheel; {when} under {artifact_root(root)})"
    lines.append(f"corpus:     {corpus}  [--sources auto]")
    local = available_glue_tasks(data_dir and Path(data_dir) / "glue")
    for task in GLUE_TASKS:
        where = f"mirror {local[task]}" if task in local else ("hub" if hub is None else "MISSING")
        lines.append(f"glue {task + ':':6}{where}")
    return lines


@dataclasses.dataclass
class MirrorConfig:
    to: str = field(None, help="Mirror folder (created); use it afterwards as HF_SHRUNK_DATA_DIR. Required.")
    glue: list[str] | None = field(None, help="GLUE tasks to download ('all': every task, with ax).")
    vocab: bool = field(False, help="The paper's vocabulary CSV (pinned URL, sha256 checked).")
    corpus: list[str] | None = field(
        None,
        help=f"Corpus sources: hub:OWNER/NAME[:CONFIG] (streamed, train split) or {CONSTRAINED_REPO} ('paper': the "
        "latter).",
    )
    max_docs: int | None = field(None, help="Rows per corpus source (streamed raw sources need it).")
    text_column: str = field("text", help="Text column of streamed raw sources.")
    overwrite: bool = field(False, help="Download files that already exist again.")

    def __post_init__(self):
        if not self.to:
            raise ConfigError("pass --to DIR: the mirror folder to write")


@dataclasses.dataclass
class StatusConfig:
    data_dir: str | None = field(None, help=f"Mirror folder instead of ${DATA_DIR_ENV}.")
    root: str | None = field(None, help="Artifact root (default: $HF_SHRUNK_HOME or ~/.cache/hf_shrunk).")


DATA_USAGE = (
    "usage: hf-shrunk data {mirror,status} [options]\n\n"
    "  mirror  Download GLUE, the paper's vocabulary and corpus sources into a mirror folder (HF_SHRUNK_DATA_DIR).\n"
    "  status  Show where each input of the study would come from now (downloads nothing).\n\n"
    "Run `hf-shrunk data mirror --help` or `hf-shrunk data status --help` for their options."
)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``hf-shrunk data``: ``mirror`` downloads the study's data into a mirror; ``status`` shows the tiers."""
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or "hf-shrunk data"
    if not argv or argv[0] in ("-h", "--help"):
        print(DATA_USAGE.replace("hf-shrunk data", prog))
        return 0
    command, rest = argv[0], argv[1:]
    if command == "status":
        (cfg,) = parse_config([StatusConfig], rest, prog=f"{prog} status", description=status_lines.__doc__)
        print("\n".join(status_lines(cfg.data_dir, cfg.root)))
        return 0
    if command != "mirror":
        raise ConfigError(f"unknown data command {command!r}: use `{prog} mirror` or `{prog} status`")
    (cfg,) = parse_config([MirrorConfig], rest, prog=f"{prog} mirror", description=write_mirror.__doc__.split("\n")[0])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    glue, corpus, vocab = cfg.glue, cfg.corpus, cfg.vocab
    if glue is None and not vocab and corpus is None:
        glue, vocab, corpus = [], True, []  # nothing chosen: everything the study needs
    glue = [] if glue is not None and [g.lower() for g in glue] in ([], ["all"]) else glue
    corpus = [] if corpus is not None and corpus in ([], ["paper"]) else corpus
    to = Path(cfg.to)
    written = write_mirror(
        to, glue=glue, vocab=vocab, corpus=corpus, max_docs=cfg.max_docs, overwrite=cfg.overwrite,
        text_column=cfg.text_column,
    )  # fmt: skip
    print(f"wrote {len(written)} files into {to}; use it with: export {DATA_DIR_ENV}={to.resolve()}")
    return 0
