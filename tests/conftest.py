"""Test setup: hermetic by default.

The environment below is set at import time, before any test module imports huggingface_hub, transformers,
datasets or evaluate (they read these variables when first imported). A socket guard fails any connection to a
non-loopback address, so a test that would reach the internet fails instead of hanging or passing by luck.
"""

import os
import socket
import tempfile
from pathlib import Path

import pytest

_SESSION_TMP = Path(tempfile.mkdtemp(prefix="hf_shrunk_tests_"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The local Hub-compatible server (tests/fakehub) binds this port; clients must see HF_ENDPOINT at import time.
FAKEHUB_PORT = int(os.environ.get("HF_SHRUNK_FAKEHUB_PORT") or _free_port())

_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_EVALUATE_OFFLINE": "1",
    "HF_UPDATE_DOWNLOAD_COUNTS": "0",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_XET": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_ENDPOINT": f"http://127.0.0.1:{FAKEHUB_PORT}",
    "HF_HOME": str(_SESSION_TMP / "hf_home"),
    "HF_SHRUNK_HOME": str(_SESSION_TMP / "artifacts"),
    "MPLBACKEND": "Agg",
}
os.environ.update(_ENV)
os.environ.pop("HF_TOKEN", None)

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


def _is_loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host)
    return host in _LOOPBACK_NAMES or host.startswith("127.") or host.startswith("::ffff:127.")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded(real):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise RuntimeError(f"hermetic tests: connection to {address!r} blocked (only 127.0.0.1 is allowed)")
        return real(self, address)

    return connect


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        raise RuntimeError(f"hermetic tests: name lookup of {host!r} blocked (only loopback is allowed)")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded(_real_connect)
socket.socket.connect_ex = _guarded(_real_connect_ex)
socket.getaddrinfo = _guarded_getaddrinfo


def data_dir() -> Path | None:
    value = os.environ.get("HF_SHRUNK_DATA_DIR")
    return Path(value) if value else None


def pytest_collection_modifyitems(config, items):
    mirror = data_dir()
    skip_data = pytest.mark.skip(reason="needs the real-data mirror: set HF_SHRUNK_DATA_DIR (CI: ../shared/data)")
    gpu_items = [item for item in items if "gpu" in item.keywords]
    has_cuda = False
    if gpu_items:
        import torch

        has_cuda = torch.cuda.is_available()
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "data" in item.keywords and (mirror is None or not mirror.is_dir()):
            item.add_marker(skip_data)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The real-data mirror (tests using it are marked `data` and skipped when it is absent)."""
    path = data_dir()
    if path is None or not path.is_dir():
        pytest.skip("HF_SHRUNK_DATA_DIR is not set")
    return path.resolve()


@pytest.fixture()
def artifact_root(tmp_path, monkeypatch) -> Path:
    """A fresh artifact root for one test (HF_SHRUNK_HOME points at it)."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("HF_SHRUNK_HOME", str(root))
    return root


@pytest.fixture()
def vocab_server(monkeypatch):
    """Serve vocabulary bytes over HTTP on 127.0.0.1 as the paper's pinned URL would: ``serve(data, sha256=None)``
    points ``HF_SHRUNK_VOCAB_URL`` at them, lifts offline mode, and (unless ``sha256`` is given) makes their
    digest the expected one. Returns the list of request paths seen."""
    import hashlib
    import http.server
    import threading

    import hf_shrunk.sources.tiers as tiers

    served, seen = {}, []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # http.server's name
            seen.append(self.path)
            body = served.get("data")
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(data: bytes, sha256: str | None = None) -> list[str]:
        served["data"] = data
        monkeypatch.setattr(tiers, "PAPER_VOCAB_SHA256", sha256 or hashlib.sha256(data).hexdigest())
        monkeypatch.setenv(
            "HF_SHRUNK_VOCAB_URL", f"http://127.0.0.1:{server.server_port}/AOChildes_word_frequency.csv"
        )
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        return seen

    yield serve
    server.shutdown()


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for subprocesses started by tests: the hermetic variables above plus ``extra``."""
    env = dict(os.environ)
    env.update(_ENV)
    env.update(extra)
    return env


# The `fakehub` fixture: a local Hub-compatible server (tests/fakehub/fixtures.py).
pytest_plugins = ["fakehub.fixtures"]


# ------------------------------------------------------------------ tiny hermetic fixtures shared by stage tests

# Sizes the stage tests train (independent of the demo grid, which is tuned for the demo's time budget).
TEST_GRID = Path(__file__).parent / "grid_test.yaml"

_NOUNS = "cat dog bird fish cow horse duck frog bear mouse girl boy mom dad baby ball tree house car boat".split()
_ADJS = "big little red blue happy sad old new soft loud".split()
_VERBS = "sees likes wants finds eats takes has gets makes loves".split()


def synthetic_sentences(n: int, seed: int = 0) -> list[str]:
    """Lower-case sentences from a tiny grammar: learnable structure, so MLM loss falls within a few steps."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = ["the", rng.choice(_ADJS), rng.choice(_NOUNS), rng.choice(_VERBS), "the", rng.choice(_NOUNS)]
        if rng.random() < 0.5:
            words += ["and", "the", rng.choice(_NOUNS), rng.choice(_VERBS), "it"]
        out.append(" ".join(words) + " .")
    return out


def make_corpus_artifact(
    root: Path, name: str = "default", n_train: int = 400, n_eval: int = 40, seed: int = 0
) -> Path:
    """A corpus artifact folder (DatasetDict + manifest.json) as `hf-shrunk corpus` writes it."""
    import datasets

    from hf_shrunk.artifacts import Manifest, stage_dir, staged_output

    texts = synthetic_sentences(n_train + 2 * n_eval, seed)
    # group two sentences per sequence, like the corpus stage's grouping
    seqs = [" ".join(texts[i : i + 2]) for i in range(0, len(texts), 2)]
    k = n_eval // 2
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict({"text": seqs[2 * k :]}),
            "validation": datasets.Dataset.from_dict({"text": seqs[:k]}),
            "test": datasets.Dataset.from_dict({"text": seqs[k : 2 * k]}),
        }
    )
    out = stage_dir("corpus", name, root)
    with staged_output(out) as staging:
        dd.save_to_disk(str(staging))
        Manifest("corpus", name, {"synthetic": True, "seed": seed, "n": n_train}).write(staging)
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A 300-token tokenizer trained on the synthetic grammar (RoBERTa layout)."""
    from hf_shrunk.tokenizer import train_tokenizer

    return train_tokenizer(synthetic_sentences(500), vocab_size=300, show_progress=False)


# ------------------------------------------------------------------ GLUE summaries for card/publish tests

GLUE_SPLITS_METRICS = {
    "cola": {"validation": ["matthews_correlation"]},
    "sst2": {"validation": ["accuracy"]},
    "mrpc": {"validation": ["accuracy", "f1"]},
    "qqp": {"validation": ["accuracy", "f1"]},
    "stsb": {"validation": ["pearson", "spearmanr"]},
    "mnli": {"validation_matched": ["accuracy"], "validation_mismatched": ["accuracy"]},
    "qnli": {"validation": ["accuracy"]},
    "rte": {"validation": ["accuracy"]},
    "wnli": {"validation": ["accuracy"]},
}


def make_training_root(root: Path, n_train: int = 400, n_eval: int = 40) -> Path:
    """``root`` with a corpus artifact and a 300-token tokenizer trained on it: where pretraining tests start."""
    from hf_shrunk.tokenizer import main as tokenizer_main

    make_corpus_artifact(root, n_train=n_train, n_eval=n_eval)
    assert tokenizer_main(["--root", str(root), "--vocab_size", "300"]) == 0
    return root


def make_glue_summary(
    run: str | None = "run",
    tasks=("cola", "sst2", "mrpc", "stsb", "mnli"),
    variants=("pretrained", "random-init"),
    conditions=("filtered", "full"),
    seeds=(0, 1, 2),
    root: Path | None = None,
) -> dict:
    """A GLUE ``summary.json`` as `hf-shrunk glue` writes it (test fixture: made-up scores in the real schema).

    Per-seed values are simple arithmetic of the indices; means and standard deviations are computed here with
    ``statistics`` (not by hf_shrunk). With ``root``, it is also written to ``<root>/glue/<run>/summary.json``.
    """
    import json
    import statistics

    def stats(values):
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    out_variants = {}
    for v, variant in enumerate(variants):
        out_variants[variant] = {}
        for c, condition in enumerate(conditions):
            task_out, per_seed_scores = {}, []
            for t, task in enumerate(tasks):
                splits, seed_scores = {}, [[] for _ in seeds]
                for split, metrics in GLUE_SPLITS_METRICS[task].items():
                    splits[split] = {}
                    for m, metric in enumerate(metrics):
                        values = [0.8 - 0.2 * v - 0.05 * c - 0.03 * t - 0.01 * m + 0.01 * s for s in seeds]
                        splits[split][metric] = stats(values)
                        for i, value in enumerate(values):
                            seed_scores[i].append(value)
                scores = [statistics.fmean(vals) for vals in seed_scores]
                per_seed_scores.append(scores)
                task_out[task] = {
                    "score": {**stats(scores), "seeds": list(seeds), "values": scores},
                    "splits": splits,
                    "n_train": 1000 + t,
                    "n_eval": {split: 40 + 100 * c + t for split in GLUE_SPLITS_METRICS[task]},
                }
            aggregate_per_seed = [statistics.fmean(s[i] for s in per_seed_scores) for i in range(len(seeds))]
            out_variants[variant][condition] = {
                "aggregate": {**stats(aggregate_per_seed), "tasks": list(tasks)},
                "tasks": task_out,
            }
    summary = {
        "model": run,
        "run": run,
        "revision": None,
        "perplexity": 12.5,
        "hf_shrunk_version": "0.0.0-test",
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "aggregate_definition": "mean over tasks of each task's main score; a task with two metrics uses their mean; "
        "MNLI = mean of matched and mismatched accuracy",
        "variants": out_variants,
    }
    if root is not None:
        folder = Path(root) / "glue" / str(run)
        folder.mkdir(parents=True, exist_ok=True)
        if "filtered" in conditions:
            summary["vocab"] = export_test_filtered_dev(folder, tasks)
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))
        from hf_shrunk.artifacts import Manifest  # written last, as the GLUE stage does: the results are finished

        Manifest("glue", str(run), {"model": run}).write(folder)
    return summary


def export_test_filtered_dev(results_dir: Path, tasks) -> dict:
    """Export the filtered dev sets of ``tasks`` into a GLUE results folder with the GLUE stage's own exporter, from
    small made-up dev sets (every third example has an out-of-vocabulary word); returns the vocabulary record."""
    from hf_shrunk.glue.data import TASKS
    from hf_shrunk.glue.export import export_filtered_dev
    from hf_shrunk.glue.model_vocab import GlueVocab
    from hf_shrunk.vocab import Vocabulary

    sentences = synthetic_sentences(12, seed=5)
    words = frozenset(w for s in sentences for w in s.split())
    vocab = Vocabulary(words, source="test", spec="test-words")
    record = {"spec": "test-words", "requested": "model", "fingerprint": vocab.fingerprint, "size": len(words)}
    data_dir = results_dir.parent / f".{results_dir.name}-glue-source"
    for task in tasks:
        info = TASKS[task]
        rows = [
            {field: ("zyxwvut " if i % 3 == 0 else "") + sentences[i] for field in info.text_fields} | {"label": 0}
            for i in range(len(sentences))
        ]
        write_glue_task(data_dir, task, dict.fromkeys(info.eval_splits, rows))
    export_filtered_dev(results_dir, tasks, GlueVocab(vocab, record), str(data_dir))
    return record


def write_glue_task(folder: Path, task: str, rows: dict[str, list[dict]]) -> None:
    """Write ``rows`` per split as ``folder/task/<split>.parquet`` in the nyu-mll/glue schema."""
    import datasets

    from hf_shrunk.sources.glue import glue_features

    features = glue_features(task)
    (folder / task).mkdir(parents=True, exist_ok=True)
    for split, items in rows.items():
        columns = {name: [r[name] for r in items] for name in features if name != "idx"}
        columns["idx"] = list(range(len(items)))
        datasets.Dataset.from_dict(columns, features=features).to_parquet(str(folder / task / f"{split}.parquet"))


def make_glue_dir(folder: Path) -> Path:
    """A small GLUE folder in the nyu-mll/glue schema: learnable SST-2 (label = 'happy' in the sentence), MRPC and
    STS-B pairs, and an RTE whose every example has an out-of-vocabulary word (filtered condition empty)."""
    import random

    rng = random.Random(0)
    sents = synthetic_sentences(400, seed=3)
    sst2 = [{"sentence": s, "label": int("happy" in s)} for s in sents]
    write_glue_task(folder, "sst2", {"train": sst2[:300], "validation": sst2[300:]})
    pairs = [(a, b if rng.random() < 0.5 else a) for a, b in zip(sents[::2], sents[1::2], strict=True)]
    mrpc = [{"sentence1": a, "sentence2": b, "label": int(a == b)} for a, b in pairs]
    write_glue_task(folder, "mrpc", {"train": mrpc[:150], "validation": mrpc[150:]})
    stsb = [{"sentence1": a, "sentence2": b, "label": 5.0 if a == b else rng.random() * 2} for a, b in pairs]
    write_glue_task(folder, "stsb", {"train": stsb[:150], "validation": stsb[150:]})
    rte = [{"sentence1": f"zyxwvut {s}", "sentence2": s, "label": i % 2} for i, s in enumerate(sents[:60])]
    write_glue_task(folder, "rte", {"train": rte[:40], "validation": rte[40:]})
    return folder
