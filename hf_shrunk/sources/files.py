"""Reading raw documents from local files (txt, jsonl, parquet), with errors that name the file and line.

Formats (chosen by the file name):

* ``.txt`` / ``.text`` (optionally ``.gz``): **one document per line** (like the rows of the mirror's parquet
  files). Join hard-wrapped paragraphs first: the span pass windows a document, so a line of a wrapped
  paragraph would only yield short windows.
* ``.jsonl`` / ``.json`` (optionally ``.gz``): one JSON object per line; the text is in ``--text_column``.
* ``.parquet``: the ``--text_column`` column (string).

Readers yield ``(text, location)`` pairs, or blocks ``(texts, locations)`` (:func:`file_batches`); a location is
``"file.txt:12"`` (line) or ``"file.parquet row 11"`` (row, from 0).
Null texts become empty documents. A document longer than ``max_doc_chars`` is refused (file and line),
before it is decoded when possible, so one 100 MB line cannot exhaust memory.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from hf_shrunk.config import UserError

TEXT_SUFFIXES = (".txt", ".text")
JSON_SUFFIXES = (".jsonl", ".json")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED = "*.txt, *.text, *.jsonl, *.json (optionally .gz) and *.parquet"


def file_kind(path: str | os.PathLike) -> str | None:
    """``"txt"``, ``"jsonl"``, ``"parquet"`` or ``None`` for an unsupported file name."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(TEXT_SUFFIXES):
        return "txt"
    if name.endswith(JSON_SUFFIXES):
        return "jsonl"
    if name.endswith(PARQUET_SUFFIXES) and not Path(path).name.lower().endswith(".gz"):
        return "parquet"
    return None


@contextlib.contextmanager
def readable(path: str | os.PathLike) -> Iterator[None]:
    """Turn the OS errors of reading ``path`` into :class:`UserError`s that name the file and the fix."""
    try:
        yield
    except PermissionError as e:
        raise UserError(
            f"cannot read {path}: permission denied. Fix its permissions (chmod +r) or pass another file."
        ) from e
    except IsADirectoryError as e:
        raise UserError(f"{path} is a directory, not a file") from e
    except FileNotFoundError as e:
        raise UserError(f"{path} does not exist") from e
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from e


def _open_binary(path: Path) -> IO[bytes]:
    with readable(path):
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rb")
        return path.open("rb")


def _too_long(where: str, n_chars: int | str, limit: int) -> UserError:
    return UserError(
        f"{where}: document of {n_chars} characters exceeds --max_doc_chars={limit}. Split it into smaller "
        "documents (one paragraph or article per line) or raise --max_doc_chars."
    )


def _lines(path: Path, limit: int) -> Iterator[tuple[int, str]]:
    """Decoded lines (without the line break) and their numbers; refuses over-long lines before decoding them."""
    max_bytes = 4 * limit + 2  # a UTF-8 character has at most 4 bytes (+ "\r\n")
    with _open_binary(path) as f:
        number = 0
        while True:
            try:
                raw = f.readline(max_bytes + 1)
            except (OSError, EOFError) as e:  # truncated gzip, I/O error
                raise UserError(f"{path}:{number + 1}: cannot read ({e})") from e
            if not raw:
                return
            number += 1
            if len(raw) > max_bytes:
                raise _too_long(f"{path}:{number}", f"more than {limit:,}", limit)
            end = len(raw) - (raw.endswith(b"\n") + raw.endswith(b"\r\n"))
            try:  # decode without the line break: no second copy of a very long line
                line = str(memoryview(raw)[:end], "utf-8") if end < len(raw) else raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise UserError(
                    f"{path}:{number}: not valid UTF-8 (byte {raw[e.start]:#04x} at column {e.start + 1}). Re-encode "
                    f"the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > fixed{''.join(path.suffixes)}`."
                ) from e
            del raw
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")


def iter_txt(path: Path, max_doc_chars: int) -> Iterator[tuple[str, str]]:
    """One document per line."""
    for number, line in _lines(path, max_doc_chars):
        if len(line) > max_doc_chars:
            raise _too_long(f"{path}:{number}", f"{len(line):,}", max_doc_chars)
        yield line, f"{path.name}:{number}"


def iter_jsonl(path: Path, column: str, max_doc_chars: int) -> Iterator[tuple[str, str]]:
    """One JSON object per line; blank lines are skipped."""
    for number, line in _lines(path, max_doc_chars):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(
                f"{where}: invalid JSON ({e.msg} at column {e.colno}); expected one object per line"
            ) from e
        if not isinstance(obj, dict):
            raise UserError(f"{where}: expected a JSON object per line, got {type(obj).__name__}")
        if column not in obj:
            raise UserError(
                f"{where}: no {column!r} field; fields found: {sorted(obj)}. Pass the right one with --text_column."
            )
        text = _as_text(obj[column], where, column)
        if len(text) > max_doc_chars:
            raise _too_long(where, f"{len(text):,}", max_doc_chars)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape: not text any tool can store
            text = text.encode("utf-8", "replace").decode("utf-8")
        yield text, f"{path.name}:{number}"


def _as_text(value: object, where: str, column: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{where}: field {column!r} holds {type(value).__name__}, expected a string")
    return value


def parquet_rows(path: Path, column: str) -> int:
    """Number of rows; checks that ``column`` exists and holds strings."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        rows = pq.ParquetFile(path).metadata.num_rows
    except PermissionError as e:
        raise UserError(
            f"cannot read {path}: permission denied. Fix its permissions (chmod +r) or pass another file."
        ) from e
    except (OSError, pa.ArrowInvalid) as e:
        raise UserError(f"{path}: not a readable parquet file ({e})") from e
    if column not in schema.names:
        raise UserError(
            f"{path}: no column {column!r}; columns found: {schema.names}. Pass the right one with --text_column."
        )
    kind = schema.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
        raise UserError(
            f"{path}: column {column!r} has type {kind}, expected strings. Choose another with --text_column."
        )
    return rows


def parquet_batches(
    path: Path, column: str, max_doc_chars: int, rows: int = 4096
) -> Iterator[tuple[list[str], list[str]]]:
    """``(texts, locations)`` of ``column`` in blocks of up to ``rows`` rows (row numbers start at 0)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    parquet_rows(path, column)
    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=[column]):
        texts = pc.fill_null(batch.column(0), "")
        lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
        if len(lengths) and lengths.max() > max_doc_chars:
            bad = int(lengths.argmax())
            raise _too_long(f"{path} row {row + bad}", f"{int(lengths[bad]):,}", max_doc_chars)
        name = path.name
        yield texts.to_pylist(), [f"{name} row {r}" for r in range(row, row + len(lengths))]
        row += len(lengths)


def group_documents(docs: Iterator[tuple[str, str]], rows: int) -> Iterator[tuple[list[str], list[str]]]:
    texts: list[str] = []
    locations: list[str] = []
    for text, location in docs:
        texts.append(text)
        locations.append(location)
        if len(texts) == rows:
            yield texts, locations
            texts, locations = [], []
    if texts:
        yield texts, locations


def file_batches(
    path: Path, column: str, max_doc_chars: int, rows: int = 4096
) -> Iterator[tuple[list[str], list[str]]]:
    """Documents of one file as ``(texts, locations)`` blocks; raises if the file holds none."""
    kind = file_kind(path)
    if kind is None:
        raise UserError(f"{path}: unsupported file type; supported: {SUPPORTED}")
    if kind == "parquet":
        blocks = parquet_batches(path, column, max_doc_chars, rows)
    elif kind == "txt":
        blocks = group_documents(iter_txt(path, max_doc_chars), rows)
    else:
        blocks = group_documents(iter_jsonl(path, column, max_doc_chars), rows)
    count = 0
    for block in blocks:
        count += len(block[0])
        yield block
    if count == 0:
        raise UserError(f"{path} holds no documents (the file is empty). Remove it from --sources or fill it.")
