"""GLUE in the ``nyu-mll/glue`` schema, from an explicit folder, the data mirror, or the Hub
(docs/design.md#data-tiers).

A folder may hold either ``<task>/<split>.parquet`` (the mirror layout: the Hub's parquet files, with the
``datasets`` features in their metadata) or the canonical GLUE TSV layout of ``download_glue_data.py``
(``CoLA/``, ``SST-2/``, ``MRPC/``, ``QQP/``, ``STS-B/``, ``MNLI/``, ``QNLI/``, ``RTE/``, ``WNLI/`` with ``train.tsv``,
``dev.tsv``, ``test.tsv``; MNLI ``dev_matched.tsv``, ``dev_mismatched.tsv``, ``test_matched.tsv``, ...). TSV
files are mapped to the Hub's columns and label ids (:data:`GLUE_TASKS`, checked against the mirror's
metadata by a test); ``idx`` is the row number (the Hub's MRPC ``idx`` numbers rows of the original MSR file
instead). Splits are named as on the Hub: ``train``, ``validation``, ``test``; MNLI ``validation_matched``,
``validation_mismatched``, ``test_matched``, ``test_mismatched``. Test labels are -1.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hf_shrunk.config import ConfigError
from hf_shrunk.sources.tiers import DATA_DIR_ENV, GLUE_REPO, MissingDataError, hub_errors, hub_unavailable, mirror_dir

logger = logging.getLogger(__name__)

_SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
_MNLI_FILES = {
    "train": "train.tsv",
    "validation_matched": "dev_matched.tsv",
    "validation_mismatched": "dev_mismatched.tsv",
    "test_matched": "test_matched.tsv",
    "test_mismatched": "test_mismatched.tsv",
}


@dataclass(frozen=True)
class GlueTask:
    """One GLUE task — the project's single task table (as run_glue.py's ``task_to_keys``): Hub text fields, label
    names (``None`` = regression), TSV folder and columns, splits, and the metrics it is scored with
    (docs/paper.md#glue-protocol)."""

    name: str
    tsv_dir: str
    text_fields: tuple[str, ...]
    label_names: tuple[str, ...] | None
    tsv_columns: dict[str, str] = field(default_factory=dict)  # Hub field -> TSV header name
    split_files: dict[str, str] = field(default_factory=lambda: dict(_SPLIT_FILES))
    metrics: tuple[str, ...] = ("accuracy",)
    display: str = ""  # name shown in cards; default: the GLUE folder name ("SST-2")
    category: str = "Natural language inference"  # what the task tests (model cards)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.split_files)

    @property
    def display_name(self) -> str:
        return self.display or self.tsv_dir

    @property
    def eval_splits(self) -> tuple[str, ...]:
        """The dev splits scored by the GLUE stage (MNLI: matched and mismatched)."""
        return tuple(s for s in self.split_files if s.startswith("validation"))

    @property
    def num_labels(self) -> int:
        return 1 if self.label_names is None else len(self.label_names)

    @property
    def is_regression(self) -> bool:
        return self.label_names is None


_NLI = ("entailment", "not_entailment")
GLUE_TASKS: dict[str, GlueTask] = {
    t.name: t
    for t in [
        GlueTask("cola", "CoLA", ("sentence",), ("unacceptable", "acceptable"), {"sentence": "sentence"},
                 metrics=("matthews_correlation",), category="Acceptability"),
        GlueTask("sst2", "SST-2", ("sentence",), ("negative", "positive"), {"sentence": "sentence", "label": "label"},
                 category="Sentiment"),
        GlueTask("mrpc", "MRPC", ("sentence1", "sentence2"), ("not_equivalent", "equivalent"),
                 {"sentence1": "#1 String", "sentence2": "#2 String", "label": "Quality"}, metrics=("accuracy", "f1"),
                 category="Paraphrase"),
        GlueTask("qqp", "QQP", ("question1", "question2"), ("not_duplicate", "duplicate"),
                 {"question1": "question1", "question2": "question2", "label": "is_duplicate"},
                 metrics=("accuracy", "f1"), category="Paraphrase"),
        GlueTask("stsb", "STS-B", ("sentence1", "sentence2"), None,
                 {"sentence1": "sentence1", "sentence2": "sentence2", "label": "score"},
                 metrics=("pearson", "spearmanr"), category="Semantic similarity"),
        GlueTask("mnli", "MNLI", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
                 {"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"}, dict(_MNLI_FILES)),
        GlueTask("qnli", "QNLI", ("question", "sentence"), _NLI,
                 {"question": "question", "sentence": "sentence", "label": "label"}),
        GlueTask("rte", "RTE", ("sentence1", "sentence2"), _NLI,
                 {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}),
        GlueTask("wnli", "WNLI", ("sentence1", "sentence2"), ("not_entailment", "entailment"),
                 {"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"}),
        GlueTask("ax", "diagnostic", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
                 {"premise": "sentence1", "hypothesis": "sentence2"}, {"test": "diagnostic.tsv"}, display="AX",
                 category="Diagnostic"),
    ]
}  # fmt: skip


def task_info(task: str) -> GlueTask:
    """The :class:`GlueTask` for ``task`` (``"SST-2"``, ``"sst2"`` and ``"STS-B"`` spellings accepted)."""
    key = task.lower().replace("-", "").replace("_", "")
    if key not in GLUE_TASKS:
        raise ConfigError(f"unknown GLUE task {task!r}; expected one of {', '.join(GLUE_TASKS)}")
    return GLUE_TASKS[key]


def glue_features(task: str):
    """The ``datasets.Features`` of ``task`` as on the Hub."""
    from datasets import ClassLabel, Features, Value

    info = task_info(task)
    columns: dict[str, Any] = {name: Value("string") for name in info.text_fields}
    columns["label"] = Value("float32") if info.label_names is None else ClassLabel(names=list(info.label_names))
    columns["idx"] = Value("int32")
    return Features(columns)


def _local_files(folder: Path, info: GlueTask) -> dict[str, Path]:
    parquet = {s: folder / info.name / f"{s}.parquet" for s in info.splits}
    found = {s: p for s, p in parquet.items() if p.is_file()}
    if not found:
        tsv = {s: folder / info.tsv_dir / f for s, f in info.split_files.items()}
        found = {s: p for s, p in tsv.items() if p.is_file()}
    return found


def _label(value: str, info: GlueTask, where: str) -> int | float:
    if info.label_names is None:
        return float(value)
    if value in info.label_names:
        return info.label_names.index(value)
    if value.lstrip("-").isdigit() and -1 <= int(value) < len(info.label_names):
        return int(value)
    raise MissingDataError(f"{where}: label {value!r} is not one of {list(info.label_names)} (or their ids)")


def read_glue_tsv(path: Path, task: str, split: str):
    """A GLUE TSV file as a ``datasets.Dataset`` in the Hub schema (rows with a wrong field count are skipped)."""
    import datasets

    info = task_info(task)
    csv.field_size_limit(1 << 30)  # MNLI's parse columns are long
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    headerless = info.name == "cola" and split != "test"  # CoLA train/dev: source, label, original label, sentence
    if headerless:
        header, columns = ["source", "label", "orig_label", "sentence"], {"sentence": "sentence", "label": "label"}
    else:
        header, rows, columns = (rows[0] if rows else []), rows[1:], info.tsv_columns
    missing = [c for k, c in columns.items() if k != "label" and c not in header]
    if missing:
        raise MissingDataError(
            f"{path}: columns {missing} not in the header {header}; is this the GLUE {info.tsv_dir} TSV?"
        )
    index = {k: header.index(c) for k, c in columns.items() if c in header}
    data: dict[str, list] = {name: [] for name in (*info.text_fields, "label", "idx")}
    skipped = 0
    for number, row in enumerate(rows):
        if len(row) != len(header):
            skipped += 1
            continue
        for name in info.text_fields:
            data[name].append(row[index[name]])
        where = f"{path}:{number + (1 if headerless else 2)}"
        data["label"].append(_label(row[index["label"]], info, where) if "label" in index else -1)
        data["idx"].append(len(data["idx"]))
    if skipped:
        logger.warning("%s: skipped %d rows with a wrong number of fields", path, skipped)
    return datasets.Dataset.from_dict(data, features=glue_features(info.name))


def _load_local(files: dict[str, Path], info: GlueTask):
    import datasets

    out = {}
    for split, path in files.items():
        if path.suffix == ".tsv":
            out[split] = read_glue_tsv(path, info.name, split)
            continue
        ds = datasets.Dataset.from_parquet(str(path))
        expected = glue_features(info.name)
        if ds.features != expected:
            if sorted(ds.column_names) != sorted(expected):
                raise MissingDataError(
                    f"{path}: columns {ds.column_names}, expected the nyu-mll/glue schema {list(expected)}"
                )
            ds = ds.cast(expected)
        out[split] = ds
    return datasets.DatasetDict(out)


def _how_to_provide(info: GlueTask) -> str:
    return (
        f"Provide it with --data_dir DIR holding {info.name}/<split>.parquet or the GLUE TSV layout "
        f"({info.tsv_dir}/{next(iter(info.split_files.values()))}, ...), or set {DATA_DIR_ENV} to a mirror made with "
        f"`hf-shrunk data mirror --to DIR --glue {info.name}` on a machine that reaches the Hub."
    )


def load_glue_task(task: str, data_dir: str | os.PathLike | None = None, splits: Sequence[str] | None = None):
    """Load one GLUE task.

    Args:
        task (`str`): ``cola``, ``sst2``, ``mrpc``, ``qqp``, ``stsb``, ``mnli``, ``qnli``, ``rte``, ``wnli`` or ``ax``.
        data_dir (`str`, *optional*): an explicit folder (parquet or TSV layout); only it is searched.
            Without it: the mirror (``$HF_SHRUNK_DATA_DIR``), then the Hub (``nyu-mll/glue``).
        splits (`Sequence[str]`, *optional*): splits that must be present; default: all the source has.

    Returns:
        `tuple[datasets.DatasetDict, str]`: the splits and the tier (``explicit``, ``mirror`` or ``hub``).

    Raises:
        `MissingDataError`: the task or a requested split is in no tier; the message says where we looked.
    """
    info = task_info(task)
    wanted = list(splits) if splits else None
    bad = [s for s in wanted or [] if s not in info.splits]
    if bad:
        raise ConfigError(f"GLUE {info.name} has no split(s) {bad}; its splits are {list(info.splits)}")
    looked = []
    folders = [(Path(data_dir).expanduser(), "explicit")] if data_dir else []
    mirror = None if data_dir else mirror_dir()
    if mirror is not None:
        folders.append((mirror / "glue", "mirror"))
    for folder, tier in folders:
        files = _local_files(folder, info)
        need = wanted or list(files)
        if files and all(s in files for s in need):
            logger.info("GLUE %s: %s (tier: %s)", info.name, folder, tier)
            return _load_local({s: files[s] for s in need}, info), tier
        missing = [s for s in need if s not in files] or list(info.splits)
        looked.append(f"{folder} (has {sorted(files) or 'nothing'}, lacks {missing})")
    if not data_dir:
        reason = hub_unavailable()
        if reason is None:
            import datasets

            try:
                hub = datasets.load_dataset(GLUE_REPO, info.name)
            except hub_errors() as e:
                reason = f"{type(e).__name__}: {e}"
            except ValueError as e:  # datasets' answer for a config the repo does not have
                if "BuilderConfig" not in str(e):
                    raise
                reason = f"no config {info.name!r} in the repo"
            else:
                need = wanted or list(hub)
                if all(s in hub for s in need):
                    logger.info("GLUE %s: hf://datasets/%s (tier: hub)", info.name, GLUE_REPO)
                    return datasets.DatasetDict({s: hub[s] for s in need}), "hub"
                reason = f"splits {sorted(hub)} only"
        looked.append(f"the Hub {GLUE_REPO} ({reason})")
    raise MissingDataError(
        f"GLUE {info.name}{' ' + str(wanted) if wanted else ''} not found; looked in "
        + "; ".join(looked)
        + ". "
        + _how_to_provide(info)
    )


def available_glue_tasks(data_dir: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Tasks and splits present locally: in ``data_dir`` if given, else in the mirror (the Hub is not queried).

    Returns:
        `dict[str, list[str]]`: e.g. ``{"cola": ["train", "validation", "test"], "qnli": ["validation", "test"]}``.
    """
    folder = Path(data_dir).expanduser() if data_dir else (mirror_dir() / "glue" if mirror_dir() else None)
    if folder is None:
        return {}
    out = {}
    for name, info in GLUE_TASKS.items():
        files = _local_files(folder, info)
        if files:
            out[name] = [s for s in info.splits if s in files]
    return out
