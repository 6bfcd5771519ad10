"""The corpus filter as a datatrove pipeline (``hf-shrunk corpus --executor datatrove``; docs/design.md#scale).

    SourceReader -> UnitSplitter -> VocabularyFilter -> ParquetWriter

The steps apply the same predicate as the local executor (:func:`hf_shrunk.corpus.rule.check_unit`), one
unit per datatrove ``Document``. ``VocabularyFilter`` is a datatrove ``BaseFilter``, so its drop reasons also
appear in datatrove's own stats (``dropped_oov``, ``dropped_too_short``, ...); it also writes per-source counts and
examples to a side file per rank, which :func:`run_datatrove` merges. Deduplication, grouping and splitting then
run on the written units (build.py), in corpus order (source, pass, document, unit).

Here the pipeline runs with ``LocalPipelineExecutor`` (``tasks = workers = --num_proc``). For C4-scale input
on a cluster, build the same steps with datatrove's ``SlurmPipelineExecutor``, e.g.::

    from datatrove.executor import SlurmPipelineExecutor
    from datatrove.pipeline.readers import ParquetReader
    steps = [ParquetReader("s3://bucket/c4/", text_key="text"), UnitSplitter(settings),
             VocabularyFilter(vocab, settings, "s3://bucket/stats/"), ParquetWriter("s3://bucket/units/")]
    SlurmPipelineExecutor(steps, tasks=1000, time="4:00:00", partition="cpu", logging_dir="s3://bucket/logs/").run()

(any datatrove reader works: ``UnitSplitter`` takes the source index from ``metadata["source_idx"]`` if present,
else 0, and the document number from the reader's id), then point build.py's grouping at the written units.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from hf_shrunk.artifacts import write_json
from hf_shrunk.corpus.rule import OUTCOMES, FilterSettings, check_unit
from hf_shrunk.vocab import normalize, oov_check


class SourceReader(PipelineStep):
    """Reads hf_shrunk corpus sources (any tier); rank ``r`` of ``W`` takes documents ``r, r+W, r+2W, ...``."""

    name = "hf_shrunk sources"
    type = "📖 - READER"

    def __init__(self, sources: Sequence[Any]):
        super().__init__()
        self.sources = list(sources)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for source_idx, source in enumerate(self.sources):
            for doc_idx, (text, location) in enumerate(source.documents()):
                if doc_idx % world_size == rank:
                    self.stat_update("documents")
                    metadata = {"source_idx": source_idx, "doc": doc_idx, "location": location}
                    yield Document(text=text, id=f"{source_idx}/{doc_idx}", metadata=metadata)


class UnitSplitter(PipelineStep):
    """Normalises a document and emits its units (sentence pass, then span pass) as documents."""

    name = "hf_shrunk units"
    type = "✂️ - SPLITTER"

    def __init__(self, settings: FilterSettings, stats_dir: str | Path | None = None):
        super().__init__()
        self.settings = settings
        self.stats_dir = stats_dir

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        sizes: dict[int, list[int]] = {}
        for doc in data:
            source_idx = int(doc.metadata.get("source_idx", 0))
            doc_idx = int(doc.metadata.get("doc", str(doc.id).rsplit("/", 1)[-1]))
            size = sizes.setdefault(source_idx, [0, 0])
            size[0] += 1
            size[1] += len(doc.text)
            text = normalize(doc.text)
            for pass_idx, unit_pass in enumerate(self.settings.passes):
                for unit_idx, unit in enumerate(self.settings.iter_units(text, unit_pass)):
                    self.stat_update(f"units_{unit_pass}")
                    key = [source_idx, pass_idx, doc_idx, unit_idx]
                    metadata = {"key": key, "pass": unit_pass, "location": doc.metadata.get("location", doc.id)}
                    yield Document(text=unit, id="/".join(map(str, key)), metadata=metadata)
        if self.stats_dir is not None:
            write_json(Path(self.stats_dir) / f"documents-{rank:05d}.json", {str(k): v for k, v in sizes.items()})


class VocabularyFilter(BaseFilter):
    """Keeps units that pass :func:`check_unit`; drops the others with the reason (datatrove ``dropped_<reason>``)."""

    name = "hf_shrunk vocabulary"

    def __init__(self, vocab: frozenset[str], settings: FilterSettings, stats_dir: str | Path | None = None):
        super().__init__()
        self.vocab = vocab
        self.settings = settings
        self.stats_dir = stats_dir
        self._counts: dict[str, dict[str, dict[str, list[int]]]] = {}
        self._examples: dict[tuple[str, int, str], list[dict[str, Any]]] = {}

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        unit_pass = doc.metadata["pass"]
        reason = check_unit(doc.text, self.settings.min_tokens(unit_pass), self.vocab, self.settings.max_oov_fraction)
        outcome = reason or OUTCOMES[0]
        source = str(doc.metadata["key"][0])
        count = self._counts.setdefault(source, {}).setdefault(unit_pass, {}).setdefault(outcome, [0, 0])
        count[0] += 1
        count[1] += doc.text.count(" ") + 1
        if reason is None:
            return True
        # Within one (source, pass) a rank sees units in corpus order, so its first k are the candidates.
        examples = self._examples.setdefault((reason, doc.metadata["key"][0], unit_pass), [])
        if len(examples) < self.settings.examples_per_reason:
            example = {
                "key": doc.metadata["key"],
                "pass": unit_pass,
                "location": doc.metadata["location"],
                "text": doc.text[:400],
            }
            if reason == "oov":
                example["oov_words"] = oov_check(doc.text, self.vocab)[2]
            examples.append(example)
        return False, reason

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._counts, self._examples = {}, {}  # a worker process may run several ranks
        yield from super().run(data, rank, world_size)
        if self.stats_dir is not None:
            examples: dict[str, list[dict[str, Any]]] = {}
            for (reason, _, _), items in self._examples.items():
                examples.setdefault(reason, []).extend(items)
            write_json(
                Path(self.stats_dir) / f"filter-{rank:05d}.json", {"counts": self._counts, "examples": examples}
            )


def read_units(folder: Path) -> list[tuple[list[int], str]]:
    """``(key, text)`` of every kept unit written by the pipeline's ``ParquetWriter``, in corpus order."""
    import pyarrow.parquet as pq

    units = []
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path, columns=["text", "metadata"])
        metadata = table.column("metadata").to_pylist()
        units += [(m["key"], t) for m, t in zip(metadata, table.column("text").to_pylist(), strict=True)]
    units.sort(key=lambda u: u[0])
    return units
