"""``hf-shrunk data mirror`` and ``hf-shrunk data status``.

``mirror`` copies what the study needs from the Hub (any Hub-compatible endpoint: ``HF_ENDPOINT``; token from
``HF_TOKEN``) into the mirror layout read by :mod:`hf_shrunk.sources.tiers`, so that air-gapped clusters can run
every stage offline with ``HF_SHRUNK_DATA_DIR=DIR``:

    glue/<task>/<split>.parquet              nyu-mll/glue, written by ``datasets`` (features in the metadata)
    vocab/aochildes_word_frequency.csv       from our vocabulary dataset repo
    constrained_language/<split>.parquet     the paper's corpus (column ``text``)
    corpus/<name>.parquet                    raw sources streamed from the Hub (columns ``text``, ``source``)
    MANIFEST.sha256, mirror.json             checksums; provenance (repo, config, split, revision, rows)

Each file is written to a temporary name and renamed when complete; existing files are kept unless
``--overwrite``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hf_shrunk.artifacts import artifact_root, is_complete, read_json, sha256_file, stage_dir, write_json
from hf_shrunk.config import UserError
from hf_shrunk.sources.glue import GLUE_TASKS, available_glue_tasks, task_info
from hf_shrunk.sources.tiers import (
    CONSTRAINED_COLUMN,
    CONSTRAINED_REPO,
    CONSTRAINED_SPLITS,
    DATA_DIR_ENV,
    DEFAULT_VOCAB_REPO,
    GLUE_REPO,
    VOCAB_FILENAME,
    VOCAB_HUB_PATH,
    MissingDataError,
    hub_errors,
    hub_unavailable,
    mirror_dir,
    vocab_repo,
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


def _mirror_vocab(to: Path, repo: str, overwrite: bool, record: dict) -> list[Path]:
    from huggingface_hub import hf_hub_download

    final = to / "vocab" / VOCAB_FILENAME
    if final.is_file() and not overwrite:
        return []
    src = _hub_call(f"{repo}/{VOCAB_HUB_PATH}", lambda: hf_hub_download(repo, VOCAB_HUB_PATH, repo_type="dataset"))
    _write_atomic(final, lambda tmp: shutil.copyfile(src, tmp))
    record[str(final.relative_to(to))] = {"repo": repo, "file": VOCAB_HUB_PATH}
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
    vocab_repo_id: str | None = None,
    overwrite: bool = False,
    text_column: str = "text",
) -> list[Path]:
    """Download into the mirror folder ``to``.

    Args:
        to (`Path`): the mirror folder (created).
        glue (`Sequence[str]`, *optional*): GLUE tasks; ``[]`` = all (with ``ax``); ``None`` = none.
        vocab (`bool`): download the vocabulary CSV.
        corpus (`Sequence[str]`, *optional*): ``hub:OWNER/NAME[:CONFIG]`` specs or the paper's corpus repo;
            ``[]`` = the paper's corpus; ``None`` = none.
        max_docs (`int`, *optional*): rows per corpus source and split.
        vocab_repo_id (`str`, *optional*): dataset repo with the CSV (default: :func:`~hf_shrunk.sources.tiers.vocab_repo`).
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
        written += _mirror_vocab(to, vocab_repo_id or vocab_repo(), overwrite, record)
    for spec in (corpus or [CONSTRAINED_REPO]) if corpus is not None else []:
        written += _mirror_corpus(to, spec, max_docs, text_column, overwrite, record)
    revisions = {info["repo"]: None for info in record.values()}
    for repo in revisions:
        revisions[repo] = _revision(repo)
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


def status_lines(data_dir: str | None = None) -> list[str]:
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
        vocab = f"hub ({vocab_repo()})" if hub is None else "fallback (wordfreq:21000)"
    lines.append(f"vocabulary: {vocab}")
    corpus_files = sorted((mirror / "corpus").glob("*.parquet")) if mirror else []
    if corpus_files:
        corpus = f"mirror ({', '.join(f.stem for f in corpus_files)})"
    elif mirror and (mirror / "constrained_language" / "train.parquet").is_file():
        corpus = "mirror (constrained_language, passed through)"
    elif hub is None:
        corpus = f"hub ({CONSTRAINED_REPO}, passed through)"
    else:
        cached = is_complete(stage_dir("fallback", "gensim-enwiki"))
        when = "cached" if cached else "downloaded from PyPI on first use"
        corpus = f"fallback (Wikipedia from the gensim wheel; {when} under {artifact_root()})"
    lines.append(f"corpus:     {corpus}  [--sources auto]")
    local = available_glue_tasks(data_dir and Path(data_dir) / "glue")
    for task in GLUE_TASKS:
        where = f"mirror {local[task]}" if task in local else ("hub" if hub is None else "MISSING")
        lines.append(f"glue {task + ':':6}{where}")
    return lines


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """``hf-shrunk data``: ``mirror`` downloads the study's data into a mirror; ``status`` shows the tiers."""
    parser = argparse.ArgumentParser(prog=prog or "hf-shrunk data", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mirror = sub.add_parser("mirror", help="Download GLUE, the vocabulary and corpus sources into a mirror folder.")
    mirror.add_argument("--to", required=True, help="Mirror folder (created); use it as HF_SHRUNK_DATA_DIR.")
    mirror.add_argument("--glue", nargs="*", metavar="TASK", default=None, help="GLUE tasks (no TASK: all, with ax).")
    mirror.add_argument(
        "--vocab", action="store_true", help=f"The vocabulary CSV from the Hub repo ({DEFAULT_VOCAB_REPO})."
    )
    mirror.add_argument(
        "--corpus", nargs="*", metavar="SPEC", default=None,
        help=f"Corpus sources: hub:OWNER/NAME[:CONFIG] (streamed, train split) or {CONSTRAINED_REPO} "
        "(no SPEC: the latter).",
    )  # fmt: skip
    mirror.add_argument(
        "--max-docs", type=int, default=None, help="Rows per corpus source (streamed sources need it)."
    )
    mirror.add_argument("--text-column", default="text", help="Text column of streamed raw sources.")
    mirror.add_argument("--vocab-repo", default=None, help=f"Hub dataset repo holding {VOCAB_HUB_PATH}.")
    mirror.add_argument("--overwrite", action="store_true", help="Download files that already exist again.")
    status = sub.add_parser("status", help="Show where each input would come from (downloads nothing).")
    status.add_argument("--data-dir", default=None, help=f"Mirror folder instead of ${DATA_DIR_ENV}.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "status":
        for line in status_lines(args.data_dir):
            print(line)
        return 0
    if args.glue is None and not args.vocab and args.corpus is None:
        args.glue, args.vocab, args.corpus = [], True, []  # nothing chosen: everything the study needs
    written = write_mirror(
        Path(args.to), glue=args.glue, vocab=args.vocab, corpus=args.corpus, max_docs=args.max_docs,
        vocab_repo_id=args.vocab_repo or vocab_repo(), overwrite=args.overwrite, text_column=args.text_column,
    )  # fmt: skip
    print(f"wrote {len(written)} files into {args.to}; use it with: export {DATA_DIR_ENV}={Path(args.to).resolve()}")
    return 0
