"""Data tiers, readers, the offline fallback corpus, GLUE loading and the mirror writer (hf_shrunk.sources.tiers*)."""

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hf_shrunk.config import ConfigError, UserError
from hf_shrunk.sources import MissingDataError, main, mirror_dir, resolve_sources, resolve_vocab
from hf_shrunk.sources.fallback import parse_mediawiki, strip_wiki_markup
from hf_shrunk.sources.files import file_batches
from hf_shrunk.sources.glue import GLUE_TASKS, available_glue_tasks, glue_features, load_glue_task


@pytest.fixture()
def no_mirror(monkeypatch):
    monkeypatch.delenv("HF_SHRUNK_DATA_DIR", raising=False)


# ---------------------------------------------------------------------------------------------------------
# Tiers
# ---------------------------------------------------------------------------------------------------------


def test_mirror_dir(tmp_path, monkeypatch, no_mirror):
    assert mirror_dir() is None
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(UserError, match="nope is not a directory"):
        mirror_dir()
    assert mirror_dir(tmp_path) == tmp_path


def test_vocab_tiers_offline(tmp_path, no_mirror):
    words = tmp_path / "w.txt"
    words.write_text("dog\ncat\n")
    explicit = resolve_vocab(str(words))
    assert explicit.tier == "explicit" and explicit.value.words == {"dog", "cat"}
    assert explicit.manifest_entry("vocab") == {
        "kind": "vocab",
        "path": str(words),
        "fingerprint": explicit.fingerprint,
        "tier": "explicit",
    }
    with pytest.raises(MissingDataError, match="HF_SHRUNK_DATA_DIR.*--vocab PATH.*wordfreq:21000"):
        resolve_vocab("auto")  # no mirror, HF_HUB_OFFLINE=1 (conftest): never a silent substitute
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "aochildes_word_frequency.csv").write_text(",word,frequency\n0,dog,1\n")
    mirror = resolve_vocab("auto", data_dir=tmp_path)
    assert mirror.tier == "mirror" and mirror.value.words == {"dog"}


def test_source_specs(tmp_path, monkeypatch, no_mirror):
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "b.jsonl").write_text('{"text": "x"}\n')
    sub = tmp_path / "dir"
    sub.mkdir()
    (sub / "c.txt").write_text("x\n")
    sources = resolve_sources(
        [str(tmp_path / "a.txt"), str(tmp_path / "*.jsonl"), str(sub), "fallback", "hub:allenai/c4:en"], max_docs=5
    )
    assert [s.name for s in sources] == ["a", "b", "c", "fallback-enwiki", "c4-en"]
    assert [s.tier for s in sources] == ["explicit", "explicit", "explicit", "fallback", "hub"]
    assert sources[3].license.startswith("CC BY-SA") and sources[4].hub_config == "en"
    twice = resolve_sources([str(tmp_path / "a.txt"), str(tmp_path / "a.txt")])
    assert [s.name for s in twice] == ["a", "a-2"]
    with pytest.raises(UserError, match="HF_SHRUNK_DATA_DIR"):
        resolve_sources(["mirror"])
    with pytest.raises(ConfigError, match="hub:OWNER/NAME"):
        resolve_sources(["hub:c4"])
    with pytest.raises(UserError, match="holds no"):
        resolve_sources([str(_empty_dir(tmp_path))])
    auto = resolve_sources(["auto"])  # nothing local, Hub offline: the fallback corpus (not downloaded yet)
    assert [(s.name, s.tier) for s in auto] == [("fallback-enwiki", "fallback")]


def _empty_dir(tmp_path):
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    (empty / "notes.md").write_text("not a corpus file")
    return empty


def test_mirror_sources_and_passthrough(tmp_path, monkeypatch):
    (tmp_path / "corpus").mkdir()
    pq.write_table(pa.table({"text": ["a b", "c"], "source": ["x", "x"]}), tmp_path / "corpus" / "kids.parquet")
    pq.write_table(pa.table({"text": ["d"], "source": ["y"]}), tmp_path / "corpus" / "web.parquet")
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(tmp_path))
    sources = resolve_sources(["mirror"])
    assert [(s.name, s.tier, s.num_documents()) for s in sources] == [("kids", "mirror", 2), ("web", "mirror", 1)]
    assert list(sources[0].documents()) == [("a b", "kids.parquet row 0"), ("c", "kids.parquet row 1")]
    with pytest.raises(UserError, match="available: kids, web"):
        resolve_sources(["mirror:books"])
    passthrough = resolve_sources(["text-machine-lab/constrained_language"])[0]
    assert passthrough.passthrough and passthrough.tier == "hub"  # the mirror has no constrained_language/
    with pytest.raises(MissingDataError, match="HF_SHRUNK_DATA_DIR"):
        passthrough.passthrough_splits()  # offline


def test_readers_locations_and_formats(tmp_path):
    txt = tmp_path / "d.txt"
    txt.write_bytes("\ufeffline one\r\nline two\n\nlast".encode())
    assert [b for b in file_batches(txt, "text", 100)] == [
        (["line one", "line two", "", "last"], ["d.txt:1", "d.txt:2", "d.txt:3", "d.txt:4"])
    ]
    gz = tmp_path / "d.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write(json.dumps({"body": "x"}) + "\n\n" + json.dumps({"body": None}) + "\n")
    assert list(file_batches(gz, "body", 100)) == [(["x", ""], ["d.jsonl.gz:1", "d.jsonl.gz:3"])]
    pqf = tmp_path / "d.parquet"
    pq.write_table(pa.table({"t": ["a", None, "ccc"]}), pqf)
    assert list(file_batches(pqf, "t", 100, rows=2)) == [
        (["a", ""], ["d.parquet row 0", "d.parquet row 1"]),
        (["ccc"], ["d.parquet row 2"]),
    ]
    with pytest.raises(UserError, match=r"d.parquet row 2: document of 3 characters"):
        list(file_batches(pqf, "t", 2))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": 3}\n')
    with pytest.raises(UserError, match="bad.jsonl:1: field 'text' holds int"):
        list(file_batches(bad, "text", 100))


# ---------------------------------------------------------------------------------------------------------
# Offline fallback: wiki markup
# ---------------------------------------------------------------------------------------------------------

WIKITEXT = """{{Infobox person|name=X|image=[[File:a.jpg|thumb|a [[nested]] caption]]}}
'''Alice''' (born 1900) is a ''[[writer (job)|writer]]''<ref name="a">Smith, p. 2</ref> \
and [[painter]]s.<ref>cite</ref>
<!-- hidden comment -->
== Early life ==
She was born in [[Paris]].{{citation needed|date=May 2020}} See [http://example.com the site] and [http://x.org].
{| class="wikitable"
|-
| cell || {{nested|{{deep}}}}
|}
* A list item with &nbsp;an entity &amp; more
[[File:b.png|left|A [[link]] in a caption]]
=== Works ===
# ''Book'' <small>(1920)</small>
__NOTOC__
== References ==
* Ref one
=== Sub of references ===
* Ref two
== Legacy ==
Loved by [[de:Anderer]] many.
[[Category:Writers]]
[[fr:Alice]]"""


def test_strip_wiki_markup():
    assert strip_wiki_markup(WIKITEXT).split("\n") == [
        "Alice (born 1900) is a writer and painters.",
        "Early life",
        "She was born in Paris. See the site and .",
        "A list item with an entity & more",  # &nbsp; decoded, then runs of spaces collapsed
        "Works",
        "Book (1920)",
        "Legacy",
        "Loved by many.",
    ]


def test_parse_mediawiki_skips_redirects_and_other_namespaces():
    page = "<page><title>{t}</title><ns>{ns}</ns>{extra}<revision><text>{text}</text></revision></page>"
    xml = (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
        + page.format(t="Keep", ns=0, extra="", text="Some '''text'''.")
        + page.format(t="Redirected", ns=0, extra='<redirect title="Keep" />', text="#REDIRECT [[Keep]]")
        + page.format(t="Talk:Keep", ns=1, extra="", text="chat")
        + "</mediawiki>"
    ).encode()
    assert list(parse_mediawiki(xml)) == [("Keep", "Some '''text'''.")]


@pytest.mark.slow
def test_fallback_corpus_downloads_once(tmp_path, monkeypatch):
    import subprocess

    from hf_shrunk.sources.fallback import fallback_corpus

    path = fallback_corpus(tmp_path)  # really runs `pip download` (PyPI is reachable here)
    table = pq.read_table(path)
    words = sum(len(t.split()) for t in table.column("text").to_pylist())
    assert 100 <= table.num_rows <= 110 and 380_000 <= words <= 500_000
    assert "Anarchism" in table.column("title").to_pylist()

    def no_download(*args, **kwargs):
        raise AssertionError("the cached corpus should be reused")

    monkeypatch.setattr(subprocess, "run", no_download)
    assert fallback_corpus(tmp_path) == path


# ---------------------------------------------------------------------------------------------------------
# GLUE
# ---------------------------------------------------------------------------------------------------------


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_glue_tsv_layout(tmp_path, no_mirror):
    _write(tmp_path / "CoLA" / "train.tsv", "gj04\t1\t\tThe dog ran .\ngj04\t0\t*\tDog the ran .\n")
    _write(tmp_path / "CoLA" / "dev.tsv", "gj04\t1\t\tA cat sat .\n")
    _write(tmp_path / "CoLA" / "test.tsv", "index\tsentence\n0\tIt rains .\n")
    _write(
        tmp_path / "MNLI" / "dev_matched.tsv",
        "index\tpromptID\tsentence1\tsentence2\tgold_label\n0\t1\tA p\tA h\tcontradiction\n1\t2\tB p\tB h\tneutral\n",
    )
    _write(tmp_path / "QNLI" / "dev.tsv", "index\tquestion\tsentence\tlabel\n0\tWhy ?\tBecause .\tnot_entailment\n")
    _write(
        tmp_path / "STS-B" / "dev.tsv",
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\t0\ts\ts\tA\tB\t3.800\n",
    )
    _write(tmp_path / "MRPC" / "dev.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tX .\tY .\n")
    cola, tier = load_glue_task("cola", data_dir=tmp_path)
    assert tier == "explicit" and list(cola) == ["train", "validation", "test"]
    assert cola["train"].features == glue_features("cola")
    assert (
        cola["train"]["label"] == [1, 0]
        and cola["train"]["sentence"][1] == "Dog the ran ."
        and cola["train"]["idx"] == [0, 1]
    )
    assert cola["test"]["label"] == [-1]
    mnli, _ = load_glue_task("MNLI", data_dir=tmp_path, splits=["validation_matched"])
    assert mnli["validation_matched"]["label"] == [2, 1] and mnli["validation_matched"]["premise"] == ["A p", "B p"]
    qnli, _ = load_glue_task("qnli", data_dir=tmp_path)
    assert qnli["validation"]["label"] == [1] and qnli["validation"]["question"] == ["Why ?"]
    stsb, _ = load_glue_task("STS-B", data_dir=tmp_path)
    assert stsb["validation"]["label"] == [pytest.approx(3.8)]
    mrpc, _ = load_glue_task("mrpc", data_dir=tmp_path)
    assert mrpc["validation"]["sentence1"] == ["X ."] and mrpc["validation"]["label"] == [1]
    assert available_glue_tasks(tmp_path) == {
        "cola": ["train", "validation", "test"],
        "mrpc": ["validation"],
        "stsb": ["validation"],
        "mnli": ["validation_matched"],
        "qnli": ["validation"],
    }
    with pytest.raises(
        MissingDataError, match=r"GLUE qnli \['train'\] not found; looked in .*lacks \['train'\].*--data_dir"
    ):
        load_glue_task("qnli", data_dir=tmp_path, splits=["train"])
    with pytest.raises(MissingDataError, match="looked in .*rte"):
        load_glue_task("rte", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown GLUE task"):
        load_glue_task("squad", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="no split"):
        load_glue_task("cola", data_dir=tmp_path, splits=["dev"])


def test_glue_without_any_tier(no_mirror):
    with pytest.raises(
        MissingDataError, match=r"the Hub nyu-mll/glue \(HF_HUB_OFFLINE is set\).*hf-shrunk data mirror"
    ):
        load_glue_task("wnli")


@pytest.mark.data
def test_glue_table_matches_the_mirror_metadata(mirror_dir):
    seen = 0
    for task, info in GLUE_TASKS.items():
        for path in sorted((mirror_dir / "glue" / task).glob("*.parquet")):
            meta = json.loads(pq.read_schema(path).metadata[b"huggingface"])["info"]["features"]
            assert list(meta) == [*info.text_fields, "label", "idx"], path
            assert meta["label"].get("names") == (list(info.label_names) if info.label_names else None), path
            seen += 1
    assert seen >= 20


@pytest.mark.data
def test_glue_from_the_mirror(mirror_dir, monkeypatch):
    monkeypatch.setenv("HF_SHRUNK_DATA_DIR", str(mirror_dir))
    cola, tier = load_glue_task("cola")
    assert tier == "mirror" and {s: len(d) for s, d in cola.items()} == {
        "train": 8551,
        "validation": 1043,
        "test": 1063,
    }
    assert cola["train"].features["label"].names == ["unacceptable", "acceptable"]
    qnli, _ = load_glue_task("qnli")
    assert list(qnli) == ["validation", "test"]
    with pytest.raises(MissingDataError, match=r"lacks \['train'\].*Hub"):
        load_glue_task("qnli", splits=["train", "validation"])
    for task in ("mnli", "qqp"):
        with pytest.raises(MissingDataError):
            load_glue_task(task)
    assert set(available_glue_tasks()) == {"cola", "sst2", "mrpc", "stsb", "qnli", "rte", "wnli", "ax"}


# ---------------------------------------------------------------------------------------------------------
# `hf-shrunk data`
# ---------------------------------------------------------------------------------------------------------


def test_mirror_writer_round_trip(tmp_path, monkeypatch, no_mirror):
    import datasets

    from hf_shrunk.sources import mirror as sources_mirror

    def fake_load(repo, config=None, split=None, streaming=False):
        assert repo == "nyu-mll/glue" and config == "wnli"
        rows = {"sentence1": ["A ."], "sentence2": ["B ."], "label": [1], "idx": [0]}
        return datasets.DatasetDict(
            {s: datasets.Dataset.from_dict(rows, features=glue_features("wnli")) for s in ("train", "validation")}
        )

    csv_path = tmp_path / "downloaded" / "aochildes_word_frequency.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(",word,frequency\n0,dog,1\n")
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setattr(sources_mirror, "download_paper_vocab", lambda cache_dir: csv_path)
    monkeypatch.setattr(sources_mirror, "_revision", lambda repo: "abc123")
    out = tmp_path / "mirror"
    assert main(["mirror", "--to", str(out), "--glue", "wnli", "--vocab"]) == 0
    wnli, tier = load_glue_task("wnli", data_dir=out / "glue")
    assert (
        tier == "explicit" and wnli["train"].features == glue_features("wnli") and wnli["validation"]["label"] == [1]
    )
    assert resolve_vocab("auto", data_dir=out).tier == "mirror"
    lines = (out / "MANIFEST.sha256").read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in lines) == [
        "glue/wnli/train.parquet",
        "glue/wnli/validation.parquet",
        "vocab/aochildes_word_frequency.csv",
    ]
    assert json.loads((out / "mirror.json").read_text())["files"]["glue/wnli/train.parquet"]["revision"] == "abc123"


def test_mirror_offline_is_a_clear_error(tmp_path):
    with pytest.raises(MissingDataError, match="cannot download nyu-mll/glue cola from the Hub"):
        main(["mirror", "--to", str(tmp_path / "m"), "--glue", "cola"])


def test_paper_vocab_download_is_checked_and_cached(vocab_server, artifact_root, no_mirror):
    """The vocabulary tier downloads the pinned CSV once, verifies its sha256 and reuses the cached copy."""
    data = b",word,frequency\n0,dog,1\n1,cat,2\n"
    seen = vocab_server(data)
    first = resolve_vocab("auto")
    assert first.tier == "download" and first.value.words == {"dog", "cat"} and len(seen) == 1
    assert resolve_vocab("auto").fingerprint == first.fingerprint and len(seen) == 1  # cached, not downloaded again


def test_paper_vocab_with_the_wrong_bytes_is_refused(vocab_server, artifact_root, no_mirror):
    vocab_server(b",word,frequency\n0,dog,1\n", sha256="0" * 64)
    with pytest.raises(MissingDataError, match="not the paper's file"):
        resolve_vocab("auto")
    assert not list(artifact_root.rglob("aochildes_word_frequency.csv"))  # nothing kept


@pytest.mark.data
def test_the_pinned_checksum_is_the_paper_files(vocab_server, artifact_root, mirror_dir, monkeypatch):
    """Served the real file (the mirror's byte-for-byte copy), the download passes the real pinned sha256."""
    import hf_shrunk.sources.tiers as tiers

    real = tiers.PAPER_VOCAB_SHA256
    vocab_server((mirror_dir / "vocab" / "aochildes_word_frequency.csv").read_bytes(), sha256=real)
    monkeypatch.delenv("HF_SHRUNK_DATA_DIR")
    vocab = resolve_vocab("auto")
    assert vocab.tier == "download" and vocab.value.size > 20_000
